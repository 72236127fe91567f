"""Prepare a document's schemas for the models generator.

Every schema a method needs becomes a named component, so datamodel-code-generator emits a class
for it in one pass over `components/schemas` (a second pass over `paths` costs seconds on big
specs). Component names are sanitised here, once, so the class names are ours and stable.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from codegen import extensions, names
from codegen.errors import SpecError, pointer
from codegen.load import resolve_pointer

SCHEMA_PREFIX = "#/components/schemas/"
JSON_TYPES = ("application/json",)


@dataclass
class PreparedSchemas:
    """Input for the models generator, plus what the service builder needs to find classes."""

    document: dict[str, Any]  # a copy of the spec whose component names are class names
    class_of: dict[str, str]  # original component name -> class name
    request_class: dict[str, str] = field(default_factory=dict)  # "METHOD path" -> class
    response_class: dict[str, str] = field(default_factory=dict)  # "METHOD path" -> class
    aliases: dict[str, str] = field(default_factory=dict)  # "Class.wire" -> python name


def json_media(content: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    """The JSON media type entry of a `content` map, if it has one."""
    for media, entry in sorted((content or {}).items()):
        base = media.split(";")[0].strip().lower()
        if base in JSON_TYPES or base.endswith("+json"):
            return media, entry if isinstance(entry, dict) else {}
    return None


def deref(data: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s until a node with content."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 64:
        node = resolve_pointer(data, node["$ref"])
        seen += 1
    return node


def prepare(
    data: dict[str, Any], file: str, operations: list[tuple[str, str, dict[str, Any]]]
) -> PreparedSchemas:
    """Rename components to class names and hoist inline request/response schemas."""
    doc = copy.deepcopy(data)
    schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {}) or {}
    doc["components"]["schemas"] = schemas
    taken: set[str] = set()
    class_of: dict[str, str] = {}
    for original in sorted(schemas):
        class_of[original] = names.unique(names.pascal(original), taken)
    # Sorted, so the models module does not depend on the order schemas appear in the spec.
    renamed = {class_of[k]: schemas[k] for k in sorted(schemas, key=lambda k: class_of[k])}
    _rewrite_refs(doc, {SCHEMA_PREFIX + k: SCHEMA_PREFIX + v for k, v in class_of.items()})
    doc["components"]["schemas"] = renamed
    prepared = PreparedSchemas(document=doc, class_of=class_of)

    for method, path, op in operations:
        key = f"{method.upper()} {path}"
        op_name = names.pascal(op.get("operationId") or f"{method} {path}")
        where = ("paths", path, method)
        body = deref(doc, op.get("requestBody"))
        media = json_media(body.get("content") if isinstance(body, dict) else None)
        if isinstance(body, dict) and body.get("content") and media is None:
            kinds = ", ".join(sorted(body["content"]))
            raise SpecError.single(
                file,
                pointer(*where, "requestBody", "content"),
                f"request body media type(s) {kinds} are not supported yet (JSON only)",
            )
        if media is not None and "schema" in media[1]:
            prepared.request_class[key] = _named(
                doc, renamed, media[1]["schema"], f"{op_name}Request", taken
            )
        for status in sorted(op.get("responses") or {}):
            if not (status.startswith("2") and len(status) == 3):
                continue
            response = deref(doc, op["responses"][status])
            media = json_media(response.get("content") if isinstance(response, dict) else None)
            if media is not None and "schema" in media[1]:
                prepared.response_class[key] = _named(
                    doc, renamed, media[1]["schema"], f"{op_name}Response", taken
                )
            break

    for class_name, schema in sorted(renamed.items()):
        _collect_aliases(doc, class_name, schema, prepared.aliases)
    return prepared


def _named(
    doc: dict[str, Any], schemas: dict[str, Any], schema: Any, name: str, taken: set[str]
) -> str:
    """The class for a body schema: its component if it is a `$ref`, else a hoisted one."""
    if isinstance(schema, dict) and set(schema) == {"$ref"}:
        ref = schema["$ref"]
        if ref.startswith(SCHEMA_PREFIX) and "/" not in ref[len(SCHEMA_PREFIX) :]:
            return str(ref[len(SCHEMA_PREFIX) :])
    class_name = names.unique(name, taken)
    schemas[class_name] = copy.deepcopy(schema)
    return class_name


def _rewrite_refs(node: Any, mapping: dict[str, str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            for old, new in mapping.items():
                if ref == old or ref.startswith(old + "/"):
                    node["$ref"] = new + ref[len(old) :]
                    break
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
