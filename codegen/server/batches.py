"""Batched ingest on the server side: per-item dedupe, HMAC verification, per-item outcomes.

An operation declares `x-ingest: {batch: {items: events, item_key: [meta.run_id, seq]}}`; the
server then stores each item of the envelope's `items` list once per key, as the real services
do (modelstat by `source_event_id`, AOP by `(run, seq)`). A schema property declaring
`x-ingest: {sign: ...}` makes the server, when started with a secret, recompute the HMAC over the
received item and reject items whose signature does not match, as AOP's server does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json

from codegen.load import resolve_pointer
from codegen.server.spec import flatten

Path = tuple[str, ...]


@dataclass(frozen=True)
class MessagePart:
    """One piece of a signed message: a field's text, or a sub-object as canonical JSON."""

    path: Path
    as_json: bool = False
    separators: tuple[str, str] = (",", ":")
    ensure_ascii: bool = True
    sort_keys: bool = False

    def render(self, item: Any) -> str:
        value = get_path(item, self.path)
        if self.as_json:
            return json.dumps(
                value,
                separators=self.separators,
                ensure_ascii=self.ensure_ascii,
                sort_keys=self.sort_keys,
            )
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Signature:
    """Where an item carries its HMAC-SHA256 and what message it covers."""

    field: Path
    message: tuple[MessagePart, ...]

    def expected(self, secret: str, item: Any) -> str:
        text = "".join(part.render(item) for part in self.message)
        return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()

    def verify(self, secret: str, item: Any) -> bool:
        given = get_path(item, self.field)
        return isinstance(given, str) and hmac.compare_digest(given, self.expected(secret, item))


@dataclass(frozen=True)
class BatchSpec:
    items: str | None  # envelope property with the item list; None: the body is one item
    key: tuple[Path, ...]  # item fields that identify an item for dedupe
    signature: Signature | None
    item_schema: str | None = None  # pointer of the item's schema, $refs followed
    #: Store (and dedupe) items under this operation id instead of the route's own: a
    #: single-item route whose item is a batch route's item shares its (run, seq)-style keys.
    store_as: str | None = None


def schema_target(data: dict[str, Any], pointer: str) -> str:
    """The pointer a schema location finally designates, following local `$ref`s."""
    for _ in range(32):
        try:
            node = resolve_pointer(data, pointer)
        except (KeyError, IndexError, TypeError):
            return pointer
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not (isinstance(ref, str) and ref.startswith("#")):
            return pointer
        pointer = ref
    return pointer


def share_item_keys(data: dict[str, Any], specs: list[BatchSpec | None], ids: list[str]) -> None:
    """Give single-item routes the dedupe key and store of the batch route with the same item
    schema (in place), as a server keying items by (run, seq) across both routes does."""
    batches = {
        spec.item_schema: (op_id, spec.key)
        for spec, op_id in zip(specs, ids, strict=True)
        if spec is not None and spec.items is not None and spec.key and spec.item_schema
    }
    for i, spec in enumerate(specs):
        if spec is None or spec.items is not None or spec.item_schema not in batches:
            continue
        op_id, key = batches[spec.item_schema]
        specs[i] = BatchSpec(None, key, spec.signature, spec.item_schema, store_as=op_id)


