"""swarm-analytics, generated from specs/swarm_analytics/v1.yaml, against the reference server.

The scenarios of the seed's own test list and of seed-contracts.md §1.8.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pydantic
import pytest
from swarm_analytics import (
    AgentMessage,
    AnalyticsClient,
    AuthError,
    Drop,
    SqliteSpool,
    TransportError,
)

from tests.conftest import ROOT
from tests.e2e.conftest import RefServer, free_port, wait_for

EVENT_PATHS = {
    "/public/events/app_lifecycle/opened",
    "/public/events/app_lifecycle/closed",
    "/public/events/agent/create",
    "/public/events/agent/message",
    "/public/events/dashboard/event",
    "/public/events/onboarding/step",
    "/public/logs",
}


def every_call(client: AnalyticsClient) -> None:
    """The seed README's usage, as written."""
    client.events.app_lifecycle.opened(os="darwin", os_version="25.3.0", app_version="1.2.0")
    client.events.agent.create(id="sess_123", name="Refactor auth", dashboard_id="dash_1")
    client.events.agent.message(
        agent_id="sess_123", seq=0, message=AgentMessage(id="m1", role="user", content="hello")
    )
    client.events.onboarding.step(step_id="connect_provider", status="completed")
    client.events.dashboard.event(dashboard_id="dash_1", action="create")
    client.logs.write(tag="agent", subtag="tool", data={"name": "shell"})
    client.identify.link_email(email="user@example.com")
    client.events.app_lifecycle.closed()


def test_invalid_value_raises_in_caller_before_any_io(swarm_server: RefServer) -> None:
    client = AnalyticsClient(base_url=swarm_server.url, token="tok")
    with pytest.raises(pydantic.ValidationError) as info:
        client.events.onboarding.step(step_id="s", status="finished")  # type: ignore[arg-type]
    assert "status" in str(info.value)
    with pytest.raises(pydantic.ValidationError):
        client.events.agent.message(
            agent_id="a", seq="not-a-number", message={"id": "m", "role": "x"}
        )  # type: ignore[arg-type]
    assert client.flush(timeout=5)
    client.close()
    assert swarm_server.requests() == []
    assert client.stats().enqueued == 0


def test_register_then_every_route_delivers_the_wire_contract(swarm_server: RefServer) -> None:
    token = AnalyticsClient.register(base_url=swarm_server.url, install_id="install-42")
    assert isinstance(token, str) and token
    [register] = swarm_server.requests("/public/identify/create_install_token")
    assert "authorization" not in register["headers"]
    assert register["body"] == {"install_id": "install-42"}

    with AnalyticsClient(base_url=swarm_server.url, token=token) as client:
        every_call(client)
        assert client.flush(timeout=10)
        assert client.stats().delivered == 8 and client.stats().dropped == 0

    requests = [r for r in swarm_server.requests() if r["path"] != register["path"]]
    assert {r["path"] for r in requests} == EVENT_PATHS | {"/public/identify/link_email_to_install"}
    assert all(r["status"] == 200 for r in requests)
    for request in requests:
        assert request["headers"]["authorization"] == f"Bearer {token}"
        body = request["body"]
        assert "install_id" not in body and "user_id" not in body
        if request["path"] in EVENT_PATHS:
            assert isinstance(body["ts"], float)
            assert uuid.UUID(body["submission_id"]).version == 4
            assert request["headers"]["idempotency-key"] == body["submission_id"]
        else:
            assert body == {"email": "user@example.com"}
    [create] = [r for r in requests if r["path"] == "/public/events/agent/create"]
    assert create["body"]["id"] == "sess_123" and "agent_id" not in create["body"]
    assert create["body"]["name"] == "Refactor auth"
    [opened] = [r for r in requests if r["path"] == "/public/events/app_lifecycle/opened"]
    assert opened["body"]["timezone"] is None  # swarm sends absent optionals as null
    [message] = [r for r in requests if r["path"] == "/public/events/agent/message"]
    assert message["body"]["message"]["content"] == "hello"


def test_register_errors_are_typed(start_server) -> None:
    with pytest.raises(TransportError):
        AnalyticsClient.register(base_url=f"http://127.0.0.1:{free_port()}", install_id="x")
    server = start_server()
    with pytest.raises(pydantic.ValidationError):
        AnalyticsClient.register(base_url=server.url, install_id="")  # minLength 1, before I/O
    assert server.requests() == []
    server.faults([503])
    with pytest.raises(TransportError) as info:
        AnalyticsClient.register(base_url=server.url, install_id="x")
    assert info.value.status == 503
    server.faults([401])
    with pytest.raises(AuthError):
        AnalyticsClient.register(base_url=server.url, install_id="x")


def test_same_submission_id_across_503_503_200(swarm_server: RefServer) -> None:
    drops: list[Drop] = []
    swarm_server.faults([503, 503, 200])
    client = AnalyticsClient(base_url=swarm_server.url, token="tok", on_drop=drops.append)
    client.events.onboarding.step(step_id="connect_provider", status="started")
    assert client.flush(timeout=15)
    client.close()
    posts = swarm_server.requests("/public/events/onboarding/step")
    assert [p["status"] for p in posts] == [503, 503, 200]
    assert len({p["body"]["submission_id"] for p in posts}) == 1
    assert drops == [] and client.stats().retried == 2 and client.stats().delivered == 1


