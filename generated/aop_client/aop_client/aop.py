"""aop-client 0.1.0's Python surface, on top of the generated client.

`ClientConfig`, `TraceBuilder` and `AOPClient` keep the seed's names and calls; delivery is the
runtime's: `emit_event()` validates and queues (no HTTP on the emitting thread), the worker
batches, redacts, then signs, partial batches go out every `batch_interval`, `stop()` drains
everything, and batches that cannot be delivered go to the fallback directory for the next
client to replay.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ingest_runtime import UNSET
from pydantic import BaseModel
from typing_extensions import Self

from .toon_parser import ToonBuilder
from .v1 import AopApiClient
from .v1 import TraceEvent as WireTraceEvent

__all__ = ["AOPClient", "ClientConfig", "TraceBuilder", "TraceEvent"]
#: The package's `TraceEvent` is the seed's (below); `aop_client.v1.TraceEvent` is the wire model.
__replaces__ = ["TraceEvent"]

Event = dict[str, Any]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


@dataclass
class ClientConfig:
    """Client settings; `from_env()` reads the `AOP_*` variables."""

    api_key: str | None = None
    base_url: str = "http://localhost:8000"
    agent_id: int | None = None
    run_id: str | None = None
    seed: int | None = None
    session_id: str | None = None
    batch_size: int = 100
    batch_interval: float = 5.0
    max_buffer_size: int = 1000
    max_retries: int = 3
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 60.0
    timeout: float = 30.0
    verify_ssl: bool = True
    enable_local_fallback: bool = True
    local_fallback_dir: str = "./aop_fallback"
    enable_local_replay: bool = False
    replay_dir: str = "./aop_replay"
    org_salt_key: str | None = None
    #: The seed's streaming settings are accepted and checked; the wired server has no
    #: streaming ingest (its WebSockets are viewers), so events always go by batch.
    enable_streaming: bool = False
    streaming_url: str | None = None
    redaction_hook: Callable[[Event], Event] | None = None
    pre_send_hook: Callable[[Event], None] | None = None
    post_send_hook: Callable[[Event, bool], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> ClientConfig:
        env = os.environ
        agent = env.get("AOP_AGENT_ID")
        return cls(
            api_key=env.get("AOP_API_KEY"),
            base_url=env.get("AOP_BASE_URL", "http://localhost:8000"),
            agent_id=int(agent) if agent else None,
            batch_size=int(env.get("AOP_BATCH_SIZE", "100")),
            batch_interval=float(env.get("AOP_BATCH_INTERVAL", "5.0")),
            enable_streaming=env.get("AOP_ENABLE_STREAMING", "").lower() == "true",
            streaming_url=env.get("AOP_STREAMING_URL"),
            enable_local_replay=env.get("AOP_ENABLE_LOCAL_REPLAY", "").lower() == "true",
            replay_dir=env.get("AOP_REPLAY_DIR", "./aop_replay"),
            org_salt_key=env.get("AOP_ORG_SALT_KEY"),
        )

    def validate(self) -> tuple[bool, str]:
        if not self.api_key:
            return False, "api_key is required"
        if not self.base_url:
            return False, "base_url is required"
        if self.agent_id is None:
            return False, "agent_id is required"
        if self.batch_size <= 0 or self.batch_interval <= 0:
            return False, "batch_size and batch_interval must be positive"
        if self.enable_streaming and not self.streaming_url:
            return False, "streaming_url is required when streaming is enabled"
        if not 0 < self.retry_backoff_base <= self.retry_backoff_max:
            return False, "retry_backoff_base must be positive and at most retry_backoff_max"
        return True, ""


class TraceEvent(WireTraceEvent):
    """The seed's `TraceEvent`: the wire model, validated like it, built the seed's way
    (`TraceEvent(seq, timestamp, actor, type, payload, meta, signature="")`; the wire names
    `t=` and `meta.signature` work too), with `to_dict()` and `to_json()`."""

    def __init__(
        self,
        seq: int | None = None,
        timestamp: str | None = None,
        actor: str | None = None,
        type: str | None = None,  # the seed's argument name
        payload: dict[str, Any] | None = None,
        meta: dict[str, Any] | BaseModel | None = None,
        signature: str = "",
        **data: Any,
    ) -> None:
        given = {"seq": seq, "t": timestamp, "actor": actor, "type": type, "payload": payload}
        fields: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if meta is not None:
            fields["meta"] = meta
        fields.update(data)
        if signature:  # as on the wire: inside meta
            current = fields.get("meta")
            if isinstance(current, BaseModel):
                current = current.model_dump(exclude_none=True)
            fields["meta"] = {**(current or {}), "signature": signature}
        super().__init__(**fields)

    @property
    def timestamp(self) -> str:
        return self.t

    @property
    def signature(self) -> str:
        return self.meta.signature or ""

    def to_dict(self) -> dict[str, Any]:
        """The wire form: key `t`, the signature (if any) inside `meta`, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self, pretty: bool = False) -> str:
        return json.dumps(self.to_dict(), indent=2 if pretty else None)


