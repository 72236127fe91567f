"""Validate a loaded document: OpenAPI itself, then the toolkit's `x-ingest` extensions.

All problems are collected and raised together, each with file, JSON pointer and message.
"""

from __future__ import annotations

import os

# The reference server installs jsonschema-rs; openapi-spec-validator would then switch to it
# and word its errors differently ("... Failed validating ... On instance ..."). Keep the
# pure-Python backend, whose messages the error output and tests are written against.
os.environ.setdefault("OPENAPI_SPEC_VALIDATOR_SCHEMA_VALIDATOR_BACKEND", "jsonschema")

import functools
import re
from collections.abc import Iterator
from typing import Any

# openapi-spec-validator (with its dependencies a tenth of a second to import) is imported
# where it is used: the pipeline runs it in a forked child only, beside the models.
from codegen import extensions
from codegen.errors import Problem, SpecError, pointer
from codegen.load import Document, resolve_pointer

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")


# openapi-spec-validator checks each schema (and each schema's `default`) with a validator of
# its own, so those errors carry a path relative to that schema. These subclasses prefix the
# schema's own location to the path of every error they pass on (the innermost one does it and
# marks the error with `_ingest_base`), so the pointer we print is absolute.
_BASE = "_ingest_base"


class _IdSet(set[int]):
    """The schema validator remembers the schemas it has seen in lists (`in` on a list: the
    walk is quadratic, about half the validator's time on GitHub's spec); same calls, a set."""

    def append(self, item: int) -> None:
        self.add(item)


def _located(cls: type[Any], suffix: tuple[str, ...] = ()) -> type[Any]:
    def __call__(self: Any, schema: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
        for error in cls.__call__(self, schema, *args, **kwargs):
            if not hasattr(error, _BASE) and hasattr(error, "path"):
                setattr(error, _BASE, True)
                error.path.extendleft(reversed((*schema.parts, *suffix)))
            yield error

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        cls.__init__(self, *args, **kwargs)
        for attr in ("visited_schema_ids", "meta_checked_schema_ids"):
            if isinstance(getattr(self, attr, None), list):
                setattr(self, attr, _IdSet(getattr(self, attr)))

    members: dict[str, Any] = {"__call__": __call__, "__init__": __init__}
    if hasattr(cls, "_get_schema_checker"):

        def _get_schema_checker(self: Any, schema: Any, schema_value: Any) -> Any:
            return _first_by_location(cls._get_schema_checker(self, schema, schema_value))

        members["_get_schema_checker"] = _get_schema_checker
    return type(cls.__name__, (cls,), members)


def _first_by_location(check: Any) -> Any:
    """jsonschema's `check_schema` raises the first meta-schema error it meets, and that order
    follows set iteration (hash-seeded), so one spec named a different pointer on each run.
    Same check, but the error raised is the one at the smallest location."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for
    from openapi_schema_validator import OAS31_BASE_DIALECT_ID, OAS32_BASE_DIALECT_ID
    from openapi_schema_validator._specifications import REGISTRY as OPENAPI_SPECIFICATIONS

    func = getattr(check, "func", check)  # a partial or a bound classmethod
    keywords = dict(getattr(check, "keywords", None) or {})
    validator_cls = getattr(func, "__self__", None)
    if validator_cls is None:
        return check

    meta_schema = validator_cls.META_SCHEMA
    meta = validator_for(meta_schema, default=validator_cls)
    # The OpenAPI dialects' meta-schemas resolve against the package's registry (as
    # openapi_schema_validator.check_openapi_schema does), the others need none.
    dialects = (OAS31_BASE_DIALECT_ID, OAS32_BASE_DIALECT_ID)
    local = isinstance(meta_schema, dict) and meta_schema.get("$id") in dialects
    validator = meta(
        meta_schema,
        format_checker=keywords.get("format_checker", meta.FORMAT_CHECKER),
        **({"registry": OPENAPI_SPECIFICATIONS} if local else {}),
    )

    fast = None if local else _fast_meta(meta_schema)

    def checker(value: Any) -> None:
        if fast is not None and _fast_valid(fast, value):
            return
        errors = list(validator.iter_errors(value))
        if errors:
            raise SchemaError.create_from(min(errors, key=_location))

    return checker


_FAST_META: dict[int, Any] = {}


def _fast_meta(meta_schema: Any) -> Any:
    """jsonschema-rs for a schema's meta-schema check (draft 4 for OpenAPI 3.0 schemas): the
    pure-Python check is about half the validator's time on big specs. None without it."""
    key = id(meta_schema)
    if key not in _FAST_META:
        try:
            import jsonschema_rs

            _FAST_META[key] = jsonschema_rs.validator_for(meta_schema, validate_formats=True)
        except Exception:  # noqa: BLE001 - not installed or not understood: the Python check
            _FAST_META[key] = None
    return _FAST_META[key]


def _fast_valid(fast: Any, value: Any) -> bool:
    """Whether the schema is valid for sure: jsonschema-rs says so and nothing in it is read
    otherwise by the Python check (a `pattern` Python's `re` rejects: jsonschema-rs checks
    ECMA regexes; an integral float, not an integer for draft 4). Else the Python check
    decides, and words the error."""
    try:
        if not fast.is_valid(value):
            return False
    except Exception:  # noqa: BLE001 - a value it cannot read (not JSON): the Python check
        return False
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            pattern = node.get("pattern")
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except (re.error, RecursionError, OverflowError):
                    return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float):
            return False
    return True