def get_path(value: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def split(dotted: str) -> Path:
    return tuple(p for p in dotted.split(".") if p)


def batch_spec(
    data: dict[str, Any], op: dict[str, Any], body_pointer: str | None
) -> BatchSpec | None:
    """The batch/signature facts of one operation, or None when it has neither."""
    raw_ext = op.get("x-ingest")
    ext: dict[str, Any] = raw_ext if isinstance(raw_ext, dict) else {}
    raw_batch = ext.get("batch")
    batch: dict[str, Any] | None = raw_batch if isinstance(raw_batch, dict) else None
    if body_pointer is None:
        return None
    item_pointer = body_pointer
    items: str | None = None
    if batch is not None:
        items = str(batch.get("items"))
        view = flatten(data, body_pointer)
        ptrs = view["properties"].get(items) or []
        item_pointer = f"{ptrs[0]}/items" if ptrs else body_pointer
    signature = _find_signature(data, item_pointer, (), 0)
    key: tuple[Path, ...] = ()
    if batch is not None and batch.get("item_key"):
        key = tuple(split(str(k)) for k in batch["item_key"])
    elif batch is not None:
        found = _find_key(data, item_pointer)
        key = (found,) if found else ()
    if batch is None and signature is None:
        return None
    item_schema = schema_target(data, item_pointer)
    return BatchSpec(items=items, key=key, signature=signature, item_schema=item_schema)


def _find_key(data: dict[str, Any], pointer: str) -> Path | None:
    view = flatten(data, pointer)
    for name, ptrs in view["properties"].items():
        for ptr in ptrs:
            ext = flatten(data, ptr).get("x-ingest")
            if isinstance(ext, dict) and ext.get("idempotency_key") is True:
                return (str(name),)
    return None


def _find_signature(data: dict[str, Any], pointer: str, path: Path, depth: int) -> Signature | None:
    if depth > 4:
        return None
    view = flatten(data, pointer)
    for name, ptrs in view["properties"].items():
        for ptr in ptrs:
            prop = flatten(data, ptr)
            ext = prop.get("x-ingest")
            if isinstance(ext, dict) and isinstance(ext.get("sign"), dict):
                return _signature((*path, str(name)), ext["sign"])
            if prop.get("type") == "object" or prop["properties"]:
                found = _find_signature(data, prop["pointer"], (*path, str(name)), depth + 1)
                if found is not None:
                    return found
    return None


def _signature(field: Path, spec: dict[str, Any]) -> Signature:
    parts = []
    for raw in spec.get("message") or []:
        if "field" in raw:
            parts.append(MessagePart(split(str(raw["field"]))))
        else:
            seps = raw.get("separators") or [",", ":"]
            parts.append(
                MessagePart(
                    split(str(raw["json"])),
                    as_json=True,
                    separators=(str(seps[0]), str(seps[1])),
                    ensure_ascii=bool(raw.get("ensure_ascii", True)),
                    sort_keys=bool(raw.get("sort_keys", False)),
                )
            )
    return Signature(field=field, message=tuple(parts))


@dataclass
class BatchOutcome:
    created: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] | None = None
    rejected: str | None = None  # the whole batch is refused (400) with this reason

    @property
    def failed(self) -> int:
        return len(self.errors or [])


def process(
    spec: BatchSpec,
    body: Any,
    secret: str | None,
    store: Callable[[list[tuple[str | None, str]]], list[bool]],
) -> BatchOutcome:
    """Verify, dedupe and store every item; `store([(key, text), ...])` stores them in one go
    and returns, per item, False for a duplicate."""
    found: Any = [body]
    if spec.items is not None:
        found = body.get(spec.items) if isinstance(body, dict) else None
        if not isinstance(found, list):
            return BatchOutcome(rejected=f"`{spec.items}` must be a list")
    items: list[Any] = found
    keys = [_key(spec, item) for item in items]
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key is not None and key in seen:
            return BatchOutcome(rejected=f"item {index} repeats key {key!r} within the batch")
        if key is not None:
            seen.add(key)
    outcome = BatchOutcome(errors=[])
    accepted: list[tuple[str | None, str]] = []
    for index, (item, key) in enumerate(zip(items, keys, strict=True)):
        if (
            spec.signature is not None
            and secret is not None
            and not spec.signature.verify(secret, item)
        ):
            assert outcome.errors is not None
            outcome.errors.append({"index": index, "key": key, "error": "Invalid signature"})
            continue
        accepted.append((key, to_json(item).decode()))
    for fresh in store(accepted):
        if fresh:
            outcome.created += 1
        else:
            outcome.skipped += 1
    return outcome


def _key(spec: BatchSpec, item: Any) -> str | None:
    if not spec.key:
        return None
    if len(spec.key) == 1:
        value = get_path(item, spec.key[0])
        return None if value is None else str(value)
    values = [get_path(item, path) for path in spec.key]
    if any(v is None for v in values):
        return None
    return "|".join(str(v) for v in values)
