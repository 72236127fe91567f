"""Run the reference server from tests and benchmarks: a real process on 127.0.0.1.

with RefServer(Path("specs/swarm_analytics/v1.yaml"), Path("requests.db")) as server:
    client = AnalyticsClient(base_url=server.url, token="t")
    ...
    server.requests("/public/logs")   # what reached the server
    server.faults([503, 503, 200])     # script the next responses
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    """A port nothing listens on right now (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RefServer:
    """`python -m codegen serve SPEC --port P --db FILE` as a child process, and its /_admin API."""

    def __init__(
        self,
        spec: Path,
        db: Path,
        port: int | None = None,
        startup_timeout: float = 20.0,
        secret: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "codegen", "serve", str(spec), "--port", str(self.port)]
        if secret is not None:
            command += ["--secret", secret]
        self.proc = subprocess.Popen([*command, "--db", str(db)])
        self.pid = self.proc.pid
        deadline = time.monotonic() + startup_timeout
        while True:
            try:
                self.stats()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"reference server for {spec} did not start") from None
                time.sleep(0.05)

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """One request on a fresh connection: (status, parsed JSON body or None)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            payload = None if body is None else json.dumps(body)
            sent = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, payload, sent)
            response = conn.getresponse()
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
        finally:
            conn.close()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        return self.request(method, path, body)[1]

    def requests(self, path: str | None = None) -> list[dict[str, Any]]:
        """Every request the server recorded (method, path, headers, body, status...)."""
        query = f"?path={path}" if path else ""
        return list(self.admin("GET", f"/_admin/requests{query}")["requests"])

    def events(self, operation: str | None = None) -> list[Any]:
        """Bodies of the stored (deduped) events."""
        query = f"?operation={operation}" if operation else ""
        return [e["body"] for e in self.admin("GET", f"/_admin/events{query}")["events"]]

    def stats(self) -> dict[str, Any]:
        return dict(self.admin("GET", "/_admin/stats"))

    def faults(self, script: list[Any]) -> None:
        self.admin("POST", "/_admin/faults", script)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> RefServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