def _location(error: Any) -> tuple[list[str], list[str], str]:
    return (
        [str(p) for p in error.absolute_path],
        [str(p) for p in error.absolute_schema_path],
        str(error.message),
    )


class _Prefiltered:
    """The whole document against the OpenAPI meta-schema, the validator's first pass. The
    pure-Python validator takes seconds on big specs (Stripe 2 s, GitHub 5 s); jsonschema-rs
    answers valid or not in milliseconds. Only a document it calls invalid (or cannot read)
    goes through the pure-Python validator, whose errors, worded as the tests expect, are the
    ones reported. Both agree on every corpus spec."""

    def __init__(self, python: Any) -> None:
        self.python = python  # a lazy proxy: resolved on first use, not at import
        self._fast: Any = None

    def iter_errors(self, instance: Any) -> Iterator[Any]:
        try:
            if self._fast is None:
                import jsonschema_rs

                schema = self.python.schema
                self._fast = jsonschema_rs.validator_for(getattr(schema, "__wrapped__", schema))
            if self._fast.is_valid(instance):
                return
        except Exception:  # noqa: BLE001, S110 - not installed, or a non-JSON value: ask jsonschema
            pass
        yield from self.python.iter_errors(instance)


def _with_locations(spec_validator: type[Any]) -> type[Any]:
    registry = dict(spec_validator.keyword_validators)
    registry["schema"] = _located(registry["schema"])
    registry["default"] = _located(registry["default"], ("default",))
    return type(
        spec_validator.__name__,
        (spec_validator,),
        {
            "keyword_validators": registry,
            "schema_validator": _Prefiltered(spec_validator.schema_validator),
        },
    )


_VERSIONS = ("3.0", "3.1", "3.2")


@functools.cache
def _validator(version: str) -> Any:
    """openapi-spec-validator's validator for an OpenAPI version ("3.0"...), errors located."""
    import openapi_spec_validator as osv

    by_version = {
        "3.0": osv.OpenAPIV30SpecValidator,
        "3.1": osv.OpenAPIV31SpecValidator,
        "3.2": osv.OpenAPIV32SpecValidator,
    }
    return _with_locations(by_version[version])


_MESSAGE_LIMIT = 300


Found = list[tuple[tuple[Any, ...], str]]  # (absolute path, message) per validator error


