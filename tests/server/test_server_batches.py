"""Batched operations: per-item dedupe, in-batch duplicate keys, HMAC verification."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegen.testing import RefServer

SPEC = Path(__file__).resolve().parent / "specs" / "traces.yaml"
PATH = "/api/trace-events/batch/"
SECRET = "org-salt"


def sign(run_id: str, seq: int, payload: dict[str, object], key: str = SECRET) -> str:
    """AOP's pinned recipe, written out independently of the server's implementation."""
    text = run_id + str(seq) + json.dumps(payload, ensure_ascii=True)
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def event(seq: int, payload: dict[str, object], run_id: str = "run-1") -> dict[str, object]:
    meta = {"run_id": run_id, "signature": sign(run_id, seq, payload)}
    return {"seq": seq, "payload": payload, "meta": meta}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefServer]:
    db = tmp_path_factory.mktemp("traces") / "server.db"
    with RefServer(SPEC, db, secret=SECRET) as running:
        yield running


def post(server: RefServer, body: object) -> tuple[int, Any]:
    return server.request("POST", PATH, body, {"Authorization": "Bearer t"})


def test_items_are_stored_once_and_resends_are_skipped(server: RefServer) -> None:
    server.admin("POST", "/_admin/reset", {})
    batch = {"run_id": "run-1", "events": [event(1, {"goal": "a"}), event(2, {"text": "é"})]}
    status, body = post(server, batch)
    assert status == 200 and body == {
        "status": "completed",
        "created": 2,
        "skipped": 0,
        "errors": [],
    }
    status, body = post(server, batch)
    assert status == 200 and body["created"] == 0 and body["skipped"] == 2
    assert len(server.events("uploadBatch")) == 2


def test_repeated_key_in_one_batch_is_rejected_before_any_write(server: RefServer) -> None:
    server.admin("POST", "/_admin/reset", {})
    status, _ = post(server, {"run_id": "r", "events": [event(1, {}), event(1, {"x": 1})]})
    assert status == 400
    assert server.events("uploadBatch") == []


def test_tampered_payload_fails_that_item_only(server: RefServer) -> None:
    server.admin("POST", "/_admin/reset", {})
    good, bad = event(1, {"text": "ünïcode"}), event(2, {"text": "original"})
    bad["payload"] = {"text": "tampered"}
    status, body = post(server, {"run_id": "run-1", "events": [good, bad]})
    assert status == 207
    assert body["created"] == 1
    assert body["errors"] == [{"index": 1, "key": "run-1|2", "error": "Invalid signature"}]
    assert [e["seq"] for e in server.events("uploadBatch")] == [1]


def test_dedupe_survives_a_restart_on_the_same_file(tmp_path: Path) -> None:
    """Keys seen before a restart are still duplicates after it (the dedupe set is reloaded)."""
    db = tmp_path / "server.db"
    first = {"run_id": "run-1", "events": [event(1, {"goal": "a"}), event(2, {"x": 2})]}
    with RefServer(SPEC, db, secret=SECRET) as running:
        assert post(running, first)[1]["created"] == 2
    again = {"run_id": "run-1", "events": [event(2, {"x": 2}), event(3, {"x": 3})]}
    with RefServer(SPEC, db, secret=SECRET) as running:
        status, body = post(running, again)
        assert status == 200 and (body["created"], body["skipped"]) == (1, 1)
        assert [e["seq"] for e in running.events("uploadBatch")] == [1, 2, 3]
