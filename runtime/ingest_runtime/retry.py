"""Which failures are retried and how long to wait: pure functions, unit-testable with a seed."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Set as AbstractSet

from . import config

__all__ = ["backoff_delay", "is_retryable", "next_delay", "parse_retry_after"]


def is_retryable(status: int, transient: AbstractSet[int] = config.TRANSIENT_STATUSES) -> bool:
    """Every 5xx and the ``transient`` statuses (408, 429 by default) are worth another attempt;
    any other status would fail again identically."""
    return 500 <= status <= 599 or status in transient


def backoff_delay(
    attempt: int,
    rng: random.Random,
    base: float = config.BACKOFF_BASE,
    cap: float = config.BACKOFF_CAP,
) -> float:
    """Full jitter: ``uniform(0, min(cap, base * 2**(attempt-1)))`` for failed attempt n >= 1."""
    exp = min(attempt - 1, 62)
    return rng.uniform(0.0, min(cap, base * (2.0**exp)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP-date), clamped to
    ``[0, RETRY_AFTER_MAX]``; None when absent or unparseable (garbage is ignored, not fatal)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return max(0.0, min(config.RETRY_AFTER_MAX, seconds))


def next_delay(
    attempt: int,
    retry_after: float | None,
    rng: random.Random,
    base: float = config.BACKOFF_BASE,
    cap: float = config.BACKOFF_CAP,
    schedule: tuple[float, ...] = (),
    jitter: float = 0.0,
) -> float:
    """The wait after failed attempt ``attempt``, at least ``Retry-After``: with a
    ``schedule``, its ``attempt``-th entry (the last repeats) plus up to ``jitter`` of it;
    otherwise full-jitter exponential backoff between ``base`` and ``cap``."""
    if schedule:
        step = schedule[min(attempt, len(schedule)) - 1]
        delay = step * (1.0 + rng.uniform(0.0, jitter)) if jitter else step
    else:
        delay = backoff_delay(attempt, rng, base, cap)
    if retry_after is not None and retry_after > delay:
        return retry_after
    return delay