def validate(doc: Document, *, lenient: bool = False) -> list[Problem]:
    """Raise SpecError listing every problem in the document, or return its warnings.

    With `lenient`, OpenAPI violations (not `x-ingest` ones, not unreadable structure) are
    returned as warnings instead. In both modes a `default` that does not validate against its
    own schema (found by `drop_bad_defaults`, or by the validator where that walk does not
    look) is dropped with a warning: it could never be sent, and the models would not
    type-check with it. docs/corpus.md lists what real specs get wrong.

    The pipeline runs the same three steps, with `openapi_errors` and the extension checks in a
    child process (`child_checks`).
    """
    warnings = precheck(doc)
    return judge(doc, openapi_errors(doc.data), warnings, lenient=lenient)


def precheck(doc: Document) -> list[Problem]:
    """The cheap checks that must pass before anything else runs; bad defaults dropped."""
    file = doc.display_path
    version = str(doc.data.get("openapi", ""))
    if version[:3] not in _VERSIONS:
        raise SpecError.single(
            file, "/openapi", f"unsupported OpenAPI version {version!r}: expected 3.0, 3.1 or 3.2"
        )
    problems = _check_top_level(doc.data, file)
    if problems:
        raise SpecError(problems)
    return drop_bad_defaults(doc.data, file)


def openapi_errors(data: dict[str, Any]) -> Found:
    """Every openapi-spec-validator error as (absolute path, message). The slow part: seconds
    on big specs. A validator crash (badly typed documents trip it) is one error at the root."""
    validator_cls = _validator(str(data.get("openapi", ""))[:3])
    errors = validator_cls(data).iter_errors()
    found: Found = []
    while True:
        try:
            error = next(errors)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - the validator trips over badly typed documents
            # Its schema pass reports the cause first; if it did not, say what tripped it.
            if not found:
                found.append(((), f"document structure is invalid ({exc!r})"))
            break
        found.append((tuple(error.path), str(error.message)))
    return found


def child_checks(
    args: tuple[dict[str, Any], str],
) -> tuple[Found, list[Problem] | None]:
    """What the pipeline's child process checks beside the models step: the validator's
    errors and `check_extensions`' problems (None where those checks raised: the parent runs
    them again, so their exception is its own)."""
    data, file = args
    found = openapi_errors(data)
    try:
        return found, check_extensions(data, file)
    except Exception:  # noqa: BLE001 - raised again by the parent's own run
        return found, None


def judge(
    doc: Document,
    found: Found,
    warnings: list[Problem],
    *,
    lenient: bool = False,
    extension_problems: list[Problem] | None = None,
) -> list[Problem]:
    """Turn the validator's errors into a SpecError, or (lenient) into warnings; errors about a
    `default` only drop it. Returns every warning, `warnings` (from `precheck`) last.
    `extension_problems`: `check_extensions` of the document, when run already."""
    file = doc.display_path
    problems: list[Problem] = []
    bad_defaults: Found = []
    for path, message in found:
        if _is_default(doc.data, path):
            bad_defaults.append((path, message))
        else:
            problems.append(Problem(file, pointer(*path), _shorten(message)))
    if extension_problems is None:
        extension_problems = check_extensions(doc.data, file)
    out: list[Problem] = []
    if lenient and problems and not extension_problems and problems[0].pointer != "":
        out = [
            Problem(p.file, p.pointer, p.message + " (--lenient: generating anyway)")
            for p in problems
        ]
        problems = []
    problems.extend(extension_problems)
    if problems:
        raise SpecError(_dedupe(problems))
    for path, reason in bad_defaults:
        _node_at(doc.data, path[:-1]).pop("default", None)
        message = f"default does not match its schema: {_shorten(reason)} (dropped)"
        out.append(Problem(file, pointer(*path), message))
    return _dedupe(out + warnings)


def _node_at(data: dict[str, Any], path: tuple[Any, ...]) -> Any:
    """The node a validator path names. The validator walks through `$ref`s, so its paths can
    pass through one: follow it where the path goes on. KeyError when there is none."""
    node: Any = data
    for part in path:
        while isinstance(node, dict) and part not in node and isinstance(node.get("$ref"), str):
            node = resolve_pointer(data, node["$ref"])
        try:
            node = node[part]
        except (IndexError, TypeError) as exc:
            raise KeyError(part) from exc
    return node


