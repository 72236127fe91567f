"""AOP (specs/aop/v1.yaml + its hand-written aop.py) against the reference server.

Scenarios of seed-contracts.md §5.8, run through the seed README's own calls.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import itertools
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pydantic
import pytest
from aop_client import AOPClient, ClientConfig, ToonParser, parse_toon, to_toon
from aop_client.toon_parser import ToonBuilder

from codegen.testing import free_port
from tests.conftest import ROOT
from tests.e2e.conftest import run_script

SPEC = ROOT / "specs/aop/v1.yaml"
SALT = "org-salt"
BATCH = "/api/trace-events/batch/"


def run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_script(script, cwd)


def readme_events(server_url: str, **config: object) -> str:
    settings = ", ".join(f"{k}={v!r}" for k, v in config.items())
    return f"""
        import json
        import pydantic
        from aop_client import AOPClient, ClientConfig
        config = ClientConfig(api_key="aop_test", base_url={server_url!r}, agent_id=123,
                              org_salt_key={SALT!r}, {settings})
        client = AOPClient(config)
        builder = client.trace_builder
        client.start()
        try:
            builder.create_reasoning(goal="g", steps=[], safety_checks=[], uncertainty="unsure")
        except pydantic.ValidationError:
            print("bad uncertainty rejected")
        try:
            builder.create_custom(actor="agent", event_type="thought", payload={{}})
        except pydantic.ValidationError:
            print("bad type rejected")
        builder.reset()
        client.emit_event(builder.create_reasoning(
            goal="Process customer refund request",
            steps=[{{"step_id": "s1", "description": "Validate order ID", "decision": "proceed",
                     "confidence": 0.95}}],
            safety_checks=[{{"name": "policy_check", "result": "passed"}}], uncertainty="low"))
        client.emit_event(builder.create_action_request(
            action="create_ticket", params={{"order_id": "ORD-123", "reason": "défaut"}}))
        for i in range(5):
            client.emit_event(builder.create_final_output(text=f"done {{i}} é",
                                                          structured={{"i": i}}))
    """


def signature(event: dict[str, object]) -> str:
    meta = event["meta"]
    assert isinstance(meta, dict)
    text = str(meta["run_id"]) + str(event["seq"]) + json.dumps(event["payload"], ensure_ascii=True)
    return hmac.new(SALT.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_readme_flow_batches_signs_and_stores_each_event_once(tmp_path: Path, start_server) -> None:
    server = start_server(SPEC, secret=SALT)
    script = readme_events(
        server.url, batch_size=3, enable_local_replay=True, replay_dir=str(tmp_path / "replay")
    )
    proc = run(
        script + "\n        client.stop()\n        print(json.dumps(client.get_stats()))", tmp_path
    )
    lines = proc.stdout.strip().splitlines()
    assert lines[:2] == ["bad uncertainty rejected", "bad type rejected"], proc.stderr
    stats = json.loads(lines[-1])
    assert stats["events_emitted"] == 7 and stats["events_sent"] == 7
    assert stats["batches_sent"] == 3 and stats["events_dropped"] == 0

    [run_request] = server.requests("/api/runs/")
    assert run_request["body"]["run_id"] == stats["run_id"]
    batches = server.requests(BATCH)
    assert [len(r["body"]["events"]) for r in batches] == [3, 3, 1]
    assert all(r["status"] == 200 for r in batches)
    events = server.events("uploadTraceBatch")
    assert [e["seq"] for e in events] == list(range(1, 8))
    assert all(e["meta"]["signature"] == signature(e) for e in events)

    [replay] = list((tmp_path / "replay").glob(f"replay_{stats['run_id']}_*.json"))
    record = json.loads(replay.read_text())
    assert record["event_count"] == 7 and record["metadata"]["stats"]["events_sent"] == 7


def test_retries_keep_the_batch_and_fallback_is_replayed(tmp_path: Path, start_server) -> None:
    port = free_port()
    fallback = tmp_path / "fallback"
    # Server down for good: the batch ends in the fallback directory, nothing is lost.
    script = readme_events(
        f"http://127.0.0.1:{port}", batch_size=100, max_retries=1, local_fallback_dir=str(fallback)
    ).replace("client.start()", "")  # no server to create the run on
    stop = "\n        client.stop(timeout=5)\n        print(client.get_stats()['fallback_saves'])"
    down = run(script + stop, tmp_path)
    assert down.stdout.strip().splitlines()[-1] == "7", down.stdout + down.stderr
    assert len(list(fallback.iterdir())) == 1

    server = start_server(SPEC, port=port, secret=SALT)
    server.faults([503, 503, 200])
    up = run(
        f"""
        from aop_client import AOPClient, ClientConfig
        client = AOPClient(ClientConfig(api_key="aop_test", base_url={server.url!r}, agent_id=123,
                                        org_salt_key={SALT!r},
                                        local_fallback_dir={str(fallback)!r}))
        client.stop(timeout=20)
        print(client.get_stats()["events_sent"])
    """,
        tmp_path,
    )
    assert up.stdout.strip() == "7", up.stdout + up.stderr
    posts = server.requests(BATCH)
    assert [p["status"] for p in posts] == [503, 503, 200]
    assert len({p["body"]["idempotency_token"] for p in posts}) == 1
    assert len(server.events("uploadTraceBatch")) == 7
    assert list(fallback.iterdir()) == []


def test_a_failing_server_gets_the_seeds_retries_then_the_fallback_file(
    tmp_path: Path, start_server
) -> None:
    """§5.8.4: max_retries=3 -> 4 POSTs of the same batch, waits min(base * 2**n, max) apart
    (1, 2, 4 s by default; base 0.25 here), post_send_hook(event, False) for each event, and
    the batch in one fallback file."""
    server = start_server(SPEC, secret=SALT)
    server.faults(["pass", 503, 503, 503, 503])  # the run is created, then every batch fails
    fallback = tmp_path / "fallback"
    out = run(
        f"""
        from aop_client import AOPClient, ClientConfig
        failed = []
        config = ClientConfig(api_key="aop_test", base_url={server.url!r}, agent_id=123,
                              org_salt_key={SALT!r}, retry_backoff_base=0.25,
                              local_fallback_dir={str(fallback)!r},
                              post_send_hook=lambda event, ok: failed.append((event["seq"], ok)))
        client = AOPClient(config)
        client.start()
        for i in range(3):
            client.emit_event(client.trace_builder.create_final_output(text=str(i)))
        client.stop(timeout=20)
        print(sorted(failed))
    """,
        tmp_path,
    )
    assert out.stdout.strip() == "[(1, False), (2, False), (3, False)]", out.stdout + out.stderr
    posts = server.requests(BATCH)
    assert [p["status"] for p in posts] == [503] * 4
    assert len({p["body"]["idempotency_token"] for p in posts}) == 1
    gaps = [b["time"] - a["time"] for a, b in itertools.pairwise(posts)]
    for gap, expected in zip(gaps, [0.25, 0.5, 1.0], strict=True):
        assert expected <= gap < expected + 0.4, gaps
    [saved] = fallback.iterdir()  # the runtime's replayable format: one event per line
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    assert [json.loads(line["body"])["seq"] for line in lines] == [1, 2, 3]


def test_no_http_on_the_emitting_thread(tmp_path: Path, start_server) -> None:
    """§5.8.3: batch_size=3, 7 events, one batch_interval, stop(): every event stored once, and
    no byte of a request left the emitting thread while it emitted or stopped."""
    server = start_server(SPEC, secret=SALT)
    proc = run(
        f"""
        import socket, threading, time
        from aop_client import AOPClient, ClientConfig

        sends = []  # (thread ident, phase) of every socket write in this process
        phase = ["start"]
        for name in ("send", "sendall"):
            original = getattr(socket.socket, name)
            def spy(self, *args, _original=original, **kwargs):
                sends.append((threading.get_ident(), phase[0]))
                return _original(self, *args, **kwargs)
            setattr(socket.socket, name, spy)

        client = AOPClient(ClientConfig(api_key="aop_test", base_url={server.url!r},
                                        agent_id=1, org_salt_key={SALT!r}, batch_size=3,
                                        batch_interval=0.5))
        client.start()  # creates the run: a blocking call, before any event
        phase[0] = "emit"
        for i in range(7):
            client.emit_event(client.trace_builder.create_final_output(text=f"t{{i}}"))
        time.sleep(0.8)  # one batch_interval: the partial batch goes out on the tick
        phase[0] = "stop"
        client.stop()
        me = threading.get_ident()
        print(sum(1 for t, p in sends if t == me and p != "start"),
              sum(1 for t, p in sends if t != me))
    """,
        tmp_path,
    )
    on_emitter, on_worker = map(int, proc.stdout.split())
    assert on_emitter == 0 and on_worker >= 3, proc.stderr
    assert [e["seq"] for e in server.events("uploadTraceBatch")] == list(range(1, 8))
    assert [len(r["body"]["events"]) for r in server.requests(BATCH)] == [3, 3, 1]


def test_a_payload_tampered_in_transit_fails_that_seq_and_the_client_counts_it(
    tmp_path: Path, start_server
) -> None:
    """§5.8.1: a proxy changes one payload byte of one event; the server's signature check
    fails that seq only (207, error listed) and the client counts it as failed, not sent."""
    server = start_server(SPEC, secret=SALT)
    upstream = urlsplit(server.url)

    class Tamper(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == BATCH:
                body = body.replace(b'"text":"t3"', b'"text":"T3"')
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
            conn.request("POST", self.path, body, headers)
            reply = conn.getresponse()
            data = reply.read()
            conn.close()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Tamper)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        proc = run(
            f"""
            import json
            from aop_client import AOPClient, ClientConfig
            failed = []
            config = ClientConfig(api_key="aop_test", base_url="http://127.0.0.1:{proxy.server_port}",
                                  agent_id=1, org_salt_key={SALT!r}, batch_size=7,
                                  post_send_hook=lambda e, ok: ok or failed.append(e["seq"]))
            client = AOPClient(config)
            client.start()
            for i in range(7):
                client.emit_event(client.trace_builder.create_final_output(text=f"t{{i}}"))
            client.stop()
            print(json.dumps({{**client.get_stats(), "failed_seqs": failed}}))
        """,
            tmp_path,
        )
    finally:
        proxy.shutdown()
        proxy.server_close()
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    assert stats["events_sent"] == 6 and stats["events_failed"] == 1, proc.stderr
    assert stats["failed_seqs"] == [4]
    [batch] = server.requests(BATCH)
    assert batch["status"] == 207
    assert [e["seq"] for e in server.events("uploadTraceBatch")] == [1, 2, 3, 5, 6, 7]


def test_toon_helpers_build_validate_parse_and_serialize() -> None:
    """The seed README's "Toon Spec Helpers": builders validate like the server, parse_toon
    refuses bad JSON and incomplete events, to_toon round-trips."""
    reasoning = ToonBuilder.build_reasoning_payload(
        goal="Analyze customer request",
        steps=[{"step_id": "s1", "description": "Parse input", "confidence": 0.9}],
        safety_checks=[{"name": "input_validation", "result": "passed"}],
        uncertainty="low",
    )
    assert reasoning["steps"] == [
        {"step_id": "s1", "description": "Parse input", "confidence": 0.9}
    ]
    response = ToonBuilder.build_action_response_payload(
        status="ok", data={"results": [1, 2]}, meta={"latency_ms": 245}
    )
    assert response == {"status": "ok", "data": {"results": [1, 2]}, "meta": {"latency_ms": 245}}
    with pytest.raises(ValueError, match="uncertainty"):
        ToonBuilder.build_reasoning_payload("g", [], [], uncertainty="unsure")
    with pytest.raises(ValueError, match="status"):
        ToonBuilder.build_action_response_payload(status="maybe", data={})

    client = AOPClient(ClientConfig(api_key="aop_test", agent_id=1))
    event = client.trace_builder.create_final_output(text="Found 3 records é", structured={"n": 3})
    text = to_toon(event, pretty=True)
    assert "\n" in text and "é" in text
    assert parse_toon(text) == event.model_dump(mode="json", exclude_none=True)
    trace = to_toon({"run_id": client.run_id, "events": client.get_trace()})
    assert [e["seq"] for e in parse_toon(trace)["events"]] == [1]
    client.stop()

    with pytest.raises(ValueError, match="invalid JSON"):
        parse_toon('{"seq": 1, "t": ')
    missing_actor = {k: v for k, v in json.loads(to_toon(event)).items() if k != "actor"}
    with pytest.raises(ValueError, match="actor"):
        parse_toon(json.dumps(missing_actor))
    with pytest.raises(ValueError, match="goal"):
        ToonParser.validate_payload("reasoning", {"steps": [], "safety_checks": []})


def test_trace_event_is_the_seeds_with_to_dict_and_to_json() -> None:
    """Seed §5.5: `TraceEvent(seq, timestamp, actor, type, payload, meta, signature="")` with
    `to_dict()` (key `t`, the signature inside meta) and `to_json(pretty=False)`; the builder's
    events are the same class; invalid values still fail like the wire model."""
    from aop_client import TraceEvent
    from aop_client.v1 import TraceEvent as WireTraceEvent

    meta = {"run_id": "6f1c2f5e-0000-4000-8000-000000000001", "agent_id": 7}
    event = TraceEvent(
        1, "2026-06-19T12:00:00+00:00", "agent", "final_output", {"text": "ok"}, meta, "ab12"
    )
    assert event.to_dict() == {
        "seq": 1,
        "t": "2026-06-19T12:00:00+00:00",
        "actor": "agent",
        "type": "final_output",
        "payload": {"text": "ok"},
        "meta": {**meta, "signature": "ab12"},
    }
    assert (event.timestamp, event.signature) == ("2026-06-19T12:00:00+00:00", "ab12")
    assert json.loads(event.to_json()) == event.to_dict() and "\n" not in event.to_json()
    assert event.to_json(pretty=True).startswith('{\n  "seq": 1')
    assert isinstance(event, WireTraceEvent)
    wire_style = TraceEvent(seq=2, t="x", actor="tool", type="error", payload={}, meta=meta)
    assert wire_style.to_dict()["t"] == "x" and wire_style.signature == ""

    client = AOPClient(ClientConfig(api_key="aop_test", agent_id=1))
    built = client.trace_builder.create_final_output(text="done")
    assert isinstance(built, TraceEvent) and client.get_trace() == [built.to_dict()]
    client.stop()
    with pytest.raises(pydantic.ValidationError):
        TraceEvent(0, "t", "agent", "final_output", {}, meta)  # seq >= 1, as on the wire


def test_the_seeds_remaining_config_fields_are_accepted_and_checked(
    tmp_path: Path, start_server
) -> None:
    """retry_backoff_base/max, verify_ssl and the streaming settings exist as in the seed:
    streaming without a URL is refused; verify_ssl=False still delivers (through httpx)."""
    with pytest.raises(ValueError, match="streaming_url is required"):
        AOPClient(ClientConfig(api_key="aop_test", agent_id=1, enable_streaming=True))
    with pytest.raises(ValueError, match="retry_backoff_base"):
        AOPClient(ClientConfig(api_key="aop_test", agent_id=1, retry_backoff_base=0))
    server = start_server(SPEC, secret=SALT)
    config = ClientConfig(
        api_key="aop_test",
        base_url=server.url,
        agent_id=1,
        org_salt_key=SALT,
        verify_ssl=False,
        retry_backoff_base=0.1,
        retry_backoff_max=0.2,
        local_fallback_dir=str(tmp_path / "fallback"),
    )
    client = AOPClient(config)
    client.start()
    client.emit_event(client.trace_builder.create_final_output(text="over httpx"))
    client.stop()
    assert client.get_stats()["events_sent"] == 1
    assert [e["payload"]["text"] for e in server.events("uploadTraceBatch")] == ["over httpx"]


def test_hybrid_mode_streams_each_event_and_the_server_stores_it_once(
    tmp_path: Path, start_server
) -> None:
    """The seed README's Hybrid Mode: each event goes out at once on the per-event route
    (signed, verified by the server) and again in the batch, which the server skips: every seq
    is stored once. StreamingClient alone sends through the same route."""
    from aop_client.streaming import HybridClient, StreamingClient

    server = start_server(SPEC, secret=SALT)
    port = urlsplit(server.url).port
    config = ClientConfig(
        api_key="aop_test",
        base_url=server.url,
        agent_id=123,
        org_salt_key=SALT,
        enable_streaming=True,
        streaming_url=f"ws://127.0.0.1:{port}/ws/trace/",
        local_fallback_dir=str(tmp_path / "fallback"),
    )
    base_client = AOPClient(config)
    hybrid = HybridClient(
        base_client, streaming_url=config.streaming_url, streaming_mode="websocket"
    )
    with hybrid:
        builder = base_client.trace_builder
        hybrid.emit_event(builder.create_reasoning(goal="g", steps=[], safety_checks=[]))
        hybrid.emit_event(builder.create_action_request(action="a", params={"why": "défaut"}))
        hybrid.emit_event(builder.create_final_output(text="done"))
        hybrid.finalize()
    stats = base_client.get_stats()
    assert (stats["events_streamed"], stats["events_sent"], stats["events_failed"]) == (3, 3, 0)
    streamed = server.requests(f"/api/runs/{base_client.run_id}/events/")
    assert [r["status"] for r in streamed] == [201, 201, 201]
    assert [r["body"]["seq"] for r in streamed] == [1, 2, 3]
    assert all(r["body"]["meta"]["signature"] == signature(r["body"]) for r in streamed)
    [batch] = server.requests(BATCH)
    assert batch["status"] == 200 and len(batch["body"]["events"]) == 3
    assert [e["seq"] for e in server.events("uploadTraceBatch")] == [1, 2, 3]  # once each

    seen: list[int] = []
    errors: list[Exception] = []
    stream = StreamingClient(
        config.streaming_url or "",
        "aop_test",
        on_message=lambda e: seen.append(e["seq"]),
        on_error=errors.append,
        signing_key=SALT,
    )
    stream.connect()
    stream.send_event(builder.create_final_output(text="late").model_dump(mode="json"))
    stream.disconnect()
    assert seen == [4] and errors == [] and not stream.is_connected()
    assert [e["seq"] for e in server.events("uploadTraceBatch")] == [1, 2, 3, 4]
