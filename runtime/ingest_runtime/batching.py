"""Batched routes and the per-item preparation step (derive, redact, hook, sign).

Preparation runs on the first background thread that sees an item (the worker, or the spool
writer when there is a spool) so it happens before the item reaches a spool, a file or the
network, and exactly once: retries and replays re-send the prepared bytes unchanged.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json, to_json

from . import config
from .prepare_source import compile_prepare_function
from .recipe_source import DeriveAll, compile_derive_function
from .recipes import (
    Derive,
    Env,
    Hash,
    ItemValues,
    Places,
    Seq,
    compile_part,
    compile_places,
    compile_texts,
    hash_function,
    hmac_sha256,
    iter_parts,
    signature,
)
from .redaction import Redact, Redactor

if TYPE_CHECKING:
    from .routes import Route
    from .stats import Counters

__all__ = ["Batch", "Entry", "EnvelopeBuilder", "Preparer", "hoisted_dict"]

logger = logging.getLogger("ingest_runtime")

BeforeSend = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]
AfterSend = Callable[[str, dict[str, Any], bool, "int | None"], None]


@dataclass(frozen=True, slots=True)
class Batch:
    """The route's body is an envelope holding a list of items; generated code submits items.

    Request body: ``{<envelope constants>, <derived envelope fields>, <items>: [...],
    <hoisted lists>}``. ``envelope`` names client constants copied verbatim; ``derive`` computes
    envelope fields per batch (``ItemValues`` reads the batch's items; ``NewId`` is per batch);
    ``hoist`` names list fields moved out of every item and concatenated at envelope level
    (key omitted when empty over the whole batch). A batch is cut at ``max_items`` items or
    before exceeding ``max_bytes``, and partial batches go out every ``flush_interval`` seconds.
    ``item_errors=(list, index)``: a 2xx response body may list failed items, each element of
    its ``list`` array giving the item's 0-based position in the batch under ``index``; those
    items count as dropped ("rejected"), the others as delivered. ``ordered=False``: batches
    are independent (content ids, server-side dedupe), so the worker may keep several requests
    in flight (``max_in_flight``) and the server may store them in another order; ordered
    routes send one batch at a time, each answered before the next.
    """

    items: str
    max_items: int = 100
    max_bytes: int = config.BATCH_MAX_BYTES
    flush_interval: float = 5.0
    envelope: tuple[str, ...] = ()
    derive: tuple[Derive, ...] = ()
    hoist: tuple[str, ...] = ()
    item_errors: tuple[str, str] | None = None
    ordered: bool = True


def failed_positions(batch: Batch | None, body: bytes, size: int) -> set[int]:
    """Positions (0-based, < ``size``) of the items a 2xx response body reports as failed."""
    if batch is None or batch.item_errors is None or not body:
        return set()
    list_name, index_name = batch.item_errors
    try:
        parsed = from_json(body)
    except ValueError:
        return set()
    errors = parsed.get(list_name) if isinstance(parsed, dict) else None
    out: set[int] = set()
    for error in errors if isinstance(errors, list) else ():
        position = error.get(index_name) if isinstance(error, dict) else None
        if isinstance(position, int) and not isinstance(position, bool) and 0 <= position < size:
            out.add(position)
    return out


class Entry:
    """One prepared item waiting in (or travelling with) a batch."""

    __slots__ = ("attempts", "data", "key", "origin", "path", "spool_id", "values")

    def __init__(
        self,
        data: bytes,
        key: str | None,
        path: str | None,
        spool_id: int = 0,
        attempts: int = 0,
        origin: Any = None,
        values: dict[str, Any] | None = None,
    ) -> None:
        self.data = data
        self.key = key
        self.path = path
        self.spool_id = spool_id
        self.attempts = attempts
        self.origin = origin
        #: What the envelope's recipes read from this item (``ItemValues`` paths), kept at
        #: preparation so building a batch re-parses nothing; None: parse ``data``.
        self.values = values


def split_item(data: bytes) -> list[bytes]:
    """Prepared bytes of a route with ``hoist``: ``item`` then one JSON list per hoisted field,
    joined by ``\\n`` (compact JSON never contains a raw newline)."""
    return data.split(b"\n")


def item_json(data: bytes) -> bytes:
    """The item itself (without hoisted lists)."""
    i = data.find(b"\n")
    return data if i < 0 else data[:i]


def _dumps(obj: Any) -> bytes:
    return to_json(obj)


def _strip_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_strip_none(v) for v in obj]
    return obj


def check_route(route: Route) -> None:
    """Fail at client construction (not on the worker) for unusable declarations."""
    parts = [d.value for d in route.derive]
    if route.batch is not None:
        parts += [d.value for d in route.batch.derive]
    if route.sign is not None:
        if (route.sign.field is None) == (route.sign.header is None):
            raise ValueError(f"{route.key}: Sign needs exactly one of field= or header=")
        parts += list(route.sign.parts)
    for top in parts:
        for p in iter_parts(top):
            if isinstance(p, Hash):
                hash_function(p.algorithm)


@dataclass(frozen=True, slots=True)
class _Plan:
    """A route's preparation steps, compiled once (paths split, recipes turned into closures)."""

    derive: DeriveAll
    #: Free-text fields at the item's top level (no walk), then the others.
    redact_top: tuple[tuple[str, Redact], ...]
    redact: tuple[tuple[Places, Redact], ...]
    sign: tuple[Places, Callable[[Sequence[Any], Env], list[str]], str] | None
    hoist: tuple[str, ...]
    #: Top-level item fields the envelope's recipes read (``ItemValues``), kept per item.
    envelope_fields: tuple[str, ...]


def _plan(route: Route) -> _Plan:
    sign = None
    if route.sign is not None and route.sign.field is not None:
        texts = compile_texts(route.sign.parts, ("",))
        sign = (compile_places(route.sign.field), texts, route.sign.sep)
    return _Plan(
        derive=compile_derive_function(route.derive, route.omit_none, route.key),
        redact_top=tuple((r.path, r) for r in route.redact if _top_level(r.path)),
        redact=tuple(
            (compile_places(r.path, create=False), r)
            for r in route.redact
            if not _top_level(r.path)
        ),
        sign=sign,
        hoist=route.batch.hoist if route.batch is not None else (),
        envelope_fields=envelope_fields(route.batch) if route.batch is not None else (),
    )


def _top_level(path: str) -> bool:
    return "." not in path and "[" not in path


def envelope_fields(batch: Batch) -> tuple[str, ...]:
    """The top-level item fields read by ``ItemValues`` in the envelope's recipes (nested
    paths are read by parsing the item instead)."""
    paths = {p.path for d in batch.derive for p in iter_parts(d.value) if isinstance(p, ItemValues)}
    return tuple(sorted(path for path in paths if "." not in path and "[" not in path))


class Preparer:
    """Turns the caller's serialized item into the bytes that are spooled and sent."""

    def __init__(
        self,
        *,
        constants: Mapping[str, Any],
        signing_key: bytes | None,
        redactor: Redactor,
        counters: Counters,
        before_send: BeforeSend | None,
        before_send_when: Sequence[str] | None = None,
    ) -> None:
        self.constants = constants
        #: Top-level fields of which one must hold a truthy value for ``before_send`` to run
        #: (None: it runs for every item).
        self.before_send_when = None if before_send_when is None else tuple(before_send_when)
        self.signing_key = signing_key
        self.redactor = redactor
        self.counters = counters
        self.before_send = before_send
        self.seq = 0  # one thread prepares (worker or spool writer): no lock needed
        self._plans: dict[int, _Plan] = {}
        #: Route index -> its preparation compiled to one function (``prepare_source``).
        self.compiled: dict[int, Callable[[bytes], bytes | None]] = {}
        self._env = Env((), constants, 0)
        #: ``envelope_fields`` values of the item last prepared (read right after ``prepare``).
        self.values: dict[str, Any] | None = None

    def prepare(self, route: Route, data: bytes) -> bytes | None:
        """Prepared bytes, or None when ``before_send`` dropped the item (counted by caller).

        Raises on a recipe error (counted as ``encode_error`` by the caller). Runs the route's
        preparation compiled to one function (``prepare_source``); ``prepare_reference`` is
        what it computes."""
        prepare = self.compiled.get(route._index)
        if prepare is None:
            if not route.prepared and self.before_send is None:
                self.values = None
                return data
            prepare = self.compiled[route._index] = compile_prepare_function(
                route, self._plan_of(route), self
            )
        return prepare(data)

    def _plan_of(self, route: Route) -> _Plan:
        plan = self._plans.get(route._index)
        if plan is None:
            plan = self._plans[route._index] = _plan(route)
        return plan

    def prepare_reference(self, route: Route, data: bytes) -> bytes | None:
        """The preparation step written plainly: parse, derive, redact, hook, sign, hoist,
        encode. ``prepare`` runs the same steps compiled per route; a property test keeps
        the two equal."""
        self.values = None
        before_send = self.before_send
        if not route.prepared and before_send is None:
            return data
        plan = self._plan_of(route)
        item = from_json(data)
        env = self._env  # one Env per preparer: only this thread reads it, within this call
        if route.uses_seq:
            self.seq += 1
            env.seq = self.seq
        plan.derive(item, env)
        if plan.redact_top or plan.redact:
            self._redact(plan, item)
        # A hook may write None anywhere: with omit_none the item is checked for nulls, on
        # the final bytes when nothing else reads the item (a substring test is ~10x cheaper
        # than walking it; a false hit only costs the walk).
        check_nulls = False
        when = self.before_send_when
        if before_send is not None and (when is None or any(item.get(f) for f in when)):
            try:
                out = before_send(route.key, item)
            except Exception:
                self.hook_failed()
            else:
                if out is None:
                    return None
                item = out
            check_nulls = route.omit_none
            if check_nulls and plan.sign is not None and b"null" in to_json(item):
                item = _strip_none(item)
                check_nulls = False
        if plan.sign is not None and self.signing_key is not None:
            self.sign_field(plan, item, env)
        # Plain loops below, not comprehensions: each comprehension is a call (~0.25 us).
        if plan.envelope_fields:
            values = {}
            for name in plan.envelope_fields:
                values[name] = item.get(name)
            self.values = values
        if plan.hoist:
            parts = [b""]
            for name in plan.hoist:
                value = item.pop(name, None)
                encoded = to_json(value) if value and isinstance(value, list) else b"[]"
                if check_nulls and b"null" in encoded:
                    encoded = to_json(_strip_none(value))
                parts.append(encoded)
            out_bytes = to_json(item)
            if check_nulls and b"null" in out_bytes:
                out_bytes = to_json(_strip_none(item))
            parts[0] = out_bytes
            return b"\n".join(parts)
        out_bytes = to_json(item)
        if check_nulls and b"null" in out_bytes:
            out_bytes = to_json(_strip_none(item))
        return out_bytes

    def hook_failed(self) -> None:
        """``before_send`` raised: counted, and the item goes on unchanged."""
        self.counters.count("hook_errors")
        logger.debug("ingest_runtime: before_send raised", exc_info=True)

    def sign_field(self, plan: _Plan, item: dict[str, Any], env: Env) -> None:
        """Write the HMAC of the item's canonical message into its signature field."""
        assert plan.sign is not None and self.signing_key is not None
        places, texts, sep = plan.sign
        message = sep.join(texts((item,), env)).encode()
        for parent, key, _ in places(item):
            parent[key] = hmac_sha256(self.signing_key, message)

    def _redact(self, plan: _Plan, item: dict[str, Any]) -> None:
        field = self.redactor.field
        for name, spec in plan.redact_top:
            value = item.get(name)
            if value.__class__ is str:
                item[name] = field(value, spec)
        self.redact_nested(plan, item)

    def redact_nested(self, plan: _Plan, item: dict[str, Any]) -> None:
        """Free-text fields below the item's top level (walked through lists)."""
        field = self.redactor.field
        for places, spec in plan.redact:
            for parent, key, _ in places(item):
                value = parent.get(key)
                if isinstance(value, str):
                    parent[key] = field(value, spec)

    def header_signature(self, route: Route, body: bytes) -> str | None:
        sign = route.sign
        if sign is None or sign.header is None or self.signing_key is None:
            return None
        return signature(self.signing_key, sign, Env([], self.constants, 0, body=body))


def uses_seq(route: Route) -> bool:
    tops = [d.value for d in route.derive]
    if route.sign is not None:
        tops += list(route.sign.parts)
    return any(isinstance(p, Seq) for t in tops for p in iter_parts(t))


def _needs_items(batch: Batch) -> bool:
    return any(isinstance(p, ItemValues) for d in batch.derive for p in iter_parts(d.value))


class EnvelopeBuilder:
    """Builds request bodies for one batched route by joining prepared item bytes."""

    def __init__(self, route: Route, constants: Mapping[str, Any], use_gzip: bool) -> None:
        batch = route.batch
        assert batch is not None
        self.batch = batch
        self.constants = constants
        self.gzip = use_gzip
        self.needs_items = _needs_items(batch)
        # Values kept at preparation suffice when every ItemValues path is a top-level field.
        read = {
            p.path for d in batch.derive for p in iter_parts(d.value) if isinstance(p, ItemValues)
        }
        self.kept_suffice = read == set(envelope_fields(batch))
        head = {}
        for name in batch.envelope:
            if name not in constants:
                raise KeyError(f"{route.key}: envelope constant {name!r} missing from constants")
            head[name] = constants[name]
        self.head = _dumps(head)[:-1]  # '{...' without the closing brace
        self.items_key = json.dumps(batch.items).encode()
        #: Envelope derivations, compiled once: (target, fn(objs, env)).
        self.derive = [(d.target, compile_part(d.value, ("",))) for d in batch.derive]
        self.no_context: list[Any] = [None]

    def build(self, entries: list[Entry]) -> bytes:
        """The request body for ``entries`` (plain loops: this runs once per item per batch)."""
        batch = self.batch
        hoist = batch.hoist
        items: list[bytes] = []
        lists: list[list[bytes]] = [[] for _ in hoist]
        if len(hoist) == 1:  # the usual case: "item\n[...]", the list most often empty
            add, elems = items.append, lists[0]
            for e in entries:
                data = e.data
                cut = data.find(b"\n")
                if cut < 0:
                    add(data)
                    continue
                add(data[:cut])
                if len(data) - cut > 3:  # not "\n[]"
                    elems.append(data[cut + 2 : -1])
        elif hoist:
            add = items.append
            for e in entries:
                parts = e.data.split(b"\n")
                add(parts[0])
                for i, part in enumerate(parts[1 : len(hoist) + 1]):
                    if len(part) > 2:  # not "[]"
                        lists[i].append(part[1:-1])
        else:
            items = [e.data for e in entries]
        parts = [self.head]
        if self.derive:
            env_items: list[Any] = []
            if self.needs_items:
                kept_suffice = self.kept_suffice
                add = env_items.append
                for e, b in zip(entries, items, strict=True):
                    kept = e.values if kept_suffice else None
                    add(kept if kept is not None else from_json(b))
            env = Env([], self.constants, 0, env_items)
            fields = {}
            for target, value in self.derive:
                fields[target] = value(self.no_context, env)
            parts.append(_dumps(fields)[1:-1])
        parts.append(self.items_key + b":[" + b",".join(items) + b"]")
        for name, elems in zip(hoist, lists, strict=True):
            if elems:
                parts.append(json.dumps(name).encode() + b":[" + b",".join(elems) + b"]")
        head = parts[0]
        rest = b",".join(p for p in parts[1:] if p)
        body = head + (b"," if len(head) > 1 and rest else b"") + rest + b"}"
        return gzip.compress(body, config.GZIP_LEVEL) if self.gzip else body


def item_dict(data: bytes) -> dict[str, Any]:
    """The item as a dict for ``after_send`` (hoisted lists put back under their names)."""
    obj: dict[str, Any] = json.loads(item_json(data))
    return obj


def hoisted_dict(route: Route, data: bytes) -> dict[str, Any]:
    obj = item_dict(data)
    if route.batch is not None and route.batch.hoist:
        for name, raw in zip(route.batch.hoist, split_item(data)[1:], strict=False):
            with contextlib.suppress(ValueError):
                obj[name] = json.loads(raw)
    return obj
