"""Redaction floor: true and false positives per family (gitleaks-style), which families a
string is scanned for, and the bytes a real server receives."""

from __future__ import annotations

import pytest
from batch_support import MS_RAW, MsClient, body_json
from ingest_runtime import Redactor
from ingest_runtime.redaction import KINDS, might_contain_secret
from rt_support import Server

GH = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1y2z3\nabcdEFGH==\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

#: kind -> (true positives, expected redacted text for the first one or None)
TPS: dict[str, list[str]] = {
    "private_key": [PEM, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA"],
    "anthropic_key": ["sk-ant-api03-" + "x" * 40 + "AA"],
    "openai_key": ["sk-proj-" + "Ab1" * 10, "sk-" + "a" * 20 + "T3BlbkFJ" + "b" * 20],
    "aws_access_key": ["AKIAIOSFODNN7ABCDEFG", "ASIAY34FZKBOKMUTVV7A"],
    "github_token": [GH, "gho_" + "z" * 36, "github_pat_" + "a" * 82],
    "gitlab_token": ["glpat-" + "abcdEFGH1234ijklMNOP"],
    "slack_token": [
        "xoxb-123456789012-abcdefghijkl",
        "https://hooks.slack.com/services/" + "A" * 24,
    ],
    "stripe_key": ["sk_live_" + "a1B2" * 6, "rk_test_" + "Z" * 24],
    "google_api_key": ["AIza" + "SyD-" + "a" * 31],
    "jwt": [JWT],
    "bearer": ["Authorization: Bearer abc.def-ghi_jkl", "bearer 0123456789abcdef"],
    "env_secret": ["OPENAI_API_KEY=abc123", "export DB_PASSWORD='hunter 2'", "GH_TOKEN: xyz"],
    "password": ["postgres://admin:s3cr3t@db.example.com:5432/app"],
    "email": ["bob.smith+tag@example.co.uk"],
    "card": ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"],
    "home_path": ["/Users/alice/project", "/home/bob/.ssh/id_rsa", "C:\\Users\\carol\\x"],
}

FPS: dict[str, list[str]] = {
    "openai_key": ["disk-usage-report-2024-generated-file", "task-ant-api03-nothing"],
    "aws_access_key": ["AKIAIOSFODNN7EXAMPLE", "AKIA is a prefix"],
    "github_token": ["ghp_short", "the ghp_ prefix"],
    "stripe_key": ["pk_live_" + "a" * 24, "sk_live_short"],
    "jwt": ["eyJ only", "eyJhbGci.notjwt"],
    "bearer": ["bearer of bad news", "Bearer short"],
    "env_secret": ["MONKEY=banana", "token_count=5", "KEYBOARD=us"],
    "password": ["https://example.com/path", "ssh://host:22/x", "http://user@host/x"],
    "email": ["pkg@1.2.3", "user@localhost", "@decorator"],
    "card": ["4111 1111 1111 1112", "1234567890123", "ts 1750336496789 ms", "v1.2.3.4"],
    "home_path": ["/homework/x", "/usr/local/bin", "relative/home/x"],
}


@pytest.mark.parametrize("kind", KINDS)
def test_true_positives(kind: str) -> None:
    for secret in TPS[kind]:
        r = Redactor()
        out = r.redact(f"before {secret} after")
        assert f"[REDACTED:{kind}]" in out, (kind, secret, out)
        assert r.counts.get(kind) == 1, (kind, secret, r.counts)


@pytest.mark.parametrize("kind", sorted(FPS))
def test_false_positives_untouched(kind: str) -> None:
    for text in FPS[kind]:
        r = Redactor()
        assert r.redact(text) == text, (kind, text)
        assert r.counts == {}


def test_names_kept_and_order() -> None:
    r = Redactor()
    assert r.redact("OPENAI_API_KEY=abc123") == "OPENAI_API_KEY=[REDACTED:env_secret]"
    out = r.redact("https://user:pw@host/x")
    assert out == "https://user:[REDACTED:password]@host/x"
    # a key before an email: the key family wins, the address after it is still caught
    out = r.redact("sk-ant-api03-" + "k" * 30 + " then a@b.io")
    assert out == "[REDACTED:anthropic_key] then [REDACTED:email]"
    assert r.redact("/Users/alice/src") == "/Users/[REDACTED:home_path]/src"
    assert r.redact(f"AWS_SECRET_KEY={GH}") == "AWS_SECRET_KEY=[REDACTED:github_token]"


def test_user_rules() -> None:
    r = Redactor([("ticket", r"TICKET-\d+")])
    assert r.redact("see TICKET-42") == "see [REDACTED:ticket]"
    assert r.counts == {"ticket": 1}


def test_prefilter_catches_every_true_positive() -> None:
    for kind in KINDS:
        for secret in TPS[kind]:
            assert might_contain_secret(secret), (kind, secret)


def test_only_the_families_a_string_could_hold_are_scanned(monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean string runs no family's regex; one with an email runs the email family alone.
    (What that saves, in microseconds, is a `make bench` figure, not a test.)"""
    r = Redactor()
    scanned: list[str] = []
    real = r._apply

    def spy(s: str, kind: str, *rest: object) -> str:
        scanned.append(kind)
        return real(s, kind, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(r, "_apply", spy)
    clean = "Refactored the parser and added tests for the new tokenizer."
    assert r.redact(clean) == clean and scanned == []
    assert r.redact("write to bob@example.com") == "write to [REDACTED:email]"
    assert scanned == ["email"]


def test_every_family_redacted_in_the_bytes_the_server_receives(server: Server) -> None:
    secrets = [tp for kind in KINDS for tp in TPS[kind][:1]]
    text = " | ".join(secrets)
    with MsClient(base_url=server.url) as c:
        c.record(MS_RAW, ts=1.0, session_id="s", content_excerpt=text)
        assert c.flush(5)
        st = c.stats()
    (req,) = server.requests
    for kind in KINDS:
        assert f"[REDACTED:{kind}]".encode() in req.body, kind
    for secret in secrets:
        core = secret.split("://")[-1].split("=")[-1].split(": ")[-1]
        assert core.encode() not in req.body, secret
    assert set(st.redacted_by_kind) == set(KINDS)
    assert body_json(req)["events"][0]["content_excerpt"].count("[REDACTED:") == len(KINDS)
