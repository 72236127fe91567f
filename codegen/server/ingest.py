"""The catch-all ASGI endpoint that serves every operation of the spec.

A raw ASGI callable (no Request/Response objects, no threadpool hop) because it sits in the
measured loop of client benchmarks. Order per request: fault script, route match (404/405),
auth (401), body validation (422), dedupe + store, record + commit, respond.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from pydantic_core import from_json

from codegen.server.auth import AuthRule, TokenPolicy, scope_of
from codegen.server.batches import process
from codegen.server.faults import Fault, FaultPlan
from codegen.server.matching import PathMatcher
from codegen.server.recorder import Entry, Recorder
from codegen.server.responses import ResponsePlan
from codegen.server.spec import OperationSpec
from codegen.server.validation import SchemaValidator, json_error, missing_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ADMIN_PREFIX = "/_admin"
_ADMIN_SLASH = ADMIN_PREFIX + "/"
_JSON_TYPE = (b"content-type", b"application/json")
_NO_STORE = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Operation:
    """An operation with everything needed at request time compiled."""

    spec: OperationSpec
    auth: AuthRule
    validator: SchemaValidator | None
    response: ResponsePlan


@dataclass
class ServerState:
    """Shared by the ingest endpoint and the admin routes."""

    operations: list[Operation]
    matcher: PathMatcher[Operation]
    recorder: Recorder
    faults: FaultPlan
    tokens: TokenPolicy
    secret: str | None = None  # HMAC key: items declaring a signature are verified with it


class DroppedConnectionError(Exception):
    """Raised after a "reset" fault so the ASGI server closes the socket with no response."""


class DropFilter(logging.Filter):
    """Keep the deliberate connection drops out of uvicorn's error log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info
        return not (exc and isinstance(exc[1], DroppedConnectionError))


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


