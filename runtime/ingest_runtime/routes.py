"""Static description of one endpoint, emitted by the code generator."""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pydantic

from .batching import Batch
from .items import ItemCodec, item_codec
from .recipes import Derive, Sign
from .redaction import Redact

__all__ = ["NO_OFFSET", "Route", "base_headers", "decode_item", "pack_header"]

#: ``pack_header(route_index, key_offset, key_length)``; the key is normally found inside the
#: serialized body (offset into it), so it is not stored twice. ``NO_OFFSET`` means "the key
#: bytes follow the header" (key not found verbatim in the body, or body too long).
pack_header = struct.Struct(">HHH").pack
_unpack_header = struct.Struct(">HHH").unpack_from
NO_OFFSET = 0xFFFF

#: Every Route ever built in this process, by index. A queued event is one ``bytes`` object that
#: starts with a 6-byte header (route index, key offset, key length): no tuple, no separate key
#: string, nothing for the GC to track (~210 B per queued swarm event instead of ~360 B).
_REGISTRY: list[Route] = []
_REGISTRY_LOCK = threading.Lock()


def _no_body(fields: dict[str, object]) -> pydantic.BaseModel:
    raise TypeError("this route declares no body model")


@dataclass(frozen=True, slots=True)
class Route:
    """One operation. Instances are module constants in generated code, shared by all clients."""

    key: str
    method: str
    path: str
    category: str | None
    auth: bool
    idempotency_field: str | None
    omit_none: bool = False
    content_type: str = "application/json"
    #: The pydantic model that validates the body (queued routes); see ``IngestClient._submit``.
    body: type[pydantic.BaseModel] | None = None
    #: Batched delivery: the body model validates one ITEM; the worker builds envelopes.
    batch: Batch | None = None
    #: Fields computed on the worker (ids, hashes, sequence numbers, wire timestamps), in order.
    derive: tuple[Derive, ...] = ()
    #: Free-text fields scanned by the redaction floor (with optional max length).
    redact: tuple[Redact, ...] = ()
    #: HMAC-SHA256 written into a body field or a header, after redaction.
    sign: Sign | None = None
    _index: int = field(default=0, init=False, repr=False, compare=False, hash=False)
    #: ``body``'s compiled validator, looked up once: calling it on a dict skips the Python-level
    #: ``BaseModel.__init__`` frame (~0.5 us of a ~5 us hot path).
    validate: Callable[[dict[str, object]], pydantic.BaseModel] = field(
        default=_no_body, init=False, repr=False, compare=False, hash=False
    )
    #: ``body``'s fields as a typed dict (``items.py``): ``(validate, to_json)`` giving the same
    #: validation and JSON without building a model instance; None when the model is more than
    #: its fields.
    item_codec: ItemCodec | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )
    #: True when items need the worker-side preparation step (derive/redact/sign/hoist).
    prepared: bool = field(default=False, init=False, repr=False, compare=False, hash=False)
    uses_seq: bool = field(default=False, init=False, repr=False, compare=False, hash=False)
    #: The queue header of an item without an idempotency key (packed once, not per event).
    keyless_header: bytes = field(default=b"", init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        with _REGISTRY_LOCK:
            index = len(_REGISTRY)
            if index > 0xFFFF:
                raise RuntimeError("more than 65536 Route objects in one process")
            _REGISTRY.append(self)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "keyless_header", pack_header(index, NO_OFFSET, 0))
        if self.body is not None:
            object.__setattr__(self, "validate", self.body.__pydantic_validator__.validate_python)
            object.__setattr__(self, "item_codec", item_codec(self.body))
        hoist = self.batch is not None and bool(self.batch.hoist)
        prepared = bool(self.derive or self.redact or self.sign or hoist)
        object.__setattr__(self, "prepared", prepared)
        if prepared:
            from .batching import uses_seq

            object.__setattr__(self, "uses_seq", uses_seq(self))


def base_headers(route: Route, token: str | None, user_agent: str) -> dict[str, str]:
    """Headers every request on ``route`` carries (computed once per route, not per event)."""
    headers = {"Content-Type": route.content_type, "User-Agent": user_agent}
    if route.auth and token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


#: A queued item: ``header(6) [+ key] + body`` or, for routes whose path was formatted with
#: parameters, a tuple ``(route, body, key, path)``.
QueueItem = bytes | tuple[Route, bytes, "str | None", "str | None"]


def decode_item(item: QueueItem) -> tuple[Route, bytes, str | None, str | None]:
    """Inverse of the encoding done by ``IngestClient._enqueue`` (runs on background threads)."""
    if isinstance(item, tuple):
        return item
    index, offset, klen = _unpack_header(item)
    route = _REGISTRY[index]
    if offset == NO_OFFSET:
        key = item[6 : 6 + klen].decode() if klen else None
        return route, item[6 + klen :], key, None
    data = item[6:]
    return route, data, data[offset : offset + klen].decode(), None
