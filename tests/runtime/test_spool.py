"""Durability with real SQLite files: close/restart replay, eviction, kill -9, fork."""

from __future__ import annotations

import faulthandler
import json
import os
import select
import signal
import sqlite3
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from ingest_runtime import Drop, SqliteSpool, new_uuid4
from rt_support import Client, Server


def rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])


def wait_for(pred: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


def test_close_leaves_records_in_spool_and_next_client_delivers_them(
    server: Server, tmp_path: Path
) -> None:
    db = tmp_path / "spool.db"
    server.script.default = (503, {}, b"")
    drops: list[Drop] = []
    c1 = Client(base_url=server.url, spool=SqliteSpool(db), on_drop=drops.append)
    for i in range(10):
        c1.step(step_id=f"s{i}", status="started")
    assert wait_for(lambda: c1.stats().spooled == 10)
    c1.close(timeout=0.2)
    st1 = c1.stats()
    assert st1.dropped == 0 and drops == []  # left in the spool: not a drop
    assert rows(db) == 10
    sent_keys = {b["submission_id"] for b in server.bodies()}

    server.script.default = (200, {}, b"{}")
    server.requests.clear()
    c2 = Client(base_url=server.url, spool=SqliteSpool(db))
    assert c2.flush(10)
    st2 = c2.stats()
    c2.close()
    bodies = server.bodies()
    assert st2.replayed == 10 and st2.delivered == 10
    assert [b["step_id"] for b in bodies] == [f"s{i}" for i in range(10)]  # insertion order
    assert sent_keys <= {b["submission_id"] for b in bodies}  # original keys reused
    assert all(r.headers["Idempotency-Key"] == r.json()["submission_id"] for r in server.requests)
    assert rows(db) == 0


def test_delivered_records_are_deleted(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "spool.db"
    with Client(base_url=server.url, spool=SqliteSpool(db)) as c:
        for i in range(50):
            c.step(step_id=f"s{i}", status="started")
        c.link_email(email="a@b.c")  # no idempotency field: random spool key
        assert c.flush(10)
        st = c.stats()
    assert st.delivered == 51 and st.spooled == 51
    assert rows(db) == 0


def test_rejected_record_is_removed_from_spool(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "spool.db"
    server.respond(422)
    with Client(base_url=server.url, spool=SqliteSpool(db)) as c:
        c.step(step_id="s", status="started")
        assert c.flush(5)
        assert c.stats().dropped_by_reason == {"rejected": 1}
    assert rows(db) == 0


def test_max_bytes_evicts_oldest_and_counts_each(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "spool.db"
    server.script.default = (503, {}, b"")
    drops: list[Drop] = []
    spool = SqliteSpool(db, max_bytes=3000)
    c = Client(base_url=server.url, spool=spool, on_drop=drops.append)
    for i in range(40):
        c.step(step_id=f"s{i}", status="started")
    assert wait_for(lambda: c.stats().spooled == 40)
    assert wait_for(lambda: len(drops) == c.stats().dropped_by_reason.get("spool_full", -1))
    full = c.stats().dropped_by_reason["spool_full"]
    assert full >= 20
    assert {d.reason for d in drops} == {"spool_full"}
    assert drops[0].body and b'"s0"' in drops[0].body  # the oldest go first
    assert spool.size_bytes() <= 3000
    c.close(timeout=0)
    assert rows(db) == 40 - full


def test_unknown_route_in_spool_is_dropped(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "spool.db"
    spool = SqliteSpool(db)
    from ingest_runtime import Record

    spool.commit([Record("events.removed", b"{}", new_uuid4())], [], [])
    spool.close()
    drops: list[Drop] = []
    with Client(base_url=server.url, spool=SqliteSpool(db), on_drop=drops.append) as c:
        assert c.flush(5)
    assert [d.reason for d in drops] == ["unknown_route"]
    assert server.requests == [] and rows(db) == 0


def _output_of_child(pid: int, r: int, timeout: float = 60) -> bytes:
    """What a forked child writes to ``r`` until it exits; a child still running after
    ``timeout`` is killed (the test then fails on what it did not write, never hangs)."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([r], [], [], left)[0]:
            os.kill(pid, signal.SIGKILL)
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    return data


def test_kill_9_after_commit_loses_nothing(server: Server, tmp_path: Path) -> None:
    db = tmp_path / "spool.db"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: accept 200 events while the server is unreachable, then die hard
        try:
            os.close(r)
            c = Client(base_url="http://127.0.0.1:9", spool=SqliteSpool(db))
            for i in range(200):
                c.step(step_id=f"s{i}", status="started")
            while c.stats().spooled < 200:
                time.sleep(0.005)
            os.write(w, b"ok")
        finally:
            os.kill(os.getpid(), signal.SIGKILL)
    os.close(w)
    assert _output_of_child(pid, r) == b"ok"
    os.waitpid(pid, 0)
    with Client(base_url=server.url, spool=SqliteSpool(db)) as c:
        assert c.flush(20)
        assert c.stats().delivered == 200
    keys = [b["submission_id"] for b in server.bodies()]
    assert len(keys) == 200 and len(set(keys)) == 200
    assert rows(db) == 0


def _report_from_child(child: Callable[[], dict[str, object]], tmp_path: Path) -> dict[str, object]:
    """Fork; the child runs ``child`` and sends back its result as JSON. A child that does not
    answer within 30 s dumps every one of its threads' stacks, one that raises writes its
    traceback, and the test fails with them."""
    stacks = tmp_path / "child-stacks.txt"
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        with open(stacks, "w") as out:
            try:
                os.close(r)
                faulthandler.dump_traceback_later(30, exit=True, file=out)
                os.write(w, json.dumps(child()).encode())
            except BaseException:
                traceback.print_exc(file=out)
                out.flush()
                code = 1
            finally:
                os._exit(code)
    os.close(w)
    data = _output_of_child(pid, r)
    _, status = os.waitpid(pid, 0)
    dump = stacks.read_text() if stacks.exists() else ""
    assert status == 0, f"forked child failed or hung (status {status}):\n{dump}"
    return json.loads(data)  # type: ignore[no-any-return]


def test_fork_child_gets_empty_queue_and_fresh_worker(server: Server, tmp_path: Path) -> None:
    server.script.default = (503, {}, b"")
    c = Client(base_url=server.url, spool=SqliteSpool(tmp_path / "spool.db"))
    for i in range(5):
        c.step(step_id=f"s{i}", status="started")

    def in_child() -> dict[str, object]:
        st = c.stats()
        child_id = new_uuid4()
        c.link_email(email="child@x.y")
        return {
            "queued": st.queued,
            "enqueued": st.enqueued,
            "alive": c._worker.is_alive(),
            "after": c.stats().enqueued,
            "id": child_id,
        }

    report = _report_from_child(in_child, tmp_path)
    assert report["queued"] == 0 and report["enqueued"] == 0
    assert report["alive"] is True and report["after"] == 1
    assert uuid.UUID(str(report["id"])).version == 4
    assert report["id"] != new_uuid4()  # the parent's id pool is not shared
    assert c.stats().enqueued == 5  # the parent keeps its records
    c.close(timeout=0)


def test_outage_longer_than_memory_spills_to_disk_and_keeps_order(
    server: Server, tmp_path: Path
) -> None:
    db = tmp_path / "spool.db"
    server.script.default = (503, {}, b"")
    c = Client(base_url=server.url, spool=SqliteSpool(db), max_queue_size=20)
    for i in range(300):
        c.step(step_id=f"s{i}", status="started")
        if i % 10 == 9:
            assert wait_for(lambda n=i + 1: c.stats().spooled == n)
    assert len(c._p.ready) <= 20  # memory bounded; the rest lives only on disk
    server.script.default = (200, {}, b"{}")
    assert c.flush(30)
    st = c.stats()
    c.close()
    assert st.delivered == 300 and st.dropped == 0
    delivered = [b["step_id"] for b in server.bodies() if b["step_id"] != "s0"]
    expected = [f"s{i}" for i in range(1, 300)]
    assert [s for s in delivered if s in set(expected)][-299:] == expected
    assert rows(db) == 0
