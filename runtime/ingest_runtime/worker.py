"""The background side: one delivery worker thread and, with a spool, one spool-writer thread.

Data flow::

    caller threads --append--> q --(no spool)------------------------------> worker --> transport
                                 \\--(spool)--> spool writer --commit--> ready --> worker
                                                     ^---- removals / attempt counts ----'

Callers only ``deque.append`` and, on an idle->busy transition, set one ``threading.Event``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from . import config
from .batching import (
    AfterSend,
    Entry,
    EnvelopeBuilder,
    Preparer,
    failed_positions,
    hoisted_dict,
)
from .fallback import FallbackFile, FallbackStore, ReplayWriter
from .ids import new_uuid4
from .retry import is_retryable, next_delay, parse_retry_after
from .routes import QueueItem, Route, base_headers, decode_item
from .spool import Record, Spool
from .stats import Counters, Drop, DropReporter
from .transport import HttpClientTransport, InFlight, Response, Transport, begin

__all__ = ["Pipeline", "Signal", "SpoolWriter", "Worker", "drain_as_shutdown"]

logger = logging.getLogger("ingest_runtime")


class Signal:
    """Wakes a consumer only on its idle->busy transition, so steady-state producers take no
    lock: while the consumer is busy, ``wake`` is a single attribute read."""

    __slots__ = ("event", "idle")

    def __init__(self) -> None:
        self.idle = False
        self.event = threading.Event()

    def wake(self) -> None:
        if self.idle:
            self.idle = False
            self.event.set()

    def sleep(self, sources: tuple[deque[Any], ...], stop: threading.Event, timeout: float) -> None:
        """Block until woken, unless work arrived between the last check and going idle."""
        self.idle = True
        if any(sources) or stop.is_set():
            self.idle = False
            return
        self.event.wait(timeout)
        self.event.clear()
        self.idle = False


class Pipeline:
    """State shared by the client (producer side), the worker and the spool writer."""

    def __init__(
        self,
        *,
        routes: Mapping[str, Route],
        transport: Transport,
        spool: Spool | None,
        counters: Counters,
        reporter: DropReporter,
        token: str | None,
        user_agent: str,
        max_attempts: int,
        backoff: tuple[float, float, tuple[float, ...], float] = (
            config.BACKOFF_BASE,
            config.BACKOFF_CAP,
            (),
            0.0,
        ),
        max_queue_size: int,
        timeout: float,
        preparer: Preparer,
        builders: Mapping[str, EnvelopeBuilder] | None = None,
        limits: Mapping[str, tuple[int, int, float]] | None = None,
        fallback: FallbackStore | None = None,
        replay: ReplayWriter | None = None,
        after_send: AfterSend | None = None,
        max_in_flight: int = config.MAX_IN_FLIGHT,
        transient: AbstractSet[int] = config.TRANSIENT_STATUSES,
        held: FallbackStore | None = None,
        hold_statuses: AbstractSet[int] = frozenset(),
    ) -> None:
        self.routes = routes
        #: Statuses retried besides every 5xx (see ``retry.is_retryable``).
        self.transient = frozenset(transient)
        #: Refusals kept on disk instead of dropped: ``hold_statuses`` go to ``held``.
        self.held = held
        self.hold_statuses = frozenset(hold_statuses) if held is not None else frozenset()
        #: Batched requests the worker keeps in flight at once (see ``Worker._send_batch``).
        self.max_in_flight = max(1, max_in_flight)
        self.preparer = preparer
        #: Batched routes: envelope builders and (max_items, max_bytes, flush_interval).
        self.builders: Mapping[str, EnvelopeBuilder] = builders or {}
        self.limits: Mapping[str, tuple[int, int, float]] = limits or {}
        self.buffers: dict[str, list[Entry]] = {k: [] for k in self.builders}
        self.buffer_bytes: dict[str, int] = dict.fromkeys(self.builders, 0)
        self.draining = 0  # > 0 while a flush() waits: partial batches go out at once
        self.fallback = fallback
        self.replay = replay
        self.after_send = after_send
        #: Prepared items loaded from fallback files: (route, entry); delivered first.
        self.fallback_in: deque[tuple[Route, Entry]] = deque()
        #: Items the worker prepared while a request was in flight, in queue order.
        self.staged: deque[tuple[Route, Entry]] = deque()
        #: How many items to prepare ahead per request in flight (one batch of the largest).
        self.ahead = max((lim[0] for lim in self.limits.values()), default=0)
        self.transport = transport
        self.spool = spool
        self.counters = counters
        self.reporter = reporter
        self.token = token
        self.user_agent = user_agent
        self.max_attempts = max(1, max_attempts)
        #: (base, cap, schedule, jitter): see ``retry.next_delay``.
        self.backoff = backoff
        self.max_queue_size = max_queue_size
        self.timeout = timeout
        self.rng = random.Random()
        self.q: deque[QueueItem] = deque()
        self.ready: deque[Record] = deque()
        self.q_signal = Signal()  # consumer of q: the worker, or the spool writer
        self.worker_signal = Signal() if spool is not None else self.q_signal
        self.stop = threading.Event()  # stops the worker (and interrupts its backoff)
        self.writer_stop = threading.Event()  # stops the spool writer after the worker
        self.load_done = threading.Event()
        self.pending_drops: deque[Drop] = deque(maxlen=config.MAX_PENDING_DROP_CALLBACKS)
        self.spool_ops: deque[tuple[int, int]] = deque()  # (spool_id, attempts); -1 = delete
        self.evicted: set[int] = set()
        self.evicted_drops: deque[Drop] = deque()
        self.spilling = False  # spool holds records newer than the last one loaded in memory
        self.load_chunk = max(1, min(config.SPOOL_LOAD_CHUNK, max_queue_size))
        if spool is None:
            self.load_done.set()


class Worker(threading.Thread):
    """Delivers items in order; a retryable failure pauses the pipeline (head-of-line).

    Unbatched routes: one request per item. Batched routes: prepared items are buffered per
    route and sent as envelopes when a batch fills, on every flush-interval tick, and at once
    while a ``flush()`` waits.
    """

    def __init__(self, pipeline: Pipeline, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.p = pipeline
        self._headers: dict[str, dict[str, str]] = {}
        self._response_body = b""  # of the last 2xx response (per-item errors of a batch)
        #: Batch requests written and not answered yet, oldest first. Only the two-phase
        #: transport has more than one (one per connection), and only without a spool.
        self._flights: deque[_Flight] = deque()
        two_phase = isinstance(pipeline.transport, HttpClientTransport)
        self._window = pipeline.max_in_flight if two_phase and pipeline.spool is None else 1
        now = time.monotonic()
        self._ticks = {k: now + lim[2] for k, lim in pipeline.limits.items()}

    def run(self) -> None:
        p = self.p
        src: deque[Any] = p.ready if p.spool is not None else p.q
        signal = p.worker_signal
        reporter = p.reporter
        batched = bool(p.builders)
        sources = (src, p.pending_drops, p.evicted_drops, p.fallback_in)
        while not p.stop.is_set():
            if p.pending_drops or p.evicted_drops:
                self._report_side_drops()
            try:
                if p.fallback_in:
                    route, entry = p.fallback_in.popleft()
                    self._take(route, entry)
                    continue
                if p.staged:
                    staged = p.staged
                    for _ in range(len(staged)):  # not those staged meanwhile: check stop first
                        route, entry = staged.popleft()
                        self._take(route, entry)
                    continue
                item = src.popleft()
            except IndexError:
                timeout = config.IDLE_WAIT
                if batched:
                    now = time.monotonic()
                    if p.draining:
                        for rk in p.buffers:
                            self._send_buffer(rk)
                    self._send_due(now)
                    if self._flights:  # nothing left to prepare: read the answers first
                        self._complete_all()
                        continue
                    timeout = max(0.0, min(timeout, min(self._ticks.values()) - now))
                    if src:
                        continue
                reporter.maybe_log()
                if p.spilling:
                    p.q_signal.wake()
                signal.sleep(sources, p.stop, timeout)
                continue
            except Exception:  # never let one bad item kill delivery
                logger.exception("ingest_runtime worker: unexpected error")
                continue
            try:
                if isinstance(item, Record):
                    self._deliver_record(item)
                else:
                    route, data, key, path = decode_item(item)
                    prepared = prepare_or_drop(p, route, data, key)
                    if prepared is not None:
                        self._take(route, Entry(prepared, key, path, values=p.preparer.values))
            except Exception:  # never let one bad event kill delivery
                logger.exception("ingest_runtime worker: unexpected error")
            if p.spilling and len(src) <= p.load_chunk // 2:
                p.q_signal.wake()
        self._complete_all()  # stopping: requests already written are answered (or retried)
        self._report_side_drops()
        if p.spool is None:
            self.drain_leftovers()
        reporter.maybe_log()

    # ---- batching ---------------------------------------------------------------------

    def _prepare_ahead(self, request: InFlight) -> None:
        """Prepare queued items into ``staged`` while ``request`` is in flight (never sends).

        At least one batch (the largest ``max_items``); then, while the response is not in
        yet, more in chunks of ``AHEAD_CHUNK`` up to ``AHEAD_BATCHES`` batches staged, so a
        slow server does not leave the worker idle. Only without a spool: the spool writer
        prepares spooled items."""
        p = self.p
        if p.spool is not None or p.fallback_in:
            return
        one_batch = p.ahead
        if len(p.staged) < one_batch and not self._prepare_some(one_batch - len(p.staged)):
            return
        ready = request.ready
        cap = one_batch * config.AHEAD_BATCHES
        while len(p.staged) < cap and not ready():
            if not self._prepare_some(min(config.AHEAD_CHUNK, cap - len(p.staged))):
                return

    def _prepare_some(self, n: int) -> bool:
        """Prepare up to ``n`` queued items into ``staged``; False once the queue is empty."""
        p = self.p
        preparer = p.preparer
        pop, stage, prepare = p.q.popleft, p.staged.append, preparer.prepare  # the hot loop
        compiled = preparer.compiled  # a route's compiled preparation, called without a hop
        for _ in range(n):
            try:
                route, data, key, path = decode_item(pop())
            except IndexError:
                return False
            try:
                fn = compiled.get(route._index)
                prepared = prepare(route, data) if fn is None else fn(data)
            except Exception:
                count_prepare_error(p, route, data, key)
                continue
            if prepared is None:
                count_hook_drop(p, route, data, key)
                continue
            stage((route, Entry(prepared, key, path, values=preparer.values)))
        return True

    def _take(self, route: Route, entry: Entry) -> None:
        """Route a prepared item: into its batch buffer, or straight to delivery."""
        p = self.p
        if route.batch is None:
            self._deliver(
                route,
                entry.data,
                entry.key,
                entry.path or route.path,
                entry.attempts,
                entry.spool_id,
                entry.origin,
            )
            return
        key = route.key
        buf = p.buffers[key]
        max_items, max_bytes, _ = p.limits[key]
        size = len(entry.data) + 1
        if buf and p.buffer_bytes[key] + size > max_bytes:
            self._send_buffer(key)
        buf.append(entry)
        p.buffer_bytes[key] += size
        if len(buf) >= max_items:
            self._send_buffer(key)

    def _send_due(self, now: float) -> None:
        ticks = self._ticks
        for key, due in ticks.items():
            if now >= due:
                self._send_buffer(key)
                interval = self.p.limits[key][2]
                ticks[key] = max(due + interval, now + interval * 0.5)

    def _send_buffer(self, key: str) -> None:
        p = self.p
        buf = p.buffers[key]
        if not buf:
            return
        entries = buf[:]
        del buf[: len(entries)]
        p.buffer_bytes[key] = 0
        self._send_batch(p.routes[key], entries)

    def _send_batch(self, route: Route, entries: list[Entry]) -> None:
        """Send one batch. With a window (``max_in_flight`` > 1) it is written at once, beside
        the requests still in flight, and answered later (``_complete_oldest``): while the
        server handles one batch the next is already on its way, so the server does not wait
        for the worker between batches. Otherwise it is sent and answered in turn."""
        p = self.p
        assert route.batch is not None
        if self._window > 1 and not route.batch.ordered:  # no spool, so nothing evicted
            body, headers = self._request(route, entries)
            first: Response | Exception | None = None
            try:
                request = begin(p.transport, route.method, route.path, headers, body, p.timeout)
            except Exception as exc:  # not even written: retried in turn, after the others
                first = exc
            else:
                self._flights.append(_Flight(route, entries, body, headers, request))
                p.counters.in_flight = len(self._flights)
                if len(self._flights) >= self._window:
                    self._complete_oldest()
                return
            self._complete_all()
            self._send_groups(route, entries, (body, headers, first))
            return
        self._send_groups(route, entries)

    def _complete_oldest(self) -> None:
        """Read the answer to the oldest request in flight (preparing items meanwhile) and
        settle its batch. Anything but a 2xx first lets the younger requests complete, then
        goes the serial way (retries with backoff, 413 splits), so one batch at a time retries.
        """
        flight = self._flights[0]
        self._prepare_ahead(flight.request)  # while the server handles it
        self._flights.popleft()
        first: Response | Exception
        try:
            first = flight.request.finish()
        except Exception as exc:
            first = exc
        self.p.counters.in_flight = len(self._flights)
        if not (isinstance(first, Response) and 200 <= first.status < 300):
            self._complete_all()
        self._send_groups(flight.route, flight.group, (flight.body, flight.headers, first))

    def _complete_all(self) -> None:
        while self._flights:
            self._complete_oldest()

    def _request(self, route: Route, group: list[Entry]) -> tuple[bytes, Mapping[str, str]]:
        """The body and headers of one batch request (signed when the route says so)."""
        p = self.p
        body = p.builders[route.key].build(group)
        headers = self._headers_for(route, None)
        sig = p.preparer.header_signature(route, body)
        if sig is not None:
            assert route.sign is not None and route.sign.header is not None
            headers = {**headers, route.sign.header: sig}
        return body, headers

    def _send_groups(
        self,
        route: Route,
        entries: list[Entry],
        first: tuple[bytes, Mapping[str, str], Response | Exception | None] | None = None,
    ) -> None:
        """Deliver ``entries`` in turn: retried, split in two on 413, failed or settled.
        ``first``: the request for ``entries`` already made (body, headers, its answer)."""
        p = self.p
        groups = [entries]
        while groups:
            group = groups.pop(0)
            answer: Response | Exception | None = None
            if first is not None:
                body, headers, answer = first
                first = None
            else:
                if p.evicted:  # only with a spool: items it dropped meanwhile are not sent
                    group = [e for e in group if not self._evicted(e)]
                if not group:
                    continue
                body, headers = self._request(route, group)

            def on_retry(attempts: int, group: list[Entry] = group) -> None:
                for e in group:
                    e.attempts = attempts
                    if e.spool_id:
                        p.spool_ops.append((e.spool_id, attempts))
                if any(e.spool_id for e in group):
                    p.q_signal.wake()

            def abandoned(group: list[Entry] = group) -> bool:
                return all(self._evicted(e) for e in group)

            attempts0 = max(e.attempts for e in group)
            outcome, status, attempts = self._exchange(
                route, route.path, headers, body, attempts0, on_retry, abandoned, answer
            )
            if outcome == "ok":
                p.counters.count("batches_sent")
                failed = failed_positions(route.batch, self._response_body, len(group))
                if failed:  # a partial success: the response lists items it refused
                    bad = [e for i, e in enumerate(group) if i in failed]
                    group = [e for i, e in enumerate(group) if i not in failed]
                    self._fail(route, bad, status, "rejected", attempts)
                if group:
                    self._delivered(route, group)
            elif outcome == "rejected" and status == 413 and len(group) > 1:
                mid = len(group) // 2
                groups[0:0] = [group[:mid], group[mid:]]
            elif outcome == "rejected":
                reason = "too_large" if status == 413 else "rejected"
                self._fail(route, group, status, reason, attempts)
            elif outcome == "exhausted":
                self._fail(route, group, status, "retries_exhausted", attempts)
            elif outcome == "stopped":
                rest = group + [e for g in groups for e in g]
                groups = []
                if p.spool is None:
                    self._fail(route, rest, status, "shutdown", attempts)
                else:  # spooled items stay in the spool; fallback-loaded ones in their file
                    unspooled = [e for e in rest if not e.spool_id and e.origin is None]
                    self._fail(route, unspooled, status, "shutdown", attempts)

    def _evicted(self, e: Entry) -> bool:
        return bool(e.spool_id) and e.spool_id in self.p.evicted

    # ---- one request, retried -------------------------------------------------------------

    def _exchange(
        self,
        route: Route,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        attempts: int,
        on_retry: Callable[[int], None],
        abandoned: Callable[[], bool],
        answer: Response | Exception | None = None,
    ) -> tuple[str, int | None, int]:
        """Send until 2xx, a permanent status, ``max_attempts`` or stop. Returns
        ``(outcome, status, attempts)`` with outcome ok|rejected|exhausted|stopped|abandoned.
        ``answer``: what the first attempt, already made, got (a response or the failure)."""
        p = self.p
        counters = p.counters
        others = len(self._flights)
        while True:
            status: int | None = None
            retry_after: float | None = None
            try:
                if answer is None:
                    counters.in_flight = others + 1
                    request = begin(p.transport, route.method, path, headers, body, p.timeout)
                    self._prepare_ahead(request)  # while the server handles the request
                    resp = request.finish()
                elif isinstance(answer, Response):
                    resp = answer
                else:
                    raise answer
            except Exception:
                pass  # network failure: retryable, status None
            else:
                status = resp.status
                if 200 <= status < 300:
                    self._response_body = resp.body
                    return "ok", status, attempts + 1
                if not is_retryable(status, p.transient):
                    counters.in_flight = others
                    return "rejected", status, attempts + 1
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
            answer = None
            counters.in_flight = others
            attempts += 1
            if abandoned():
                return "abandoned", status, attempts
            if attempts >= p.max_attempts:
                return "exhausted", status, attempts
            with counters.lock:
                counters.retried += 1
            on_retry(attempts)
            if p.stop.wait(next_delay(attempts, retry_after, p.rng, *p.backoff)):
                return "stopped", status, attempts

    def _deliver_record(self, rec: Record) -> None:
        p = self.p
        if rec.spool_id in p.evicted:
            p.evicted.discard(rec.spool_id)  # already counted as "spool_full"
            return
        route = p.routes.get(rec.route_key)
        if route is None:
            self._drop(rec.route_key, rec.body, rec.key, None, "unknown_route", rec.attempts)
            p.spool_ops.append((rec.spool_id, -1))
            p.q_signal.wake()
            return
        self._take(route, Entry(rec.body, rec.key, rec.path, rec.spool_id, rec.attempts))

    def _headers_for(self, route: Route, key: str | None) -> dict[str, str]:
        base = self._headers.get(route.key)
        if base is None:
            base = base_headers(route, self.p.token, self.p.user_agent)
            builder = self.p.builders.get(route.key)
            if builder is not None and builder.gzip:
                base["Content-Encoding"] = "gzip"
            self._headers[route.key] = base
        if key is not None and route.idempotency_field is not None and route.batch is None:
            return {**base, "Idempotency-Key": key}
        return base

    def _deliver(
        self,
        route: Route,
        data: bytes,
        key: str | None,
        path: str,
        attempts: int,
        spool_id: int,
        origin: FallbackFile | None = None,
    ) -> None:
        p = self.p
        headers = self._headers_for(route, key)
        sig = p.preparer.header_signature(route, data)
        if sig is not None:
            assert route.sign is not None and route.sign.header is not None
            headers = {**headers, route.sign.header: sig}

        def on_retry(n: int) -> None:
            if spool_id:
                p.spool_ops.append((spool_id, n))
                p.q_signal.wake()

        def abandoned() -> bool:
            if spool_id and spool_id in p.evicted:
                p.evicted.discard(spool_id)
                return True
            return False

        outcome, status, attempts = self._exchange(
            route, path, headers, data, attempts, on_retry, abandoned
        )
        entry = Entry(data, key, path, spool_id, attempts, origin)
        if outcome == "ok":
            self._delivered(route, [entry])
        elif outcome == "rejected":
            self._fail(route, [entry], status, "rejected", attempts)
        elif outcome == "exhausted":
            self._fail(route, [entry], status, "retries_exhausted", attempts)
        elif outcome == "stopped" and p.spool is None and origin is None:
            self._fail(route, [entry], status, "shutdown", attempts)
        # stopped with a spool: the record stays there for the next run

    # ---- outcomes ---------------------------------------------------------------------------

    def _delivered(self, route: Route, entries: list[Entry]) -> None:
        p = self.p
        counters = p.counters
        if p.replay is not None:
            try:
                n = p.replay.write(route.key, [e.data for e in entries])
            except Exception:
                logger.exception("ingest_runtime: cannot write the replay file")
            else:
                counters.count("replay_written", n)
        self._after_send(route, entries, True, 200)  # before settling: flush() waits for hooks
        if p.spool is None and all(e.origin is None for e in entries):
            with counters.lock:  # the usual case: no spool bookkeeping, one update per batch
                counters.in_flight = len(self._flights)
                counters.delivered += len(entries)
                counters.settle_locked(len(entries))
            return
        for e in entries:  # files first: once flush() returns, a settled file is gone
            if e.origin is not None:
                e.origin.done()
        with counters.lock:
            counters.in_flight = len(self._flights)
            for e in entries:
                counters.delivered += 1
                if e.spool_id and e.spool_id in p.evicted:
                    p.evicted.discard(e.spool_id)  # dropped-and-counted already
                else:
                    counters.settle_locked()
        for e in entries:
            self._forget(e.spool_id)

    def _fail(
        self, route: Route, entries: list[Entry], status: int | None, reason: str, attempts: int
    ) -> None:
        """Items that will not be delivered now. Kept on disk when a directory is configured:
        undelivered ones (retries exhausted, shutdown) as fallback files for the next client,
        and those refused with a status in ``hold_statuses`` as held files for
        ``release_held()``. Otherwise counted drops."""
        if not entries:
            return
        p = self.p
        store, written = None, ""
        if reason in ("retries_exhausted", "shutdown"):
            store, written = p.fallback, "fallback_written"
        elif reason in ("rejected", "too_large") and status in p.hold_statuses:
            store, written = p.held, "held"
        if store is not None:
            try:
                store.write((route.key, e.data, e.key, e.path) for e in entries)
            except Exception:
                logger.exception("ingest_runtime: cannot write a %s file", store.kind)
                reason = "fallback_error"
            else:
                p.counters.count(written, len(entries))
                self._after_send(route, entries, False, status)
                for e in entries:
                    self._forget(e.spool_id)
                    if e.origin is not None:
                        e.origin.done()
                with p.counters.lock:
                    p.counters.settle_locked(len(entries))
                return
        self._after_send(route, entries, False, status)
        for e in entries:
            if e.origin is not None:
                e.origin.done()
            self._drop(route.key, e.data, e.key, status, reason, attempts, e.spool_id)

    def _after_send(self, route: Route, entries: list[Entry], ok: bool, status: int | None) -> None:
        hook = self.p.after_send
        if hook is None:
            return
        for e in entries:
            try:
                hook(route.key, hoisted_dict(route, e.data), ok, status)
            except Exception:
                self.p.counters.count("hook_errors")

    def _report_side_drops(self) -> None:
        p = self.p
        while p.pending_drops:
            p.reporter.callback(p.pending_drops.popleft())
        while p.evicted_drops:
            drop = p.evicted_drops.popleft()
            p.counters.add_drop("spool_full")
            p.reporter.callback(drop)

    def _forget(self, spool_id: int) -> None:
        if spool_id:
            self.p.spool_ops.append((spool_id, -1))
            self.p.q_signal.wake()

    def _drop(
        self,
        route_key: str,
        data: bytes,
        key: str | None,
        status: int | None,
        reason: str,
        attempts: int,
        spool_id: int = 0,
    ) -> None:
        p = self.p
        p.counters.add_drop(reason)
        self._forget(spool_id)
        p.reporter.callback(Drop(route_key, data, key, status, reason, attempts))

    def drain_leftovers(self) -> None:
        """Without a spool: what is still in memory at shutdown goes to the fallback directory
        (prepared first, so it is redacted) or is counted as dropped ("shutdown")."""
        p = self.p
        while p.staged:  # prepared already: into their batch buffers, or failed as below
            route, entry = p.staged.popleft()
            if route.batch is not None:
                p.buffers[route.key].append(entry)
            else:
                self._fail(route, [entry], None, "shutdown", 0)
        for rk in list(p.buffers):
            buf = p.buffers[rk]
            entries = buf[:]
            del buf[: len(entries)]
            p.buffer_bytes[rk] = 0
            self._fail(p.routes[rk], [e for e in entries if e.origin is None], None, "shutdown", 0)
        if p.fallback is None:
            drain_as_shutdown(p)
            return
        pending: dict[str, tuple[Route, list[Entry]]] = {}
        while True:
            try:
                route, data, key, path = decode_item(p.q.popleft())
            except IndexError:
                break
            prepared = prepare_or_drop(p, route, data, key)
            if prepared is not None:
                pending.setdefault(route.key, (route, []))[1].append(Entry(prepared, key, path))
        for route, entries in pending.values():
            self._fail(route, entries, None, "shutdown", 0)


def prepare_or_drop(p: Pipeline, route: Route, data: bytes, key: str | None) -> bytes | None:
    """Prepare one item (derive, redact, hook, sign); a failure or a hook drop is counted."""
    try:
        prepared = p.preparer.prepare(route, data)
    except Exception:
        count_prepare_error(p, route, data, key)
        return None
    if prepared is None:
        count_hook_drop(p, route, data, key)
    return prepared


def count_prepare_error(p: Pipeline, route: Route, data: bytes, key: str | None) -> None:
    """A recipe failed on this item (logged with its traceback): dropped as ``encode_error``."""
    logger.exception("ingest_runtime: cannot prepare an item of %s", route.key)
    p.counters.add_drop("encode_error")
    p.reporter.callback(Drop(route.key, data, key, None, "encode_error", 0))


def count_hook_drop(p: Pipeline, route: Route, data: bytes, key: str | None) -> None:
    """``before_send`` dropped the item: counted and reported like any other drop."""
    p.counters.add_drop("hook")
    p.reporter.callback(Drop(route.key, data, key, None, "hook", 0))


def drain_as_shutdown(p: Pipeline) -> None:
    """Count whatever is still queued in memory as dropped ("shutdown"); used without a spool."""
    while True:
        try:
            route, data, key, _ = decode_item(p.q.popleft())
        except IndexError:
            return
        p.counters.add_drop("shutdown")
        p.reporter.callback(Drop(route.key, data, key, None, "shutdown", 0))


class SpoolWriter(threading.Thread):
    """Moves accepted events from memory into the spool in group commits (one transaction per
    pass, at most ``SPOOL_COMMIT_INTERVAL`` apart) and feeds the worker in spool order.

    Memory stays bounded: once ``ready`` holds ``max_queue_size`` records, newer records live only
    on disk ("spilling") and are loaded back in chunks as the worker drains ``ready``.
    """

    def __init__(self, pipeline: Pipeline, spool: Spool, name: str, replay: bool) -> None:
        super().__init__(name=name, daemon=True)
        self.p = pipeline
        self.spool = spool
        self.replay = replay
        self.last_in_memory = 0

    def run(self) -> None:
        p = self.p
        try:
            if self.replay:
                n = self.spool.count()
                with p.counters.lock:
                    p.counters.replayed += n
                p.spilling = n > 0
        except Exception:
            logger.exception("ingest_runtime: cannot open spool; delivering from memory only")
        finally:
            p.load_done.set()
        while True:
            stopping = p.writer_stop.is_set()
            self._reload()
            worked = self._commit()
            if stopping:
                while self._commit():
                    pass
                return
            if worked:
                p.writer_stop.wait(config.SPOOL_COMMIT_INTERVAL)
            else:
                p.q_signal.sleep((p.q, p.spool_ops), p.writer_stop, config.IDLE_WAIT)

    def _reload(self) -> None:
        p = self.p
        room = min(p.load_chunk, p.max_queue_size - len(p.ready))
        if not p.spilling or room < max(1, p.load_chunk // 2):
            return
        try:
            recs = self.spool.load(after_id=self.last_in_memory, limit=room)
        except Exception:
            logger.exception("ingest_runtime: spool read failed")
            return
        if recs:
            self.last_in_memory = recs[-1].spool_id
            p.ready.extend(recs)
            p.worker_signal.wake()
        if len(recs) < room:
            p.spilling = False

    def _commit(self) -> bool:
        p = self.p
        q = p.q
        added: list[Record] = []
        n = min(len(q), 4 * config.SPOOL_LOAD_CHUNK)
        for _ in range(n):
            route, data, key, path = decode_item(q.popleft())
            prepared = prepare_or_drop(p, route, data, key)  # redacted before it is stored
            if prepared is not None:
                added.append(Record(route.key, prepared, key or new_uuid4(), path))
        removed: list[int] = []
        attempts: list[tuple[int, int]] = []
        while p.spool_ops:
            sid, n_att = p.spool_ops.popleft()
            if n_att < 0:
                removed.append(sid)
            else:
                attempts.append((sid, n_att))
        if not added and not removed and not attempts:
            return False
        try:
            evicted = self.spool.commit(added, removed, attempts)
        except Exception:
            logger.exception("ingest_runtime: spool commit failed; delivering from memory only")
            for rec in added:
                rec.spool_id = 0
            p.ready.extend(added)
            p.worker_signal.wake()
            return True
        if added:
            with p.counters.lock:
                p.counters.spooled += len(added)
            if p.spilling or len(p.ready) + len(added) > p.max_queue_size:
                p.spilling = True
            else:
                p.ready.extend(added)
                self.last_in_memory = added[-1].spool_id
        for rec in evicted:
            if rec.spool_id <= self.last_in_memory:
                p.evicted.add(rec.spool_id)  # the worker skips it when it gets there
            p.evicted_drops.append(
                Drop(rec.route_key, rec.body, rec.key, None, "spool_full", rec.attempts)
            )
        p.worker_signal.wake()
        return True


def start_threads(p: Pipeline, service: str, replay: bool) -> tuple[Worker, SpoolWriter | None]:
    worker = Worker(p, f"ingest-runtime-{service}")
    writer = None
    if p.spool is not None:
        writer = SpoolWriter(p, p.spool, f"ingest-runtime-{service}-spool", replay)
        writer.start()
    worker.start()
    return worker, writer


@dataclass(frozen=True, slots=True)
class _Flight:
    """A batch request written and not answered yet (``Worker._flights``)."""

    route: Route
    group: list[Entry]
    body: bytes
    headers: Mapping[str, str]
    request: InFlight
