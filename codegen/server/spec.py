"""Read an OpenAPI document once, at start-up, into the per-operation facts the server needs.

Everything here runs before the first request, so it favours clarity over speed; the hot path
only ever sees the precomputed `OperationSpec` values.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codegen.load import load_document, resolve_pointer

if TYPE_CHECKING:
    from codegen.server.batches import BatchSpec

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MISSING: Any = object()  # "no example given", distinct from an example of `null`


def escape(part: str) -> str:
    """Escape one JSON-pointer segment."""
    return part.replace("~", "~0").replace("/", "~1")


def load_spec(path: Path) -> dict[str, Any]:
    """Load a spec; 3.0 documents are rewritten into JSON Schema 2020-12 terms."""
    data = copy.deepcopy(load_document(Path(path)).data)
    if str(data.get("openapi", "")).startswith("3.0"):
        translate_30(data)
    return data


def translate_30(node: Any) -> None:
    """Rewrite 3.0-only schema keywords (`nullable`, boolean exclusive bounds) in place."""
    if isinstance(node, list):
        for item in node:
            translate_30(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        translate_30(value)
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(node.get(bound), bool):
            if node.pop(bound) and limit in node:
                node[bound] = node.pop(limit)
    if "nullable" in node and isinstance(node["nullable"], bool):
        if not node.pop("nullable"):
            return
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
        elif isinstance(kind, list):
            node["type"] = [*kind, "null"] if "null" not in kind else kind
        else:
            rest = dict(node)
            node.clear()
            node["anyOf"] = [rest, {"type": "null"}]
            return
        if isinstance(node.get("enum"), list) and None not in node["enum"]:
            node["enum"] = [*node["enum"], None]


def follow(data: dict[str, Any], ptr: str) -> tuple[str, Any]:
    """Follow `$ref` chains from the object at `ptr`; return the final pointer and object."""
    node = resolve_pointer(data, ptr)
    seen = {ptr}
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ptr = node["$ref"]
        if ptr in seen:
            break
        seen.add(ptr)
        node = resolve_pointer(data, ptr)
    return ptr, node


def flatten(data: dict[str, Any], ptr: str, depth: int = 0) -> dict[str, Any]:
    """Merge a schema's `$ref`/`allOf` chain into one object schema view.

    The result keeps `properties` as name -> list of pointers (a property declared by two
    `allOf` branches must satisfy both) and `required` as a list; other keys come from the
    first schema that sets them.
    """
    ptr, node = follow(data, ptr)
    out: dict[str, Any] = {"properties": {}, "required": [], "pointer": ptr}
    if not isinstance(node, dict) or depth > 32:
        return out
    for name in node.get("properties", {}) or {}:
        out["properties"].setdefault(name, []).append(f"{ptr}/properties/{escape(name)}")
    out["required"].extend(r for r in node.get("required", []) or [] if isinstance(r, str))
    for key, value in node.items():
        if key not in ("properties", "required", "allOf", "$ref"):
            out.setdefault(key, value)
    for i, _ in enumerate(node.get("allOf", []) or []):
        branch = flatten(data, f"{ptr}/allOf/{i}", depth + 1)
        for name, ptrs in branch["properties"].items():
            out["properties"].setdefault(name, []).extend(ptrs)
        out["required"].extend(r for r in branch["required"] if r not in out["required"])
        for key, value in branch.items():
            if key not in ("properties", "required", "pointer"):
                out.setdefault(key, value)
    return out


@dataclass(frozen=True)
class OperationSpec:
    """What the server needs to know about one (method, path) pair."""

    method: str
    path: str
    operation_id: str
    body_pointer: str | None  # JSON schema of the request body, when it is JSON
    body_required: bool
    idempotency_field: str | None
    security: list[dict[str, list[str]]]
    response_status: int
    response_pointer: str | None  # JSON schema of the 2xx response body, when it is JSON
    response_example: Any  # MISSING unless the media type gives one
    batch: BatchSpec | None = None  # per-item dedupe and signatures (see batches.py)
    statuses: frozenset[str] = frozenset()  # every response status the operation declares


def _json_media(content: Any) -> str | None:
    """Pick the JSON-ish media type of a `content` map."""
    if not isinstance(content, dict):
        return None
    for media in content:
        if media.split(";")[0].strip().lower() == "application/json":
            return str(media)
    for media in content:
        kind = media.split(";")[0].strip().lower()
        if kind.endswith("+json") or kind.endswith("/json") or kind in ("*/*", "application/*"):
            return str(media)
    return None


def _pick_status(responses: dict[str, Any]) -> str | None:
    codes = sorted(k for k in responses if k.isdigit() and 200 <= int(k) < 300)
    if codes:
        return codes[0]
    for key in ("2XX", "2xx", "default"):
        if key in responses:
            return key
    return None


def _media_example(data: dict[str, Any], media: dict[str, Any]) -> Any:
    """A media type's `example`, or the value of its first `examples` entry."""
    if "example" in media:
        return media["example"]
    examples = media.get("examples")
    if isinstance(examples, dict):
        for value in examples.values():
            if isinstance(value, dict) and isinstance(value.get("$ref"), str):
                _, value = follow(data, value["$ref"])
            if isinstance(value, dict) and "value" in value:
                return value["value"]
    return MISSING