def event_fields(event: WireTraceEvent) -> dict[str, Any]:
    """A built event as the keyword arguments of the generated `events.*` methods."""
    return {
        "seq": event.seq,
        "t": event.t,
        "actor": event.actor,
        "type": event.type,
        "payload": event.payload,
        "meta": event.meta,
    }


class TraceBuilder:
    """Creates numbered, validated trace events (and keeps them, for `get_trace()`)."""

    def __init__(
        self,
        run_id: str,
        agent_id: int,
        seed: int | None = None,
        session_id: str | None = None,
        initial_seq: int = 1,
    ) -> None:
        self.run_id = run_id
        self.agent_id = agent_id
        self.seed = seed
        self.session_id = session_id
        self._seq = initial_seq
        self._events: list[TraceEvent] = []

    def _event(self, actor: str, event_type: str, payload: Event, meta: Event) -> TraceEvent:
        base: Event = {"run_id": self.run_id, "agent_id": self.agent_id}
        if self.seed is not None:
            base["seed"] = self.seed
        if self.session_id is not None:
            base["session_id"] = self.session_id
        event = TraceEvent.model_validate(
            {
                "seq": self._seq,
                "t": _now(),
                "actor": actor,
                "type": event_type,
                "payload": payload,
                "meta": {**base, **meta},
            }
        )
        self._seq += 1
        self._events.append(event)
        return event

    def create_reasoning(
        self,
        goal: str,
        steps: list[Event],
        safety_checks: list[Event],
        uncertainty: str = "medium",
        actor: str = "agent",
        **meta: Any,
    ) -> TraceEvent:
        payload = ToonBuilder.build_reasoning_payload(goal, steps, safety_checks, uncertainty)
        return self._event(actor, "reasoning", payload, meta)

    def create_action_request(
        self,
        action: str,
        params: Event,
        context: Event | None = None,
        actor: str = "agent",
        **meta: Any,
    ) -> TraceEvent:
        payload = ToonBuilder.build_action_request_payload(action, params, context)
        return self._event(actor, "action_request", payload, meta)

    def create_action_response(
        self,
        status: str,
        data: Event,
        latency_ms: int | None = None,
        policy_flags: list[str] | None = None,
        actor: str = "tool",
        **meta: Any,
    ) -> TraceEvent:
        timing = {"latency_ms": latency_ms, "policy_flags": policy_flags}
        payload = ToonBuilder.build_action_response_payload(status, data, timing)
        return self._event(actor, "action_response", payload, meta)

    def create_final_output(
        self, text: str, structured: Event | None = None, actor: str = "agent", **meta: Any
    ) -> TraceEvent:
        payload = ToonBuilder.build_final_output_payload(text, structured)
        return self._event(actor, "final_output", payload, meta)

    def create_error(
        self,
        error_type: str,
        message: str,
        code: str,
        details: Event | None = None,
        recoverable: bool = True,
        actor: str = "system",
        **meta: Any,
    ) -> TraceEvent:
        payload = ToonBuilder.build_error_payload(error_type, message, code, details, recoverable)
        return self._event(actor, "error", payload, meta)

    def create_custom(self, actor: str, event_type: str, payload: Event, **meta: Any) -> TraceEvent:
        """Any actor/type the spec allows; others raise `pydantic.ValidationError` here."""
        return self._event(actor, event_type, payload, meta)

    def get_events(self) -> list[TraceEvent]:
        return list(self._events)

    def get_event_count(self) -> int:
        return len(self._events)

    def reset(self, keep_sequence: bool = False) -> None:
        self._events.clear()
        if not keep_sequence:
            self._seq = 1

    def export_trace(self) -> list[Event]:
        return [e.to_dict() for e in self._events]

    def export_trace_json(self, pretty: bool = False) -> str:
        return json.dumps(self.export_trace(), indent=2 if pretty else None)


def _unverified_client(timeout: float) -> Any:
    """`verify_ssl=False`: an httpx client that skips certificate checks (the user's choice)."""
    import httpx

    return httpx.Client(verify=False, timeout=timeout)


