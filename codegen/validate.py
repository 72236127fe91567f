"""Validate a loaded document: OpenAPI itself, then the toolkit's `x-ingest` extensions.

All problems are collected and raised together, each with file, JSON pointer and message.
"""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import (
    OpenAPIV30SpecValidator,
    OpenAPIV31SpecValidator,
    OpenAPIV32SpecValidator,
)

from codegen import extensions
from codegen.errors import Problem, SpecError, pointer
from codegen.load import Document

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")

_VALIDATORS: dict[str, Any] = {
    "3.0": OpenAPIV30SpecValidator,
    "3.1": OpenAPIV31SpecValidator,
    "3.2": OpenAPIV32SpecValidator,
}


def validate(doc: Document, *, lenient: bool = False) -> list[Problem]:
    """Raise SpecError listing every problem in the document, or return quietly.

    With `lenient`, OpenAPI violations (not `x-ingest` ones, not unreadable structure) are
    returned as warnings instead; a `default` that violates its schema is dropped, because the
    models could not type-check with it. docs/corpus.md lists what real specs get wrong.
    """
    file = doc.display_path
    version = str(doc.data.get("openapi", ""))
    validator_cls = _VALIDATORS.get(version[:3])
    if validator_cls is None:
        raise SpecError.single(
            file, "/openapi", f"unsupported OpenAPI version {version!r}: expected 3.0, 3.1 or 3.2"
        )
    problems = _check_top_level(doc.data, file)
    if problems:
        raise SpecError(problems)
    errors = validator_cls(doc.data).iter_errors()
    paths: list[tuple[Any, ...]] = []
    while True:
        try:
            error = next(errors)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - the validator trips over badly typed documents
            # Its schema pass reports the cause first; if it did not, say what tripped it.
            if not problems:
                problems.append(Problem(file, "", f"document structure is invalid ({exc!r})"))
            break
        problems.append(Problem(file, pointer(*error.path), error.message))
        paths.append(tuple(error.path))
    extension_problems = check_extensions(doc.data, file)
    if lenient and problems and not extension_problems and problems[0].pointer != "":
        warnings = []
        for problem, path in zip(problems, paths, strict=True):
            note = ""
            if path and path[-1] == "default":
                parent = doc.data
                for part in path[:-1]:
                    parent = parent[part]
                parent.pop("default", None)
                note = " (default dropped)"
            warnings.append(Problem(problem.file, problem.pointer, problem.message + note))
        return _dedupe(warnings)
    problems.extend(extension_problems)
    if problems:
        raise SpecError(_dedupe(problems))
    return []


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
