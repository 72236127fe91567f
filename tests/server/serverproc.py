"""Start the reference server as a real subprocess on a free port (shared by tests and bench)."""

from __future__ import annotations

import atexit
import http.client
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from codegen.testing import RefServer, free_port

__all__ = ["SWARM_SPEC", "THINGS_SPEC", "ServerProcess", "free_port"]

REPO = Path(__file__).resolve().parents[2]
SWARM_SPEC = REPO / "specs" / "swarm_analytics" / "v1.yaml"
THINGS_SPEC = Path(__file__).resolve().parent / "specs" / "things_v30.yaml"


class ServerProcess(RefServer):
    """`with ServerProcess(spec) as server:` -> server.port, server.url, server.get()/post(),
    and `exchange()` for a request whose response headers matter too."""

    def __init__(self, spec: Path, db: Path | None = None, timeout: float = 15.0) -> None:
        if db is None:
            folder = Path(tempfile.mkdtemp(prefix="server-test-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            db = folder / "server.db"
        super().__init__(spec, db, startup_timeout=timeout)

    def exchange(
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
        return self.exchange("GET", path)[1]

    def post(self, path: str, body: Any) -> Any:
        return self.exchange("POST", path, body)[1]
