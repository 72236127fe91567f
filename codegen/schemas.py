"""Prepare a document's schemas for the models generator.

Every schema a method needs becomes a named component, so datamodel-code-generator emits a class
for it in one pass over `components/schemas` (a second pass over `paths` costs seconds on big
specs). Component names are sanitised here, once, so the class names are ours and stable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from codegen import extensions, names
from codegen.load import resolve_pointer

SCHEMA_PREFIX = "#/components/schemas/"
JSON_TYPES = ("application/json", "text/json")


@dataclass
class PreparedSchemas:
    """Input for the models generator, plus what the service builder needs to find classes."""

    document: dict[str, Any]  # a copy of the spec whose component names are class names
    class_of: dict[str, str]  # original component name -> class name
    request_class: dict[str, str] = field(default_factory=dict)  # "METHOD path" -> class
    response_class: dict[str, str] = field(default_factory=dict)  # "METHOD path" -> class
    aliases: dict[str, str] = field(default_factory=dict)  # "Class.wire" -> python name
    request_media: dict[str, tuple[str, str]] = field(default_factory=dict)  # -> (kind, type)
    # "METHOD path" -> (class, media type) of a 3.2 `itemSchema` on a streamed 2xx response
    stream_item: dict[str, tuple[str, str]] = field(default_factory=dict)
    hoisted: set[str] = field(default_factory=set)  # classes of inline body schemas


def json_media(content: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """The JSON media type entry of a `content` map, if it has one."""
    for media, entry in sorted((content or {}).items()):
        base = media.split(";")[0].strip().lower()
        if base in JSON_TYPES or base.endswith("+json"):
            return media, entry if isinstance(entry, dict) else {}
    return None


def stream_media(content: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """(media type, item schema) of the first media type with an OpenAPI 3.2 `itemSchema`:
    `text/event-stream`, `application/jsonl`, `application/json-seq`... one schema per item."""
    for media, entry in sorted((content or {}).items()):
        if isinstance(entry, dict) and isinstance(entry.get("itemSchema"), dict):
            return media, entry["itemSchema"]
    return None


def deref(data: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s until a node with content."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 64:
        node = resolve_pointer(data, node["$ref"])
        seen += 1
    return node


# Names the models module imports or pydantic reserves: a component spelt like one is renamed.
RESERVED_CLASS_NAMES = frozenset(
    {
        "Annotated",
        "Any",
        "AnyUrl",
        "AwareDatetime",
        "BaseModel",
        "ConfigDict",
        "Enum",
        "Field",
        "Literal",
        "RootModel",
        "UUID",
        "EmailStr",
        "IPv4Address",
        "IPv6Address",
        "Decimal",
        "Optional",
        "Union",
        "List",
        "Dict",
        "Model",
        "NaiveDatetime",
        "Base64Str",
        "Json",
        "PositiveInt",
        "Path",
        "TypeAlias",
        "Type",
    }
)


def class_name_for(component: str) -> str:
    """A component name as a class name: PascalCase, never one of the module's own imports."""
    name = names.pascal(component)
    return name + "Model" if name in RESERVED_CLASS_NAMES else name


def body_media(content: dict[str, Any] | None) -> tuple[str, str, dict[str, Any]] | None:
    """(kind, media type, entry) of the media type a client sends: JSON first, then forms,
    then text, then anything else as bytes."""
    entries = sorted((content or {}).items())
    if not entries:
        return None
    ranked = []
    for media, entry in entries:
        kind = media_kind(media)
        ranked.append(
            (_KIND_ORDER.index(kind), media, kind, entry if isinstance(entry, dict) else {})
        )
    _, media, kind, entry = min(ranked)
    return kind, media, entry


_KIND_ORDER = ("json", "form", "multipart", "text", "bytes")


def media_kind(media: str) -> str:
    base = media.split(";")[0].strip().lower()
    if base in JSON_TYPES or base.endswith("+json") or base == "text/json":
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("multipart/"):
        return "multipart"
    if base.startswith("text/"):
        return "text"
    return "bytes"


