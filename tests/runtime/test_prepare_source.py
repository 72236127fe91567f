"""The preparation compiled per route (what the worker runs) gives exactly what the plain
reference gives: the same bytes, the same envelope values, the same counts and failures."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import patch

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ingest_runtime import recipes
from ingest_runtime.batching import Batch, Preparer
from ingest_runtime.recipes import (
    Const,
    Derive,
    Field,
    Hash,
    ItemValues,
    Join,
    Json,
    Lit,
    Millis,
    Seq,
    Sign,
    Timestamp,
)
from ingest_runtime.redaction import Redact, Redactor
from ingest_runtime.routes import Route
from ingest_runtime.stats import Counters

HOSTILE = ["a'b", "new\nline", "'); import os; ('"]
ITEMS = [
    {
        "a": "alpha mail bob@example.com",
        "t": 1750336496.789,
        "n": 7,
        "b": {"c": "deep AKIAIOSFODNN7ABCDEFG", "t": 1750336400},
        "l": [{"x": "one", "i": 0}, {"x": None, "i": 1}, "not a dict"],
        "e": [],
        **{k: f"v-{k}" for k in HOSTILE},
    },
    {"a": None, "t": 1750336497.5, "l": [{"x": "two"}], "b": None},
    {},
    [1, 2],  # not an object: both fail or pass the same way
]

paths = st.sampled_from(["a", "t", "n", "b.c", "b.t", "missing", "l[].x", "l[].i", *HOSTILE])
leaves = st.one_of(
    paths.map(Field),
    st.sampled_from(["k", "absent"]).map(Const),
    st.just(Seq()),
    st.sampled_from([*HOSTILE, ""]).map(Lit),
    st.sampled_from(["t", "b.t", "missing"]).map(Millis),
    st.builds(Timestamp, st.sampled_from(["t", "b.t"]), st.sampled_from(["rfc3339_ms", "unix_s"])),
    st.sampled_from(["b", "l"]).map(Json),
)
parts = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(Join, st.lists(inner, max_size=3).map(tuple), st.sampled_from(["", "::"])),
        st.builds(
            Hash,
            st.lists(inner, min_size=1, max_size=3).map(tuple),
            st.sampled_from(["sha256", "blake3"]),
            st.sampled_from(["\x1f", "'"]),
            st.sampled_from(["", "evt_"]),
            st.sampled_from([None, 7, 16, 32, 64, 80]),
        ),
    ),
    max_leaves=5,
)
targets = st.sampled_from(["id", "a", "t", "b.new", "l[].id", "l[].x", "a'b"])
derives = st.lists(st.builds(Derive, targets, parts), max_size=4).map(tuple)
redacts = st.lists(
    st.builds(
        Redact, st.sampled_from(["a", "b.c", "l[].x", "new\nline"]), st.sampled_from([None, 5])
    ),
    max_size=2,
    unique_by=lambda r: r.path,
).map(tuple)


def _write_nulls(route: str, item: dict[str, Any]) -> dict[str, Any]:
    item["written"] = None
    if isinstance(item.get("b"), dict):
        item["b"]["gone"] = None
    if isinstance(item.get("l"), list):
        item["l"].append({"z": None})
    return item


def _raise(route: str, item: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("hook failed")


def _drop_some(route: str, item: dict[str, Any]) -> dict[str, Any] | None:
    return None if item.get("n") == 7 else item


def _replace(route: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"only": item.get("id"), "l": [None, {"q": None}]}


HOOKS = [None, _write_nulls, _raise, _drop_some, _replace]


def preparer(hook: Any, signing_key: bytes | None, when: tuple[str, ...] | None = None) -> Preparer:
    return Preparer(
        constants={"k": "dev'ice"},
        signing_key=signing_key,
        redactor=Redactor(),
        counters=Counters(),
        before_send=hook,
        before_send_when=when,
    )


def outcome(p: Preparer, prepare: Any, route: Route) -> list[Any]:
    out: list[Any] = []
    for obj in ITEMS:
        data = json.dumps(obj).encode()
        try:
            prepared = prepare(route, data)
        except Exception as exc:
            out.append(("error", type(exc).__name__))
        else:
            out.append(("ok", prepared, p.values))
    out.append((p.seq, dict(p.counters.extra), p.redactor.counts))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    derives,
    redacts,
    st.sampled_from([(), ("l",), ("l", "e")]),
    st.booleans(),
    st.sampled_from(HOOKS),
    st.sampled_from([None, "field", "field-no-key"]),
    st.booleans(),
    st.sampled_from([None, ("l",), ("n", "missing"), ("new\nline",), ()]),
)
@example(
    (Derive("id", Hash((Const("k"), Field("t"), Seq()), "blake3", length=32)),),
    (),
    ("l",),
    True,
    _write_nulls,
    None,
    True,
    None,
)
@example(
    (Derive("id", Seq()),), (Redact("a", 5),), ("l",), True, _write_nulls, "field", True, ("l",)
)
@example((), (), (), False, None, None, False, None)
def test_compiled_preparation_matches_the_reference(
    ds: tuple[Derive, ...],
    rs: tuple[Redact, ...],
    hoist: tuple[str, ...],
    omit_none: bool,
    hook: Any,
    sign: str | None,
    batched: bool,
    when: tuple[str, ...] | None,
) -> None:
    batch = None
    if batched or hoist:
        batch = Batch(
            items="items",
            hoist=hoist,
            derive=(Derive("batch_id", Hash((ItemValues("id"),), sort=True)),),
        )
    signature = None
    if sign is not None:
        signature = Sign((Lit("v1"), Field("id"), Json("b")), field="sig", sep=".")
    route = Route(
        "t.prepare", "POST", "/t", None, True, None, omit_none,
        batch=batch, derive=ds, redact=rs, sign=signature,
    )  # fmt: skip
    key = None if sign in (None, "field-no-key") else b"secret"
    reference, compiled = preparer(hook, key, when), preparer(hook, key, when)
    with patch.object(recipes, "now_millis", lambda: 1750336496789):  # absent time means now
        expected = outcome(reference, reference.prepare_reference, route)
        got = outcome(compiled, compiled.prepare, route)
    assert got == expected, compiled.compiled.get(route._index).__doc__  # type: ignore[union-attr]


def test_hostile_field_names_stay_data() -> None:
    """Spec text reaches the compiled source only as literals: it is written, never run."""
    nasty = "'); exit(3); ('\n\"\"\"{__import__('os')}"
    route = Route(
        "t.nasty", "POST", "/t", None, True, None, True,
        batch=Batch(items="items", hoist=(nasty,)),
        derive=(Derive(nasty + "x", Field(nasty)),),
        redact=(Redact(nasty),),
    )  # fmt: skip
    p = preparer(None, None)
    out = p.prepare(route, json.dumps({nasty: "mail bob@example.com"}).encode())
    assert out is not None
    item, hoisted = out.split(b"\n")
    assert json.loads(item) == {nasty + "x": "mail bob@example.com"}
    assert hoisted == b"[]"
