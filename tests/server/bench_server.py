"""Throughput of the reference server under a keep-alive http.client loop.

Run: .venv/bin/python tests/server/bench_server.py [N]
Posts N `events.onboarding.step` bodies (fresh uuid4 submission ids) over one connection and
prints requests/s plus the server's CPU time per request (from /proc, Linux only).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serverproc import SWARM_SPEC as SPEC
from serverproc import ServerProcess


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(n: int) -> None:
    with ServerProcess(SPEC) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port)
        headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}

        def post() -> None:
            body = {
                "ts": time.time(),
                "submission_id": str(uuid.uuid4()),
                "step_id": "welcome",
                "status": "completed",
            }
            conn.request("POST", "/public/events/onboarding/step", json.dumps(body), headers)
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200, resp.status

        for _ in range(500):  # warm-up
            post()
        cpu0 = cpu_seconds(server.pid)
        start = time.perf_counter()
        for _ in range(n):
            post()
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(server.pid) - cpu0
        stats = server.get("/_admin/stats")
        print(
            f"{n} requests in {elapsed:.2f}s: {n / elapsed:.0f} req/s, "
            f"server CPU {cpu / n * 1e6:.0f} us/request, stored={stats['stored']}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
