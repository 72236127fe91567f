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

import functools
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


#: hashlib and blake3 release the GIL while they hash an input of 2 KiB or more. On the worker
#: that loses more than it gains: to go on, the worker must win the GIL back from the
#: application's busy threads, which takes up to a switch interval (5 ms), for a hash that
#: takes microseconds (a batch id over 256 event ids hashes ~10 KB). Longer inputs are fed
#: in pieces of this size, which never release it.
GIL_KEEPING_PIECE = 1024


def fed(h: Any, data: bytes) -> Any:
    """``h`` (a hash or HMAC object) updated with ``data``, in pieces that keep the GIL."""
    view = memoryview(data)
    for start in range(0, len(data), GIL_KEEPING_PIECE):
        h.update(view[start : start + GIL_KEEPING_PIECE])
    return h


def hash_function(algorithm: str) -> Callable[[bytes], str]:
    """``bytes -> lowercase hex digest``; raises ``ImportError``/``ValueError`` early."""
    new: Callable[..., Any]
    if algorithm == "sha256":
        new = hashlib.sha256
    elif algorithm == "blake2b-256":
        new = functools.partial(hashlib.blake2b, digest_size=32)
    elif algorithm == "blake3":
        try:
            mod: Any = importlib.import_module("blake3")
        except ImportError as exc:
            raise ImportError(
                "a Route declares a blake3 content hash: install the 'blake3' package "
                "(pip install blake3)"
            ) from exc
        new = mod.blake3
    else:
        raise ValueError(f"unknown hash algorithm {algorithm!r} (sha256, blake2b-256, blake3)")
    piece = GIL_KEEPING_PIECE
    return lambda b: (new(b) if len(b) <= piece else fed(new(), b)).hexdigest()


def iter_parts(part: Part) -> Iterator[Part]:
    """Every node of a recipe tree (used to validate declarations up front)."""
    yield part
    if isinstance(part, (Join, Hash)):
        for p in part.parts:
            yield from iter_parts(p)


# ---- paths ---------------------------------------------------------------------------------


def get_path(obj: Any, path: str) -> Any:
    """Value at a dotted path without ``[]``; ``None`` when any step is absent."""
    return _get_keys(obj, path.split("."))


