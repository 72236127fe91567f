"""Fault scripting: statuses, Retry-After, and commit-then-drop-the-connection."""

from __future__ import annotations

import http.client
import json
import time
import uuid
from email.utils import parsedate_to_datetime

import httpx
import pytest
from serverproc import ServerProcess

STEP = "/public/events/onboarding/step"
HEADERS = {"Authorization": "Bearer t", "Content-Type": "application/json"}


def body() -> dict[str, object]:
    return {
        "ts": time.time(),
        "submission_id": str(uuid.uuid4()),
        "step_id": "s",
        "status": "started",
    }


def test_script_is_observed_in_order_by_a_retrying_http_client_loop(swarm: ServerProcess) -> None:
    script = [503, 503, {"status": 429, "retry_after": 1}, "reset", 200]
    swarm.post("/_admin/faults", script)
    event = body()
    conn = http.client.HTTPConnection("127.0.0.1", swarm.port, timeout=5)
    seen: list[object] = []
    for _ in script:
        try:
            conn.request("POST", STEP, json.dumps(event), HEADERS)
            resp = conn.getresponse()
            payload = json.loads(resp.read())
            seen.append((resp.status, resp.getheader("Retry-After"), payload))
        except (ConnectionError, http.client.HTTPException) as exc:
            seen.append(type(exc).__name__)
            conn.close()
    assert seen[0][:2] == (503, None) and seen[1][:2] == (503, None)  # type: ignore[index]
    assert seen[2][:2] == (429, "1")  # type: ignore[index]
    assert seen[3] == "RemoteDisconnected"  # no status line at all: a network error
    assert seen[4] == (200, None, {"status": "ok", "duplicate": True})  # reset had stored it
    assert [e["key"] for e in swarm.get("/_admin/events")["events"]] == [event["submission_id"]]
    stats = swarm.get("/_admin/stats")
    counts = (stats["received"], stats["faulted"], stats["duplicates"], stats["stored"])
    assert counts == (5, 4, 1, 1)
    recorded = swarm.get("/_admin/requests")["requests"]
    assert [r["fault"] for r in recorded] == ["503", "503", "429", "reset", None]
    assert [r["status"] for r in recorded] == [503, 503, 429, 200, 200]


def test_reset_is_a_transport_error_for_httpx(swarm: ServerProcess) -> None:
    swarm.post("/_admin/faults", ["reset"])
    event = body()
    with httpx.Client(base_url=swarm.url, headers=HEADERS) as client:
        with pytest.raises(httpx.TransportError):
            client.post(STEP, json=event)
        assert client.post(STEP, json=event).json()["duplicate"] is True


def test_retry_after_as_http_date_and_clear(swarm: ServerProcess) -> None:
    swarm.post("/_admin/faults", [{"status": 429, "retry_after": 5, "retry_after_date": True}, 400])
    status, reply, headers = swarm.exchange("POST", STEP, body(), HEADERS)
    assert status == 429 and "injected" in reply["detail"]
    delay = parsedate_to_datetime(headers["retry-after"]).timestamp() - time.time()
    assert 3 < delay <= 6
    swarm.exchange("DELETE", "/_admin/faults")
    assert swarm.exchange("POST", STEP, body(), HEADERS)[0] == 200
    assert swarm.get("/_admin/stats")["stored"] == 1  # scripted statuses never store


def test_random_rates_are_seeded(swarm: ServerProcess) -> None:
    def run() -> list[int]:
        swarm.post("/_admin/faults", {"rates": {"503": 0.5}, "seed": 7})
        return [swarm.exchange("POST", STEP, body(), HEADERS)[0] for _ in range(20)]

    first = run()
    assert set(first) == {200, 503}
    assert run() == first
    swarm.post("/_admin/faults", {"rates": {"503": 1.0}})
    assert swarm.exchange("POST", STEP, body(), HEADERS)[0] == 503
    status, _, _ = swarm.exchange("POST", "/_admin/faults", {"rates": {"503": 0.9, "500": 0.9}})
    assert status == 422


def test_admin_routes_are_never_faulted(swarm: ServerProcess) -> None:
    swarm.post("/_admin/faults", [503])
    assert swarm.exchange("GET", "/_admin/stats")[0] == 200
    assert swarm.get("/_admin/faults")["pending"] == [503]
