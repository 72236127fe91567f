"""Batched routes over real HTTP on 127.0.0.1: coalescing, derived ids, retries, 413, gzip,
signing, fallback files, hooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

import blake3
import pytest
from batch_support import (
    AOP_BATCH,
    MS_INGEST,
    MS_RAW,
    MS_UNORDERED,
    RUN_ID,
    AopClient,
    MsClient,
    body_json,
)
from ingest_runtime import Drop, Route, SqliteSpool
from rt_support import Server

TS0 = 1750336496.789


def h32(*parts: str) -> str:
    return blake3.blake3("\x1f".join(parts).encode()).hexdigest()[:32]


def closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"


def wait_for(cond: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.01)
    return False


def test_golden_vectors_modelstat() -> None:
    # Pinned: computed with the blake3 package from the recipe in seed-contracts §3.3.
    assert "evt_" + h32("dev_1", "sess_1::1750336496789::1") == (
        "evt_5a22aeb4ad3f1a3d7e9dcbd23d4f8d14"
    )
    assert "batch_" + h32(
        *sorted(["evt_5a22aeb4ad3f1a3d7e9dcbd23d4f8d14", "evt_fdd4cb89404eb31907bf7570ef32084d"])
    ) == ("batch_9ed8cb2adb71004ef1afe83608a716ef")


def test_modelstat_ids_timestamps_and_hoisting(server: Server) -> None:
    with MsClient(base_url=server.url, token="msk") as c:
        c.record(
            ts=TS0,
            session_id="sess_1",
            tool_calls=[{"name": "bash", "call_index": 0, "started_at": TS0}],
            git={"branch": None, "host": "github.com"},
        )
        c.record(ts=1750336497.0, session_id="sess_1")
        assert c.flush(5)
    (req,) = server.requests
    body = body_json(req)
    assert body["device_id"] == "dev_1" and body["daemon_version"] == "python-sdk/0.0.1"
    e1, e2 = body["events"]
    assert e1["source_event_id"] == "evt_5a22aeb4ad3f1a3d7e9dcbd23d4f8d14"
    assert e2["source_event_id"] == "evt_fdd4cb89404eb31907bf7570ef32084d"
    assert body["batch_id"] == "batch_9ed8cb2adb71004ef1afe83608a716ef"
    assert e1["ts"] == "2025-06-19T12:34:56.789Z" and e2["ts"] == "2025-06-19T12:34:57.000Z"
    (tc,) = body["tool_calls"]
    assert tc["external_call_id"] == "tc_c98114b399d96c94"
    assert tc["source_event_id"] == e1["source_event_id"]
    assert tc["started_at"] == "2025-06-19T12:34:56.789Z"
    assert "tool_calls" not in e1
    assert e1["git"] == {"host": "github.com"}  # nested absent optional omitted, never null
    assert b"null" not in req.body
    assert e1["tokens"] == {"input": 0, "output": 0}


def test_600_items_give_256_256_88_with_reference_ids(server: Server) -> None:
    with MsClient(base_url=server.url, flush_interval=3600) as c:
        for i in range(600):
            c.record(ts=TS0 + i, session_id="s")
        time.sleep(0.3)
        assert len(server.requests) == 2  # full batches go out without waiting for the tick
        assert c.flush(10)
        st = c.stats()
    bodies = [body_json(r) for r in server.requests]
    assert [len(b["events"]) for b in bodies] == [256, 256, 88]
    assert "tool_calls" not in bodies[0]
    seq = 0
    for b in bodies:
        for ev in b["events"]:
            seq += 1
            millis = round((TS0 + seq - 1) * 1000)
            assert ev["source_event_id"] == "evt_" + h32("dev_1", f"s::{millis}::{seq}")
        ids = sorted(ev["source_event_id"] for ev in b["events"])
        assert b["batch_id"] == "batch_" + h32(*ids)
    assert st.delivered == 600 and st.batches_sent == 3 and st.dropped == 0


def test_partial_batch_sent_on_interval_tick(server: Server) -> None:
    with MsClient(base_url=server.url, flush_interval=0.2) as c:
        for i in range(5):
            c.record(ts=TS0 + i, session_id="s")
        assert wait_for(lambda: len(server.requests) == 1, 3)
        assert len(body_json(server.requests[0])["events"]) == 5
        # The server logs the request before it answers: the client counts once it has read it.
        assert wait_for(lambda: c.stats().delivered == 5, 3)


def test_503_then_200_resends_identical_bytes(server: Server) -> None:
    server.respond((503, {"Retry-After": "0"}))
    with MsClient(base_url=server.url, token="t") as c:
        for i in range(3):
            c.record(ts=TS0 + i, session_id="s")
        assert c.flush(10)
        st = c.stats()
    a, b = server.requests
    assert a.body == b.body
    assert body_json(a)["batch_id"] == body_json(b)["batch_id"]
    assert st.delivered == 3 and st.retried == 1 and st.batches_sent == 1


def test_413_splits_in_halves_and_single_item_is_dropped_too_large(server: Server) -> None:
    server.respond(413)
    with MsClient(base_url=server.url) as c:
        for i in range(10):
            c.record(ts=TS0 + i, session_id="s")
        assert c.flush(10)
    assert [len(body_json(r)["events"]) for r in server.requests] == [10, 5, 5]
    server.requests.clear()
    server.respond(413, 413, 413)
    drops: list[Drop] = []
    with MsClient(base_url=server.url, on_drop=drops.append) as c:
        c.record(ts=TS0, session_id="a")
        c.record(ts=TS0, session_id="b")
        assert c.flush(10)
        st = c.stats()
    assert [len(body_json(r)["events"]) for r in server.requests] == [2, 1, 1]
    assert st.dropped_by_reason == {"too_large": 2}
    assert [d.reason for d in drops] == ["too_large", "too_large"]


def test_permanent_4xx_drops_every_item_of_the_batch(server: Server) -> None:
    server.respond(400)
    with MsClient(base_url=server.url) as c:
        for i in range(4):
            c.record(ts=TS0 + i, session_id="s")
        assert c.flush(5)
        assert c.stats().dropped_by_reason == {"rejected": 4}


def test_held_statuses_keep_the_batch_on_disk_until_released(
    tmp_path: Path, server: Server
) -> None:
    """A 422 with ``hold_statuses``: the batch is kept in the fallback directory, not dropped
    and not re-sent by itself; ``release_held()`` re-sends the same bytes, which are held
    again while the server still refuses them and delivered once it accepts them."""
    server.respond(422)
    drops: list[Drop] = []
    seen: list[bool] = []
    c = MsClient(
        base_url=server.url,
        fallback_dir=tmp_path,
        hold_statuses=(400, 422),
        on_drop=drops.append,
        after_send=lambda route, item, ok, status: seen.append(ok),
    )
    for i in range(4):
        c.record(ts=TS0 + i, session_id="s", content_excerpt="me@example.com")
    assert c.flush(5)
    st = c.stats()
    assert (st.held, st.dropped, st.delivered, drops) == (4, 0, 0, [])
    assert seen == [False] * 4
    held = [f for f in tmp_path.iterdir() if f.name.startswith("held-")]
    assert len(held) == 1 and b"me@example.com" not in held[0].read_bytes()
    assert len(server.requests) == 1  # a refusal is not retried
    first = server.requests[0].body

    server.respond(400)  # still refused: held again, in a new file
    assert c.release_held() == 4
    assert c.flush(5)
    st = c.stats()
    assert (st.held, st.dropped, st.delivered) == (8, 0, 0)
    assert [f.name for f in tmp_path.iterdir()] != [held[0].name]
    assert len(list(tmp_path.iterdir())) == 1

    assert c.release_held() == 4  # accepted now
    assert c.flush(5)
    st = c.stats()
    c.close()
    assert (st.held, st.dropped, st.delivered) == (8, 0, 4)
    assert len(server.requests) == 3
    assert server.requests[1].body == server.requests[2].body == first
    assert list(tmp_path.iterdir()) == []
    assert c.release_held() == 0  # closed


def test_releasing_twice_queues_held_items_once(tmp_path: Path, server: Server) -> None:
    server.respond(422)
    with MsClient(base_url=server.url, fallback_dir=tmp_path, hold_statuses=(422,)) as c:
        for i in range(3):
            c.record(ts=TS0 + i, session_id="s")
        assert c.flush(5)
        server.delay = 0.2  # the first release's request is still in flight
        assert c.release_held() == 3
        assert c.release_held() == 0
        assert c.flush(5)
        st = c.stats()
    assert (st.held, st.delivered, st.dropped, len(server.requests)) == (3, 3, 0, 2)
    assert list(tmp_path.iterdir()) == []


def test_held_statuses_without_a_directory_drop_and_other_4xx_still_drop(
    tmp_path: Path, server: Server
) -> None:
    server.respond(422)
    with MsClient(base_url=server.url, hold_statuses=(422,)) as c:
        c.record(ts=TS0, session_id="s")
        assert c.flush(5)
        st = c.stats()
    assert (st.held, st.dropped_by_reason) == (0, {"rejected": 1})
    server.respond(403)
    with MsClient(base_url=server.url, fallback_dir=tmp_path, hold_statuses=(422,)) as c:
        c.record(ts=TS0, session_id="s")
        assert c.flush(5)
        st = c.stats()
        assert c.release_held() == 0
    assert (st.held, st.dropped_by_reason) == (0, {"rejected": 1})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="retried"):
        MsClient(base_url=server.url, hold_statuses=(429,))


def test_a_413_on_one_item_is_held_after_the_split(tmp_path: Path, server: Server) -> None:
    server.respond(413, 413, 200)
    with MsClient(base_url=server.url, fallback_dir=tmp_path, hold_statuses=(413,)) as c:
        c.record(ts=TS0, session_id="big")
        c.record(ts=TS0, session_id="small")
        assert c.flush(5)
        st = c.stats()
    assert (st.held, st.delivered, st.dropped) == (1, 1, 0)
    (held,) = tmp_path.iterdir()
    assert '\\"session_id\\":\\"big\\"' in held.read_text()


@pytest.mark.parametrize(("transient", "requests"), [((408, 429), 1), ((408, 426, 429), 2)])
def test_transient_statuses_decide_what_is_retried(
    server: Server, transient: tuple[int, ...], requests: int
) -> None:
    server.respond(426)
    with MsClient(base_url=server.url, transient_statuses=transient, backoff_schedule=(0.01,)) as c:
        c.record(ts=TS0, session_id="s")
        assert c.flush(5)
        st = c.stats()
    assert len(server.requests) == requests
    assert st.delivered == requests - 1


def test_gzip_body_decodes_to_the_same_json(server: Server) -> None:
    docs = []
    for use_gzip in (False, True):
        with MsClient(base_url=server.url, gzip=use_gzip) as c:
            for i in range(20):
                c.record(ts=TS0 + i, session_id="s", content_excerpt="hello " * 20)
            assert c.flush(5)
        docs.append(server.requests[-1])
    plain, gz = docs
    assert "Content-Encoding" not in plain.headers
    assert gz.headers["Content-Encoding"] == "gzip"
    assert len(gz.body) < len(plain.body)
    assert body_json(gz) == json.loads(plain.body)


def _sig(payload: dict[str, Any], seq: int, key: bytes = b"k", run_id: str = RUN_ID) -> str:
    text = json.dumps(payload, ensure_ascii=True, separators=(", ", ": "))
    return hmac.new(key, (run_id + str(seq) + text).encode(), hashlib.sha256).hexdigest()


def test_aop_signature_golden_vectors() -> None:
    assert _sig({"text": "done"}, 1) == (
        "9370fc5f6230657940c1072278315fb3695232399f2a1dd89f4ad75f930c69ab"
    )
    assert _sig({"text": "caf\u00e9"}, 1) == (
        "e1b6a2ed40d63e5ab25a1c5958f0b1915bd22c941164f5eed3334079eb5d6e83"
    )


def test_aop_seq_signature_and_redaction_before_signing(server: Server) -> None:
    with AopClient(base_url=server.url, signing_key="k") as c:
        c.emit({"text": "done"})
        c.emit({"text": "caf\u00e9"})
        c.emit({"text": "mail me at bob@example.com", "steps": [{"description": "key AKIA"}]})
        assert c.flush(5)
    (req,) = server.requests
    body = body_json(req)
    assert body["run_id"] == RUN_ID and body["agent_id"] == 7
    assert len(body["idempotency_token"]) == 36
    e1, e2, e3 = body["events"]
    assert [e["seq"] for e in body["events"]] == [1, 2, 3]
    assert e1["meta"]["signature"] == (
        "9370fc5f6230657940c1072278315fb3695232399f2a1dd89f4ad75f930c69ab"
    )
    assert e2["meta"]["signature"] == _sig({"text": "caf\u00e9"}, 2)
    assert e1["t"] == "2025-06-19T12:34:56.789000+00:00"
    # The server recomputes over what it received (redacted) and the signature verifies.
    assert e3["payload"]["text"] == "mail me at [REDACTED:email]"
    for ev in body["events"]:
        expect = _sig(ev["payload"], ev["seq"], run_id=ev["meta"]["run_id"])
        assert hmac.compare_digest(ev["meta"]["signature"], expect)
    assert b"bob@example.com" not in req.body


def test_no_signing_key_means_no_signature(server: Server) -> None:
    with AopClient(base_url=server.url) as c:
        c.emit({"text": "x"})
        assert c.flush(5)
    assert "signature" not in body_json(server.requests[0])["events"][0]["meta"]


def test_excerpt_truncated_on_one_route_not_the_other(server: Server) -> None:
    text = "secret sk-ant-api03-" + "A" * 40 + " " + "x" * 600
    with MsClient(base_url=server.url) as c:
        c.record(MS_INGEST, ts=TS0, session_id="s", content_excerpt=text)
        c.record(MS_RAW, ts=TS0, session_id="s", content_excerpt=text)
        assert c.flush(5)
        st = c.stats()
    by_path = {r.path: body_json(r)["events"][0]["content_excerpt"] for r in server.requests}
    short, full = by_path["/v1/ingest"], by_path["/v1/ingest/raw"]
    assert len(short) == 321 and short.endswith("\u2026")
    assert full == "secret [REDACTED:anthropic_key] " + "x" * 600
    assert short.startswith("secret [REDACTED:anthropic_key] ")
    assert st.redacted_by_kind == {"anthropic_key": 2}


def test_fallback_written_when_down_then_delivered_by_next_client(
    tmp_path: Path, server: Server
) -> None:
    down = closed_port_url()
    c = MsClient(base_url=down, fallback_dir=tmp_path, max_attempts=2)
    for i in range(5):
        c.record(ts=TS0 + i, session_id="s", content_excerpt="me@example.com")
    c.close(timeout=0.5)
    st = c.stats()
    assert st.fallback_written == 5 and st.dropped == 0
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and b"me@example.com" not in files[0].read_bytes()
    rows = [json.loads(line)["body"].split("\n")[0] for line in files[0].open()]
    ids = [json.loads(row)["source_event_id"] for row in rows]
    with MsClient(base_url=server.url, fallback_dir=tmp_path) as c2:
        assert c2.flush(5)
        st2 = c2.stats()
    assert st2.fallback_replayed == 5 and st2.delivered == 5
    got = [e["source_event_id"] for r in server.requests for e in body_json(r)["events"]]
    assert got == ids  # re-sent unchanged: the server dedupes as usual
    assert list(tmp_path.iterdir()) == []


def test_fallback_after_retries_exhausted_and_fallback_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    with MsClient(base_url=closed_port_url(), fallback_dir=blocker, max_attempts=1) as c:
        c.record(ts=TS0, session_id="s")
        assert c.flush(5)
        assert c.stats().dropped_by_reason == {"fallback_error": 1}
    with MsClient(base_url=closed_port_url(), fallback_dir=tmp_path / "fb", max_attempts=1) as c:
        c.record(ts=TS0, session_id="s")
        assert c.flush(5)
        st = c.stats()
    assert st.fallback_written == 1 and st.dropped == 0


def test_hooks_modify_drop_and_observe(server: Server) -> None:
    seen: list[tuple[str, str, bool, int | None]] = []

    def before(route: str, item: dict[str, Any]) -> dict[str, Any] | None:
        if item["session_id"] == "drop":
            return None
        if item["session_id"] == "boom":
            raise RuntimeError("hook bug")
        item["agent"] = "hooked"
        return item

    def after(route: str, item: dict[str, Any], ok: bool, status: int | None) -> None:
        seen.append((route, item["session_id"], ok, status))
        raise RuntimeError("after bug")

    with MsClient(base_url=server.url, before_send=before, after_send=after) as c:
        c.record(ts=TS0, session_id="keep")
        c.record(ts=TS0, session_id="drop")
        c.record(ts=TS0, session_id="boom")
        assert c.flush(5)
        st = c.stats()
    events = body_json(server.requests[0])["events"]
    assert [e["session_id"] for e in events] == ["keep", "boom"]
    assert events[0]["agent"] == "hooked" and events[1]["agent"] == "agent"
    assert st.dropped_by_reason == {"hook": 1}
    assert st.hook_errors == 3  # one before_send, two after_send
    assert seen == [(MS_INGEST.key, "keep", True, 200), (MS_INGEST.key, "boom", True, 200)]


def test_nulls_a_hook_writes_are_left_out_on_an_omit_none_route(server: Server) -> None:
    """modelstat's wire never carries null: not even where a before_send hook wrote None, in
    the item or in a list hoisted to the envelope."""

    def before(route: str, item: dict[str, Any]) -> dict[str, Any]:
        item["agent"] = None
        item["git"] = {"branch": None, "host": "h"}
        item["tool_calls"][0]["segment_id"] = None
        return item

    with MsClient(base_url=server.url, before_send=before) as c:
        c.record(
            ts=TS0,
            session_id="s",
            tool_calls=[{"name": "Bash", "call_index": 0, "started_at": TS0}],
        )
        assert c.flush(5)
    raw = server.requests[0].body
    assert b"null" not in raw
    body = body_json(server.requests[0])
    assert "agent" not in body["events"][0] and body["events"][0]["git"] == {"host": "h"}
    assert "segment_id" not in body["tool_calls"][0] and body["tool_calls"][0]["name"] == "Bash"


def test_before_send_when_runs_the_hook_only_for_items_holding_the_fields(
    server: Server,
) -> None:
    """``before_send_when=("tool_calls",)``: calls without tools skip the hook (and are sent
    as recorded); calls with tools go through it, nulls it writes still left out."""
    seen: list[str] = []

    def before(route: str, item: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(item["session_id"])
        if item["session_id"] == "drop":
            return None
        item["agent"] = "hooked"
        item["tool_calls"][0]["segment_id"] = None
        return item

    tool = [{"name": "Bash", "call_index": 0, "started_at": TS0}]
    with MsClient(base_url=server.url, before_send=before, before_send_when=("tool_calls",)) as c:
        c.record(ts=TS0, session_id="plain")
        c.record(ts=TS0, session_id="empty", tool_calls=[])
        c.record(ts=TS0, session_id="tools", tool_calls=tool)
        c.record(ts=TS0, session_id="drop", tool_calls=tool)
        assert c.flush(5)
        st = c.stats()
    assert seen == ["tools", "drop"]
    raw = server.requests[0].body
    assert b"null" not in raw
    body = body_json(server.requests[0])
    assert [(e["session_id"], e["agent"]) for e in body["events"]] == [
        ("plain", "agent"),
        ("empty", "agent"),
        ("tools", "hooked"),
    ]
    assert [t["name"] for t in body["tool_calls"]] == ["Bash"]
    assert st.dropped_by_reason == {"hook": 1}
    with pytest.raises(TypeError, match="sequence of field names"):
        MsClient(base_url=server.url, before_send=before, before_send_when="tool_calls")


def test_replay_file_records_every_item_sent(tmp_path: Path, server: Server) -> None:
    replay = tmp_path / "trace.jsonl"
    with AopClient(base_url=server.url, replay_file=replay) as c:
        for i in range(3):
            c.emit({"text": str(i)})
        assert c.flush(5)
        assert c.stats().replay_written == 3
    lines = [json.loads(line) for line in replay.read_text().splitlines()]
    assert [ln["item"]["seq"] for ln in lines] == [1, 2, 3]
    assert {ln["route"] for ln in lines} == {AOP_BATCH.key}


def test_spool_holds_redacted_items_and_batches_ack_them(tmp_path: Path, server: Server) -> None:
    db = tmp_path / "spool.db"
    c = MsClient(base_url=closed_port_url(), spool=SqliteSpool(db), max_attempts=100)
    for i in range(4):
        c.record(ts=TS0 + i, session_id="s", content_excerpt="token ghp_" + "a" * 36)
    assert wait_for(lambda: c.stats().spooled == 4)
    c.close(timeout=0.2)
    raw = sqlite3.connect(db).execute("SELECT body FROM spool").fetchall()
    assert len(raw) == 4 and all(b"ghp_" not in r[0] for r in raw)
    with MsClient(base_url=server.url, spool=SqliteSpool(db)) as c2:
        assert c2.flush(5)
        assert c2.stats().delivered == 4
    assert [len(body_json(r)["events"]) for r in server.requests] == [4]
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM spool").fetchone() == (0,)


def test_queue_full_drops_newest_for_batched_routes() -> None:
    c = MsClient(base_url=closed_port_url(), max_queue_size=3, flush_interval=3600)
    c._p.stop.set()  # keep everything queued
    c._p.worker_signal.event.set()
    c._worker.join(2)
    for i in range(5):
        c.record(ts=TS0 + i, session_id="s")
    assert c.stats().dropped_by_reason == {"queue_full": 2}
    c.close(timeout=0)


def test_missing_blake3_or_bad_sign_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from ingest_runtime import Hash, Lit, Route, Sign, recipes
    from ingest_runtime.batching import check_route

    monkeypatch.setitem(sys.modules, "blake3", None)
    with pytest.raises(ImportError, match="pip install blake3"):
        recipes.hash_function("blake3")
    with pytest.raises(ValueError, match="exactly one"):
        check_route(Route("x.sign", "POST", "/x", None, False, None, sign=Sign((Lit("a"),))))
    with pytest.raises(ValueError, match="unknown hash"):
        recipes.hash_function("md5")
    assert Hash((Lit("a"),)).algorithm == "sha256"


@pytest.mark.parametrize("route", [MS_INGEST, MS_UNORDERED], ids=["ordered", "unordered"])
def test_items_prepared_during_a_slow_request_are_never_lost_at_close(
    tmp_path: Path, route: Route
) -> None:
    """The worker prepares the next batch while a request is in flight (two requests, for an
    unordered route); closing then leaves every item either delivered or in the fallback
    file, each id exactly once."""
    server = Server()
    server.delay = 0.3  # each response takes 0.3 s: items get staged meanwhile
    try:
        c = MsClient(base_url=server.url, fallback_dir=tmp_path, batch_max_items=10)
        for i in range(100):
            c.record(route, ts=TS0 + i, session_id="s")
        time.sleep(0.1)  # the first batch is in flight
        c.close(timeout=0.2)
        st = c.stats()
        assert st.dropped == 0 and st.delivered + st.fallback_written == 100
        assert st.delivered > 0 and st.fallback_written > 0
        sent = [e["source_event_id"] for b in server.bodies() for e in b["events"]]
        kept = [
            json.loads(json.loads(line)["body"].split("\n")[0])["source_event_id"]
            for f in tmp_path.iterdir()
            for line in f.open()
        ]
        assert len(set(sent) | set(kept)) == 100 and not set(sent) & set(kept)
    finally:
        server.stop()


def test_items_a_207_lists_as_failed_are_dropped_the_rest_delivered(server: Server) -> None:
    """A partial success: the response's `errors[].index` names refused items; only those are
    counted as dropped ("rejected") and reported as failed to after_send and on_drop."""
    body = b'{"status":"completed","created":2,"skipped":0,'
    body += b'"errors":[{"index":1,"error":"Invalid signature"},{"index":9},{"index":"x"}]}'
    server.script.items.append((207, {}, body))
    outcomes: list[tuple[object, bool]] = []
    drops: list[Drop] = []
    with AopClient(
        base_url=server.url,
        after_send=lambda route, item, ok, status: outcomes.append((item["payload"]["n"], ok)),
        on_drop=drops.append,
    ) as c:
        for n in range(3):
            c.emit({"n": n})
        assert c.flush(5)
        st = c.stats()
    assert st.delivered == 2 and st.dropped_by_reason == {"rejected": 1}
    assert sorted(outcomes) == [(0, True), (1, False), (2, True)]
    assert [(d.reason, d.status) for d in drops] == [("rejected", 207)]


def _event_ids(bodies: list[Any]) -> list[str]:
    return [e["source_event_id"] for b in bodies for e in b["events"]]


@pytest.mark.parametrize(
    ("route", "max_in_flight", "at_once"),
    [(MS_UNORDERED, 2, 2), (MS_UNORDERED, 3, 3), (MS_UNORDERED, 1, 1), (MS_INGEST, 2, 1)],
    ids=["unordered", "unordered-3", "window-of-1", "ordered"],
)
def test_unordered_batches_travel_side_by_side_ordered_ones_in_turn(
    route: Route, max_in_flight: int, at_once: int
) -> None:
    """An unordered route keeps up to ``max_in_flight`` requests in flight (the server sees
    them at the same time, one kept-alive connection each, reused for the six batches); an
    ordered route, or a window of one, sends each batch only after the previous one was
    answered, on one connection. Either way every item arrives once."""
    server = Server()
    server.delay = 0.15
    try:
        with MsClient(base_url=server.url, batch_max_items=10, max_in_flight=max_in_flight) as c:
            for i in range(60):
                c.record(route, ts=TS0 + i, session_id="s")
            assert c.flush(20)
            st = c.stats()
        ids = _event_ids(server.bodies())
        assert len(ids) == len(set(ids)) == 60
        assert st.delivered == 60 and st.batches_sent == 6 and st.in_flight == 0
        assert server.max_active == len(server.peers) == at_once
    finally:
        server.stop()


def test_a_failure_beside_a_request_in_flight_is_retried_alone(server: Server) -> None:
    """The first of two batches in flight gets a 503: the second still completes, then the
    first is re-sent with the same bytes and delivered; nothing is lost or sent twice."""
    server.delay = 0.1
    server.respond((503, {"Retry-After": "0"}))
    with MsClient(base_url=server.url, batch_max_items=10, flush_interval=3600) as c:
        for i in range(20):
            c.record(MS_UNORDERED, ts=TS0 + i, session_id="s")
        assert c.flush(10)
        st = c.stats()
    first, second, again = server.requests
    assert again.body == first.body and second.body != first.body
    ids = _event_ids([second.json(), again.json()])
    assert len(set(ids)) == 20
    assert (st.delivered, st.retried, st.batches_sent, st.dropped) == (20, 1, 2, 0)
