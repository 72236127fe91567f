"""modelstat (specs/modelstat/v1.yaml + its hand-written sdk.py) against the reference server.

Scenarios of seed-contracts.md §3.8, through the seed README's own calls.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import blake3

from tests.conftest import ROOT
from tests.e2e.conftest import run_script

SPEC = ROOT / "specs/modelstat/v1.yaml"
ANTHROPIC_KEY = "sk-ant-api03-" + "a1B2c3D4" * 10
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def run(script: str, cwd: Path) -> str:
    proc = run_script(script, cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def h32(*parts: str) -> str:
    return blake3.blake3("\x1f".join(parts).encode()).hexdigest()[:32]


def no_nulls(value: object) -> bool:
    if isinstance(value, dict):
        return all(v is not None and no_nulls(v) for v in value.values())
    if isinstance(value, list):
        return all(no_nulls(v) for v in value)
    return value is not None


def test_600_records_three_batches_wire_contract_and_golden_ids(
    tmp_path: Path, start_server
) -> None:
    server = start_server(SPEC)
    out = run(
        f"""
        from datetime import datetime, timezone
        from modelstat import Client, Config, LlmCall, TokenUsage, ToolCallInput
        cfg = Config("msk_live_test", "raw_sdk_openai").with_remote({server.url!r})
        cfg.flush_max_batch, cfg.flush_interval = 256, 3600
        start = datetime(2026, 6, 19, 12, 34, 56, 789000, tzinfo=timezone.utc)
        with Client(cfg) as ms:
            for i in range(600):
                call = (LlmCall("openai", f"session-{{i % 3}}", started_at=start)
                        .model_("gpt-x").with_tokens(TokenUsage(input=800, output=i)))
                if i == 0:
                    call.text("key {ANTHROPIC_KEY} mail bob@example.com " + "x" * 400, "done")
                    call.tool_calls.append(ToolCallInput("Bash", "success",
                                                         args={{"cmd": "ls -la"}}))
                ms.record(call)
            print(ms.flush(), ms.dropped())
    """,
        tmp_path,
    )
    assert out.split() == ["True", "0"]

    # Two batches travel at once (the spec's `ordered: false`), so the server may store them in
    # either order; `tokens.output` is the call's index, which puts them back in call order.
    posts = sorted(
        server.requests("/v1/ingest"), key=lambda p: p["body"]["events"][0]["tokens"]["output"]
    )
    assert [len(p["body"]["events"]) for p in posts] == [256, 256, 88]
    for post in posts:
        body = post["body"]
        assert post["headers"]["authorization"] == "Bearer msk_live_test"
        assert no_nulls(body)
        assert body["daemon_version"] == "python-sdk/0.0.1"
        ids = [e["source_event_id"] for e in body["events"]]
        assert body["batch_id"] == "batch_" + h32(*sorted(ids))
        for event in body["events"]:
            assert set(event["tokens"]) == {
                "input",
                "output",
                "cache_creation",
                "cache_read",
                "reasoning",
            }
            assert TS.match(event["ts"])
    first = posts[0]["body"]
    assert [p.get("tool_calls") is None for p in (p["body"] for p in posts)] == [False, True, True]

    # Ids are the seed's recipe: evt_ + h32(device_id, "<session>::<started_at ms>::<seq>").
    millis = 1781872496789
    events = [e for p in posts for e in p["body"]["events"]]
    assert events[0]["source_event_id"] == "evt_" + h32("dev_sdk", f"session-0::{millis}::1")
    assert events[599]["source_event_id"] == "evt_" + h32("dev_sdk", f"session-2::{millis}::600")
    [tool] = first["tool_calls"]
    assert tool["external_call_id"] == "tc_" + h32(events[0]["source_event_id"], "0")[:16]
    assert tool["args_hash"] == hashlib.sha256(b'{"cmd":"ls -la"}').hexdigest()
    assert "ls -la" not in posts[0]["raw_body"]

    excerpt = events[0]["content_excerpt"]
    assert "[REDACTED:anthropic_key]" in excerpt and "[REDACTED:email]" in excerpt
    assert (
        ANTHROPIC_KEY not in posts[0]["raw_body"] and "bob@example.com" not in posts[0]["raw_body"]
    )
    assert len(excerpt) <= 321 and excerpt.endswith("…")
    assert len(server.events("ingest")) == 600


def test_raw_mode_keeps_full_redacted_text_and_retries_the_same_batch(
    tmp_path: Path, start_server
) -> None:
    server = start_server(SPEC)
    server.faults([503, 200])
    run(
        f"""
        from modelstat import Client, Config, LlmCall
        cfg = Config("msk_live_test", "agent").with_remote({server.url!r}, raw=True)
        with Client(cfg) as ms:
            ms.record(LlmCall("anthropic", "s").text("key {ANTHROPIC_KEY} " + "y" * 500, "ok"))
            ms.record(LlmCall("anthropic", "s").text("second", None))
    """,
        tmp_path,
    )
    posts = server.requests("/v1/ingest/raw")
    assert [p["status"] for p in posts] == [503, 200]
    assert posts[0]["raw_body"] == posts[1]["raw_body"]  # byte-identical re-send
    # The daemon uploader's schedule (spec info.x-ingest.retry): 1 s, then up to +25 %.
    assert 1.0 <= posts[1]["time"] - posts[0]["time"] < 1.25 + 0.5
    excerpt = posts[1]["body"]["events"][0]["content_excerpt"]
    assert "[REDACTED:anthropic_key]" in excerpt and len(excerpt) > 500
    assert len(server.events("ingestRaw")) == 2


def test_default_mode_is_the_local_daemon_and_memory_transport_for_tests(tmp_path: Path) -> None:
    out = run(
        """
        from ingest_runtime import MemoryTransport
        from modelstat import DEFAULT_DAEMON_URL, Client, Config, LlmCall, Mode
        cfg = Config("msk_key", "agent")
        assert cfg.mode.endpoint() == DEFAULT_DAEMON_URL == "http://127.0.0.1:4319/v1/ingest"
        assert Mode.remote("https://api.example", raw=True).endpoint() == (
            "https://api.example/v1/ingest/raw")
        transport = MemoryTransport()
        ms = Client.with_transport(cfg, transport)
        ms.record(LlmCall("openai", "s"))
        ms.shutdown()
        [sent] = transport.requests
        print(sent.path, sent.headers["Authorization"])
    """,
        tmp_path,
    )
    assert out.split() == ["/v1/ingest", "Bearer", "msk_key"]


def test_full_buffer_drops_newest_and_counts_every_one(tmp_path: Path) -> None:
    """§3.8.1: a transport that never answers and a buffer of 2: record() never blocks and
    dropped() counts every call beyond what the client holds."""
    out = run(
        """
        import threading
        from modelstat import Client, Config, LlmCall

        class Stuck:
            def __init__(self):
                self.gate = threading.Event()
            def send(self, method, path, headers, body, timeout):
                self.gate.wait()
                raise ConnectionError("stuck")
            def close(self):
                self.gate.set()

        cfg = Config("msk_key", "agent")
        cfg.buffer_capacity = 2
        transport = Stuck()
        ms = Client.with_transport(cfg, transport)
        for i in range(10_000):
            ms.record(LlmCall("openai", f"s{i}"))
        stats = ms._api.stats()
        print(ms.dropped(), stats.dropped_by_reason.get("queue_full", 0), stats.enqueued)
        transport.close()
        import os
        os._exit(0)
    """,
        tmp_path,
    )
    dropped, queue_full, accepted = map(int, out.split())
    assert dropped == queue_full and accepted + dropped == 10_000
    assert accepted <= 2 + 256  # the buffer, plus at most one batch taken by the worker


def test_redaction_policy_none_skips_the_floor_but_keeps_the_cap(tmp_path: Path) -> None:
    """RedactionPolicy.NONE (the seed's opt-out) sends secrets as given; the 320-character
    excerpt cap still applies. FLOOR, the default, redacts the same text."""
    out = run(
        f"""
        import json
        from ingest_runtime import MemoryTransport
        from modelstat import Client, Config, LlmCall, RedactionPolicy
        for policy in (RedactionPolicy.NONE, RedactionPolicy.FLOOR):
            cfg = Config("msk_key", "agent", redaction=policy)
            transport = MemoryTransport()
            ms = Client.with_transport(cfg, transport)
            prompt = "mail bob@example.com {ANTHROPIC_KEY}"
            ms.record(LlmCall("openai", "s").text(prompt, "x" * 400))
            ms.shutdown()
            [sent] = transport.requests
            print(json.dumps(json.loads(sent.body)["events"][0]["content_excerpt"]))
    """,
        tmp_path,
    )
    none, floor = (json.loads(line) for line in out.splitlines())
    assert none.startswith(f"mail bob@example.com {ANTHROPIC_KEY}") and len(none) == 321
    assert floor.startswith("mail [REDACTED:email] [REDACTED:anthropic_key]")
    assert "bob@example.com" not in floor and len(floor) == 321


def test_redact_is_the_floor_with_secret_and_pii_counts() -> None:
    """The seed's public `redact(text) -> Redacted(text, secrets, pii)`."""
    from modelstat import Redacted, redact

    out = redact(f"key {ANTHROPIC_KEY} for bob@example.com in /home/bob/x")
    assert out == Redacted(
        "key [REDACTED:anthropic_key] for [REDACTED:email] in /home/[REDACTED:home_path]/x", 1, 2
    )
    assert redact("nothing here") == Redacted("nothing here", 0, 0)


def test_seed_enums_and_fake_transport() -> None:
    """The seed's EventKind/BillingMode/ToolCallStatus are accepted where strings are, reach
    the wire as plain strings, and FakeTransport.batches() gives the decoded bodies."""
    from modelstat import (
        BillingMode,
        Client,
        Config,
        EventKind,
        FakeTransport,
        LlmCall,
        ToolCallInput,
        ToolCallStatus,
    )

    transport = FakeTransport()
    ms = Client.with_transport(Config("msk_key", "agent"), transport)
    tool = ToolCallInput("grep", ToolCallStatus.ERROR, args={"q": 1})
    ms.record(
        LlmCall("openai", "s", kind=EventKind.TOOL_CALL, billing=BillingMode.API, tool_calls=[tool])
    )
    ms.shutdown()
    [batch] = transport.batches()
    event, call = batch["events"][0], batch["tool_calls"][0]
    assert (event["kind"], event["billing"], call["status"]) == ("tool_call", "api", "error")
    assert call["args_hash"] == hashlib.sha256(b'{"q":1}').hexdigest() and "args" not in call


def test_excerpt_joins_prompt_and_completion_and_omits_an_empty_one() -> None:
    """Seed §3.4: prompt, then the separator only when both parts are non-empty, then the
    completion; nothing at all gives no `content_excerpt` key."""
    from modelstat import Client, Config, FakeTransport, LlmCall

    transport = FakeTransport()
    ms = Client.with_transport(Config("msk_key", "agent"), transport)
    for prompt, completion in [("ask", "answer"), ("ask", None), ("", "answer"), (None, "")]:
        ms.record(LlmCall("openai", "s").text(prompt, completion))
    ms.shutdown()
    events = [e for batch in transport.batches() for e in batch["events"]]
    assert [e.get("content_excerpt") for e in events] == ["ask\n---\nanswer", "ask", "answer", None]
    assert "content_excerpt" not in events[3]


def test_local_daemon_mode_retries_once_then_drops_counted_and_goes_on(
    tmp_path: Path, start_server
) -> None:
    """Seed §3.8 scenario 4, to the local daemon: a batch answered 500 is re-sent once after
    0.25 s, then dropped and counted in dropped(); the next batch is still sent and stored."""
    server = start_server(SPEC)
    server.faults([500, 500])
    daemon = server.url + "/v1/ingest"
    out = run(
        f"""
        from modelstat import Client, Config, LlmCall, Mode
        cfg = Config("msk_live_test", "agent", mode=Mode.local_daemon({daemon!r}))
        with Client(cfg) as ms:
            ms.record(LlmCall("openai", "s1"))
            ms.flush()
            print(ms.dropped())
            ms.record(LlmCall("openai", "s2"))
            ms.flush()
            print(ms.dropped())
    """,
        tmp_path,
    )
    assert out.split() == ["1", "1"]
    posts = server.requests("/v1/ingest")
    assert [p["status"] for p in posts] == [500, 500, 200]
    assert 0.25 <= posts[1]["time"] - posts[0]["time"] < 0.25 + 0.5
    assert [e["session_id"] for e in server.events("ingest")] == ["s2"]


def test_remote_mode_holds_a_refused_batch_in_the_fallback_dir_until_released(
    tmp_path: Path, start_server
) -> None:
    """The daemon uploader's matrix, remote mode: a batch answered 422 is held (kept on disk,
    not dropped, not retried on its own); release_held() re-sends the same bytes, stored once
    the server accepts them. A 401 is not retried: the key is static."""
    server = start_server(SPEC)
    server.faults([422, 401])
    held_dir = tmp_path / "held"
    out = run(
        f"""
        from modelstat import Client, Config, LlmCall
        cfg = Config("msk_live_test", "agent", fallback_dir={str(held_dir)!r})
        with Client(cfg.with_remote({server.url!r})) as ms:
            for i in range(3):
                ms.record(LlmCall("openai", f"s{{i}}").text("mail bob@example.com", None))
            ms.flush()
            print(ms.held(), ms.dropped())
            ms.record(LlmCall("openai", "refused"))
            ms.flush()
            print(ms.held(), ms.dropped())
            print(ms.release_held())
            ms.flush()
            print(ms.held(), ms.dropped())
    """,
        tmp_path,
    )
    assert out.split() == ["3", "0", "3", "1", "3", "3", "1"]
    posts = server.requests("/v1/ingest")
    assert [p["status"] for p in posts] == [422, 401, 200]
    assert posts[0]["raw_body"] == posts[2]["raw_body"]  # the held bytes, unchanged
    assert "bob@example.com" not in posts[0]["raw_body"]
    assert sorted(e["session_id"] for e in server.events("ingest")) == ["s0", "s1", "s2"]
    assert list(held_dir.iterdir()) == []
