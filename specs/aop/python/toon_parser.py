"""aop-client's "Toon" helpers: payload builders, event validation, parse and serialize.

Toon is AOP's name for its trace-event JSON. Every check here is the generated models' (the
spec's schemas), so a bad enum or a missing key raises `pydantic.ValidationError`, which is a
`ValueError` as the seed's helpers raise.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pydantic

from .v1 import (
    ActionRequestPayload,
    ActionResponsePayload,
    ErrorPayload,
    EventMeta,
    FinalOutputPayload,
    ReasoningPayload,
    TraceEvent,
)

__all__ = ["ToonBuilder", "ToonParser", "parse_toon", "to_toon"]

Event = dict[str, Any]

#: Payload model per event type (the server validates the same shapes).
PAYLOADS: dict[str, type[pydantic.BaseModel]] = {
    "reasoning": ReasoningPayload,
    "action_request": ActionRequestPayload,
    "action_response": ActionResponsePayload,
    "final_output": FinalOutputPayload,
    "error": ErrorPayload,
}


def _payload(model: type[pydantic.BaseModel], fields: Event) -> Event:
    return model.model_validate(fields).model_dump(mode="json", exclude_none=True)


class ToonBuilder:
    """Validated payload dicts for each event type (`TraceBuilder.create_*` uses them)."""

    @staticmethod
    def build_reasoning_payload(
        goal: str, steps: list[Event], safety_checks: list[Event], uncertainty: str = "medium"
    ) -> Event:
        fields = {"goal": goal, "steps": steps, "safety_checks": safety_checks}
        return _payload(ReasoningPayload, {**fields, "uncertainty": uncertainty})

    @staticmethod
    def build_action_request_payload(
        action: str, params: Event, context: Event | None = None
    ) -> Event:
        return _payload(
            ActionRequestPayload, {"action": action, "params": params, "context": context}
        )

    @staticmethod
    def build_action_response_payload(status: str, data: Event, meta: Event | None = None) -> Event:
        return _payload(ActionResponsePayload, {"status": status, "data": data, "meta": meta or {}})

    @staticmethod
    def build_final_output_payload(text: str, structured: Event | None = None) -> Event:
        return _payload(FinalOutputPayload, {"text": text, "structured": structured})

    @staticmethod
    def build_error_payload(
        error_type: str,
        message: str,
        code: str,
        details: Event | None = None,
        recoverable: bool = True,
    ) -> Event:
        fields = {"error_type": error_type, "message": message, "code": code}
        timestamp = datetime.now(timezone.utc).isoformat()
        extra = {"recoverable": recoverable, "timestamp": timestamp, "details": details}
        return _payload(ErrorPayload, {**fields, **extra})


class ToonParser:
    """Checks a decoded event; each method raises `ValueError` naming what is wrong."""

    @staticmethod
    def validate_event_structure(event: Any) -> None:
        TraceEvent.model_validate(event)
        ToonParser.validate_payload(event["type"], event["payload"])

    @staticmethod
    def validate_meta(meta: Any) -> None:
        EventMeta.model_validate(meta)

    @staticmethod
    def validate_payload(event_type: str, payload: Any) -> None:
        model = PAYLOADS.get(event_type)
        if model is None:
            raise ValueError(f"unknown event type {event_type!r}; valid: {', '.join(PAYLOADS)}")
        model.model_validate(payload)


def parse_toon(text: str) -> Event:
    """Decode one event, or a trace document holding `events`, checking every event."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not Toon (invalid JSON): {exc}") from exc
    # ValueError, not TypeError: the text is what is wrong, as for invalid JSON (the seed's API).
    if not isinstance(obj, dict):
        raise ValueError("not Toon: expected an event or a trace with `events`")  # noqa: TRY004
    events = obj.get("events") if "events" in obj else [obj]
    if not isinstance(events, list):
        raise ValueError("not Toon: `events` must be a list")  # noqa: TRY004
    for event in events:
        ToonParser.validate_event_structure(event)
    return obj


def to_toon(obj: Any, pretty: bool = False) -> str:
    """Serialize an event (model or dict), a list of events or a trace document."""

    def plain(value: Any) -> Any:
        if isinstance(value, pydantic.BaseModel):
            return value.model_dump(mode="json", exclude_none=True)
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    return json.dumps(plain(obj), ensure_ascii=False, indent=2 if pretty else None)