def prepare(data: dict[str, Any], file: str) -> PreparedSchemas:
    """Rename components to class names and hoist inline request/response schemas."""
    from codegen.build import operations_of

    # A JSON round trip copies the document several times faster than copy.deepcopy.
    doc = json.loads(json.dumps(data))
    components = doc.get("components")
    if not isinstance(components, dict):
        components = doc["components"] = {}
    schemas: dict[str, Any] = components.get("schemas") or {}
    _pin_discriminators(doc, schemas)
    taken: set[str] = set()
    class_of: dict[str, str] = {}
    for original in sorted(schemas):
        class_of[original] = names.unique(class_name_for(original), taken, sep="")
    # Sorted, so the models module does not depend on the order schemas appear in the spec.
    renamed = {class_of[k]: schemas[k] for k in sorted(schemas, key=lambda k: class_of[k])}
    mapping = {k: v for k, v in class_of.items() if k != v}
    if mapping:
        _rewrite_refs(doc, {SCHEMA_PREFIX + k: SCHEMA_PREFIX + v for k, v in mapping.items()})
    components["schemas"] = renamed
    prepared = PreparedSchemas(document=doc, class_of=class_of)

    for method, path, op in operations_of(doc):
        key = f"{method.upper()} {path}"
        op_name = names.pascal(op.get("operationId") or f"{method} {path}")
        body = deref(doc, op.get("requestBody"))
        media = body_media(body.get("content") if isinstance(body, dict) else None)
        if media is not None:
            kind, media_type, entry = media
            prepared.request_media[key] = (kind, media_type)
            if kind in ("json", "form", "multipart") and isinstance(entry.get("schema"), dict):
                prepared.request_class[key] = _named(
                    doc, renamed, entry["schema"], f"{op_name}Request", taken
                )
        for status in sorted(op.get("responses") or {}):
            if not (status.startswith("2") and len(status) == 3):
                continue
            response = deref(doc, op["responses"][status])
            content = response.get("content") if isinstance(response, dict) else None
            found = json_media(content)
            if found is not None and isinstance(found[1].get("schema"), dict):
                prepared.response_class[key] = _named(
                    doc, renamed, found[1]["schema"], f"{op_name}Response", taken
                )
            stream = stream_media(content)
            if stream is not None:
                media_type, item_schema = stream
                item_class = _named(doc, renamed, item_schema, f"{op_name}StreamItem", taken)
                prepared.stream_item[key] = (item_class, media_type)
            break

    prepared.hoisted = set(renamed) - set(class_of.values())
    for class_name, schema in sorted(renamed.items()):
        _collect_aliases(doc, class_name, schema, prepared.aliases)
    _relax_directional(doc, renamed)
    return prepared


# Keywords whose values are data (an example may well look like a schema): never edited.
_DATA_KEYWORDS = frozenset({"example", "examples", "default", "enum", "const"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})


def directional(doc: dict[str, Any], prop: Any) -> str | None:
    """ "readOnly" or "writeOnly" when a property schema (or the schema it refers to) says so."""
    seen = 0
    while isinstance(prop, dict) and seen < 64:
        for keyword in ("readOnly", "writeOnly"):
            if prop.get(keyword) is True:
                return keyword
        ref = prop.get("$ref")
        if not isinstance(ref, str):
            return None
        prop = resolve_pointer(doc, ref)
        seen += 1
    return None


def own_properties(doc: dict[str, Any], schema: Any, depth: int = 0) -> dict[str, Any]:
    """The properties an object schema declares itself or through its allOf parts."""
    schema = deref(doc, schema)
    if not isinstance(schema, dict) or depth > 32:
        return {}
    found: dict[str, Any] = {}
    for part in schema.get("allOf") or []:
        found.update(own_properties(doc, part, depth + 1))
    props = schema.get("properties")
    if isinstance(props, dict):
        found.update(props)
    return found


