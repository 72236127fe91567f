"""Classes for plain inline request/response bodies, written here instead of by the models
generator.

datamodel-code-generator spends about 3 ms per class whatever the class is; a big vendor spec
has hundreds of inline bodies (Stripe: 573 bodies with 1,328 nested inline objects, more than
half of its models step). Most of them use a small vocabulary: objects with properties, scalars
with `maxLength`/`pattern`, string enums, arrays, `anyOf`, string-keyed maps and bare `$ref`s
to components (typed with the class the models generator gave the component, which is not
always its name: `pymodels.ModelsModule.class_of`). A body written entirely in that
vocabulary is rendered here, as the models generator would type it (same annotations,
constraints, `extra="forbid"` for `additionalProperties: false`, `populate_by_name`,
docstrings); any other body (defaults, examples, `oneOf`, `allOf`, odd property names,
`x-ingest` keys...) is left to it. Checked against its own classes for the same bodies
(Stripe 560 of 573, GitHub 148 of 494): the same fields, wire names, types (nested classes
compared by structure), constraints and defaults.

Differences that change no validation: a nested inline object is the class
`<Parent><Property>` (the models generator numbers them by first use: `Address12`), nested
classes are never merged with identical ones, an array of constrained scalars is typed
`list[Annotated[str, Field(max_length=...)]]` instead of a list of a one-field root model, and
a `title` is kept only on object-typed fields. One that does: a required property marked
`nullable` is `X | None` here, as the spec says; the models generator (without
`--strict-nullable`) types it `X` and rejects the null (one field of GitHub's
`codespaces/pre-flight-with-repo-for-authenticated-user` response).
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any

from codegen import names
from codegen.schemas import SCHEMA_PREFIX

# Keywords a plain body may use; anything else sends the body to the models generator.
_ALLOWED = frozenset(
    {
        "description",
        "title",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "maxLength",
        "pattern",
        "format",
        "nullable",
        "$ref",
    }
)
_SCALARS = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
# (type, format) -> annotation, as the models generator maps them.
_FORMATS = {("integer", "unix-time"): "int", ("string", "decimal"): "Decimal"}
# Names a field cannot take as it is (the models generator renames them).
_TAKEN_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "BaseModel",
        "ConfigDict",
        "Decimal",
        "Field",
        "Literal",
        "None",
        "RootModel",
        "annotations",
        "bool",
        "dict",
        "float",
        "int",
        "list",
        "str",
        "bytes",
    }
)
HEADER = (
    "from decimal import Decimal\n"
    "from typing import Annotated, Any, Literal\n\n"
    "from pydantic import BaseModel, ConfigDict, Field\n"
)


def plain(schema: Any, components: set[str]) -> bool:
    """Whether the body can be written here: an object with properties, every part of it in
    the plain vocabulary, every `$ref` to a component class."""
    if isinstance(schema, dict) and not schema.get("properties") and "properties" in schema:
        # no properties at all (Stripe's GET and DELETE form bodies)
        return set(schema) <= {"type", "properties", "additionalProperties", "description"} and (
            schema.get("type") == "object" and schema.get("additionalProperties", False) is False
        )
    return (
        isinstance(schema, dict)
        and _is_object(schema)
        and not schema.get("nullable")
        and _plain(schema, components, 0)
    )


def _is_object(schema: dict[str, Any]) -> bool:
    return (
        schema.get("type") == "object"
        and isinstance(schema.get("properties"), dict)
        and bool(schema["properties"])
        and schema.get("additionalProperties", False) is False
    )


def _plain(schema: Any, components: set[str], depth: int) -> bool:
    if not isinstance(schema, dict) or depth > 32:
        return False
    keys = set(schema)
    if any(k.startswith("x-") for k in keys):
        if "x-ingest" in keys:
            return False
        keys = {k for k in keys if not k.startswith("x-")}
    if not keys <= _ALLOWED:
        return False
    for text in ("description", "title"):
        if text in schema and not isinstance(schema[text], str):
            return False
    if "nullable" in schema and not isinstance(schema["nullable"], bool):
        return False
    if "$ref" in schema:
        # a component's class, by the name the models generator gave it (render's `classes`)
        ref = schema["$ref"]
        return (
            keys == {"$ref"}
            and isinstance(ref, str)
            and ref.startswith(SCHEMA_PREFIX)
            and ref[len(SCHEMA_PREFIX) :] in components
        )
    if "anyOf" in schema:
        members = schema["anyOf"]
        return (
            keys <= {"anyOf", "description", "title"}
            and isinstance(members, list)
            and len(members) > 1
            and all(
                isinstance(m, dict) and not m.get("nullable") and _plain(m, components, depth + 1)
                for m in members
            )
        )
    kind = schema.get("type")
    if kind is not None and not isinstance(kind, str):  # a 3.1 type array: the models generator
        return False
    if "maxLength" in schema and not (
        kind == "string" and type(schema["maxLength"]) is int and schema["maxLength"] >= 0
    ):
        return False
    if "pattern" in schema and not (
        kind == "string"
        and isinstance(schema["pattern"], str)
        # look-around and back-references need pydantic's `regex_engine="python-re"`, which
        # the models generator sets on the class: left to it (sentry)
        and not re.search(r"\(\?|\\[0-9]", schema["pattern"])
    ):
        return False
    if "format" in schema and (kind, schema["format"]) not in _FORMATS:
        return False
    if "enum" in schema:
        values = schema["enum"]
        return (
            kind == "string"
            and isinstance(values, list)
            and bool(values)
            and all(isinstance(v, str) for v in values)
            and not keys & {"format", "pattern", "items", "properties", "additionalProperties"}
        )
    if kind in _SCALARS:
        return not keys & {"items", "properties", "additionalProperties", "required"}
    if kind == "array":
        return (
            not keys & {"properties", "additionalProperties", "required", "maxLength", "pattern"}
            and _plain(schema.get("items"), components, depth + 1)
            and not schema["items"].get("nullable")
        )
    if kind == "object":
        if keys & {"items", "maxLength", "pattern"}:
            return False
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if not props:  # a map (`properties: {}` too)
            return "required" not in keys and (
                extra is None
                or extra is True
                or (
                    isinstance(extra, dict)
                    and not extra.get("nullable")
                    and _plain(extra, components, depth + 1)
                )
            )
        required = schema.get("required", [])
        return (
            _is_object(schema)
            and isinstance(required, list)
            and all(isinstance(r, str) and r in props for r in required)
            and all(_field_name_ok(name) and name not in components for name in props)
            and all(_plain(p, components, depth + 1) for p in props.values())
        )
    return False


def _field_name_ok(name: str) -> bool:
    return (
        name.isidentifier()
        and name.isascii()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and not name.startswith("model_")
        and name not in _TAKEN_NAMES
        and name not in _BASEMODEL_ATTRS
    )


def _basemodel_attrs() -> frozenset[str]:
    from pydantic import BaseModel

    return frozenset(dir(BaseModel))


_BASEMODEL_ATTRS = _basemodel_attrs()


@dataclass(frozen=True)
class WrittenField:
    """A field as written: `{name}: {annotation}`, ` = None` unless required, then `doc` (as
    `names.docstring` gives it) as its docstring when there is one."""

    name: str
    annotation: str
    required: bool
    doc: str


@dataclass(frozen=True)
class WrittenClass:
    name: str
    fields: list[WrittenField]


class _Writer:
    def __init__(self, taken: set[str], classes: dict[str, str]) -> None:
        self.taken = taken
        self.classes = classes
        self.out: list[str] = []
        self.written: list[WrittenClass] = []

    def new_class(self, hint: str) -> str:
        return names.unique(names.pascal(hint), self.taken, sep="")

    def write_class(self, name: str, schema: dict[str, Any], doc: str | None) -> None:
        required = set(schema.get("required", []))
        lines = [f"class {name}(BaseModel):"]
        text = names.docstring(schema.get("description") or doc)
        if text:
            lines += [f'    """\n    {_indent(text)}\n    """', ""]
        extra = 'extra="forbid", ' if schema.get("additionalProperties") is False else ""
        lines.append(f"    model_config = ConfigDict({extra}populate_by_name=True)")
        fields: list[WrittenField] = []
        for wire, prop in (schema.get("properties") or {}).items():
            lines += self.field(name, wire, prop, wire in required, fields)
        self.out.append("\n".join(lines) + "\n")
        self.written.append(WrittenClass(name, fields))

    def field(
        self,
        owner: str,
        wire: str,
        prop: dict[str, Any],
        required: bool,
        fields: list[WrittenField],
    ) -> list[str]:
        hint = owner + names.pascal(wire)
        annotation = self.annotation(prop, hint, prop.get("description"))
        constraints: list[str] = []
        if "anyOf" not in prop and "$ref" not in prop:
            if isinstance(prop.get("title"), str) and prop.get("type") == "object":
                constraints.append(f"title={prop['title']!r}")
            if "maxLength" in prop:
                constraints.append(f"max_length={prop['maxLength']!r}")
            if "pattern" in prop:
                constraints.append(f"pattern={prop['pattern']!r}")
        if not required and not annotation.endswith(" | None"):
            annotation = f"{annotation} | None"
        if constraints:
            annotation = f"Annotated[{annotation}, Field({', '.join(constraints)})]"
        line = f"    {wire}: {annotation}" + ("" if required else " = None")
        text = names.docstring(prop.get("description"))
        fields.append(WrittenField(wire, annotation, required, text))
        return [line, f'    """\n    {_indent(text)}\n    """'] if text else [line]

    def annotation(self, schema: dict[str, Any], hint: str, doc: str | None) -> str:
        """The type of a value (constraints of a field's own schema are the caller's)."""
        if "$ref" in schema:
            name = str(schema["$ref"])[len(SCHEMA_PREFIX) :]
            return self.classes.get(name, name)
        if "anyOf" in schema:
            parts: list[str] = []
            objects = sum(1 for m in schema["anyOf"] if "properties" in m)
            for i, member in enumerate(schema["anyOf"]):
                member_hint = hint if objects <= 1 else f"{hint}{i + 1}"
                text = self.annotation(member, member_hint, doc)
                text = _constrained(member, text)
                if text not in parts:
                    parts.append(text)
            inner = " | ".join(parts)
        elif "enum" in schema:
            values = list(dict.fromkeys(schema["enum"]))
            inner = f"Literal[{', '.join(repr(v) for v in values)}]"
        elif schema.get("type") == "array":
            item = schema["items"]
            inner = f"list[{_constrained(item, self.annotation(item, hint + 'Item', None))}]"
        elif schema.get("type") == "object" and schema.get("properties"):
            inner = self.new_class(hint)
            self.write_class(inner, schema, doc)
        elif schema.get("type") == "object":
            extra = schema.get("additionalProperties")
            value = "Any"
            if isinstance(extra, dict):
                value = _constrained(extra, self.annotation(extra, hint + "Value", None))
            inner = f"dict[str, {value}]"
        else:
            kind = str(schema["type"])
            inner = _FORMATS.get((kind, str(schema.get("format"))), _SCALARS[kind])
        return f"{inner} | None" if schema.get("nullable") else inner


def _constrained(schema: dict[str, Any], annotation: str) -> str:
    """A member or item type with its own constraints kept beside it (none on an enum: the
    models generator drops them there)."""
    if "enum" in schema:
        return annotation
    found = [
        f"{key}={schema[kw]!r}" for kw, key in (("maxLength", "max_length"), ("pattern", "pattern"))
        if kw in schema
    ]  # fmt: skip
    return f"Annotated[{annotation}, Field({', '.join(found)})]" if found else annotation


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


def render(
    bodies: dict[str, dict[str, Any]], taken: set[str], classes: dict[str, str]
) -> tuple[str, dict[str, str], list[WrittenClass]]:
    """Class definitions for the plain bodies (name -> schema), nested classes first, in the
    order given, and the bodies whose class has another name than theirs (a class of the
    models generator's took it). `taken` holds every class name already in the module; new
    names go in it. `classes`: component -> class, where they differ. Last, the classes as
    written, in the order of the text: what the models index reads from them without
    parsing them back (`pymodels.finish`)."""
    writer = _Writer(taken, classes)
    renamed: dict[str, str] = {}
    for name in bodies:  # the bodies' own names first: nested classes come after them
        if name in taken:
            renamed[name] = writer.new_class(name)
        else:
            taken.add(name)
    for name, schema in bodies.items():
        writer.write_class(renamed.get(name, name), schema, None)
    return "\n\n".join(writer.out), renamed, writer.written
