"""A route's typed-dict twin of its body model (what ``_submit`` validates and encodes with)
accepts and refuses exactly what the model does, and gives the model's JSON byte for byte:
for every queued route of every committed service, on arguments drawn from the model's own
JSON schema, mixed with wrong types, nulls, hostile text and unknown keys."""

from __future__ import annotations

import math
from typing import Any

import pydantic
import pytest
from aop_client.v1.client import AopApiClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ingest_runtime.items import item_codec
from ingest_runtime.routes import Route
from modelstat.v1.client import ModelstatIngestClient
from swarm_analytics.v1.client import AnalyticsClient

ROUTES = [
    route
    for client in (AnalyticsClient, ModelstatIngestClient, AopApiClient)
    for route in client._ROUTES
    if route.body is not None
]
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(["'); import os", "\u00e9\u2028\x00", "x" * 500, "2026-12-02T10:00:00Z"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def from_schema(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """Values for a JSON schema (types, enums, bounds, refs, anyOf); not exhaustive on
    purpose: whatever it gets wrong must be refused by both sides alike."""
    if "$ref" in schema:
        return from_schema(defs[schema["$ref"].rsplit("/", 1)[1]], defs, depth + 1)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, defs, depth + 1) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    kind = schema.get("type")
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 30))
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**40)), schema.get("maximum", 2**40))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array" and depth < 4:
        return st.lists(from_schema(schema.get("items", {}), defs, depth + 1), max_size=2)
    if kind == "object" and depth < 4:
        return arguments(schema, defs, depth + 1)
    return JUNK


def arguments(schema: dict[str, Any], defs: dict[str, Any], depth: int = 0) -> Any:
    """Objects per ``schema``; at the top, half of them get one field replaced by junk and
    some get an unknown key, so both valid and invalid arguments are common."""
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {k: from_schema(v, defs, depth) for k, v in props.items() if k in required}
    optional = {k: from_schema(v, defs, depth) for k, v in props.items() if k not in required}
    valid = st.fixed_dictionaries(fixed, optional=optional)
    if depth or not props:
        return valid

    def corrupt(obj: dict[str, Any], field: str, junk: Any, extra: dict[str, Any]) -> Any:
        return {**obj, field: junk, **extra}

    extra = st.dictionaries(st.sampled_from(["zz_unknown", "__class__"]), JUNK, max_size=1)
    corrupted = st.builds(corrupt, valid, st.sampled_from(sorted(props)), JUNK, extra)
    return st.one_of(valid, corrupted)


def outcome(route: Route, validate: Any, dump: Any, fields: dict[str, Any]) -> tuple[Any, ...]:
    try:
        value = validate(fields)
    except pydantic.ValidationError as exc:
        return ("invalid", exc.title, exc.errors(include_url=False))
    try:
        return ("ok", dump(value, by_alias=True, exclude_none=route.omit_none))
    except Exception as exc:  # e.g. a value JSON cannot hold: both must refuse it alike
        return ("encode", type(exc).__name__)


def model_dump(body: pydantic.BaseModel, **kw: Any) -> bytes:
    return body.__pydantic_serializer__.to_json(body, **kw)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.key)
def test_the_typed_dict_twin_validates_and_encodes_as_the_model_does(route: Route) -> None:
    assert route.body is not None
    assert route.item_codec is not None, "every generated body model is plain"
    validate_item, dump_item = route.item_codec
    model = route.body
    schema = model.model_json_schema(by_alias=True)
    strategy = arguments(schema, schema.get("$defs", {}))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def check(fields: dict[str, Any]) -> None:
        expected = outcome(route, route.validate, model_dump, fields)
        got = outcome(route, validate_item, dump_item, fields)
        assert got == expected

    check()


def test_models_that_are_more_than_their_fields_keep_the_model_path() -> None:
    class Validated(pydantic.BaseModel):
        a: int

        @pydantic.model_validator(mode="after")
        def positive(self) -> Validated:
            if self.a < 0:
                raise ValueError("negative")
            return self

    class Computed(pydantic.BaseModel):
        a: int

        @pydantic.computed_field  # type: ignore[prop-decorator]
        @property
        def double(self) -> int:
            return 2 * self.a

    class Plain(pydantic.BaseModel):
        a: float = math.pi

    assert item_codec(Validated) is None and item_codec(Computed) is None
    codec = item_codec(Plain)
    assert codec is not None
    validate, dump = codec
    assert dump(validate({}), by_alias=True) == Plain().model_dump_json().encode()
