"""In-process checks of response synthesis and spec compilation (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from serverproc import SWARM_SPEC, THINGS_SPEC

from codegen.server.app import compile_operations
from codegen.server.spec import load_spec, translate_30
from codegen.server.synth import Synthesizer
from codegen.server.validation import SchemaValidator, make_registry


def _mint() -> str:
    return "tok_" + "0" * 32


@pytest.mark.parametrize("spec", [SWARM_SPEC, THINGS_SPEC], ids=["swarm", "things"])
def test_every_synthesized_response_validates(spec: Any) -> None:
    data = load_spec(spec)
    registry = make_registry(data)
    checked = 0
    for op in compile_operations(data):
        if op.spec.response_pointer is None:
            continue
        validator = SchemaValidator(registry, op.spec.response_pointer)
        for duplicate in (False, True):
            body = json.loads(op.response.render({}, duplicate, _mint))
            assert validator.errors(body) == [], (op.spec.operation_id, body)
            checked += 1
    assert checked >= 4


def test_swarm_operations_compile_with_keys_and_auth() -> None:
    ops = {op.spec.operation_id: op for op in compile_operations(load_spec(SWARM_SPEC))}
    assert len(ops) == 9
    assert not ops["createInstallToken"].auth.required
    assert all(op.auth.required for name, op in ops.items() if name != "createInstallToken")
    assert ops["onboardingStep"].spec.idempotency_field == "submission_id"
    assert ops["linkEmailToInstall"].spec.idempotency_field is None
    assert json.loads(ops["writeLog"].response.render({}, True, _mint)) == {
        "status": "ok",
        "duplicate": True,
    }


def test_echo_only_when_the_value_fits_the_response_schema() -> None:
    ops = {op.spec.operation_id: op for op in compile_operations(load_spec(SWARM_SPEC))}
    reply = json.loads(ops["onboardingStep"].response.render({"status": "started"}, False, _mint))
    assert reply["status"] == "ok"  # const "ok" wins over the request's "started"
    reply = json.loads(ops["createInstallToken"].response.render({"install_id": "x"}, False, _mint))
    assert reply == {"token": _mint(), "install_id": "x"}


def test_synthesizer_bounds_formats_and_unions() -> None:
    data: dict[str, Any] = {
        "openapi": "3.1.0",
        "components": {
            "schemas": {
                "S": {
                    "type": "object",
                    "required": ["a", "b", "c", "d", "e", "f", "g"],
                    "properties": {
                        "a": {"type": "integer", "minimum": 5, "multipleOf": 4},
                        "b": {"type": "number", "exclusiveMaximum": -1},
                        "c": {"type": "string", "format": "email"},
                        "d": {"anyOf": [{"type": "null"}, {"type": "string", "minLength": 3}]},
                        "e": {"enum": [None, "x"]},
                        "f": {"type": ["null", "boolean"]},
                        "g": {"$ref": "#/components/schemas/T"},
                    },
                },
                "T": {"type": "array", "minItems": 1, "items": {"const": 7}},
            }
        },
    }
    value = Synthesizer(data).build("#/components/schemas/S")
    assert value == {
        "a": 8,
        "b": -1.000001,
        "c": "user@example.com",
        "d": "xxx",
        "e": "x",
        "f": False,
        "g": [7],
    }
    registry = make_registry(data)
    assert SchemaValidator(registry, "#/components/schemas/S").errors(value) == []


def test_translate_30_nullable_forms() -> None:
    doc: dict[str, Any] = {
        "a": {"type": "string", "nullable": True, "enum": ["x"]},
        "b": {"$ref": "#/x", "nullable": True},
        "c": {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
    }
    translate_30(doc)
    assert doc["a"] == {"type": ["string", "null"], "enum": ["x", None]}
    assert doc["b"] == {"anyOf": [{"$ref": "#/x"}, {"type": "null"}]}
    assert doc["c"] == {"type": "integer", "exclusiveMinimum": 1}
    jsonschema.Draft202012Validator.check_schema(doc["a"])
