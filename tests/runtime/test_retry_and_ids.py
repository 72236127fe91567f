"""Pure units: backoff schedule, Retry-After parsing, id minting, content hashes."""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import random
import threading
import uuid

import blake3
import pytest
from ingest_runtime import new_uuid4, recipes, unix_seconds
from ingest_runtime.retry import backoff_delay, is_retryable, next_delay, parse_retry_after


def test_backoff_is_full_jitter_and_capped() -> None:
    rng, ref = random.Random(42), random.Random(42)
    for attempt in range(1, 12):
        ceiling = min(30.0, 0.5 * 2 ** (attempt - 1))
        d = backoff_delay(attempt, rng)
        assert d == ref.uniform(0.0, ceiling)
        assert 0.0 <= d <= ceiling
    samples = [backoff_delay(10, rng) for _ in range(2000)]
    assert max(samples) <= 30.0 and min(samples) < 3.0 and max(samples) > 27.0  # full range
    assert backoff_delay(1000, rng) <= 30.0


def test_retry_after_is_a_minimum() -> None:
    rng = random.Random(1)
    assert next_delay(1, 7.0, rng) == 7.0
    assert next_delay(1, None, random.Random(1)) == backoff_delay(1, random.Random(1))


def test_parse_retry_after() -> None:
    now = 1_750_000_000.0
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after(" 7 ") == 7.0
    assert parse_retry_after("1000") == 300.0
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("") is None
    assert parse_retry_after(None) is None
    future = email.utils.formatdate(now + 10, usegmt=True)
    assert parse_retry_after(future, now=now) == 10.0
    past = email.utils.formatdate(now - 10, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
    far = email.utils.formatdate(now + 86400, usegmt=True)
    assert parse_retry_after(far, now=now) == 300.0
    assert parse_retry_after("Wed, 99 Foo 2024 99:99:99 GMT", now=now) is None


def test_retryable_statuses() -> None:
    assert all(is_retryable(s) for s in (408, 429, 500, 502, 503, 504, 599))
    assert not any(is_retryable(s) for s in (200, 301, 400, 401, 403, 404, 409, 413, 422))


def test_ids_are_uuid4_and_unique_across_threads() -> None:
    out: list[list[str]] = [[] for _ in range(4)]

    def mint(i: int) -> None:
        out[i] = [new_uuid4() for _ in range(6000)]

    threads = [threading.Thread(target=mint, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [x for chunk in out for x in chunk]
    assert len(set(ids)) == len(ids) == 24000
    for s in ids[::7]:
        u = uuid.UUID(s)
        assert u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == s


def test_unix_seconds_is_float_time() -> None:
    assert isinstance(unix_seconds(), float) and unix_seconds() > 1.7e9


def test_a_declared_schedule_gives_its_waits_plus_jitter_with_retry_after_as_floor() -> None:
    schedule = (1.0, 2.5, 5.0, 10.0, 20.0, 60.0)
    rng = random.Random(3)
    for attempt, step in [(1, 1.0), (2, 2.5), (6, 60.0), (7, 60.0), (40, 60.0)]:
        waits = [next_delay(attempt, None, rng, schedule=schedule, jitter=0.25) for _ in range(500)]
        assert all(step <= w <= step * 1.25 for w in waits)
        assert max(waits) - min(waits) > step * 0.2  # the jitter is really applied
    assert next_delay(1, None, rng, schedule=schedule) == 1.0  # no jitter: exact
    assert next_delay(2, 90.0, rng, schedule=schedule, jitter=0.25) == 90.0  # Retry-After floor


@pytest.mark.parametrize("size", [0, 1, 1024, 1025, 2048, 10_000, 70_001])
def test_long_inputs_hash_as_one_shot_digests(size: int) -> None:
    """Content hashes and HMACs of long inputs (a batch id over 256 ids, a header signature over
    a body) are fed in pieces so the worker keeps the GIL: the digests are unchanged."""
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert recipes.hash_function("sha256")(data) == hashlib.sha256(data).hexdigest()
    assert recipes.hash_function("blake3")(data) == blake3.blake3(data).hexdigest()
    blake2b = hashlib.blake2b(data, digest_size=32).hexdigest()
    assert recipes.hash_function("blake2b-256")(data) == blake2b
    assert recipes.hmac_sha256(b"k", data) == hmac.new(b"k", data, hashlib.sha256).hexdigest()