def _is_default(data: dict[str, Any], path: tuple[Any, ...]) -> bool:
    """An error about a schema's `default` value (not about a property named `default`)."""
    if len(path) < 2 or path[-1] != "default" or path[-2] in _NAME_MAPS:
        return False
    try:
        node = _node_at(data, path[:-1])
    except KeyError:
        return False
    return isinstance(node, dict) and "default" in node


def _shorten(message: str) -> str:
    """The validator quotes whole schemas in some messages: keep a line a person can read."""
    message = " ".join(message.split())
    if len(message) <= _MESSAGE_LIMIT:
        return message
    return message[: _MESSAGE_LIMIT - 5] + " ... " + message[-40:]


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _fits_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if isinstance(value, bool) and kind != "boolean":
        return False
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES.get(kind, (object,)))


def _same(a: Any, b: Any) -> bool:
    return a == b and (isinstance(a, bool) == isinstance(b, bool))


def _default_problem(schema: dict[str, Any]) -> str | None:
    """Why a schema's `default` does not satisfy the schema's own `type`, `enum` or `const`."""
    value = schema["default"]
    if value is None:  # `default: null` is harmless: the field is optional either way
        return None
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else []
    if kinds and not any(_fits_type(value, k) for k in kinds if isinstance(k, str)):
        return f"default {value!r} is not of type {' or '.join(map(str, kinds))}"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and not any(_same(value, v) for v in enum):
        return f"default {value!r} is not one of the enum values"
    if "const" in schema and not _same(value, schema["const"]):
        return f"default {value!r} is not the const value"
    return None


def drop_bad_defaults(data: dict[str, Any], file: str) -> list[Problem]:
    """Remove every schema `default` that contradicts its own schema; one warning each.

    Always, not only with --lenient: such a default can never be the value of a valid instance,
    the OpenAPI validator does not always see it (it checks defaults of component schemas, not
    every nested one), and dropping it loses nothing a client could send."""
    found: list[Problem] = []

    def visit(node: Any, path: tuple[str, ...], names_only: bool) -> None:
        if isinstance(node, dict):
            if not names_only and "default" in node and ("type" in node or "enum" in node):
                reason = _default_problem(node)
                if reason is not None:
                    del node["default"]
                    found.append(
                        Problem(file, pointer(*path, "default"), _shorten(reason) + " (dropped)")
                    )
            for key, value in node.items():
                if not names_only and key in _DATA_KEYWORDS:
                    continue
                if key == extensions.KEY:
                    continue
                visit(value, (*path, str(key)), not names_only and key in _NAME_MAPS)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                visit(item, (*path, str(i)), False)

    visit(data, (), False)
    return found


_TOP_LEVEL_MAPPINGS = ("info", "paths", "components", "webhooks")


def _check_top_level(data: dict[str, Any], file: str) -> list[Problem]:
    """Wrong types at the top make the OpenAPI validator itself crash: catch them first."""
    problems = [
        Problem(file, pointer(key), f"`{key}` must be a mapping, not {type(data[key]).__name__}")
        for key in _TOP_LEVEL_MAPPINGS
        if key in data and not isinstance(data[key], dict)
    ]
    if "info" not in data:
        problems.append(Problem(file, "", "`info` is required"))
    return problems


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def check_extensions(data: dict[str, Any], file: str) -> list[Problem]:
    """Check every `x-ingest` object where it may appear, and flag near-miss spellings."""
    problems: list[Problem] = []
    _walk_misspellings(data, (), file, problems)
    info = data.get("info", {})
    info_ext = info.get(extensions.KEY, {}) if isinstance(info, dict) else {}
    problems += extensions.check(info_ext, "info", file, ("info",))
    for path, item in sorted((data.get("paths") or {}).items()):
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if isinstance(op, dict) and extensions.KEY in op:
                where = ("paths", path, method)
                problems += extensions.check(op[extensions.KEY], "operation", file, where)
    _walk_properties(data, (), file, problems)
    if not problems and isinstance(info_ext, dict):
        problems += _check_categories(data, info_ext, file)
    return problems


