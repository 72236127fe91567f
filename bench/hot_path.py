"""One hot-path measurement in one fresh process; prints one JSON line.

usage: python bench/hot_path.py LIB MODE N
  LIB  swarm (our generated client) | segment (segment-analytics-python track())
  MODE calls  (time each of N calls after 1,000 warm-up calls)
       queued (N calls, then report peak RSS with all N still queued)

Delivery is held back so every event stays queued and nothing is dropped: our client gets a
transport that blocks on its first send; Segment's consumers are paused and joined (as in
shared/research/anchors-runtime.md §d1, `hot_isolated`).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping

logging.disable(logging.WARNING)


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class HeldTransport:
    """A transport whose first send never returns until the process exits."""

    def __init__(self) -> None:
        self._gate = threading.Event()

    def send(self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float):
        self._gate.wait()
        raise ConnectionError("held")

    def close(self) -> None:
        self._gate.set()


def swarm(n: int) -> tuple[Callable[[], object], Callable[[], int], str]:
    from ingest_runtime import __version__
    from swarm_analytics import AnalyticsClient

    client = AnalyticsClient(
        base_url="http://127.0.0.1:9",
        token="tok",
        transport=HeldTransport(),
        max_queue_size=n + 10_000,
    )
    opened = client.events.app_lifecycle.opened

    def call() -> object:
        return opened(os="darwin", os_version="25.3.0", app_version="1.2.0", locale="en_US")

    return call, lambda: client.stats().dropped, f"ingest-runtime {__version__}"


def segment(n: int) -> tuple[Callable[[], object], Callable[[], int], str]:
    from segment.analytics import Client
    from segment.analytics.version import VERSION

    client = Client(write_key="wk", host="http://127.0.0.1:9", max_queue_size=n + 10_000)
    for consumer in client.consumers:
        consumer.pause()
    for consumer in client.consumers:
        consumer.join(timeout=10)
    props = {"os": "darwin", "os_version": "25.3.0", "app_version": "1.2.0", "locale": "en_US"}
    dropped = [0]

    def call() -> object:
        ok, _ = client.track(user_id="install-1", event="App Opened", properties=props)
        dropped[0] += not ok
        return ok

    return call, lambda: dropped[0], f"segment-analytics-python {VERSION}"


def main() -> None:
    lib, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rss_start = rss_kb()
    call, dropped, version = {"swarm": swarm, "segment": segment}[lib](n)
    out: dict[str, object] = {"lib": lib, "version": version, "mode": mode, "n": n}
    out["rss_after_init_mb"] = rss_kb() / 1024
    if mode == "calls":
        for _ in range(1000):
            call()
        clock = time.perf_counter_ns
        lat = [0] * n
        for i in range(n):
            start = clock()
            call()
            lat[i] = clock() - start
        lat.sort()
        out["median_us"] = lat[n // 2] / 1000
        out["p99_us"] = lat[int(n * 0.99)] / 1000
        out["mean_us"] = statistics.fmean(lat) / 1000
        overhead = []
        for _ in range(10_000):
            a = clock()
            overhead.append(clock() - a)
        out["timer_overhead_ns"] = statistics.median(overhead)
    else:
        gc.collect()
        started = time.perf_counter()
        for _ in range(n):
            call()
        out["seconds"] = time.perf_counter() - started
        gc.collect()
    out["dropped"] = dropped()
    out["rss_start_mb"] = rss_start / 1024
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out), flush=True)
    os._exit(0)  # skip atexit: the held queues are meant to stay undelivered


if __name__ == "__main__":
    main()
