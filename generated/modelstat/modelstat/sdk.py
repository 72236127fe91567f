"""modelstat-sdk 0.0.1's Python surface, on top of the generated client.

`Config`, `Mode`, `LlmCall`, `ToolCallInput` and `Client` keep the seed's names and calls.
`record()` turns a call into one item and queues it; ids (`source_event_id`, `batch_id`,
`external_call_id`), timestamps, redaction and tool-argument hashing all happen on the
background worker. Tool arguments are never sent: the worker replaces them by their hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from ingest_runtime import MemoryTransport, Redactor, Transport
from typing_extensions import Self

from .v1 import GitContext, ModelstatIngestClient, TokenUsage

__all__ = [
    "DEFAULT_DAEMON_URL",
    "BillingMode",
    "Client",
    "Config",
    "EventKind",
    "FakeTransport",
    "LlmCall",
    "Mode",
    "Redacted",
    "RedactionPolicy",
    "ToolCallInput",
    "ToolCallStatus",
    "redact",
]

DEFAULT_DAEMON_URL = "http://127.0.0.1:4319/v1/ingest"
EXCERPT_SEPARATOR = "\n---\n"
_ARGS_PLACEHOLDER = "args:"  # tool args travel to the worker as "args:<json>" in args_hash


@dataclass(frozen=True)
class Redacted:
    """What `redact()` returns: the text, and how many secrets and PII matches it replaced."""

    text: str
    secrets: int
    pii: int


_PII_KINDS = frozenset({"email", "card", "home_path"})


def redact(text: str) -> Redacted:
    """The redaction floor on one text, exactly as the worker applies it to excerpts."""
    redactor = Redactor()
    out = redactor.redact(text)
    pii = sum(n for kind, n in redactor.counts.items() if kind in _PII_KINDS)
    return Redacted(out, sum(redactor.counts.values()) - pii, pii)


class EventKind(str, Enum):
    """`LlmCall.kind` values (the spec's `RawEvent.kind` enum); plain strings work too."""

    USER_MESSAGE = "user_message"
    ASSISTANT_MESSAGE = "assistant_message"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    SUMMARY = "summary"


class BillingMode(str, Enum):
    SUBSCRIPTION = "subscription"
    API = "api"


class ToolCallStatus(str, Enum):
    SUCCESS = "success"
    ERROR = "error"
    DENIED = "denied"
    TIMEOUT = "timeout"
    UNKNOWN = "unknown"


class FakeTransport(MemoryTransport):
    """The seed's test transport: keeps every request; `batches()` gives the decoded bodies."""

    def batches(self) -> list[dict[str, Any]]:
        return [json.loads(request.body) for request in self.requests]


class RedactionPolicy(str, Enum):
    FLOOR = "floor"
    NONE = "none"


@dataclass(frozen=True)
class Mode:
    kind: str
    url: str | None = None
    base_url: str | None = None
    raw: bool = False

    @classmethod
    def local_daemon(cls, url: str = DEFAULT_DAEMON_URL) -> Mode:
        return cls("local_daemon", url=url)

    @classmethod
    def remote(cls, base_url: str, raw: bool = False) -> Mode:
        return cls("remote", base_url=base_url.rstrip("/"), raw=raw)

    def endpoint(self) -> str:
        if self.kind == "local_daemon":
            return self.url or DEFAULT_DAEMON_URL
        return f"{self.base_url}/v1/ingest/raw" if self.raw else f"{self.base_url}/v1/ingest"

    def server(self) -> str:
        """The base URL the generated client posts to (the path comes from the spec)."""
        endpoint = self.endpoint()
        return endpoint.removesuffix("/raw").removesuffix("/v1/ingest")


@dataclass
class Config:
    ingest_key: str
    agent: str
    device_id: str = "dev_sdk"
    client_version: str = "python-sdk/0.0.1"
    mode: Mode = field(default_factory=Mode.local_daemon)
    redaction: RedactionPolicy = RedactionPolicy.FLOOR
    buffer_capacity: int = 4096
    flush_interval: float = 2.0
    flush_max_batch: int = 256
    #: Not in the seed: where batches refused with 400/413/415/422 are held (see
    #: ``Client.release_held``) and where undelivered calls wait for the next client.
    fallback_dir: str | None = None

    def with_remote(self, base_url: str, raw: bool = False) -> Config:
        return replace(self, mode=Mode.remote(base_url, raw))

    def with_device_id(self, device_id: str) -> Config:
        return replace(self, device_id=device_id)

    def sends_full_turns(self) -> bool:
        return self.mode.raw


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class ToolCallInput:
    name: str
    status: str
    server: str = "builtin"
    args: Any = None
    result_bytes: int = 0
    started_at: datetime = field(default_factory=_now)
    ended_at: datetime | None = None
    command_families: list[str] = field(default_factory=list)


@dataclass
class LlmCall:
    provider: str
    session_id: str
    model: str | None = None
    kind: str = "assistant_message"
    tokens: TokenUsage = field(default_factory=TokenUsage)
    started_at: datetime = field(default_factory=_now)
    duration_ms: int | None = None
    prompt: str | None = None
    completion: str | None = None
    cwd: str | None = None
    git: GitContext | None = None
    billing: str | None = None
    tool_calls: list[ToolCallInput] = field(default_factory=list)

    def model_(self, model: str) -> LlmCall:
        self.model = model
        return self

    def with_tokens(self, tokens: TokenUsage) -> LlmCall:
        self.tokens = tokens
        return self

    def text(self, prompt: str | None, completion: str | None) -> LlmCall:
        self.prompt, self.completion = prompt, completion
        return self


def _excerpt(call: LlmCall) -> str | None:
    prompt, completion = call.prompt, call.completion
    if prompt and completion:
        return prompt + EXCERPT_SEPARATOR + completion
    return prompt or completion or None


def _tool_call_fields(call: LlmCall, agent: str) -> list[dict[str, Any]]:
    """The wire fields of each tool call (args travel as a placeholder, hashed on the worker)."""
    return [
        {
            "session_id": call.session_id,
            "agent": agent,
            "server": tool.server,
            "name": tool.name,
            "call_index": index,
            "started_at": tool.started_at.timestamp(),
            "ended_at": tool.ended_at.timestamp() if tool.ended_at else None,
            "status": tool.status,
            "args_hash": _ARGS_PLACEHOLDER
            + ("" if tool.args is None else json.dumps(tool.args, separators=(",", ":"))),
            "signature_hash": "none",
            "args_bytes": 0,
            "result_bytes": tool.result_bytes,
            "model": call.model,
            "command_families": tool.command_families[:3] or None,
        }
        for index, tool in enumerate(call.tool_calls)
    ]


def _hash_tool_args(route: str, item: dict[str, Any]) -> dict[str, Any]:
    """On the worker: replace each tool call's arguments by their size and hashes."""
    for call in item.get("tool_calls") or []:
        text = str(call.get("args_hash", ""))
        if not text.startswith(_ARGS_PLACEHOLDER):
            continue
        raw = text[len(_ARGS_PLACEHOLDER) :]
        args = json.loads(raw) if raw else None
        data = raw.encode()
        call["args_hash"] = hashlib.sha256(data).hexdigest() if raw else ""
        call["args_bytes"] = len(data) if raw else 0
        call["signature_hash"] = (
            hashlib.sha256(",".join(sorted(args)).encode()).hexdigest()
            if isinstance(args, dict)
            else "none"
        )
    return item


class Client:
    """Queue LLM calls for batched, redacted delivery; see the module docstring."""

    def __init__(self, cfg: Config, transport: Transport | None = None) -> None:
        self.cfg = cfg
        # To the local daemon, as the seed: one retry after 0.25 s, then the batch is dropped
        # (counted); the daemon owns durable retry. Remote: nothing else retries, so the
        # daemon uploader's schedule from the spec (1, 2.5, 5, 10, 20, 60 s).
        local = cfg.mode.kind == "local_daemon"
        retry: dict[str, Any] = (
            {"max_attempts": 2, "backoff_schedule": (0.25,), "backoff_jitter": 0.0} if local else {}
        )
        self._api = ModelstatIngestClient(
            base_url=cfg.mode.server(),
            token=cfg.ingest_key,
            transport=transport,
            device_id=cfg.device_id,
            daemon_version=cfg.client_version[:40],
            max_queue_size=cfg.buffer_capacity,
            flush_interval=cfg.flush_interval,
            batch_max_items=cfg.flush_max_batch,
            before_send=_hash_tool_args,
            before_send_when=("tool_calls",),  # calls without tools have nothing to hash
            redaction_floor=RedactionPolicy(cfg.redaction) is RedactionPolicy.FLOOR,
            fallback_dir=cfg.fallback_dir,
            **retry,
        )
        self._record = (
            self._api.ingest_raw.record if cfg.sends_full_turns() else self._api.ingest.record
        )

    @classmethod
    def with_transport(cls, cfg: Config, transport: Transport) -> Client:
        """A client whose requests go to `transport` (e.g. `ingest_runtime.MemoryTransport`)."""
        return cls(cfg, transport)

    def record(self, call: LlmCall) -> None:
        """Validate and queue one call (pydantic.ValidationError on a bad value); never blocks."""
        tool_calls = _tool_call_fields(call, self.cfg.agent) if call.tool_calls else None
        self._record(
            ts=call.started_at.timestamp(),
            kind=call.kind,  # type: ignore[arg-type]  # validated by the model
            agent=self.cfg.agent,
            provider=call.provider,
            session_id=call.session_id,
            tokens=call.tokens,
            model=call.model,
            cwd=call.cwd,
            git=call.git,
            duration_ms=call.duration_ms,
            billing=call.billing,  # type: ignore[arg-type]
            content_excerpt=_excerpt(call),
            tool_calls=tool_calls,  # type: ignore[arg-type]  # dicts, validated by the model
        )

    def dropped(self) -> int:
        """Every call lost so far, whatever the reason (full buffer, rejected batch, ...)."""
        return self._api.stats().dropped

    def flush(self, timeout: float = 30.0) -> bool:
        return self._api.flush(timeout=timeout)

    def held(self) -> int:
        """Calls held so far: refused by the server (400/413/415/422), kept in ``fallback_dir``."""
        return self._api.stats().held

    def release_held(self) -> int:
        """Re-send every held call (e.g. once the server accepts them); returns how many."""
        return self._api.release_held()

    def shutdown(self) -> None:
        self._api.flush(timeout=30.0)
        self._api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