def idempotency_field(data: dict[str, Any], body_pointer: str) -> str | None:
    """The body property flagged `x-ingest: {idempotency_key: true}`, if any."""
    view = flatten(data, body_pointer)
    for name, ptrs in view["properties"].items():
        for ptr in ptrs:
            prop = flatten(data, ptr)
            ext = prop.get("x-ingest")
            if isinstance(ext, dict) and ext.get("idempotency_key") is True:
                return str(name)
    return None


def iter_operations(data: dict[str, Any]) -> Iterator[OperationSpec]:
    """Every operation in the document, with its request/response facts resolved."""
    doc_security = data.get("security", [])
    for path, _ in (data.get("paths") or {}).items():
        item_ptr, item = follow(data, f"#/paths/{escape(path)}")
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            op_ptr = f"{item_ptr}/{method}"
            yield _operation(data, path, method, op_ptr, op, doc_security)


def _operation(
    data: dict[str, Any],
    path: str,
    method: str,
    op_ptr: str,
    op: dict[str, Any],
    doc_security: Any,
) -> OperationSpec:
    body_pointer: str | None = None
    body_required = False
    if "requestBody" in op:
        rb_ptr, body = follow(data, f"{op_ptr}/requestBody")
        body_required = bool(body.get("required", False))
        media = _json_media(body.get("content"))
        if media is not None and "schema" in body["content"][media]:
            body_pointer = f"{rb_ptr}/content/{escape(media)}/schema"
    response_pointer: str | None = None
    example: Any = MISSING
    responses = op.get("responses") or {}
    status_key = _pick_status(responses)
    status = int(status_key) if status_key and status_key.isdigit() else 200
    if status_key is not None:
        resp_ptr, resp = follow(data, f"{op_ptr}/responses/{escape(status_key)}")
        media = _json_media(resp.get("content") if isinstance(resp, dict) else None)
        if media is not None:
            media_obj = resp["content"][media] or {}
            if "schema" in media_obj:
                response_pointer = f"{resp_ptr}/content/{escape(media)}/schema"
            example = _media_example(data, media_obj)
    security = op.get("security", doc_security)
    from codegen.server.batches import batch_spec

    return OperationSpec(
        method=method.upper(),
        path=path,
        operation_id=str(op.get("operationId") or f"{method.upper()} {path}"),
        body_pointer=body_pointer,
        body_required=body_required,
        idempotency_field=idempotency_field(data, body_pointer) if body_pointer else None,
        security=security if isinstance(security, list) else [],
        response_status=status,
        response_pointer=response_pointer,
        response_example=example,
        batch=batch_spec(data, op, body_pointer),
        statuses=frozenset(str(k) for k in responses),
    )