def test_400_is_dropped_once_and_reported(swarm_server: RefServer) -> None:
    drops: list[Drop] = []
    swarm_server.faults([400])
    client = AnalyticsClient(base_url=swarm_server.url, token="tok", on_drop=drops.append)
    client.events.dashboard.event(dashboard_id="d", action="open")
    assert client.flush(timeout=10)
    client.close()
    assert len(swarm_server.requests()) == 1
    assert [(d.status, d.reason, d.route) for d in drops] == [
        (400, "rejected", "events.dashboard.event")
    ]
    assert client.stats().dropped_by_reason == {"rejected": 1}


def test_429_then_200_is_two_posts(swarm_server: RefServer) -> None:
    swarm_server.faults([{"status": 429, "retry_after": 1}, 200])
    client = AnalyticsClient(base_url=swarm_server.url, token="tok")
    client.logs.write(tag="t")
    assert client.flush(timeout=10)
    client.close()
    assert [r["status"] for r in swarm_server.requests()] == [429, 200]


def test_bad_token_is_dropped_with_401(swarm_server: RefServer) -> None:
    swarm_server.admin("POST", "/_admin/config", {"accepted_tokens": ["good"]})
    drops: list[Drop] = []
    client = AnalyticsClient(base_url=swarm_server.url, token="bad", on_drop=drops.append)
    client.events.app_lifecycle.closed()
    assert client.flush(timeout=10)
    client.close()
    assert [(d.status, d.reason) for d in drops] == [(401, "rejected")]


def test_minimal_mode_mutes_product_events_only(swarm_server: RefServer) -> None:
    with pytest.raises(ValueError, match="minimul"):
        AnalyticsClient(base_url=swarm_server.url, token="tok", mode="minimul")  # type: ignore[arg-type]
    client = AnalyticsClient(base_url=swarm_server.url, token="tok", mode="minimal")
    every_call(client)
    # Muting happens before validation: a muted call with a bad value is still a no-op.
    client.events.onboarding.step(step_id="s", status="finished")  # type: ignore[arg-type]
    assert client.flush(timeout=10)
    client.close()
    paths = sorted(r["path"] for r in swarm_server.requests())
    assert paths == ["/public/identify/link_email_to_install", "/public/logs"]


def test_kill_9_with_spool_loses_nothing(tmp_path: Path, start_server) -> None:
    """A child queues 200 events while the server is down, is killed with SIGKILL; a new
    client on the same spool file delivers exactly those 200, once each."""
    port = free_port()
    spool_file = tmp_path / "spool.db"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from swarm_analytics import AnalyticsClient, SqliteSpool
            client = AnalyticsClient(base_url="http://127.0.0.1:{port}", token="tok",
                                     spool=SqliteSpool({str(spool_file)!r}))
            for i in range(200):
                client.events.agent.message(agent_id="a", seq=i,
                                            message={{"id": f"m{{i}}", "role": "user"}})
            deadline = time.monotonic() + 20
            while client.stats().spooled < 200 and time.monotonic() < deadline:
                time.sleep(0.01)
            print("READY", client.stats().spooled, flush=True)
            time.sleep(60)
        """),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.split() == ["READY", "200"], line
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    server = start_server(port=port)
    # The server stores some events and then drops the connection before answering: the
    # client must retry them, and the server must dedupe the retries.
    server.faults(["reset", 200, "reset", 503])
    client = AnalyticsClient(base_url=server.url, token="tok", spool=SqliteSpool(spool_file))
    assert client.flush(timeout=30)
    client.close()
    events = server.events("agentMessage")
    ids = [e["submission_id"] for e in events]
    assert len(ids) == 200 and len(set(ids)) == 200
    assert sorted(e["seq"] for e in events) == list(range(200))
    with sqlite3.connect(spool_file) as db:
        assert db.execute("SELECT COUNT(*) FROM spool").fetchone() == (0,)


def test_exit_without_flush_still_delivers(swarm_server: RefServer) -> None:
    """The bounded flush at interpreter exit sends what is queued."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            from swarm_analytics import AnalyticsClient
            client = AnalyticsClient(base_url={swarm_server.url!r}, token="tok")
            for i in range(20):
                client.logs.write(tag="exit", data={{"i": i}})
        """),
        ],
        cwd=ROOT,
        check=True,
        timeout=30,
    )
    assert wait_for(lambda: len(swarm_server.requests("/public/logs")) == 20)


def test_queue_full_drops_are_counted_not_raised(swarm_server: RefServer) -> None:
    drops: list[Drop] = []
    client = AnalyticsClient(
        base_url=f"http://127.0.0.1:{free_port()}",
        token="tok",
        max_queue_size=10,
        on_drop=drops.append,
    )
    for i in range(50):
        client.logs.write(tag="burst", data=i)
    stats = client.stats()
    client.close(timeout=0.1)
    assert stats.enqueued + stats.dropped_by_reason.get("queue_full", 0) == 50
    assert stats.dropped_by_reason.get("queue_full", 0) >= 39
    assert wait_for(lambda: len(drops) >= 39)
    assert {d.reason for d in drops} <= {"queue_full", "shutdown"}
    assert all(json.loads(d.body)["tag"] == "burst" for d in drops)
