"""Generated-style declarations for batched routes: modelstat-like and AOP-like recipes."""

from __future__ import annotations

import dataclasses
import gzip
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from ingest_runtime import (
    Batch,
    Const,
    Derive,
    Field,
    Hash,
    IngestClient,
    ItemValues,
    Join,
    Json,
    Millis,
    NewId,
    Redact,
    Route,
    Seq,
    Sign,
    Timestamp,
)
from pydantic import BaseModel
from rt_support import Received

# ---- modelstat-like -------------------------------------------------------------------------


class Tokens(BaseModel):
    input: int = 0
    output: int = 0


class Git(BaseModel):
    branch: str | None = None
    host: str | None = None


class ToolCall(BaseModel):
    name: str
    call_index: int
    started_at: float | str
    external_call_id: str | None = None
    source_event_id: str | None = None
    segment_id: str | None = None


class MsEvent(BaseModel):
    source_event_id: str | None = None
    ts: float | str
    session_id: str
    agent: str = "agent"
    tokens: Tokens = Tokens()
    git: Git | None = None
    content_excerpt: str | None = None
    tool_calls: list[ToolCall] = []


def _ms_hash(prefix: str, *parts: Any, length: int = 32, sort: bool = False) -> Hash:
    return Hash(tuple(parts), algorithm="blake3", prefix=prefix, length=length, sort=sort)


MS_DERIVE = (
    Derive(
        "source_event_id",
        _ms_hash(
            "evt_", Const("device_id"), Join((Field("session_id"), Millis("ts"), Seq()), "::")
        ),
    ),
    Derive("ts", Timestamp("ts", "rfc3339_ms")),
    Derive("tool_calls[].source_event_id", Field("source_event_id")),
    Derive(
        "tool_calls[].external_call_id",
        _ms_hash("tc_", Field("source_event_id"), Field("tool_calls[].call_index"), length=16),
    ),
    Derive("tool_calls[].started_at", Timestamp("tool_calls[].started_at")),
)


def ms_batch(max_items: int = 256, interval: float = 2.0, ordered: bool = True) -> Batch:
    return Batch(
        items="events",
        max_items=max_items,
        flush_interval=interval,
        envelope=("device_id", "daemon_version"),
        derive=(Derive("batch_id", _ms_hash("batch_", ItemValues("source_event_id"), sort=True)),),
        hoist=("tool_calls",),
        ordered=ordered,
    )


MS_INGEST = Route(
    "modelstat.ingest",
    "POST",
    "/v1/ingest",
    None,
    True,
    None,
    omit_none=True,
    body=MsEvent,
    batch=ms_batch(),
    derive=MS_DERIVE,
    redact=(Redact("content_excerpt", max_chars=320),),
)
MS_RAW = Route(
    "modelstat.ingest_raw",
    "POST",
    "/v1/ingest/raw",
    None,
    True,
    None,
    omit_none=True,
    body=MsEvent,
    batch=ms_batch(),
    derive=MS_DERIVE,
    redact=(Redact("content_excerpt"),),
)


#: As modelstat's spec declares it: batches are independent, several may be in flight.
MS_UNORDERED = dataclasses.replace(
    MS_INGEST, key="modelstat.ingest_unordered", batch=ms_batch(ordered=False)
)


class MsClient(IngestClient):
    _ROUTES: ClassVar[tuple[Route, ...]] = (MS_INGEST, MS_RAW, MS_UNORDERED)
    _SERVICE: ClassVar[str] = "modelstat"

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("constants", {"device_id": "dev_1", "daemon_version": "python-sdk/0.0.1"})
        super().__init__(**kw)

    def record(self, route: Route = MS_INGEST, **fields: Any) -> None:
        self._submit(route, fields)


# ---- AOP-like -------------------------------------------------------------------------------

RUN_ID = "6f1c2f5e-0000-4000-8000-000000000001"


class Meta(BaseModel):
    run_id: str | None = None
    agent_id: int | None = None
    signature: str | None = None


class TraceEvent(BaseModel):
    seq: int | None = None
    t: float | str
    actor: str
    type: str
    payload: dict[str, Any]
    meta: Meta = Meta()


AOP_BATCH = Route(
    "aop.trace_events.batch",
    "POST",
    "/api/trace-events/batch/",
    None,
    True,
    None,
    omit_none=True,
    body=TraceEvent,
    batch=Batch(
        items="events",
        max_items=100,
        flush_interval=5.0,
        envelope=("run_id", "agent_id"),
        derive=(Derive("idempotency_token", NewId()),),
        item_errors=("errors", "index"),
    ),
    derive=(
        Derive("seq", Seq()),
        Derive("t", Timestamp("t", "iso8601")),
        Derive("meta.run_id", Const("run_id")),
        Derive("meta.agent_id", Const("agent_id")),
    ),
    redact=(Redact("payload.text"), Redact("payload.steps[].description")),
    sign=Sign(
        (
            Field("meta.run_id"),
            Field("seq"),
            Json("payload", separators=(", ", ": "), ensure_ascii=True),
        ),
        field="meta.signature",
    ),
)


class AopClient(IngestClient):
    _ROUTES: ClassVar[tuple[Route, ...]] = (AOP_BATCH,)
    _SERVICE: ClassVar[str] = "aop"

    def __init__(self, **kw: Any) -> None:
        kw.setdefault("constants", {"run_id": RUN_ID, "agent_id": 7})
        super().__init__(**kw)

    def emit(self, payload: Mapping[str, Any], t: float = 1750336496.789) -> None:
        self._submit(
            AOP_BATCH, {"t": t, "actor": "agent", "type": "final_output", "payload": payload}
        )


def body_json(r: Received) -> Any:
    data = r.body
    if r.headers.get("Content-Encoding") == "gzip":
        data = gzip.decompress(data)
    return json.loads(data)
