"""Scripted and random fault injection for the next non-admin responses.

Tests use this to drive a client's retry logic: a list of items is consumed one per request,
in order; a `rates` map draws faults at random from a seeded generator.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fault:
    """One scripted outcome: handle normally, answer a status, or drop the connection."""

    kind: str  # "pass" | "status" | "reset"
    status: int = 200
    retry_after: float | None = None
    retry_after_date: bool = False

    def describe(self) -> Any:
        if self.kind != "status":
            return self.kind
        if self.retry_after is None:
            return self.status
        out: dict[str, Any] = {"status": self.status, "retry_after": self.retry_after}
        if self.retry_after_date:
            out["retry_after_date"] = True
        return out


PASS = Fault("pass")


def parse_fault(item: Any) -> Fault:
    """Parse one script item; ValueError explains a bad one."""
    if item in ("pass", None):
        return PASS
    if item == "reset":
        return Fault("reset")
    if isinstance(item, bool):
        raise ValueError(f"unsupported fault item {item!r}")
    if isinstance(item, int | str) and str(item).isdigit():
        return _status(int(item), None, False)
    if isinstance(item, dict) and "status" in item:
        retry = item.get("retry_after")
        if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int | float)):
            raise ValueError("retry_after must be a number of seconds")
        return _status(int(item["status"]), retry, bool(item.get("retry_after_date", False)))
    raise ValueError(f"unsupported fault item {item!r}")


def _status(status: int, retry_after: float | None, as_date: bool) -> Fault:
    if not 100 <= status <= 599:
        raise ValueError(f"status {status} is not an HTTP status")
    if 200 <= status < 300 and retry_after is None:
        return PASS
    return Fault("status", status, retry_after, as_date)


class FaultPlan:
    """The fault configuration: a script first, then random rates, else pass."""

    def __init__(self) -> None:
        self.script: deque[Fault] = deque()
        self.rates: list[tuple[float, Fault]] = []
        self._rng = random.Random(0)
        self._config: dict[str, Any] = {}

    def configure(self, payload: Any) -> None:
        """Replace the configuration with a list (script) or {"script", "rates", "seed"}."""
        if isinstance(payload, list):
            payload = {"script": payload}
        if not isinstance(payload, dict):
            raise ValueError("expected a JSON list of fault items or an object")
        script = deque(parse_fault(item) for item in payload.get("script", []) or [])
        rates: list[tuple[float, Fault]] = []
        total = 0.0
        for key, rate in (payload.get("rates") or {}).items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0:
                raise ValueError(f"rate for {key!r} must be a non-negative number")
            total += float(rate)
            rates.append((total, parse_fault(key)))
        if total > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        self.script, self.rates = script, rates
        self._rng = random.Random(payload.get("seed"))
        self._config = payload

    def clear(self) -> None:
        self.configure([])

    def next(self) -> Fault:
        """The outcome for the next non-admin request (consumes one script item)."""
        if self.script:
            return self.script.popleft()
        if self.rates:
            draw = self._rng.random()
            for threshold, fault in self.rates:
                if draw < threshold:
                    return fault
        return PASS

    def describe(self) -> dict[str, Any]:
        return {
            "pending": [f.describe() for f in self.script],
            "rates": self._config.get("rates") or {},
            "seed": self._config.get("seed"),
        }
