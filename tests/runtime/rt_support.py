"""Shared test support: a real HTTP server on 127.0.0.1 with scripted statuses, and tiny models."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

try:
    import ingest_runtime  # noqa: F401
except ImportError:  # not installed: use the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "runtime"))

from ingest_runtime import IngestClient, Route, new_uuid4, unix_seconds
from pydantic import BaseModel, ConfigDict, Field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Script:
    """Responses served in order: (status, headers, body); then ``default``."""

    items: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    default: tuple[int, dict[str, str], bytes] = (200, {}, b'{"status":"ok"}')


class Server:
    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.script = Script()
        self.delay = 0.0  # seconds before each response
        self.lock = threading.Lock()
        #: Requests being handled right now, and the most there ever were at once.
        self.active = 0
        self.max_active = 0
        #: The client ends (host, port) of every connection that sent a request.
        self.peers: set[tuple[str, int]] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with server.lock:
                    server.requests.append(
                        Received(self.command, self.path, dict(self.headers.items()), body)
                    )
                    item = server.script.items.pop(0) if server.script.items else None
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                    server.peers.add(self.client_address[:2])
                status, headers, payload = item or server.script.default
                if server.delay:
                    time.sleep(server.delay)
                with server.lock:
                    server.active -= 1
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = _serve
            do_GET = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def respond(self, *statuses: int | tuple[int, Mapping[str, str]]) -> None:
        with self.lock:
            for s in statuses:
                if isinstance(s, tuple):
                    self.script.items.append((s[0], dict(s[1]), b"{}"))
                else:
                    self.script.items.append((s, {}, b"{}"))

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.requests]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- what generated code would look like -------------------------------------------------


class Step(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    ts: float
    submission_id: str
    step_id: str = Field(min_length=1)
    status: str = Field(pattern="^(started|completed|abandoned)$")
    note: str | None = None


class Email(BaseModel):
    email: str


class Token(BaseModel):
    token: str
    install_id: str


STEP = Route(
    "events.onboarding.step",
    "POST",
    "/public/events/onboarding/step",
    "product",
    True,
    "submission_id",
)
LOG = Route(
    "logs.write", "POST", "/public/logs", "diagnostic", True, "submission_id", omit_none=True
)
EMAIL = Route("identify.link_email", "POST", "/public/identify/link_email", "identity", True, None)
ITEM = Route("items.put", "PUT", "/items/{item_id}", "product", True, "submission_id")
REGISTER = Route("identify.register", "POST", "/public/identify/register", "bootstrap", False, None)


class Client(IngestClient):
    _MODES: ClassVar[Mapping[str, frozenset[str]]] = {
        "full": frozenset(),
        "minimal": frozenset({"product"}),
    }
    _DEFAULT_MODE: ClassVar[str] = "full"
    _ROUTES: ClassVar[tuple[Route, ...]] = (STEP, LOG, EMAIL, ITEM)
    _SERVICE: ClassVar[str] = "test_service"

    def step(self, *, step_id: str, status: str, note: str | None = None) -> None:
        if STEP.category in self._muted:
            return
        self._enqueue(
            STEP,
            Step(
                ts=unix_seconds(),
                submission_id=new_uuid4(),
                step_id=step_id,
                status=status,
                note=note,
            ),
        )

    def log(self, *, step_id: str) -> None:
        if LOG.category in self._muted:
            return
        self._enqueue(
            LOG,
            Step(ts=unix_seconds(), submission_id=new_uuid4(), step_id=step_id, status="started"),
        )

    def link_email(self, *, email: str) -> None:
        if EMAIL.category in self._muted:
            return
        self._enqueue(EMAIL, Email(email=email))

    def put_item(self, *, item_id: str) -> None:
        if ITEM.category in self._muted:
            return
        body = Step(ts=unix_seconds(), submission_id=new_uuid4(), step_id=item_id, status="started")
        self._enqueue(ITEM, body, f"/items/{item_id}")
