"""Batched delivery through ingest_runtime; prints one JSON line.

usage: python bench/batched_runtime.py [N] [BATCH]

* delivered events/s: N items (default 200,000) submitted through a batched Route (BATCH per
  request, default 256) to a stdlib ThreadingHTTPServer sink in its own process on 127.0.0.1
  that parses each body and counts items; timed from the first submit until ``flush()``
  returns and the sink has counted every item.
* caller-thread cost of submitting one item carrying a 300-character free-text field, on a
  route that declares redaction (the worker is held, so nothing runs concurrently) and on the
  same route without it: equal medians show redaction is not on the caller's thread. The
  worker-side redaction cost of that text is reported separately.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any, ClassVar

SINK = r"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
count = [0]
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        n = len(json.loads(body)["events"])
        with lock:
            count[0] += n
        self._reply(b'{"accepted":%d}' % n)
    def do_GET(self):
        self._reply(str(count[0]).encode())
    def _reply(self, data):
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


class Held:
    """A transport whose sends block until closed (keeps items queued on the worker)."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Any:
        self.gate.wait()
        raise ConnectionError("held")

    def close(self) -> None:
        self.gate.set()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 256
    from ingest_runtime import Batch, IngestClient, Redact, Redactor, Route, new_uuid4
    from pydantic import BaseModel

    class Ev(BaseModel):
        submission_id: str
        ts: float
        session_id: str
        kind: str
        text: str | None = None

    batch_decl = Batch(items="events", max_items=batch, flush_interval=2.0)
    plain = Route("b.plain", "POST", "/v1", None, True, None, True, body=Ev, batch=batch_decl)
    redacted = Route(
        "b.redacted", "POST", "/v1", None, True, None, True, body=Ev, batch=batch_decl,
        redact=(Redact("text", max_chars=320),),
    )  # fmt: skip

    class C(IngestClient):
        _ROUTES: ClassVar[tuple[Route, ...]] = (plain, redacted)
        _SERVICE: ClassVar[str] = "bench"

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        url = f"http://127.0.0.1:{int(sink.stdout.readline())}"
        client = C(base_url=url, max_queue_size=n + 10)
        submit = client._submit
        t0 = time.perf_counter()
        for _ in range(n):
            submit(
                plain,
                {"submission_id": new_uuid4(), "ts": time.time(), "session_id": "s", "kind": "k"},
            )
        t_submit = time.perf_counter() - t0
        ok = client.flush(120)
        elapsed = time.perf_counter() - t0
        with urllib.request.urlopen(url + "/count") as r:
            counted = int(r.read())
        st = client.stats()
        client.close()

        text = ("Refactored the parser and added tests for the new tokenizer. " * 6)[:300]
        costs: dict[str, float] = {}
        for name, route in (("redacted", redacted), ("plain", plain)):
            held = C(base_url=url, transport=Held(), max_queue_size=60_000)
            fields = {"submission_id": "x", "ts": 1.0, "session_id": "s", "kind": "k", "text": text}
            s = held._submit
            samples = []
            for _ in range(50_000):
                a = time.perf_counter_ns()
                s(route, fields)
                samples.append(time.perf_counter_ns() - a)
            costs[name] = statistics.median(samples[1000:]) / 1000
            held.close(timeout=0)
        red = Redactor()
        secret_text = text[:250] + " mail bob@example.com key AKIAIOSFODNN7ABCDEFG"
        w0 = time.perf_counter()
        for _ in range(20_000):
            red.redact(text)
        worker_clean = (time.perf_counter() - w0) / 20_000 * 1e6
        w0 = time.perf_counter()
        for _ in range(20_000):
            red.redact(secret_text)
        worker_dirty = (time.perf_counter() - w0) / 20_000 * 1e6
    finally:
        sink.terminate()
        sink.wait(5)
    print(
        json.dumps(
            {
                "items": n,
                "batch": batch,
                "flushed": ok,
                "sink_counted": counted,
                "delivered": st.delivered,
                "batches_sent": st.batches_sent,
                "delivered_events_per_s": round(counted / elapsed),
                "submit_only_us_per_item": round(t_submit / n * 1e6, 2),
                "caller_us_median_300char_redaction_declared": round(costs["redacted"], 2),
                "caller_us_median_300char_no_redaction": round(costs["plain"], 2),
                "worker_redact_us_300char_clean": round(worker_clean, 2),
                "worker_redact_us_300char_with_secrets": round(worker_dirty, 2),
                "pid": os.getpid(),
            }
        )
    )


if __name__ == "__main__":
    main()