def _error(status: int, detail: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
    return Reply(status, json.dumps({"detail": detail}).encode(), headers or [])


class IngestMiddleware:
    """Serves every non-admin request; `/_admin` and lifespan go on to the FastAPI router.

    An ASGI layer rather than a catch-all route: Starlette's router would otherwise test
    every admin route against every ingest request before reaching the catch-all.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], state: Any) -> None:
        self.app = app
        self.state: ServerState = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == ADMIN_PREFIX or path.startswith(_ADMIN_SLASH):
            await self.app(scope, receive, send)
            return
        # Match on the path as sent: a parameter holding `%2F` is one segment, not two.
        raw_path = scope.get("raw_path")
        if raw_path:
            path = raw_path.decode("latin-1").split("?", 1)[0]
        raw = b""
        more = True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        entry = Entry(
            method=scope["method"],
            path=path,
            query=scope.get("query_string", b"").decode("latin-1"),
            operation=None,
            headers=headers,
            body=raw.decode("utf-8", "replace"),
            json_ok=False,
            status=0,
            outcome="rejected",
        )
        fault = self.state.faults.next()
        if fault.kind == "status":
            reply = _fault_reply(fault)
            entry.outcome, entry.fault = "faulted", str(fault.status)
            entry.operation = self._operation_id(entry.method, path)
            entry.json_ok = _is_json(raw)
        else:
            reply = self._handle(scope, raw, headers, entry)
            if fault.kind == "reset":
                entry.outcome, entry.fault = "faulted", "reset"
        entry.status = reply.status
        self.state.recorder.record(entry)
        if fault.kind == "reset":
            await _drop(send)
        await _send(send, reply)

    def _operation_id(self, method: str, path: str) -> str | None:
        methods, _ = self.state.matcher.match(path)
        op = methods.get(method) if methods else None
        return op.spec.operation_id if op else None

    def _handle(self, scope: Scope, raw: bytes, headers: dict[str, str], entry: Entry) -> Reply:
        methods, _ = self.state.matcher.match(entry.path)
        if methods is None:
            return _error(404, "Not Found")
        op = methods.get(entry.method)
        if op is None:
            allow = ", ".join(sorted(methods)).encode()
            return _error(405, "Method Not Allowed", [(b"allow", allow)])
        spec = op.spec
        entry.operation = spec.operation_id
        body: Any = None
        decode_error: int | None = None
        if raw.strip():
            try:
                body = from_json(raw)
                entry.json_ok = True
            except ValueError:
                decode_error = _error_position(raw)
        ok, reason = op.auth.check(headers, scope.get("query_string", b""), self.state.tokens)
        if not ok:
            return _error(401, reason, [(b"www-authenticate", b"Bearer")])
        if op.validator is not None:
            if decode_error is not None:
                return _error(422, json_error(decode_error))
            if not entry.json_ok:
                if spec.body_required:
                    return _error(422, missing_body())
            else:
                details = op.validator.errors(body)
                if details:
                    return _error(422, details)
        if spec.batch is not None and entry.json_ok:
            return self._batch(spec, op, body, headers, entry)
        key: str | None = None
        if spec.idempotency_field and isinstance(body, dict) and spec.idempotency_field in body:
            key = str(body[spec.idempotency_field])
        elif "idempotency-key" in headers:
            key = headers["idempotency-key"]
        entry.key = key
        duplicate = False
        if entry.method not in _NO_STORE or key is not None:
            recorder = self.state.recorder
            duplicate = not recorder.store_event(
                spec.operation_id, scope_of(headers), key, entry.body
            )
        entry.duplicate = duplicate
        entry.outcome = "duplicates" if duplicate else "accepted"
        plan = op.response
        payload = plan.render(body, duplicate, self.state.tokens.mint)
        return Reply(plan.status, payload, [])

    def _batch(
        self, spec: OperationSpec, op: Operation, body: Any, headers: dict[str, str], entry: Entry
    ) -> Reply:
        """Store each item once; verify signatures when the server has a secret."""
        assert spec.batch is not None
        recorder = self.state.recorder
        scope = scope_of(headers)

        store_as = spec.batch.store_as or spec.operation_id

        def store(events: list[tuple[str | None, str]]) -> list[bool]:
            return recorder.store_events(store_as, scope, events)

        outcome = process(spec.batch, body, self.state.secret, store)
        if outcome.rejected is not None:
            entry.outcome = "rejected"
            return _error(400, outcome.rejected)
        entry.duplicate = outcome.created == 0 and outcome.skipped > 0
        entry.outcome = "duplicates" if entry.duplicate else "accepted"
        status = op.response.status
        if spec.batch.items is None and not outcome.failed:  # one item: the route's own reply
            return Reply(
                status, op.response.render(body, entry.duplicate, self.state.tokens.mint), []
            )
        if outcome.failed:
            entry.outcome = "rejected" if not (outcome.created or outcome.skipped) else "accepted"
            status = 207 if "207" in spec.statuses else 401
        return Reply(status, op.response.render_batch(outcome), [])


def _fault_reply(fault: Fault) -> Reply:
    headers: list[tuple[bytes, bytes]] = []
    if fault.retry_after is not None:
        if fault.retry_after_date:
            value = formatdate(time.time() + fault.retry_after, usegmt=True)
        else:
            seconds = fault.retry_after
            value = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        headers.append((b"retry-after", value.encode()))
    return _error(fault.status, f"injected fault: {fault.status}", headers)


def _error_position(raw: bytes) -> int:
    """Where `raw` stops being JSON (the stdlib parser says where; pydantic's does not)."""
    try:
        json.loads(raw)
    except ValueError as exc:
        return int(getattr(exc, "pos", 0))
    return 0


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except ValueError:
        return False
    return True


async def _send(send: Send, reply: Reply) -> None:
    headers = [*reply.headers, (b"content-length", str(len(reply.body)).encode())]
    if reply.body and not any(name == b"content-type" for name, _ in reply.headers):
        headers.insert(0, _JSON_TYPE)
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _drop(send: Send) -> None:
    """Make the server close the connection before writing a byte of the response.

    ASGI has no "abort" message. A response start whose header value contains a newline is
    rejected by uvicorn (httptools and h11) *before* anything is written, after the response
    is marked started; raising then makes uvicorn close the transport instead of sending a
    500. The client sees a connection closed without a response: a network error.
    """
    try:
        await send({"type": "http.response.start", "status": 500, "headers": [(b"x-drop", b"\n")]})
    except Exception:  # noqa: BLE001, S110 - the server refusing the header is the point
        pass
    raise DroppedConnectionError("fault script: reset")