# Maps whose keys are names chosen by the spec's author (a property called `ingest` is fine),
# and keywords whose values are data, not spec structure.
_NAME_MAPS = frozenset(
    {
        "properties",
        "patternProperties",
        "schemas",
        "paths",
        "responses",
        "parameters",
        "securitySchemes",
        "requestBodies",
        "headers",
        "content",
        "callbacks",
        "webhooks",
        "links",
        "variables",
        "mapping",
        "encoding",
        "pathItems",
        "$defs",
        "definitions",
        "scopes",
        "dependentSchemas",
        "examples",
    }
)
_DATA_KEYWORDS = frozenset({"example", "default", "enum", "const", "value", "examples"})


def _walk_misspellings(
    node: Any, path: tuple[str, ...], file: str, out: list[Problem], names_only: bool = False
) -> None:
    """Near-miss spellings of our key, in keyword positions only: never in a map of names
    (`properties`, `mapping`...) nor inside data (`example`, `default`, `enum`...)."""
    if isinstance(node, dict):
        if not names_only:
            out.extend(extensions.misspelt_keys(node, path, file))
        for key, value in node.items():
            where = (*path, str(key))
            if names_only:
                _walk_misspellings(value, where, file, out)
            elif key == extensions.KEY or (key in _DATA_KEYWORDS and not isinstance(value, dict)):
                continue
            elif key in _DATA_KEYWORDS - {"examples"}:
                continue
            else:
                _walk_misspellings(value, where, file, out, key in _NAME_MAPS)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk_misspellings(item, (*path, str(i)), file, out)


def _walk_properties(node: Any, path: tuple[str, ...], file: str, out: list[Problem]) -> None:
    """`x-ingest` on a schema property: found under any `properties` mapping."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, prop in props.items():
                if isinstance(prop, dict) and extensions.KEY in prop:
                    where = (*path, "properties", str(name))
                    out.extend(extensions.check(prop[extensions.KEY], "property", file, where))
        for key, value in node.items():
            if key != extensions.KEY:
                _walk_properties(value, (*path, str(key)), file, out)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk_properties(item, (*path, str(i)), file, out)


def _check_categories(data: dict[str, Any], info_ext: dict[str, Any], file: str) -> list[Problem]:
    """Categories used by operations and modes must be declared; the default mode must exist."""
    problems = []
    declared = info_ext.get("categories")
    modes = info_ext.get("modes", {})
    if declared is not None:
        for mode, muted in sorted(modes.items()):
            for category in muted:
                if category not in declared:
                    problems.append(
                        Problem(
                            file,
                            pointer("info", extensions.KEY, "modes", mode),
                            f"mode {mode!r} mutes undeclared category {category!r}",
                        )
                    )
    default_mode = info_ext.get("default_mode")
    if default_mode is not None and default_mode not in modes:
        problems.append(
            Problem(
                file,
                pointer("info", extensions.KEY, "default_mode"),
                f"default_mode {default_mode!r} is not one of the modes {sorted(modes)}",
            )
        )
    for path, item in sorted((data.get("paths") or {}).items()):
        for method in HTTP_METHODS:
            op = item.get(method) if isinstance(item, dict) else None
            ext = op.get(extensions.KEY) if isinstance(op, dict) else None
            category = ext.get("category") if isinstance(ext, dict) else None
            if category is not None and declared is not None and category not in declared:
                problems.append(
                    Problem(
                        file,
                        pointer("paths", path, method, extensions.KEY, "category"),
                        f"category {category!r} is not declared in info.{extensions.KEY}."
                        f"categories {declared}",
                    )
                )
    return problems
