"""One delivery measurement in one fresh process; prints one JSON line.

usage: python bench/delivery.py MODE URL N
  client      our generated swarm client: N calls, then flush(); timed until flush() returns
  httpx       a bare keep-alive httpx.Client loop posting the same bodies, one at a time
  httpclient  the same loop with the standard library's http.client

All three post `events.onboarding.step` bodies to the same reference server.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import resource
import socket
import sys
import time
import uuid
from urllib.parse import urlsplit

logging.disable(logging.WARNING)
PATH = "/public/events/onboarding/step"
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer tok"}


def body() -> bytes:
    return json.dumps(
        {
            "ts": time.time(),
            "submission_id": str(uuid.uuid4()),
            "step_id": "connect_provider",
            "status": "completed",
        }
    ).encode()


def run_client(url: str, n: int) -> dict[str, object]:
    from swarm_analytics import AnalyticsClient

    client = AnalyticsClient(base_url=url, token="tok", max_queue_size=n + 1000)
    step = client.events.onboarding.step
    started = time.perf_counter()
    for _ in range(n):
        step(step_id="connect_provider", status="completed")
    produced = time.perf_counter()
    flushed = client.flush(timeout=900)
    finished = time.perf_counter()
    stats = client.stats()
    client.close()
    return {
        "flushed": flushed,
        "producer_s": produced - started,
        "seconds": finished - started,
        "delivered": stats.delivered,
        "dropped": stats.dropped,
        "retried": stats.retried,
    }


def run_httpx(url: str, n: int) -> dict[str, object]:
    import httpx

    with httpx.Client(base_url=url, timeout=10) as client:
        started = time.perf_counter()
        ok = 0
        for _ in range(n):
            ok += client.post(PATH, content=body(), headers=HEADERS).status_code == 200
        return {"seconds": time.perf_counter() - started, "delivered": ok}


def run_httpclient(url: str, n: int) -> dict[str, object]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as the runtime does
    started = time.perf_counter()
    ok = 0
    for _ in range(n):
        conn.request("POST", PATH, body(), HEADERS)
        response = conn.getresponse()
        response.read()
        ok += response.status == 200
    conn.close()
    return {"seconds": time.perf_counter() - started, "delivered": ok}


def main() -> None:
    mode, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    runner = {"client": run_client, "httpx": run_httpx, "httpclient": run_httpclient}[mode]
    out: dict[str, object] = {"mode": mode, "n": n, **runner(url, n)}
    out["events_per_s"] = n / float(out["seconds"])  # type: ignore[arg-type]
    out["cpu_s"] = time.process_time()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