class AOPClient:
    """The seed's client: `start()`, `emit_event()`, `stop()`, `finalize()`, `get_*()`."""

    def __init__(self, config: ClientConfig) -> None:
        ok, reason = config.validate()
        if not ok:
            raise ValueError(f"Invalid configuration: {reason}")
        assert config.agent_id is not None  # checked by validate()
        self.config = config
        self.run_id = config.run_id or str(uuid.uuid4())
        self.trace_builder = TraceBuilder(
            self.run_id, config.agent_id, config.seed, config.session_id
        )
        self._emitted = 0
        self._sent = 0
        self._failed = 0
        self._streamed = 0
        self._started = False
        self._http = None if config.verify_ssl else _unverified_client(config.timeout)
        self.api = AopApiClient(
            base_url=config.base_url,
            token=config.api_key,
            run_id=self.run_id,
            agent_id=config.agent_id,
            signing_key=config.org_salt_key,
            batch_max_items=config.batch_size,
            flush_interval=config.batch_interval,
            max_attempts=config.max_retries + 1,
            backoff_base=config.retry_backoff_base,
            backoff_cap=config.retry_backoff_max,
            # The seed's waits: min(base * 2**n, max), i.e. 1, 2, 4 s by default, no jitter.
            backoff_schedule=tuple(
                min(config.retry_backoff_base * 2.0**n, config.retry_backoff_max)
                for n in range(max(1, config.max_retries))
            ),
            http_client=self._http,
            max_queue_size=config.max_buffer_size,
            timeout=config.timeout,
            fallback_dir=config.local_fallback_dir if config.enable_local_fallback else None,
            before_send=self._before_send,
            after_send=self._after_send,
        )

    def _before_send(self, route: str, event: Event) -> Event | None:
        if self.config.redaction_hook is not None:
            event = self.config.redaction_hook(event)
        if self.config.pre_send_hook is not None:
            self.config.pre_send_hook(event)
        return event

    def _after_send(self, route: str, event: Event, ok: bool, status: int | None) -> None:
        if route == "events.stream":  # a hybrid client's live copy (see streaming.py)
            self._streamed += ok
            return
        if ok:
            self._sent += 1
        else:
            self._failed += 1
        if self.config.post_send_hook is not None:
            self.config.post_send_hook(event, ok)

    def start(self) -> None:
        """Create (or confirm) the run on the server, so it accepts this run's batches."""
        if not self._started:
            self.api.runs.create(
                agent_id=self.trace_builder.agent_id,
                run_id=self.run_id,
                seed=UNSET if self.config.seed is None else self.config.seed,  # absent: random
            )
            self._started = True

    def emit_event(self, event: WireTraceEvent) -> None:
        """Queue one event; the background worker batches, signs and sends it."""
        self.api.events.emit(**event_fields(event))
        self._emitted += 1

    def stop(self, timeout: float = 10.0) -> None:
        """Send everything queued (bounded by `timeout`), stop, write the replay file."""
        self.api.flush(timeout=timeout)
        self.api.close(timeout=min(timeout, 2.0))
        if self._http is not None:
            self._http.close()
        if self.config.enable_local_replay:
            self._write_replay()

    def finalize(self) -> None:
        """Send everything queued, then finalize the run on the server."""
        self.api.flush(timeout=self.config.timeout)
        self.api.runs.finalize(run_id=self.run_id)

    def get_trace(self) -> list[Event]:
        return self.trace_builder.export_trace()

    def get_trace_json(self, pretty: bool = False) -> str:
        return self.trace_builder.export_trace_json(pretty)

    def get_stats(self) -> dict[str, Any]:
        stats = self.api.stats()
        return {
            "events_emitted": self._emitted,
            "events_sent": self._sent,
            "events_failed": self._failed,
            "events_streamed": self._streamed,
            "events_dropped": stats.dropped,
            "batches_sent": stats.batches_sent,
            "fallback_saves": stats.fallback_written,
            "buffer_size": stats.queued,
            "run_id": self.run_id,
            "event_count": self.trace_builder.get_event_count(),
        }

    def _write_replay(self) -> Path:
        folder = Path(self.config.replay_dir)
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d_%H%M%S")
        path = folder / f"replay_{self.run_id}_{stamp}.json"
        record = {
            "run_id": self.run_id,
            "timestamp": _now(),
            "event_count": self.trace_builder.get_event_count(),
            "metadata": {
                "agent_id": self.trace_builder.agent_id,
                "seed": self.config.seed,
                "session_id": self.config.session_id,
                "stats": self.get_stats(),
            },
            "events": self.get_trace(),
        }
        path.write_text(json.dumps(record, indent=2), encoding="utf-8")
        return path

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
