"""A batched, signed, redacting service generated from a spec, against the reference server.

tests/e2e/specs/traces.yaml declares batching, worker-derived fields (sequence, timestamp,
constants), redaction of a free-text field and an HMAC signature; the server verifies the
signatures with the same secret and stores each event once per (run, seq).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from tests.conftest import ROOT, add_spec, run_codegen
from tests.e2e.test_new_service import run_client

SPEC = ROOT / "tests/e2e/specs/traces.yaml"
SECRET = "org-salt"
AWS_KEY = "AKIAZ7QRSTUVWXY23456"


def test_batched_signed_redacted_delivery(workspace: Path, start_server) -> None:
    spec = add_spec(workspace, "agent_traces", SPEC)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    server = start_server(spec, secret=SECRET)
    proc = run_client(
        workspace / "generated",
        "agent_traces",
        f"""
        import pydantic
        from agent_traces import TracesClient
        client = TracesClient(base_url={server.url!r}, token="tok", run_id="run-1", agent_id=7,
                              signing_key={SECRET!r}, batch_max_items=3, flush_interval=3600)
        for i in range(7):
            text = f"step {{i}} é" if i != 4 else "key {AWS_KEY} leaked"
            client.traces.emit(actor="agent", type="reasoning", payload={{"text": text}})
        try:
            client.traces.emit(actor="robot", type="reasoning", payload={{}})
        except pydantic.ValidationError:
            pass
        else:
            raise SystemExit("bad actor accepted")
        assert client.flush(timeout=20)
        stats = client.stats()
        client.close()
        print(stats.delivered, stats.batches_sent, stats.dropped)
    """,
    )
    assert proc.stdout.split() == ["7", "3", "0"], proc.stdout + proc.stderr

    batches = server.requests("/api/trace-events/batch/")
    assert [len(json.loads(r["raw_body"])["events"]) for r in batches] == [3, 3, 1]
    assert all(r["status"] == 200 and r["body"]["run_id"] == "run-1" for r in batches)
    assert len({r["body"]["idempotency_token"] for r in batches}) == 3
    assert all(AWS_KEY not in r["raw_body"] for r in batches)

    events = server.events("uploadBatch")
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert events[4]["payload"]["text"] == "key [REDACTED:aws_access_key] leaked"
    for event in events:
        assert event["meta"]["run_id"] == "run-1" and event["meta"]["agent_id"] == 7
        assert "T" in event["t"] and event["t"].endswith("+00:00")
        # Recomputed here from the pinned recipe: the server's verification is not trusted alone.
        message = "run-1" + str(event["seq"]) + json.dumps(event["payload"], ensure_ascii=True)
        expected = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
        assert event["meta"]["signature"] == expected


def test_missing_required_constant_is_a_clear_error(workspace: Path) -> None:
    add_spec(workspace, "agent_traces", SPEC)
    assert run_codegen("generate", cwd=workspace).code == 0
    proc = run_client(
        workspace / "generated",
        "agent_traces",
        """
        import os
        from agent_traces import TracesClient
        os.environ.pop("TRACES_RUN_ID", None)
        try:
            TracesClient(base_url="http://127.0.0.1:9", agent_id=1)
        except ValueError as exc:
            print(exc)
        os.environ["TRACES_RUN_ID"] = "from-env"
        os.environ["TRACES_AGENT_ID"] = "12"
        client = TracesClient(base_url="http://127.0.0.1:9")
        client.close(timeout=0)
        print("ok")
    """,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines == ["run_id is required: pass run_id=... or set TRACES_RUN_ID", "ok"], (
        proc.stdout + proc.stderr
    )
