"""Declarative recipes for values computed on the background thread, never the caller's.

A recipe is a frozen dataclass tree, declared once per ``Route`` by generated code:

* value sources: ``Field(path)``, ``Const(name)``, ``Seq()``, ``Millis(path)``, ``Lit(text)``,
  ``NewId()``, ``ItemValues(path)`` (envelope level only), ``Json(path, ...)``, ``Body()``;
* combinators: ``Join(parts, sep)``, ``Hash(parts, ...)``, ``Timestamp(path, format)``;
* ``Derive(target, value)`` writes a value into the item (or the batch envelope);
* ``Sign(...)`` writes an HMAC-SHA256 into a body field or a header.

Paths are dotted (``meta.run_id``); ``a[].b`` walks every element of the list ``a``. Inside a
``Derive`` whose target walks a list, a part whose path starts with the same ``a[].`` prefix
reads from the current element; any other path reads from the item root.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from .ids import new_uuid4

__all__ = [
    "TIMESTAMP_FORMATS",
    "Body",
    "Const",
    "Derive",
    "Field",
    "Hash",
    "ItemValues",
    "Join",
    "Json",
    "Lit",
    "Millis",
    "NewId",
    "Seq",
    "Sign",
    "Timestamp",
    "hash_function",
]


@dataclass(frozen=True, slots=True)
class Field:
    """The value at a dotted path of the item (``None`` when absent)."""

    path: str


@dataclass(frozen=True, slots=True)
class Const:
    """A client constant: ``IngestClient(constants={name: value})`` (e.g. ``device_id``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Seq:
    """The item's per-client sequence number: 1, 2, ... in enqueue order (one per item)."""


@dataclass(frozen=True, slots=True)
class Millis:
    """Integer-floored unix milliseconds of a timestamp field (unix seconds, datetime or ISO)."""

    path: str


@dataclass(frozen=True, slots=True)
class Lit:
    text: str


@dataclass(frozen=True, slots=True)
class NewId:
    """A fresh random UUID4 string (per item, or per batch when used at envelope level)."""


@dataclass(frozen=True, slots=True)
class ItemValues:
    """Envelope level only: the values at ``path`` of every item of the batch (several parts)."""

    path: str


@dataclass(frozen=True, slots=True)
class Json:
    """Canonical JSON text of the sub-object at ``path`` (for signatures)."""

    path: str
    separators: tuple[str, str] = (",", ":")
    ensure_ascii: bool = False
    sort_keys: bool = False


@dataclass(frozen=True, slots=True)
class Body:
    """Header signatures only: the request body bytes as sent."""


@dataclass(frozen=True, slots=True)
class Join:
    """``sep.join(str(part) ...)``."""

    parts: tuple[Part, ...]
    sep: str = ""


@dataclass(frozen=True, slots=True)
class Hash:
    """``prefix + hexdigest(alg, sep.join(parts as UTF-8))[:length]`` (lowercase hex).

    ``algorithm``: ``sha256``, ``blake2b-256`` or ``blake3`` (needs the ``blake3`` package).
    ``sort=True`` sorts the parts first (order-independent ids such as a batch id).
    """

    parts: tuple[Part, ...]
    algorithm: str = "sha256"
    sep: str = "\x1f"
    prefix: str = ""
    length: int | None = None
    sort: bool = False


#: Wire formats for ``Timestamp``.
TIMESTAMP_FORMATS = ("rfc3339_ms", "iso8601", "unix_s", "unix_ms")


@dataclass(frozen=True, slots=True)
class Timestamp:
    """Render a timestamp field (unix seconds, datetime or ISO string; ``path=None`` or an
    absent field = now, on the worker) in a wire format:

    * ``rfc3339_ms``: ``2026-06-19T12:34:56.789Z`` (UTC, milliseconds floored);
    * ``iso8601``: ``datetime.isoformat()`` in UTC with offset (``...+00:00``);
    * ``unix_s`` / ``unix_ms``: integer seconds / milliseconds (floored).
    """

    path: str | None = None
    format: str = "rfc3339_ms"


Part = (
    Field | Const | Seq | Millis | Lit | NewId | ItemValues | Json | Body | Join | Hash | Timestamp
)


@dataclass(frozen=True, slots=True)
class Derive:
    """Set ``target`` (dotted path, may walk lists with ``[]``) to ``value``, on the worker.

    Derivations run in declared order, so a later one may read an earlier one's result.
    """

    target: str
    value: Part


@dataclass(frozen=True, slots=True)
class Sign:
    """HMAC-SHA256 (lowercase hex) with the client's ``signing_key``, after redaction.

    Exactly one of ``field`` (a dotted path in the item) or ``header`` (a request header; parts
    may then only use ``Body``, ``Const`` and ``Lit``). The message is the UTF-8 concatenation
    of ``parts`` with ``sep``. No key configured: nothing is signed.
    """

    parts: tuple[Part, ...]
    field: str | None = None
    header: str | None = None
    sep: str = ""


# ---- hashing -------------------------------------------------------------------------------


def hash_function(algorithm: str) -> Callable[[bytes], str]:
    """``bytes -> lowercase hex digest``; raises ``ImportError``/``ValueError`` early."""
    if algorithm == "sha256":
        return lambda b: hashlib.sha256(b).hexdigest()
    if algorithm == "blake2b-256":
        return lambda b: hashlib.blake2b(b, digest_size=32).hexdigest()
    if algorithm == "blake3":
        try:
            mod: Any = importlib.import_module("blake3")
        except ImportError as exc:
            raise ImportError(
                "a Route declares a blake3 content hash: install the 'blake3' package "
                "(pip install blake3)"
            ) from exc
        blake3 = mod.blake3
        return lambda b: str(blake3(b).hexdigest())
    raise ValueError(f"unknown hash algorithm {algorithm!r} (sha256, blake2b-256, blake3)")


_HASHERS: dict[str, Callable[[bytes], str]] = {}


def _hasher(algorithm: str) -> Callable[[bytes], str]:
    fn = _HASHERS.get(algorithm)
    if fn is None:
        fn = _HASHERS[algorithm] = hash_function(algorithm)
    return fn


def iter_parts(part: Part) -> Iterator[Part]:
    """Every node of a recipe tree (used to validate declarations up front)."""
    yield part
    if isinstance(part, (Join, Hash)):
        for p in part.parts:
            yield from iter_parts(p)


# ---- paths ---------------------------------------------------------------------------------

_MISSING = object()


def get_path(obj: Any, path: str) -> Any:
    """Value at a dotted path without ``[]``; ``None`` when any step is absent."""
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
        if obj is None:
            return None
    return obj


def walk(obj: Any, path: str) -> Iterator[tuple[Any, str, list[tuple[str, Any]]]]:
    """Yield ``(parent_dict, last_key, contexts)`` for every place ``path`` designates.

    ``contexts`` lists ``(prefix, element)`` for each ``[]`` walked (root first: ``("", obj)``).
    Parents along the way are not created, except plain dict steps for a leaf write.
    """
    yield from _walk(obj, path, [("", obj)], "")


def _walk(
    obj: Any, path: str, ctx: list[tuple[str, Any]], done: str
) -> Iterator[tuple[Any, str, list[tuple[str, Any]]]]:
    head, sep, rest = path.partition("[].")
    if sep:
        lst = get_path(obj, head)
        if isinstance(lst, list):
            prefix = f"{done}{head}[]."
            for el in lst:
                if isinstance(el, dict):
                    yield from _walk(el, rest, [*ctx, (prefix, el)], prefix)
        return
    keys = path.split(".")
    parent = obj
    for key in keys[:-1]:
        nxt = parent.get(key) if isinstance(parent, dict) else None
        if nxt is None and isinstance(parent, dict):
            nxt = parent[key] = {}
        if not isinstance(nxt, dict):
            return
        parent = nxt
    if isinstance(parent, dict):
        yield parent, keys[-1], ctx


def read(ctx: Sequence[tuple[str, Any]], path: str) -> Any:
    """Read ``path`` relative to the innermost context whose prefix it starts with."""
    for prefix, obj in reversed(ctx):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if "[]." in rest:
                return None
            return get_path(obj, rest)
    return None


# ---- timestamps ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def to_millis(value: Any) -> int | None:
    """Integer-floored unix millis of unix seconds (int/float), a datetime or an ISO string.

    Floats are read through their shortest decimal repr, so ``1750336496.789`` gives
    ``1750336496789`` (not ``...788`` from binary rounding).
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value * 1000
    if isinstance(value, float):
        return int((Decimal(repr(value)) * 1000).to_integral_value(rounding="ROUND_FLOOR"))
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int((value - _EPOCH) // _MS)
    raise TypeError(f"not a timestamp: {value!r}")


def now_millis() -> int:
    return (datetime.now(timezone.utc) - _EPOCH) // _MS


def format_timestamp(value: Any, fmt: str) -> Any:
    if fmt == "iso8601":
        if isinstance(value, datetime):
            dt = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        elif isinstance(value, str):
            text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
            dt = datetime.fromisoformat(text)
        elif value is None:
            dt = datetime.now(timezone.utc)
        else:
            dt = datetime.fromtimestamp(float(value), timezone.utc)
        return dt.astimezone(timezone.utc).isoformat()
    ms = now_millis() if value is None else to_millis(value)
    assert ms is not None
    if fmt == "unix_ms":
        return ms
    if fmt == "unix_s":
        return ms // 1000
    if fmt == "rfc3339_ms":
        dt = _EPOCH + timedelta(milliseconds=ms)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
    raise ValueError(f"unknown timestamp format {fmt!r}; valid: {', '.join(TIMESTAMP_FORMATS)}")


# ---- evaluation ----------------------------------------------------------------------------


class Env:
    """What a recipe may read: the item contexts, the client constants, the item's sequence
    number, the batch's items (envelope level) and the request body (header signatures)."""

    __slots__ = ("body", "constants", "ctx", "items", "seq")

    def __init__(
        self,
        ctx: Sequence[tuple[str, Any]],
        constants: Mapping[str, Any],
        seq: int = 0,
        items: Sequence[Any] = (),
        body: bytes = b"",
    ) -> None:
        self.ctx = ctx
        self.constants = constants
        self.seq = seq
        self.items = items
        self.body = body


def text(value: Any) -> str:
    """How a non-string value becomes a hash/sign part."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate(part: Part, env: Env) -> Any:
    if isinstance(part, Field):
        return read(env.ctx, part.path)
    if isinstance(part, Const):
        if part.name not in env.constants:
            raise KeyError(f"client constant {part.name!r} is not set (IngestClient(constants=))")
        return env.constants[part.name]
    if isinstance(part, Seq):
        return env.seq
    if isinstance(part, Lit):
        return part.text
    if isinstance(part, Millis):
        return to_millis(read(env.ctx, part.path))
    if isinstance(part, NewId):
        return new_uuid4()
    if isinstance(part, Timestamp):
        value = None if part.path is None else read(env.ctx, part.path)
        return format_timestamp(value, part.format)
    if isinstance(part, Json):
        return json.dumps(
            read(env.ctx, part.path),
            separators=part.separators,
            ensure_ascii=part.ensure_ascii,
            sort_keys=part.sort_keys,
        )
    if isinstance(part, Body):
        return env.body.decode("utf-8", "surrogateescape")
    if isinstance(part, ItemValues):
        return [get_path(item, part.path) for item in env.items]
    if isinstance(part, Join):
        return part.sep.join(_texts(part.parts, env))
    if isinstance(part, Hash):
        parts = _texts(part.parts, env)
        if part.sort:
            parts.sort()
        digest = _hasher(part.algorithm)(part.sep.join(parts).encode())
        if part.length is not None:
            digest = digest[: part.length]
        return part.prefix + digest
    raise TypeError(f"not a recipe part: {part!r}")


def _texts(parts: Sequence[Part], env: Env) -> list[str]:
    out: list[str] = []
    for p in parts:
        v = evaluate(p, env)
        if isinstance(p, ItemValues):
            out.extend(text(x) for x in v)
        else:
            out.append(text(v))
    return out


def apply_derive(item: Any, d: Derive, env_for: Callable[[list[tuple[str, Any]]], Env]) -> None:
    for parent, key, ctx in list(walk(item, d.target)):
        parent[key] = evaluate(d.value, env_for(ctx))


def signature(key: bytes, sign: Sign, env: Env) -> str:
    message = sign.sep.join(_texts(sign.parts, env)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