def _get_keys(obj: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
        if obj is None:
            return None
    return obj


#: ``places(item)``: every ``(parent_dict, last_key, objs)`` a target path designates, where
#: ``objs`` holds the item and then the list element walked at each ``[]`` (outermost first).
Places = Callable[[Any], list[tuple[dict[str, Any], str, tuple[Any, ...]]]]


def prefixes(path: str) -> tuple[str, ...]:
    """The context prefixes of a target path: ``a[].b[].c`` -> ``("", "a[].", "a[].b[].")``."""
    out = [""]
    rest = path
    while "[]." in rest:
        head, _, rest = rest.partition("[].")
        out.append(f"{out[-1]}{head}[].")
    return tuple(out)


def compile_places(path: str, create: bool = True) -> Places:
    """Compile a target path once (per Route) into a function listing its places.

    With ``create``, missing parents along a plain dotted path are created (for a leaf write);
    lists are never created.
    """
    head, sep, rest = path.partition("[].")
    if not sep:
        keys = path.split(".")
        last = keys[-1]
        if len(keys) == 1:
            return lambda obj: [(obj, last, (obj,))] if isinstance(obj, dict) else []
        parents = keys[:-1]

        def places(obj: Any) -> list[tuple[dict[str, Any], str, tuple[Any, ...]]]:
            root = parent = obj
            for key in parents:
                if not isinstance(parent, dict):
                    return []
                nxt = parent.get(key)
                if nxt is None:
                    if not create:
                        return []
                    nxt = parent[key] = {}
                parent = nxt
            return [(parent, last, (root,))] if isinstance(parent, dict) else []

        return places
    head_keys = head.split(".")
    inner = compile_places(rest, create)

    def walk_list(obj: Any) -> list[tuple[dict[str, Any], str, tuple[Any, ...]]]:
        lst = _get_keys(obj, head_keys)
        if not isinstance(lst, list):
            return []
        out = []
        for el in lst:
            if isinstance(el, dict):
                for parent, key, objs in inner(el):
                    out.append((parent, key, (obj, *objs)))
        return out

    return walk_list


def walk(obj: Any, path: str) -> Iterator[tuple[Any, str, list[tuple[str, Any]]]]:
    """Yield ``(parent_dict, last_key, contexts)`` for every place ``path`` designates, with
    ``contexts`` as ``(prefix, element)`` pairs (root first: ``("", obj)``)."""
    names = prefixes(path)
    for parent, key, objs in compile_places(path)(obj):
        yield parent, key, list(zip(names, objs, strict=True))


def read(ctx: Sequence[tuple[str, Any]], path: str) -> Any:
    """Read ``path`` relative to the innermost context whose prefix it starts with."""
    for prefix, obj in reversed(ctx):
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if "[]." in rest:
                return None
            return get_path(obj, rest)
    return None


def _reader(path: str, names: Sequence[str]) -> Callable[[Sequence[Any]], Any]:
    """``read`` resolved at compile time: which context, which keys."""
    depth, keys = _resolve(path, names)
    if depth < 0:
        return lambda objs: None
    if len(keys) == 1:
        key = keys[0]

        def read_one(objs: Sequence[Any]) -> Any:
            obj = objs[depth]
            return obj.get(key) if isinstance(obj, dict) else None

        return read_one
    return lambda objs: _get_keys(objs[depth], keys)


def _resolve(path: str, names: Sequence[str]) -> tuple[int, list[str]]:
    """(context index, keys within it) for ``path``; index -1 when it reads nothing."""
    for depth in range(len(names) - 1, -1, -1):
        prefix = names[depth]
        if path.startswith(prefix):
            rest = path[len(prefix) :]
            if "[]." in rest:
                break
            return depth, rest.split(".")
    return -1, []


# ---- timestamps ----------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


#: (value, millis) of the last float converted; replaced whole, so threads never see a mix.
_last_millis: tuple[float, int] = (float("nan"), 0)


def to_millis(value: Any) -> int | None:
    """Integer-floored unix millis of unix seconds (int/float), a datetime or an ISO string.

    Floats are read through their shortest decimal repr, so ``1750336496.789`` gives
    ``1750336496789`` (not ``...788`` from binary rounding).
    """
    global _last_millis
    if value.__class__ is float:  # the common case first: unix seconds from time.time()
        last = _last_millis
        if value == last[0]:  # ids and wire timestamps often read the same field in turn
            return last[1]
    elif value is None or isinstance(value, bool):
        return None
    elif isinstance(value, int):
        return value * 1000
    if isinstance(value, float):
        if 0.0 <= value < 1e12:  # the common case (any unix time in seconds), without text
            # floor(D * 1000) for D = the shortest decimal of ``value``: the largest k whose
            # float k/1000 is <= value (k/1000 rounding to value means k/1000 == D, as two
            # 3-decimal numbers never share a rounding interval here); the product is off by
            # at most one.
            ms = int(value * 1000.0)
            if (ms + 1) / 1000 <= value:
                ms += 1
            elif ms / 1000 > value:
                ms -= 1
        else:
            ms = int((Decimal(repr(value)) * 1000).to_integral_value(rounding="ROUND_FLOOR"))
        _last_millis = (value, ms)
        return ms
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return int((value - _EPOCH) // _MS)
    raise TypeError(f"not a timestamp: {value!r}")


#: ``"000Z"`` .. ``"999Z"``: the end of an RFC 3339 timestamp, by millisecond.
_MILLIS_Z = tuple(f"{ms:03d}Z" for ms in range(1000))

#: (unix second, its ``YYYY-MM-DDTHH:MM:SS.``) of the last timestamp formatted; replaced whole.
_last_second: tuple[int, str] = (-1, "")


def _rfc3339_ms(value: Any) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``; a burst of events shares its seconds, so the last one's
    text is kept (0.4 us instead of 0.7 per event)."""
    global _last_second
    ms = now_millis() if value is None else to_millis(value)
    assert ms is not None
    second, millis = divmod(ms, 1000)
    last = _last_second
    if last[0] != second:
        last = _last_second = (second, _rfc3339_second(second))
    return last[1] + _MILLIS_Z[millis]


@functools.lru_cache(maxsize=64)
def _rfc3339_second(second: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.`` of a unix second (cached: a burst of events shares seconds)."""
    return (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.")


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
        return _rfc3339_second(ms // 1000) + _MILLIS_Z[ms % 1000]
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


#: A compiled recipe part: ``fn(objs, env)``, ``objs`` as produced by ``compile_places``.
Compiled = Callable[[Sequence[Any], Env], Any]


def evaluate(part: Part, env: Env) -> Any:
    """Evaluate ``part`` against ``env`` (its ``ctx`` pairs give the contexts)."""
    names = tuple(prefix for prefix, _ in env.ctx) or ("",)
    objs = [obj for _, obj in env.ctx] or [None]
    return compile_part(part, names)(objs, env)


@functools.lru_cache(maxsize=1024)
def compile_part(part: Part, names: tuple[str, ...] = ("",)) -> Compiled:
    """Turn a recipe tree into nested closures once, so evaluating it per item costs no type
    dispatch and no path parsing. ``names`` are the context prefixes (see ``prefixes``)."""
    if isinstance(part, Field):
        get = _reader(part.path, names)
        return lambda objs, env: get(objs)
    if isinstance(part, Const):
        name = part.name

        def const(objs: Sequence[Any], env: Env) -> Any:
            try:
                return env.constants[name]
            except KeyError:
                raise KeyError(
                    f"client constant {name!r} is not set (IngestClient(constants=))"
                ) from None

        return const
    if isinstance(part, Seq):
        return lambda objs, env: env.seq
    if isinstance(part, Lit):
        literal = part.text
        return lambda objs, env: literal
    if isinstance(part, Millis):
        get = _reader(part.path, names)
        return lambda objs, env: to_millis(get(objs))
    if isinstance(part, NewId):
        return lambda objs, env: new_uuid4()
    if isinstance(part, Timestamp):
        fmt = part.format
        if fmt not in TIMESTAMP_FORMATS:
            raise ValueError(
                f"unknown timestamp format {fmt!r}; valid: {', '.join(TIMESTAMP_FORMATS)}"
            )
        if part.path is None:
            return lambda objs, env: format_timestamp(None, fmt)
        get = _reader(part.path, names)
        if fmt == "rfc3339_ms":  # the common wire format, without the format dispatch
            return lambda objs, env: _rfc3339_ms(get(objs))
        return lambda objs, env: format_timestamp(get(objs), fmt)
    if isinstance(part, Json):
        get = _reader(part.path, names)
        seps, ascii_, sort = part.separators, part.ensure_ascii, part.sort_keys
        return lambda objs, env: json.dumps(
            get(objs), separators=seps, ensure_ascii=ascii_, sort_keys=sort
        )
    if isinstance(part, Body):
        return lambda objs, env: env.body.decode("utf-8", "surrogateescape")
    if isinstance(part, ItemValues):
        keys = part.path.split(".")
        if len(keys) == 1:  # a top-level field: the usual case (ids of the batch's items)
            key = keys[0]
            return lambda objs, env: [
                item.get(key) if item.__class__ is dict else None for item in env.items
            ]
        return lambda objs, env: [_get_keys(item, keys) for item in env.items]
    if isinstance(part, Join):
        flat = _flatten(part, names)
        if flat is not None:
            return _concat(flat)
        texts = compile_texts(part.parts, names)
        sep = part.sep
        return lambda objs, env: sep.join(texts(objs, env))
    if isinstance(part, Hash):
        digest_of = hash_function(part.algorithm)
        sep, prefix, length, sort = part.sep, part.prefix, part.length, part.sort
        flat = None if sort else _flatten(Join(part.parts, sep), names)
        if flat is not None:
            message = _concat(flat)

            def hashed_flat(objs: Sequence[Any], env: Env) -> str:
                digest = digest_of(message(objs, env).encode())
                return prefix + (digest if length is None else digest[:length])

            return hashed_flat
        texts = compile_texts(part.parts, names)

        def hashed(objs: Sequence[Any], env: Env) -> str:
            parts = texts(objs, env)
            if sort:
                parts.sort()
            digest = digest_of(sep.join(parts).encode())
            return prefix + (digest if length is None else digest[:length])

        return hashed
    raise TypeError(f"not a recipe part: {part!r}")


def _flatten(part: Join, names: tuple[str, ...]) -> list[str | Compiled] | None:
    """A Join (nested Joins included) as literal texts and single-valued parts in order, so
    its text is one concatenation; None when a part is multi-valued (``ItemValues``)."""
    out: list[str | Compiled] = []
    for i, p in enumerate(part.parts):
        if i and part.sep:
            out.append(part.sep)
        if isinstance(p, ItemValues):
            return None
        if isinstance(p, Join):
            inner = _flatten(p, names)
            if inner is None:
                return None
            out.extend(inner)
        elif isinstance(p, Lit):
            out.append(p.text)
        else:
            out.append(compile_part(p, names))
    return out


def _concat(flat: list[str | Compiled]) -> Compiled:
    """The text of a flattened Join: one call per dynamic part, literals as they are."""
    pieces: list[Any] = list(flat)
    dynamic = [(i, p) for i, p in enumerate(flat) if not isinstance(p, str)]

    def concat(objs: Sequence[Any], env: Env) -> str:
        out = pieces[:]
        for i, fn in dynamic:
            value = fn(objs, env)
            out[i] = value if value.__class__ is str else text(value)
        return "".join(out)

    return concat


@functools.lru_cache(maxsize=256)
def compile_texts(
    parts: tuple[Part, ...], names: tuple[str, ...]
) -> Callable[[Sequence[Any], Env], list[str]]:
    """The parts of a Join/Hash as text (``ItemValues`` contributes one text per item)."""
    compiled = [(compile_part(p, names), isinstance(p, ItemValues)) for p in parts]
    if not any(many for _, many in compiled):
        fns = [fn for fn, _ in compiled]

        def simple_texts(objs: Sequence[Any], env: Env) -> list[str]:
            out = []
            for fn in fns:
                value = fn(objs, env)
                out.append(value if isinstance(value, str) else text(value))
            return out

        return simple_texts

    def texts(objs: Sequence[Any], env: Env) -> list[str]:
        out: list[str] = []
        for fn, many in compiled:
            value = fn(objs, env)
            if many:
                out.extend([x if x.__class__ is str else text(x) for x in value])
            elif isinstance(value, str):
                out.append(value)
            else:
                out.append(text(value))
        return out

    return texts


#: A compiled ``Derive``: ``fn(item, env)`` writes the derived value(s) into ``item``.
CompiledDerive = Callable[[Any, Env], None]


def compile_derive(d: Derive, omit_none: bool = False) -> CompiledDerive:
    """``Derive`` as one function: the target's places and the value, both compiled once.
    With ``omit_none`` a ``None`` result removes the key instead of writing ``null``."""
    places = compile_places(d.target)
    value = compile_part(d.value, prefixes(d.target))
    if "." not in d.target and "[" not in d.target:  # a top-level field: no walk
        target = d.target

        def derive_top(item: Any, env: Env) -> None:
            if not isinstance(item, dict):
                return
            _write(item, target, value((item,), env), omit_none)

        return derive_top

    def derive(item: Any, env: Env) -> None:
        for parent, key, objs in places(item):
            _write(parent, key, value(objs, env), omit_none)

    return derive


def _write(parent: dict[str, Any], key: str, result: Any, omit_none: bool) -> None:
    """Set a derived value; with ``omit_none`` a ``None`` result removes the key instead."""
    if result is None and omit_none:
        parent.pop(key, None)
    else:
        parent[key] = result


def compile_derives(derives: Sequence[Derive], omit_none: bool = False) -> list[CompiledDerive]:
    """A route's derivations, in declared order. Consecutive derivations into the elements of
    the same list (``tool_calls[].x``, ``tool_calls[].y``) share one walk of the list: the
    result is the same because such a derivation writes only inside its element and reads
    only that element or the item root outside that list (a recipe reading the list itself
    from the root, e.g. ``Json("tool_calls")``, sees the earlier elements already done)."""
    return [
        compile_derive(group[0], omit_none)
        if head is None
        else _compile_list_derives(head, group, omit_none)
        for head, group in derive_groups(derives)
    ]


def derive_groups(derives: Sequence[Derive]) -> Iterator[tuple[str | None, Sequence[Derive]]]:
    """``(list path, derivations)`` for each run of consecutive derivations into the elements
    of one list (one level deep: ``a[].x``), ``(None, [d])`` for any other derivation."""
    i = 0
    while i < len(derives):
        head, sep, rest = derives[i].target.partition("[].")
        j = i + 1
        if sep and "[]." not in rest:
            while j < len(derives):
                h, s2, r = derives[j].target.partition("[].")
                if h != head or not s2 or "[]." in r:
                    break
                j += 1
            yield head, derives[i:j]
        else:
            yield None, derives[i:j]
        i = j


def _compile_list_derives(head: str, derives: Sequence[Derive], omit_none: bool) -> CompiledDerive:
    head_keys = head.split(".")
    steps = [
        (
            compile_places(d.target.partition("[].")[2]),
            compile_part(d.value, prefixes(d.target)),
        )
        for d in derives
    ]

    def derive(item: Any, env: Env) -> None:
        lst = _get_keys(item, head_keys)
        if not lst or not isinstance(lst, list):
            return
        for el in lst:
            if not isinstance(el, dict):
                continue
            objs = (item, el)
            for places, value in steps:
                for parent, key, _ in places(el):
                    _write(parent, key, value(objs, env), omit_none)

    return derive


def apply_derive(item: Any, d: Derive, env: Env) -> None:
    compile_derive(d)(item, env)


def signature(key: bytes, sign: Sign, env: Env) -> str:
    names = tuple(prefix for prefix, _ in env.ctx) or ("",)
    objs = [obj for _, obj in env.ctx] or [None]
    message = sign.sep.join(compile_texts(sign.parts, names)(objs, env)).encode()
    return hmac_sha256(key, message)


def hmac_sha256(key: bytes, message: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` (fed in pieces: see ``GIL_KEEPING_PIECE``)."""
    digest: str = fed(hmac.new(key, None, hashlib.sha256), message).hexdigest()
    return digest
