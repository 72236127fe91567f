"""The reference server against the swarm-analytics spec (OpenAPI 3.1), over real HTTP."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from serverproc import SWARM_SPEC, ServerProcess

STEP = "/public/events/onboarding/step"
REGISTER = "/public/identify/create_install_token"
AUTH = {"Authorization": "Bearer test-token"}


def step(status: str = "completed", submission_id: str | None = None) -> dict[str, Any]:
    return {
        "ts": time.time(),
        "submission_id": submission_id or str(uuid.uuid4()),
        "step_id": "welcome",
        "status": status,
    }


def test_bad_enum_value_gets_fastapi_style_422(swarm: ServerProcess) -> None:
    status, body, _ = swarm.exchange("POST", STEP, step(status="finished"), AUTH)
    assert status == 422
    assert body["detail"] == [
        {
            "loc": ["body", "status"],
            "msg": "Input should be 'started', 'completed' or 'abandoned'",
            "type": "enum",
            "input": "finished",
        }
    ]


def test_422_lists_every_error(swarm: ServerProcess) -> None:
    status, body, _ = swarm.exchange("POST", STEP, {"ts": "soon", "step_id": 3}, AUTH)
    assert status == 422
    got = {(tuple(d["loc"]), d["type"]) for d in body["detail"]}
    assert got == {
        (("body", "ts"), "float_type"),
        (("body", "submission_id"), "missing"),
        (("body", "step_id"), "string_type"),
        (("body", "status"), "missing"),
    }


def test_invalid_json_and_missing_body_are_422(swarm: ServerProcess) -> None:
    status, body, _ = swarm.exchange("POST", STEP, raw=b'{"ts": 1,', headers=AUTH)
    assert (status, body["detail"][0]["type"]) == (422, "json_invalid")
    status, body, _ = swarm.exchange("POST", STEP, headers=AUTH)
    assert status == 422
    assert body["detail"] == [
        {"loc": ["body"], "msg": "Field required", "type": "missing", "input": None}
    ]


def test_auth_required_except_on_security_empty_route(swarm: ServerProcess) -> None:
    status, body, headers = swarm.exchange("POST", STEP, step())
    assert status == 401
    assert isinstance(body["detail"], str)
    assert headers["www-authenticate"] == "Bearer"
    status, _, _ = swarm.exchange("POST", REGISTER, {"install_id": "inst-1"})
    assert status == 200


def test_register_mints_a_conforming_token_and_echoes_install_id(swarm: ServerProcess) -> None:
    status, body, _ = swarm.exchange("POST", REGISTER, {"install_id": "inst-42"})
    assert status == 200
    assert set(body) == {"token", "install_id"}
    assert body["install_id"] == "inst-42"
    assert body["token"].startswith("tok_") and len(body["token"]) == 36
    _, again, _ = swarm.exchange("POST", REGISTER, {"install_id": "inst-42"})
    assert again["token"] != body["token"]


def test_token_restriction_keeps_minted_tokens(swarm: ServerProcess) -> None:
    _, minted, _ = swarm.exchange("POST", REGISTER, {"install_id": "inst-7"})
    assert swarm.post("/_admin/config", {"accepted_tokens": ["t1"]}) == {"accepted_tokens": ["t1"]}
    assert swarm.exchange("POST", STEP, step(), {"Authorization": "Bearer t2"})[0] == 401
    assert swarm.exchange("POST", STEP, step(), {"Authorization": "Bearer t1"})[0] == 200
    bearer = {"Authorization": f"Bearer {minted['token']}"}
    assert swarm.exchange("POST", STEP, step(), bearer)[0] == 200
    swarm.post("/_admin/config", {"accepted_tokens": None})
    assert swarm.exchange("POST", STEP, step(), {"Authorization": "Bearer t2"})[0] == 200


def test_dedupe_by_submission_id(swarm: ServerProcess) -> None:
    event = step()
    first = swarm.exchange("POST", STEP, event, AUTH)
    second = swarm.exchange("POST", STEP, event, AUTH)
    assert first[:2] == (200, {"status": "ok", "duplicate": False})
    assert second[:2] == (200, {"status": "ok", "duplicate": True})
    events = swarm.get("/_admin/events?operation=onboardingStep")["events"]
    assert [e["body"]["submission_id"] for e in events] == [event["submission_id"]]
    # Dedupe is scoped by credential: another install may reuse the id.
    other = swarm.exchange("POST", STEP, event, {"Authorization": "Bearer other"})
    assert other[1]["duplicate"] is False
    recorded = swarm.get("/_admin/requests?operation=onboardingStep")["requests"]
    assert [r["duplicate"] for r in recorded] == [False, True, False]
    assert all(r["key"] == event["submission_id"] for r in recorded)


def test_requests_stats_filters_and_reset(swarm: ServerProcess) -> None:
    swarm.exchange("POST", REGISTER, {"install_id": "i"})
    event = step()
    swarm.exchange("POST", STEP, event, AUTH)
    swarm.exchange("POST", STEP, event, AUTH)
    swarm.exchange("POST", STEP, step("bogus"), AUTH)
    swarm.exchange("POST", STEP, step())
    swarm.exchange("GET", "/nowhere")
    assert swarm.exchange("GET", STEP)[0] == 405
    stats = swarm.get("/_admin/stats")
    assert {k: stats[k] for k in ("received", "accepted", "duplicates", "rejected", "faulted")} == {
        "received": 7,
        "accepted": 2,
        "duplicates": 1,
        "rejected": 4,
        "faulted": 0,
    }
    assert stats["stored"] == 2
    assert stats["by_operation"]["onboardingStep"]["received"] == 4  # the 405 has no operation
    assert stats["by_operation"]["onboardingStep"]["rejected"] == 2

    everything = swarm.get("/_admin/requests")["requests"]
    assert [r["status"] for r in everything] == [200, 200, 200, 422, 401, 404, 405]
    first = everything[1]
    assert first["body"] == event and first["raw_body"].startswith("{")
    assert first["headers"]["authorization"] == "Bearer test-token"
    assert first["method"] == "POST" and first["path"] == STEP
    assert first["operation"] == "onboardingStep"
    by_path = swarm.get(f"/_admin/requests?path={STEP}&limit=2")["requests"]
    assert [r["id"] for r in by_path] == [everything[1]["id"], everything[2]["id"]]
    after = swarm.get(f"/_admin/requests?after_id={everything[4]['id']}")["requests"]
    assert [r["path"] for r in after] == ["/nowhere", STEP]
    assert swarm.get("/_admin/stats")["received"] == 7  # admin calls are never recorded

    swarm.post("/_admin/faults", [503])
    swarm.post("/_admin/config", {"accepted_tokens": ["x"]})
    swarm.post("/_admin/reset", {})
    assert swarm.get("/_admin/requests") == {"requests": []}
    assert swarm.get("/_admin/events") == {"events": []}
    assert swarm.get("/_admin/stats")["received"] == 0
    assert swarm.get("/_admin/faults")["pending"] == []
    assert swarm.exchange("POST", STEP, step(), AUTH)[0] == 200


def test_every_route_accepts_a_valid_body(swarm: ServerProcess) -> None:
    bodies = {
        "/public/identify/link_email_to_install": {"email": "a@b.c"},
        "/public/events/app_lifecycle/opened": {
            **step(),
            "os": "linux",
            "os_version": "6",
            "timezone": None,
            "app_version": "1.0",
        },
        "/public/events/app_lifecycle/closed": {"ts": 1.5, "submission_id": str(uuid.uuid4())},
        "/public/events/agent/create": {**step(), "id": "sess", "dashboard_id": None},
        "/public/events/agent/message": {
            **step(),
            "agent_id": "a",
            "seq": 1,
            "message": {"id": "m", "role": "user", "content": {"any": ["json"]}},
        },
        "/public/events/dashboard/event": {**step(), "dashboard_id": "d", "action": "open"},
        "/public/logs": {**step(), "tag": "t", "data": [1, 2]},
    }
    for path, body in bodies.items():
        status, reply, _ = swarm.exchange("POST", path, body, AUTH)
        assert status == 200, (path, reply)
    status, reply, _ = swarm.exchange(
        "POST",
        "/public/events/agent/message",
        {**bodies["/public/events/agent/message"], "seq": "1"},
        AUTH,
    )
    assert status == 422 and reply["detail"][0]["loc"] == ["body", "seq"]


def test_db_file_persists_requests_and_counters(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    with ServerProcess(SWARM_SPEC, db) as server:
        server.exchange("POST", STEP, step(), AUTH)
        server.exchange("POST", STEP, step("nope"), AUTH)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM requests").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    with ServerProcess(SWARM_SPEC, db) as server:
        stats = server.get("/_admin/stats")
        assert (stats["received"], stats["accepted"], stats["stored"]) == (2, 1, 1)
