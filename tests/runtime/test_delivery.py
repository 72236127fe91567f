"""Behaviour a user notices, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import httpx
import pydantic
import pytest
from ingest_runtime import Drop, HttpxTransport, MemoryTransport
from ingest_runtime.client import IngestClient
from rt_support import Client, Server


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def test_validation_error_raised_before_anything_is_sent(server: Server) -> None:
    with Client(base_url=server.url, token="t") as c:
        with pytest.raises(pydantic.ValidationError):
            c.step(step_id="s", status="finished")
        assert c.flush(2)
        assert c.stats().enqueued == 0
    assert server.requests == []


def test_wire_format_headers_and_paths(server: Server) -> None:
    with Client(base_url=server.url + "/", token="tok") as c:
        c.step(step_id="s1", status="started")
        c.log(step_id="l1")
        c.link_email(email="a@b.c")
        c.put_item(item_id="abc")
        assert c.flush(5)
    step, log, email, item = server.requests
    assert step.path == "/public/events/onboarding/step"
    body = step.json()
    assert body["note"] is None  # None sent as JSON null by default
    assert isinstance(body["ts"], float)
    assert uuid.UUID(body["submission_id"]).version == 4
    assert step.headers["Authorization"] == "Bearer tok"
    assert step.headers["Content-Type"] == "application/json"
    assert step.headers["User-Agent"].startswith("ingest-runtime/")
    assert step.headers["User-Agent"].endswith(" test_service")
    assert step.headers["Idempotency-Key"] == body["submission_id"]
    assert "note" not in log.json()  # omit_none route
    assert "Idempotency-Key" not in email.headers
    assert email.json() == {"email": "a@b.c"}
    assert item.method == "PUT" and item.path == "/items/abc"
    assert item.headers["Idempotency-Key"] == item.json()["submission_id"]


def test_no_authorization_header_without_token(server: Server) -> None:
    with Client(base_url=server.url) as c:
        c.step(step_id="s", status="started")
        assert c.flush(5)
    assert "Authorization" not in server.requests[0].headers


def test_idempotency_key_identical_across_retries(server: Server) -> None:
    server.respond(503, 503)
    drops: list[Drop] = []
    with Client(base_url=server.url, token="t", on_drop=drops.append) as c:
        c.step(step_id="s", status="started")
        assert c.flush(10)
        st = c.stats()
    assert len(server.requests) == 3
    keys = {r.json()["submission_id"] for r in server.requests}
    assert len(keys) == 1
    assert {r.headers["Idempotency-Key"] for r in server.requests} == keys
    assert st.delivered == 1 and st.retried == 2 and st.dropped == 0 and drops == []


def test_permanent_rejection_is_one_request_and_one_counted_drop(server: Server) -> None:
    server.respond(400)
    drops: list[Drop] = []
    with Client(base_url=server.url, token="t", on_drop=drops.append) as c:
        c.step(step_id="s", status="started")
        assert c.flush(5)
        st = c.stats()
    assert len(server.requests) == 1
    assert len(drops) == 1
    d = drops[0]
    assert (d.status, d.reason, d.route, d.attempts) == (
        400,
        "rejected",
        "events.onboarding.step",
        1,
    )
    assert d.key == server.requests[0].json()["submission_id"]
    assert d.body == server.requests[0].body
    assert st.dropped_by_reason == {"rejected": 1} and st.delivered == 0


def test_retry_after_is_honoured(server: Server) -> None:
    server.respond((429, {"Retry-After": "1"}))
    stamps: list[float] = []
    with Client(base_url=server.url, token="t") as c:
        t0 = time.monotonic()
        c.step(step_id="s", status="started")
        while len(server.requests) < 2 and time.monotonic() - t0 < 5:
            time.sleep(0.01)
        stamps.append(time.monotonic() - t0)
        assert c.flush(5)
    assert len(server.requests) == 2
    assert stamps[0] >= 0.95


def test_retries_exhausted_is_counted(server: Server) -> None:
    server.script.default = (500, {}, b"boom")
    drops: list[Drop] = []
    with Client(base_url=server.url, max_attempts=2, on_drop=drops.append) as c:
        c.step(step_id="s", status="started")
        assert c.flush(5)
    assert len(server.requests) == 2
    assert [(d.reason, d.status, d.attempts) for d in drops] == [("retries_exhausted", 500, 2)]


def test_queue_full_drops_newest_and_counts() -> None:
    drops: list[Drop] = []
    c = Client(base_url=closed_port_url(), max_queue_size=5, on_drop=drops.append)
    for i in range(20):
        c.step(step_id=f"s{i}", status="started")
    st = c.stats()
    assert st.enqueued + st.dropped_by_reason["queue_full"] == 20
    assert st.dropped_by_reason["queue_full"] >= 14
    deadline = time.monotonic() + 2
    while len(drops) < st.dropped_by_reason["queue_full"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert {d.reason for d in drops} == {"queue_full"}
    assert drops[-1].body and b'"s19"' in drops[-1].body  # the newest is the one dropped
    c.close(timeout=0)


def test_flush_false_while_down_then_true(server: Server) -> None:
    server.script.default = (503, {}, b"")
    c = Client(base_url=server.url, token="t")
    for i in range(3):
        c.step(step_id=f"s{i}", status="started")
    t0 = time.monotonic()
    assert c.flush(0.3) is False
    assert time.monotonic() - t0 < 1.0
    assert c.stats().queued >= 1
    server.script.default = (200, {}, b"{}")
    assert c.flush(15) is True
    assert c.stats().delivered == 3
    c.close()


def test_network_errors_are_retried_then_delivered() -> None:
    url = closed_port_url()
    c = Client(base_url=url)
    c.step(step_id="s", status="started")
    assert c.flush(0.3) is False  # connection refused, retrying
    srv = Server(port=int(url.rsplit(":", 1)[1]))
    try:
        assert c.flush(15) is True
        assert c.stats().delivered == 1 and c.stats().retried >= 1
        assert len(srv.requests) == 1
    finally:
        c.close()
        srv.stop()


def test_close_without_spool_counts_leftovers_as_shutdown(server: Server) -> None:
    server.script.default = (503, {}, b"")
    drops: list[Drop] = []
    c = Client(base_url=server.url, on_drop=drops.append)
    for i in range(4):
        c.step(step_id=f"s{i}", status="started")
    t0 = time.monotonic()
    c.close(timeout=0.2)
    assert time.monotonic() - t0 < 2.0
    st = c.stats()
    assert st.dropped_by_reason.get("shutdown") == 4
    assert len([d for d in drops if d.reason == "shutdown"]) == 4
    c.close()  # idempotent
    c.step(step_id="late", status="started")  # never raises
    assert c.stats().dropped_by_reason["closed"] == 1


def test_modes_mute_before_validation(server: Server) -> None:
    with pytest.raises(ValueError, match="'full', 'minimal'"):
        Client(base_url=server.url, mode="minimul")
    with Client(base_url=server.url, mode="minimal") as c:
        c.step(step_id="", status="not-a-status")  # muted: silent no-op even with bad args
        c.link_email(email="x@y.z")
        assert c.flush(5)
    assert [r.path for r in server.requests] == ["/public/identify/link_email"]


def test_concurrent_callers(server: Server) -> None:
    with Client(base_url=server.url) as c:

        def burst() -> None:
            for i in range(100):
                c.step(step_id=f"s{i}", status="started")

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert c.flush(20)
        st = c.stats()
    assert st.enqueued == 400 and st.delivered == 400 and st.queued == 0
    assert len({b["submission_id"] for b in server.bodies()}) == 400


def test_user_http_client_uses_httpx_transport(server: Server) -> None:
    with httpx.Client() as hc:
        c = Client(base_url=server.url, http_client=hc)
        assert isinstance(c.transport, HttpxTransport)
        c.step(step_id="s", status="started")
        assert c.flush(5)
        c.close()
    assert len(server.requests) == 1


def test_memory_transport_for_users_tests() -> None:
    mt = MemoryTransport([503, ConnectionResetError("reset")])
    c = Client(base_url="http://example.invalid", transport=mt, token="t")
    assert c.transport is mt
    c.step(step_id="s", status="started")
    assert c.flush(10)
    c.close()
    assert len(mt.requests) == 3
    assert mt.requests[0].path == "/public/events/onboarding/step"
    assert len({r.body for r in mt.requests}) == 1
    assert c.stats().delivered == 1


def test_on_drop_exceptions_are_swallowed(server: Server) -> None:
    server.respond(400, 400)

    def bad(_: Drop) -> None:
        raise RuntimeError("user bug")

    with Client(base_url=server.url, on_drop=bad) as c:
        c.step(step_id="a", status="started")
        c.step(step_id="b", status="started")
        c.step(step_id="c", status="started")
        assert c.flush(5)
        st = c.stats()
    assert st.dropped == 2 and st.delivered == 1


def test_base_class_is_usable_directly() -> None:
    c = IngestClient(base_url="http://127.0.0.1:1", mode="full")
    assert c.flush(1)
    c.close()


def test_atexit_flushes_pending_events(server: Server) -> None:
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parent
    code = (
        f"import sys; sys.path[:0] = [{str(here)!r}, {str(here.parents[1] / 'runtime')!r}]\n"
        "from rt_support import Client\n"
        f"c = Client(base_url={server.url!r})\n"
        "for i in range(100): c.step(step_id=str(i), status='started')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert len(server.requests) == 100


def test_backoff_base_and_cap_are_per_client(server: Server) -> None:
    """A client's own backoff: capped at 50 ms, five attempts against a server that always
    answers 503 take well under a second (the default base 0.5 s / cap 30 s waits ~3.75 s in
    expectation over four retries). Bad values are refused at construction."""
    server.script.default = (503, {}, b"down")
    with Client(base_url=server.url, max_attempts=5, backoff_base=0.01, backoff_cap=0.05) as c:
        started = time.monotonic()
        c.step(step_id="s", status="started")
        assert c.flush(5)
        elapsed = time.monotonic() - started
        assert c.stats().dropped_by_reason == {"retries_exhausted": 1}
    assert len(server.requests) == 5 and elapsed < 1.0
    with pytest.raises(ValueError, match="backoff"):
        Client(base_url=server.url, backoff_base=2.0, backoff_cap=1.0)