def _relax_directional(doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    """One model serves requests and responses, so a property marked `readOnly` (only in
    responses) or `writeOnly` (only in requests) cannot be required by it: it is dropped from
    `required`, everywhere in the component schemas. A request then validates without the
    readOnly property and a response parses without the writeOnly one; build.py keeps a
    required writeOnly property a required argument and never takes a readOnly one."""

    def visit(node: Any, depth: int, names_only: bool = False) -> None:
        if depth > 256:
            return
        if isinstance(node, dict) and names_only:  # `properties`: any name, schemas below
            for value in node.values():
                visit(value, depth + 1)
        elif isinstance(node, dict):
            required = node.get("required")
            if isinstance(required, list) and required:
                props = own_properties(doc, node)
                kept = [r for r in required if not directional(doc, props.get(r))]
                if len(kept) != len(required):
                    node["required"] = kept
            for key, value in node.items():
                if key in _SCHEMA_MAPS:
                    visit(value, depth + 1, names_only=True)
                elif key not in _DATA_KEYWORDS and key != extensions.KEY:
                    visit(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                visit(item, depth + 1)

    visit(schemas, 0, names_only=True)


def _named(
    doc: dict[str, Any], schemas: dict[str, Any], schema: Any, name: str, taken: set[str]
) -> str:
    """The class for a body schema: its component if it is a `$ref`, else a hoisted one."""
    if isinstance(schema, dict) and set(schema) == {"$ref"}:
        ref = schema["$ref"]
        if ref.startswith(SCHEMA_PREFIX) and "/" not in ref[len(SCHEMA_PREFIX) :]:
            return str(ref[len(SCHEMA_PREFIX) :])
    class_name = names.unique(class_name_for(name), taken, sep="")
    schemas[class_name] = schema  # the document is already a private copy
    return class_name


def _pin_discriminators(doc: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Make every discriminator explicit: a mapping (the implicit value is the component's
    original name, which renaming would lose) and, on each variant, the discriminating property
    as an enum of its values, so pydantic can tell the variants apart by a Literal field."""
    values: dict[tuple[str, str], set[str]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            disc = node.get("discriminator")
            if isinstance(disc, dict) and isinstance(disc.get("propertyName"), str):
                prop = disc["propertyName"]
                mapping = disc.get("mapping")
                if not isinstance(mapping, dict):
                    mapping = {}
                    for part in [*(node.get("oneOf") or []), *(node.get("anyOf") or [])]:
                        ref = part.get("$ref") if isinstance(part, dict) else None
                        if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
                            mapping[ref[len(SCHEMA_PREFIX) :]] = ref
                    if mapping:
                        disc["mapping"] = mapping
                for value, ref in mapping.items():
                    if isinstance(ref, str) and not ref.startswith("#"):
                        ref = SCHEMA_PREFIX + ref  # a bare schema name is allowed too
                        mapping[value] = ref
                    if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
                        target = ref[len(SCHEMA_PREFIX) :]
                        values.setdefault((target, prop), set()).add(str(value))
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(doc)
    for (target, prop), found in sorted(values.items()):
        schema = schemas.get(target)
        if not isinstance(schema, dict) or "$ref" in schema:
            continue
        props = schema.setdefault("properties", {})
        if not isinstance(props, dict):
            continue
        current = props.get(prop)
        if isinstance(current, dict) and ("const" in current or "enum" in current):
            continue
        pinned = {k: v for k, v in (current or {}).items() if k in ("description", "title")}
        props[prop] = {**pinned, "type": "string", "enum": sorted(found)}


def _rewrite_refs(node: Any, mapping: dict[str, str]) -> None:
    """`#/components/schemas/<old>[/...]` -> `.../<new>[/...]`: one dict lookup per ref."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX):
            name, sep, rest = ref[len(SCHEMA_PREFIX) :].partition("/")
            new = mapping.get(SCHEMA_PREFIX + name)
            if new is not None:
                node["$ref"] = new + sep + rest
        for value in node.values():
            _rewrite_refs(value, mapping)
    elif isinstance(node, list):
        for item in node:
            _rewrite_refs(item, mapping)


def _collect_aliases(
    doc: dict[str, Any], class_name: str, schema: Any, out: dict[str, str]
) -> None:
    """`x-ingest.python_name` on a property of a class (or of its inline allOf parts)."""
    parts = [schema]
    if isinstance(schema, dict):
        parts += [p for p in schema.get("allOf", []) if isinstance(p, dict) and "$ref" not in p]
    for part in parts:
        for wire, prop in sorted(((part or {}).get("properties") or {}).items()):
            ext = prop.get(extensions.KEY) if isinstance(prop, dict) else None
            if isinstance(ext, dict) and "python_name" in ext:
                out[f"{class_name}.{wire}"] = ext["python_name"]
