"""``IngestClient``: the base class of every generated client.

The caller's thread does only what must happen there: pydantic validation (into a dict, for
plain body models: ``items.py``), one ``to_json`` into compact bytes, one ``deque.append``, and
an ``Event.set`` only when the worker is idle. Everything else (network, disk, retries,
callbacks) runs on background threads.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

import pydantic

from . import config
from .batching import AfterSend, BeforeSend, Entry, EnvelopeBuilder, Preparer, check_route
from .blocking import request_blocking, user_agent
from .fallback import FallbackStore, ReplayWriter
from .forking import abandon
from .redaction import Redactor
from .routes import NO_OFFSET, Route, pack_header
from .spool import Spool
from .stats import Counters, Drop, DropReporter, Stats, count_value
from .transport import HttpClientTransport, HttpxTransport, Transport
from .worker import Pipeline, SpoolWriter, Worker, start_threads

if TYPE_CHECKING:
    import httpx

__all__ = ["IngestClient"]

logger = logging.getLogger("ingest_runtime")

T = TypeVar("T")
_Client = TypeVar("_Client", bound="IngestClient")


def _call_weak(ref: weakref.WeakMethod[Callable[[], None]]) -> None:
    method = ref()
    if method is not None:
        method()


class IngestClient:
    """Fire-and-forget delivery with bounded memory, counted drops and explicit shutdown."""

    _MODES: ClassVar[Mapping[str, frozenset[str]]] = {"full": frozenset()}
    _DEFAULT_MODE: ClassVar[str] = "full"
    _ROUTES: ClassVar[tuple[Route, ...]] = ()
    _SERVICE: ClassVar[str] = "ingest"

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None = None,
        mode: str | None = None,
        spool: Spool | None = None,
        http_client: httpx.Client | None = None,
        transport: Transport | None = None,
        max_attempts: int = config.MAX_ATTEMPTS,
        backoff_base: float = config.BACKOFF_BASE,
        backoff_cap: float = config.BACKOFF_CAP,
        backoff_schedule: Sequence[float] = (),
        backoff_jitter: float = 0.0,
        max_queue_size: int = config.MAX_QUEUE_SIZE,
        timeout: float = config.TIMEOUT,
        on_drop: Callable[[Drop], None] | None = None,
        flush_at_exit: float = config.FLUSH_AT_EXIT,
        constants: Mapping[str, Any] | None = None,
        signing_key: str | bytes | None = None,
        redaction_rules: Sequence[tuple[str, str | re.Pattern[str]]] = (),
        redaction_floor: bool = True,
        before_send: BeforeSend | None = None,
        before_send_when: Sequence[str] | None = None,
        after_send: AfterSend | None = None,
        fallback_dir: str | os.PathLike[str] | None = None,
        replay_file: str | os.PathLike[str] | None = None,
        gzip: bool = False,
        batch_max_items: int | None = None,
        flush_interval: float | None = None,
        max_in_flight: int = config.MAX_IN_FLIGHT,
        transient_statuses: Collection[int] = config.TRANSIENT_STATUSES,
        hold_statuses: Collection[int] = (),
    ) -> None:
        mode = self._DEFAULT_MODE if mode is None else mode
        if mode not in self._MODES:
            valid = ", ".join(repr(m) for m in self._MODES)
            raise ValueError(f"unknown mode {mode!r}; valid modes: {valid}")
        #: Categories muted by ``mode``. Generated code tests ``route.category in client._muted``.
        self._muted: frozenset[str | None] = frozenset(self._MODES[mode])
        self.mode = mode
        self.base_url = base_url
        self._token = token
        self._timeout = timeout
        self._http_client = http_client
        self._owned_http_client: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._owns_transport = transport is None
        if transport is None:
            transport = (
                HttpxTransport(http_client, base_url)
                if http_client is not None
                else HttpClientTransport(base_url)
            )
        self.transport: Transport = transport
        self._spool = spool
        self._routes = {r.key: r for r in self._ROUTES}
        self._max_attempts = max_attempts
        if not 0 < backoff_base <= backoff_cap:
            raise ValueError("backoff needs 0 < backoff_base <= backoff_cap (seconds)")
        schedule = tuple(float(step) for step in backoff_schedule)
        if any(not step > 0 for step in schedule) or not 0 <= backoff_jitter <= 1:
            raise ValueError("backoff_schedule needs waits > 0 and backoff_jitter in [0, 1]")
        self._backoff = (float(backoff_base), float(backoff_cap), schedule, float(backoff_jitter))
        self._max_queue_size = max_queue_size
        if max_in_flight < 1:
            raise ValueError("max_in_flight needs at least 1 request")
        self._max_in_flight = max_in_flight
        self._transient = frozenset(transient_statuses)
        self._hold = frozenset(hold_statuses)
        if any(500 <= st <= 599 for st in self._hold) or self._hold & self._transient:
            raise ValueError("hold_statuses cannot include a status that is retried")
        self._on_drop = on_drop
        self._flush_at_exit = flush_at_exit
        self._constants: Mapping[str, Any] = dict(constants or {})
        self._signing_key = signing_key.encode() if isinstance(signing_key, str) else signing_key
        self._redactor_rules = tuple(redaction_rules)
        self._redaction_floor = redaction_floor
        self._redactor = Redactor(self._redactor_rules, floor=redaction_floor)
        self._before_send = before_send
        if isinstance(before_send_when, str):
            raise TypeError("before_send_when takes a sequence of field names, not one string")
        self._before_send_when = None if before_send_when is None else tuple(before_send_when)
        self._after_send = after_send
        self._fallback_dir = fallback_dir
        self._replay_file = replay_file
        self._gzip = gzip
        self._builders: dict[str, EnvelopeBuilder] = {}
        self._limits: dict[str, tuple[int, int, float]] = {}
        for r in self._ROUTES:
            check_route(r)
            if r.batch is not None:
                self._builders[r.key] = EnvelopeBuilder(r, self._constants, gzip)
                self._limits[r.key] = (
                    max(1, batch_max_items or r.batch.max_items),
                    r.batch.max_bytes,
                    max(0.001, flush_interval or r.batch.flush_interval),
                )
        #: Batched items wake an idle worker only once this many are queued (a batch is full);
        #: with a spool every item wakes the spool writer (the crash window stays 5 ms).
        self._batch_wake = (
            1
            if spool is not None or not self._limits
            else min(m for m, _, _ in self._limits.values())
        )
        self._closed = False
        self._close_lock = threading.Lock()
        self._start(replay=True)
        # Weak references: the interpreter's registries must not keep a client alive.
        self._atexit = functools.partial(_call_weak, weakref.WeakMethod(self._at_exit))
        atexit.register(self._atexit)
        if hasattr(os, "register_at_fork"):
            child_hook = weakref.WeakMethod(self._after_fork_in_child)
            os.register_at_fork(after_in_child=functools.partial(_call_weak, child_hook))

    def _start(self, replay: bool) -> None:
        counters = Counters()
        self._counters = counters
        self._reporter = DropReporter(counters, self._on_drop)
        preparer = Preparer(
            constants=self._constants,
            signing_key=self._signing_key,
            redactor=self._redactor,
            counters=counters,
            before_send=self._before_send,
            before_send_when=self._before_send_when,
        )
        fallback = held = None
        if self._fallback_dir is not None:
            fallback = FallbackStore(self._fallback_dir, self._SERVICE)
            if self._hold:
                held = FallbackStore(self._fallback_dir, self._SERVICE, kind="held")
        self._replay_writer = None if self._replay_file is None else ReplayWriter(self._replay_file)
        p = Pipeline(
            routes=self._routes,
            transport=self.transport,
            spool=self._spool,
            counters=counters,
            reporter=self._reporter,
            token=self._token,
            user_agent=user_agent(self._SERVICE),
            max_attempts=self._max_attempts,
            backoff=self._backoff,
            max_queue_size=self._max_queue_size,
            timeout=self._timeout,
            preparer=preparer,
            builders=self._builders,
            limits=self._limits,
            fallback=fallback,
            replay=self._replay_writer,
            max_in_flight=self._max_in_flight,
            after_send=self._after_send,
            transient=self._transient,
            held=held,
            hold_statuses=self._hold,
        )
        if fallback is not None and replay:
            self._load_stored(p, fallback)
        self._p = p
        # Hot-path aliases (one attribute load each on the caller's thread).
        self._q = p.q
        self._signal = p.q_signal
        self._accepted = counters.accepted
        self._limit = -1 if self._closed else self._max_queue_size
        self._worker: Worker
        self._writer: SpoolWriter | None
        self._worker, self._writer = start_threads(p, self._SERVICE, replay)

    def _load_stored(self, p: Pipeline, store: FallbackStore) -> int:
        """Queue the items of the store's files (prepared already) for delivery; how many."""
        try:
            files = store.load()
        except OSError:
            logger.exception("ingest_runtime: cannot read the fallback directory")
            return 0
        n = 0
        for f, rows in files:
            for route_key, body, key, path in rows:
                route = self._routes.get(route_key)
                if route is None:
                    f.done()
                    continue
                n += 1
                with p.counters.lock:  # before the item is queued: flush() counts it
                    p.counters.fallback_replayed += 1
                p.fallback_in.append((route, Entry(body, key, path, origin=f)))
        return n

    def release_held(self) -> int:
        """Queue every held item of this service for delivery again and return how many.

        Held items are those the server refused with a status in ``hold_statuses`` (kept in
        ``fallback_dir`` instead of dropped), e.g. to re-send them once the server-side cause
        is fixed. Items refused again are held again; ``flush()`` waits for them.
        """
        p = self._p
        if p.held is None or self._closed:
            return 0
        n = self._load_stored(p, p.held)
        if n:
            p.worker_signal.wake()
        return n

    # ---- hot path (caller's thread) -------------------------------------------------------

    def _is_muted(self, route: Route) -> bool:
        """True when ``mode`` mutes the route's category (checked before validation)."""
        return route.category in self._muted

    def _submit(self, route: Route, fields: dict[str, object], path: str | None = None) -> None:
        """Validate ``fields`` with the route's body model (``ValidationError`` raises here, in
        the caller's stack, before anything is queued), then enqueue. Plain models validate
        into a dict (``items.py``): the same checks and JSON, no model instance."""
        codec = route.item_codec
        if codec is None:
            self._enqueue(route, route.validate(fields), path)
            return
        validate, dump = codec
        item = validate(fields)
        field = route.idempotency_field
        self._push(route, item, dump, item.get(field) if field else None, path)

    def _enqueue(self, route: Route, body: pydantic.BaseModel, path: str | None = None) -> None:
        """Accept one validated body for background delivery. Never blocks, never raises."""
        field = route.idempotency_field
        key = getattr(body, field) if field else None
        self._push(route, body, body.__pydantic_serializer__.to_json, key, path)

    def _push(
        self,
        route: Route,
        body: object,
        dump: Callable[..., bytes],
        key: object,
        path: str | None,
    ) -> None:
        """Encode ``body`` with ``dump`` and queue it: header (+ key) + JSON, or a tuple when
        the path was formatted. Never blocks, never raises."""
        q = self._q
        if len(q) >= self._limit:
            self._refuse(route, body, dump, key)
            return
        try:
            data = dump(body, by_alias=True, exclude_none=route.omit_none)
        except Exception:
            self._refuse(route, body, dump, key, "encode_error")
            return
        if path is not None:
            q.append((route, data, None if key is None else str(key), path))
        elif key is not None:
            kb = key.encode() if isinstance(key, str) else str(key).encode()
            offset = data.find(kb)
            if 0 <= offset < NO_OFFSET:
                q.append(pack_header(route._index, offset, len(kb)) + data)
            else:
                q.append(b"".join((pack_header(route._index, NO_OFFSET, len(kb)), kb, data)))
        else:
            q.append(route.keyless_header + data)
        next(self._accepted)
        signal = self._signal
        if signal.idle and (route.batch is None or len(q) >= self._batch_wake):
            signal.idle = False
            signal.event.set()

    def _refuse(
        self,
        route: Route,
        body: object,
        dump: Callable[..., bytes],
        key: object,
        reason: str | None = None,
    ) -> None:
        """Slow path: count a drop decided on the caller's thread (no logging here)."""
        if reason is None:
            reason = "closed" if self._closed else "queue_full"
        next(self._counters.caller_drops[reason])
        if self._on_drop is None:
            return
        try:
            data = dump(body, by_alias=True, exclude_none=route.omit_none)
        except Exception:
            data = b""
        drop = Drop(route.key, data, None if key is None else str(key), None, reason, 0)
        if reason == "closed":
            self._reporter.callback(drop)  # no worker any more: report on the caller's thread
        else:
            self._p.pending_drops.append(drop)
            signal = self._p.worker_signal
            if signal.idle:
                signal.idle = False
                signal.event.set()

    # ---- blocking calls (caller's thread) -------------------------------------------------

    @overload
    def _call(
        self,
        route: Route,
        body: pydantic.BaseModel | None,
        response_type: type[T],
        *,
        path: str | None = ...,
        query: Mapping[str, object] | None = ...,
    ) -> T: ...

    @overload
    def _call(
        self,
        route: Route,
        body: pydantic.BaseModel | None,
        response_type: None,
        *,
        path: str | None = ...,
        query: Mapping[str, object] | None = ...,
    ) -> None: ...

    def _call(
        self,
        route: Route,
        body: pydantic.BaseModel | None,
        response_type: type[T] | None,
        *,
        path: str | None = None,
        query: Mapping[str, object] | None = None,
    ) -> T | None:
        """Request/response call on the caller's thread; raises ``IngestError`` subclasses."""
        return request_blocking(
            self._blocking_client(),
            base_url=self.base_url,
            route=route,
            body=body,
            response_type=response_type,
            token=self._token,
            timeout=self._timeout,
            path=path,
            query=query,
            service=self._SERVICE,
        )

    def _blocking_client(self) -> httpx.Client:
        if self._http_client is not None:
            return self._http_client
        import httpx  # first blocking call only: queued-only clients never load httpx

        with self._http_lock:
            if self._owned_http_client is None:
                self._owned_http_client = httpx.Client(timeout=self._timeout)
            return self._owned_http_client

    # ---- observability ------------------------------------------------------------------

    def stats(self) -> Stats:
        """A consistent-enough snapshot of the delivery counters."""
        c = self._counters
        by_reason = c.dropped_by_reason()
        enqueued = count_value(c.accepted)
        with c.lock:
            delivered, retried, settled = c.delivered, c.retried, c.settled
            spooled, replayed, in_flight = c.spooled, c.replayed, c.in_flight
            extra, fb_replayed = dict(c.extra), c.fallback_replayed
        return Stats(
            enqueued=enqueued,
            delivered=delivered,
            retried=retried,
            dropped=sum(by_reason.values()),
            dropped_by_reason=by_reason,
            queued=max(0, enqueued + replayed + fb_replayed - settled - in_flight),
            spooled=spooled,
            replayed=replayed,
            in_flight=in_flight,
            batches_sent=extra.get("batches_sent", 0),
            redacted_by_kind=dict(self._redactor.counts),
            fallback_written=extra.get("fallback_written", 0),
            fallback_replayed=fb_replayed,
            held=extra.get("held", 0),
            replay_written=extra.get("replay_written", 0),
            hook_errors=extra.get("hook_errors", 0),
        )

    # ---- lifecycle ----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event accepted so far is delivered or dropped-and-counted.

        Returns False if that did not happen within ``timeout`` (None means
        ``config.FLUSH_DEFAULT_TIMEOUT``): a flush never hangs the application.
        """
        deadline = time.monotonic() + (config.FLUSH_DEFAULT_TIMEOUT if timeout is None else timeout)
        p, c = self._p, self._counters
        if not p.load_done.wait(max(0.0, deadline - time.monotonic())):
            return False
        target = count_value(c.accepted) + c.replayed + c.fallback_replayed
        if p.builders:
            with c.lock:
                p.draining += 1
            p.worker_signal.wake()
        try:
            while c.settled < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._worker.is_alive():
                    return False
                c.settle_event.clear()
                c.wake_at = min(c.wake_at, target)
                if c.settled >= target:
                    break
                if p.draining:
                    p.worker_signal.wake()  # items that arrived since: their batch goes out now
                # Short slices bound the cost of a lost race between concurrent flushes.
                c.settle_event.wait(min(remaining, config.FLUSH_POLL))
        finally:
            if c.wake_at == target:
                c.wake_at = sys.maxsize
            if p.builders:
                with c.lock:
                    p.draining -= 1
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Flush up to ``timeout``, stop the background threads, release resources. Idempotent.

        Leftovers stay in the spool when one is configured (not a drop); otherwise they are
        counted as dropped ("shutdown"). Later calls are counted as dropped ("closed").
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        self._limit = -1
        p = self._p
        p.stop.set()
        p.worker_signal.event.set()
        self._worker.join(max(deadline - time.monotonic(), 0.5))
        if self._writer is not None:
            p.writer_stop.set()
            p.q_signal.event.set()
            self._writer.join(max(deadline - time.monotonic(), 5.0))
        else:
            self._worker.drain_leftovers()  # in case the worker is stuck in a request
        if self._owns_transport:
            self.transport.close()
        if self._replay_writer is not None and not self._worker.is_alive():
            self._replay_writer.close()
        if self._spool is not None and (self._writer is None or not self._writer.is_alive()):
            self._spool.close()
        with self._http_lock:
            owned, self._owned_http_client = self._owned_http_client, None
        if owned is not None:
            owned.close()
        atexit.unregister(self._atexit)
        self._reporter.maybe_log(force=True)

    def __enter__(self: _Client) -> _Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.flush(2.0)
        self.close(timeout=0.0)

    def _at_exit(self) -> None:
        self.close(timeout=self._flush_at_exit)

    def _after_fork_in_child(self) -> None:
        """Give the child fresh state and threads; inherited queued events belong to the parent."""
        if self._closed:
            return
        self._close_lock = threading.Lock()
        self._http_lock = threading.Lock()
        # Sharing the parent's sockets and files is unsafe, and so is closing them here.
        abandon(self._owned_http_client)
        abandon(self._replay_writer)
        self._owned_http_client = None
        after_fork: Any = getattr(self.transport, "after_fork", None)
        if callable(after_fork):
            after_fork()
        if self._spool is not None:
            self._spool.after_fork()
        self._redactor = Redactor(self._redactor_rules, floor=self._redaction_floor)
        self._start(replay=False)
