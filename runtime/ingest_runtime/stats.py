"""Counters, the ``Drop`` record handed to ``on_drop``, and the rate-limited drop summary."""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from . import config

__all__ = ["DROP_REASONS", "Counters", "Drop", "Stats"]

logger = logging.getLogger("ingest_runtime")

#: Every way an event can be lost. Each is counted; none is silent.
DROP_REASONS = (
    "queue_full",
    "rejected",
    "retries_exhausted",
    "spool_full",
    "shutdown",
    "closed",
    "unknown_route",
    "encode_error",
    "too_large",
    "hook",
    "fallback_error",
)

#: Drops counted on the caller's thread without a lock (itertools.count is atomic under the GIL).
CALLER_REASONS = ("queue_full", "closed", "encode_error")


@dataclass(frozen=True, slots=True)
class Drop:
    """One lost event, as passed to ``on_drop``."""

    route: str
    body: bytes
    key: str | None
    status: int | None
    reason: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Stats:
    """Point-in-time snapshot of a client's delivery counters."""

    enqueued: int
    delivered: int
    retried: int
    dropped: int
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    spooled: int = 0
    replayed: int = 0
    in_flight: int = 0
    #: Batched routes: requests that got a 2xx (each carries many items).
    batches_sent: int = 0
    #: Redaction floor matches replaced, per kind (``email``, ``aws_access_key``, ...).
    redacted_by_kind: dict[str, int] = field(default_factory=dict)
    #: Items written to / loaded back from the local fallback directory.
    fallback_written: int = 0
    fallback_replayed: int = 0
    #: Items the server refused with a status in ``hold_statuses``, kept in the fallback
    #: directory for ``release_held()`` instead of dropped.
    held: int = 0
    #: Items appended to the replay file (every item sent with a 2xx).
    replay_written: int = 0
    #: Exceptions raised by ``before_send`` / ``after_send`` (swallowed).
    hook_errors: int = 0


def count_value(counter: itertools.count[int]) -> int:
    """Current value of an ``itertools.count`` without advancing it."""
    return int(repr(counter)[6:-1])


class Counters:
    """Counters shared by the caller threads, the worker and the spool writer.

    Caller-side counters are ``itertools.count`` objects (atomic ``next()``, no lock). Background
    counters are plain ints changed under ``lock``, which only background threads and ``stats()``
    take.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted = itertools.count()
        self.caller_drops = {reason: itertools.count() for reason in CALLER_REASONS}
        self.delivered = 0
        self.retried = 0
        self.settled = 0  # accepted or replayed events that are now delivered or dropped
        self.spooled = 0
        self.replayed = 0  # events found in the spool at start-up (counted once, when found)
        self.in_flight = 0
        self.fallback_replayed = 0  # items loaded from fallback or held files (flush target)
        self.extra: dict[str, int] = {}  # batches_sent, fallback_written, hook_errors, ...
        self.drops: dict[str, int] = {}
        # flush() support: the worker sets ``settle_event`` once ``settled`` reaches ``wake_at``
        # (no polling, so a waiting flush does not steal the GIL from the worker).
        self.wake_at = sys.maxsize
        self.settle_event = threading.Event()

    def settle_locked(self, n: int = 1) -> None:
        """Count ``n`` finished events; call with ``lock`` held."""
        self.settled += n
        if self.settled >= self.wake_at:
            self.settle_event.set()

    def count(self, name: str, n: int = 1) -> None:
        with self.lock:
            self.extra[name] = self.extra.get(name, 0) + n

    def add_drop(self, reason: str, settles: bool = True) -> None:
        with self.lock:
            self.drops[reason] = self.drops.get(reason, 0) + 1
            if settles:
                self.settle_locked()

    def dropped_by_reason(self) -> dict[str, int]:
        with self.lock:
            out = dict(self.drops)
        for reason, counter in self.caller_drops.items():
            n = count_value(counter)
            if n:
                out[reason] = out.get(reason, 0) + n
        return out


class DropReporter:
    """Calls ``on_drop`` (exceptions swallowed) and logs at most one summary per interval."""

    def __init__(self, counters: Counters, on_drop: Callable[[Drop], None] | None) -> None:
        self._counters = counters
        self._on_drop = on_drop
        self._logged: dict[str, int] = {}
        self._next_log = 0.0

    def callback(self, drop: Drop) -> None:
        if self._on_drop is None:
            return
        with contextlib.suppress(Exception):
            self._on_drop(drop)

    def maybe_log(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_log:
            return
        current = self._counters.dropped_by_reason()
        delta = {r: n - self._logged.get(r, 0) for r, n in current.items()}
        delta = {r: n for r, n in delta.items() if n > 0}
        if delta:
            self._logged = current
            self._next_log = now + config.DROP_LOG_INTERVAL
            logger.warning("ingest_runtime dropped events since last report: %s", delta)
