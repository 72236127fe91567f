"""aop-client's streaming surface (`StreamingClient`, `HybridClient`), on the per-event route.

The seed's StreamingClient opens a WebSocket (`ws://.../ws/trace/`) that the wired server does
not have: its WebSockets are read-only viewers. Here, "streaming" means that each event is also
sent at once, on its own, to `POST /api/runs/{run_id}/events/`. The background worker sends it,
never the emitting thread, and signs it like a batched event. The server keys events by
(run, seq), so an event that is streamed and later batched is stored once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from typing_extensions import Self

from .aop import AOPClient, event_fields
from .v1 import AopApiClient, TraceEvent

__all__ = ["HybridClient", "StreamingClient"]

Event = dict[str, Any]
MODES = ("websocket", "http_chunked")


def _api_base(url: str) -> str:
    """`ws://host:port/ws/trace/` -> `http://host:port` (the API server serves the route)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"streaming url must be ws(s):// or http(s)://, got {url!r}")
    return f"{scheme}://{parts.netloc}"


def _stream(api: AopApiClient, event: TraceEvent) -> None:
    api.events.stream(run_id=event.meta.run_id, **event_fields(event))


class StreamingClient:
    """Sends events one by one as they happen. `mode` is kept for the seed's API; both modes
    use the per-event route. `on_message(event)` runs after the server stored an event and
    `on_error(exc)` after one failed, both on the background worker."""

    def __init__(
        self,
        url: str,
        api_key: str,
        mode: str = "websocket",
        on_message: Callable[[Event], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        *,
        signing_key: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown streaming mode {mode!r}; valid: {', '.join(MODES)}")
        self.url = url
        self.mode = mode
        self._base = _api_base(url)
        self._api_key = api_key
        self._signing_key = signing_key
        self._on_message = on_message
        self._on_error = on_error
        self._api: AopApiClient | None = None
        self._connected = False

    def connect(self) -> None:
        self._connected = True

    def is_connected(self) -> bool:
        return self._connected

    def send_event(self, event: Event | TraceEvent) -> None:
        """Validate and queue one event (`pydantic.ValidationError` on a bad one)."""
        if not self._connected:
            raise RuntimeError("StreamingClient is not connected: call connect() first")
        checked = event if isinstance(event, TraceEvent) else TraceEvent.model_validate(event)
        if self._api is None:  # the run's client, made from the first event's meta
            self._api = AopApiClient(
                base_url=self._base,
                token=self._api_key,
                run_id=checked.meta.run_id,
                agent_id=checked.meta.agent_id,
                signing_key=self._signing_key,
                after_send=self._after_send,
            )
        _stream(self._api, checked)

    def disconnect(self, timeout: float = 10.0) -> None:
        """Send what is queued (bounded by `timeout`), then stop."""
        self._connected = False
        if self._api is not None:
            self._api.flush(timeout=timeout)
            self._api.close()
            self._api = None

    def _after_send(self, route: str, event: Event, ok: bool, status: int | None) -> None:
        if ok and self._on_message is not None:
            self._on_message(event)
        elif not ok and self._on_error is not None:
            self._on_error(RuntimeError(f"event {event.get('seq')} not stored (HTTP {status})"))


class HybridClient:
    """Streams each event at once and also batches it through `aop_client`. The server
    stores it once. Streamed sends share `aop_client`'s worker, key and hooks."""

    def __init__(
        self,
        aop_client: AOPClient,
        streaming_url: str | None = None,
        streaming_mode: str = "websocket",
    ) -> None:
        if streaming_mode not in MODES:
            raise ValueError(
                f"unknown streaming mode {streaming_mode!r}; valid: {', '.join(MODES)}"
            )
        if streaming_url is not None:
            _api_base(streaming_url)  # checked, as the seed requires a usable URL
        self.client = aop_client
        self.streaming_url = streaming_url
        self.streaming_mode = streaming_mode

    def start(self) -> None:
        self.client.start()

    def emit_event(self, event: TraceEvent) -> None:
        """Queue the event for the live stream and for the batch; never blocks."""
        _stream(self.client.api, event)
        self.client.emit_event(event)

    def finalize(self) -> None:
        self.client.finalize()

    def stop(self, timeout: float = 10.0) -> None:
        self.client.stop(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
