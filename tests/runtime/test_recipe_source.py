"""Recipes compiled to source (what the worker runs) give exactly what the closures give;
float timestamps become the milliseconds their decimal text says."""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ingest_runtime import recipes
from ingest_runtime.recipe_source import compile_derive_function
from ingest_runtime.recipes import (
    Const,
    Derive,
    Env,
    Field,
    Hash,
    Join,
    Json,
    Lit,
    Millis,
    Seq,
    Timestamp,
    compile_derives,
)

# Keys and literals a hostile spec could declare: quotes, backslashes, newlines, braces, code.
HOSTILE = ["a'b", 'q"', "back\\slash", "new\nline", "{x}", "'); import os; ('", "\u00e9t\u00e9"]
KEYS = ["a", "t", "s", "n", *HOSTILE]


def item() -> dict[str, Any]:
    return {
        "a": "alpha",
        "t": 1750336496.789,
        "s": "2026-06-19T12:34:56.789Z",
        "n": 7,
        "b": {"c": "deep", "t": 1750336400},
        "l": [
            {"x": "one", "i": 0, "t": 1750336496.5, "m": [{"q": 1}]},
            {"x": None, "i": 1},
            "not a dict",
        ],
        **{k: f"v-{k}" for k in HOSTILE},
    }


paths = st.sampled_from([*KEYS, "b.c", "b.t", "missing", "b.missing.deep", "l[].x", "l[].i"])
leaves = st.one_of(
    paths.map(Field),
    st.sampled_from(["k", "k'q"]).map(Const),
    st.just(Seq()),
    st.sampled_from([*HOSTILE, "", "::"]).map(Lit),
    st.sampled_from(["t", "b.t", "l[].t", "missing"]).map(Millis),
    st.builds(
        Timestamp,
        st.sampled_from(["t", "s", "b.t", "l[].t", "missing"]),
        st.sampled_from(["rfc3339_ms", "iso8601", "unix_s", "unix_ms"]),
    ),
    st.sampled_from(["b", "l", "a"]).map(Json),
)
seps = st.sampled_from(["", "::", "\x1f", "'", '"""', "\\"])
parts = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(Join, st.lists(inner, max_size=4).map(tuple), seps),
        st.builds(
            Hash,
            st.lists(inner, min_size=1, max_size=4).map(tuple),
            st.sampled_from(["sha256", "blake2b-256", "blake3"]),
            seps,
            st.sampled_from(["", "evt_", "p'x"]),
            st.sampled_from([None, 8, 32]),
            st.booleans(),
        ),
    ),
    max_leaves=6,
)
targets = st.sampled_from(
    ["id", "a", "t", "b.new", "fresh.nested", "l[].id", "l[].x", "l[].m[].r", "a'b"]
)
# Plain leaves as often as trees: a missing field written with omit_none is a leaf.
derives = st.lists(st.builds(Derive, targets, st.one_of(leaves, parts)), min_size=1, max_size=5)


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime(2026, 6, 19, 12, 34, 56, 789000, tzinfo=tz)


def frozen_clock() -> Any:
    stack = contextlib.ExitStack()
    stack.enter_context(patch.object(recipes, "now_millis", lambda: 1750336496789))
    stack.enter_context(patch.object(recipes, "datetime", _FrozenDatetime))
    return stack


def run(fn: Any, omit_none: bool, seq: int) -> tuple[str, Any]:
    data = item()
    env = Env((), {"k": "dev", "k'q": 5}, seq)
    try:
        fn(data, env)
    except Exception as exc:  # both sides must fail the same way
        return "error", type(exc).__name__
    return "ok", data


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(derives, st.booleans(), st.integers(min_value=0, max_value=10**6))
@example([Derive("id", Field("missing"))], True, 1)
@example([Derive("l[].id", Field("l[].x")), Derive("l[].h", Hash((Field("id"),)))], True, 2)
@example([Derive("l[].id", Json("l")), Derive("l[].x", Seq()), Derive("l[].m[].r", Seq())], True, 3)
def test_compiled_source_matches_the_closures(ds: list[Derive], omit_none: bool, seq: int) -> None:
    closures = compile_derives(ds, omit_none)

    def reference(data: dict[str, Any], env: Env) -> None:
        for derive in closures:
            derive(data, env)

    compiled = compile_derive_function(ds, omit_none, "test")
    with frozen_clock():  # an absent timestamp means "now": the same now for both
        expected = run(reference, omit_none, seq)
        got = run(compiled, omit_none, seq)
    assert got == expected, compiled.__doc__


def test_hostile_text_stays_data() -> None:
    """Spec text reaches the compiled source only as literals: it is written, never run."""
    nasty = "'); exit(3); ('\n\"\"\"{__import__('os')}"
    ds = [
        Derive("out", Join((Lit(nasty), Field(nasty)), nasty)),
        Derive(nasty, Hash((Lit(nasty),), algorithm="sha256", prefix=nasty, length=4)),
    ]
    data: dict[str, Any] = {nasty: "v"}
    compile_derive_function(ds, True, nasty)(data, Env((), {}, 1))
    assert data["out"] == f"{nasty}{nasty}v"
    assert data[nasty].startswith(nasty) and len(data[nasty]) == len(nasty) + 4


def test_a_missing_constant_names_it() -> None:
    fn = compile_derive_function([Derive("id", Join((Const("device_id"),)))], False, "r")
    with pytest.raises(KeyError, match="device_id"):
        fn({}, Env((), {}, 1))


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.floats(min_value=0, max_value=2e11, allow_nan=False),
        st.integers(min_value=0, max_value=2 * 10**12).map(lambda ms: ms / 1000),  # x.789
        st.integers(min_value=0, max_value=2 * 10**15).map(lambda us: us / 10**6),
    )
)
@example(1750336496.789)
@example(0.001)
@example(1e12)
def test_millis_of_a_float_floor_its_shortest_decimal(value: float) -> None:
    """Unix seconds as a float become the floor of their shortest decimal times 1000, so
    1750336496.789 gives ...789 (not ...788 from binary rounding), whatever the fast path."""
    expected = int((Decimal(repr(value)) * 1000).to_integral_value(rounding="ROUND_FLOOR"))
    assert recipes.to_millis(value) == expected
