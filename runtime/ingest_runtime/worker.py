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
from collections import deque
from collections.abc import Mapping
from typing import Any

from . import config
from .ids import new_uuid4
from .retry import is_retryable, next_delay, parse_retry_after
from .routes import QueueItem, Route, base_headers, decode_item
from .spool import Record, Spool
from .stats import Counters, Drop, DropReporter
from .transport import Transport

__all__ = ["Pipeline", "Signal", "SpoolWriter", "Worker"]

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
        max_queue_size: int,
        timeout: float,
    ) -> None:
        self.routes = routes
        self.transport = transport
        self.spool = spool
        self.counters = counters
        self.reporter = reporter
        self.token = token
        self.user_agent = user_agent
        self.max_attempts = max(1, max_attempts)
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
    """Delivers one event at a time, in order; a retryable failure pauses the pipeline."""

    def __init__(self, pipeline: Pipeline, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.p = pipeline
        self._headers: dict[str, dict[str, str]] = {}

    def run(self) -> None:
        p = self.p
        src: deque[Any] = p.ready if p.spool is not None else p.q
        signal = p.worker_signal
        reporter = p.reporter
        while not p.stop.is_set():
            if p.pending_drops or p.evicted_drops:
                self._report_side_drops()
            try:
                item = src.popleft()
            except IndexError:
                reporter.maybe_log()
                if p.spilling:
                    p.q_signal.wake()
                signal.sleep((src, p.pending_drops, p.evicted_drops), p.stop, config.IDLE_WAIT)
                continue
            try:
                if isinstance(item, Record):
                    self._deliver_record(item)
                else:
                    route, data, key, path = decode_item(item)
                    self._deliver(route, data, key, path or route.path, 0, 0)
            except Exception:  # never let one bad event kill delivery
                logger.exception("ingest_runtime worker: unexpected error")
            if p.spilling and len(src) <= p.load_chunk // 2:
                p.q_signal.wake()
        self._report_side_drops()
        if p.spool is None:
            drain_as_shutdown(p)
        reporter.maybe_log()

    def _report_side_drops(self) -> None:
        p = self.p
        while p.pending_drops:
            p.reporter.callback(p.pending_drops.popleft())
        while p.evicted_drops:
            drop = p.evicted_drops.popleft()
            p.counters.add_drop("spool_full")
            p.reporter.callback(drop)

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
        self._deliver(route, rec.body, rec.key, rec.path or route.path, rec.attempts, rec.spool_id)

    def _headers_for(self, route: Route, key: str | None) -> dict[str, str]:
        base = self._headers.get(route.key)
        if base is None:
            base = self._headers[route.key] = base_headers(route, self.p.token, self.p.user_agent)
        if key is not None and route.idempotency_field is not None:
            return {**base, "Idempotency-Key": key}
        return base

    def _deliver(
        self, route: Route, data: bytes, key: str | None, path: str, attempts: int, spool_id: int
    ) -> None:
        p = self.p
        counters = p.counters
        headers = self._headers_for(route, key)
        while True:
            status: int | None = None
            retry_after: float | None = None
            counters.in_flight = 1
            try:
                resp = p.transport.send(route.method, path, headers, data, p.timeout)
            except Exception:
                pass  # network failure: retryable, status None
            else:
                status = resp.status
                if 200 <= status < 300:
                    with counters.lock:
                        counters.in_flight = 0
                        counters.delivered += 1
                        if spool_id in p.evicted:
                            p.evicted.discard(spool_id)  # dropped-and-counted already
                        else:
                            counters.settle_locked()
                    self._forget(spool_id)
                    return
                if not is_retryable(status):
                    counters.in_flight = 0
                    self._drop(route.key, data, key, status, "rejected", attempts + 1, spool_id)
                    return
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
            counters.in_flight = 0
            attempts += 1
            if spool_id and spool_id in p.evicted:
                p.evicted.discard(spool_id)
                return
            if attempts >= p.max_attempts:
                self._drop(route.key, data, key, status, "retries_exhausted", attempts, spool_id)
                return
            with counters.lock:
                counters.retried += 1
            if spool_id:
                p.spool_ops.append((spool_id, attempts))
                p.q_signal.wake()
            if p.stop.wait(next_delay(attempts, retry_after, p.rng)):
                if p.spool is None:
                    self._drop(route.key, data, key, status, "shutdown", attempts)
                return  # with a spool the record stays there for the next run

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
            added.append(Record(route.key, data, key or new_uuid4(), path))
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
