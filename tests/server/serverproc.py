"""Start the reference server as a real subprocess on a free port (shared by tests and bench)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SWARM_SPEC = REPO / "specs" / "swarm_analytics" / "v1.yaml"
THINGS_SPEC = Path(__file__).resolve().parent / "specs" / "things_v30.yaml"

_LAUNCH = (
    "import sys; from pathlib import Path; from codegen.server import serve; "
    "serve(Path(sys.argv[1]), '127.0.0.1', int(sys.argv[2]), "
    "Path(sys.argv[3]) if len(sys.argv) > 3 else None)"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """`with ServerProcess(spec) as server:` -> server.port, server.url, server.get()/post()."""

    def __init__(self, spec: Path, db: Path | None = None, timeout: float = 15.0) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-c", _LAUNCH, str(spec), str(self.port)]
        if db is not None:
            args.append(str(db))
        self.proc = subprocess.Popen(args, cwd=REPO)
        self.pid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("/_admin/stats")
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("reference server did not start") from None
                time.sleep(0.05)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """One request on a fresh connection: (status, parsed JSON body or None, headers)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            data = raw if raw is not None else None if body is None else json.dumps(body)
            conn.request(
                method, path, data, {"Content-Type": "application/json", **(headers or {})}
            )
            resp = conn.getresponse()
            payload = resp.read()
            head = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, json.loads(payload) if payload else None, head
        finally:
            conn.close()

    def get(self, path: str) -> Any:
        return self.request("GET", path)[1]

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
