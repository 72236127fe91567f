"""Real-world shapes: odd names, stable names, discriminators, hostile text, malformed files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.codegen.test_generate import names_in, tree
from tests.conftest import ROOT, run_codegen

HERE = Path(__file__).resolve().parent / "specs"


def write(workspace: Path, data: object, folder: str = "svc", raw: str | None = None) -> Path:
    target = workspace / "specs" / folder / "v1.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(raw if raw is not None else yaml.safe_dump(data, sort_keys=False))
    return target


def run_python(workspace: Path, package: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(workspace / "generated" / package), str(ROOT / "runtime")]
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=workspace
    )


PETS = {
    "openapi": "3.1.0",
    "info": {"title": "Pets", "version": "1.0.0"},
    "paths": {
        "/pets": {
            "post": {
                "operationId": "addPet",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                    }
                },
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                        },
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Pet": {
                "oneOf": [
                    {"$ref": "#/components/schemas/cat"},
                    {"$ref": "#/components/schemas/dog-2"},
                ],
                "discriminator": {"propertyName": "kind"},
            },
            "Base": {"type": "object", "properties": {"kind": {"type": "string"}}},
            "cat": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"meow": {"type": ["string", "null"]}}},
                ]
            },
            "dog-2": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"bark": {"type": "integer"}}},
                ]
            },
            "Shape": {
                "oneOf": [
                    {"$ref": "#/components/schemas/Circle"},
                    {"$ref": "#/components/schemas/Square"},
                ],
                "discriminator": {
                    "propertyName": "type",
                    "mapping": {
                        "c": "#/components/schemas/Circle",
                        "s": "#/components/schemas/Square",
                    },
                },
            },
            "Circle": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string"}, "r": {"type": "number"}},
            },
            "Square": {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"const": "s"}, "side": {"type": "number"}},
            },
            "Tree": {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                    "extra": {"additionalProperties": {"type": "integer"}, "type": "object"},
                    "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                },
            },
        }
    },
}


def test_discriminated_unions_decode_every_variant(workspace: Path) -> None:
    write(workspace, PETS)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    code = """
from svc.v1 import models as m
from pydantic import TypeAdapter
assert type(m.Pet.model_validate({"kind": "cat", "meow": None}).root).__name__ == "Cat"
assert type(m.Pet.model_validate({"kind": "dog-2", "bark": 3}).root).__name__ == "Dog2"
assert type(m.Shape.model_validate({"type": "c", "r": 1}).root).__name__ == "Circle"
assert type(m.Shape.model_validate({"type": "s", "side": 2}).root).__name__ == "Square"
t = m.Tree.model_validate({"children": [{"children": []}], "extra": {"a": 1}, "maybe": None})
assert t.children[0].children == []
print("ok")
"""
    proc = run_python(workspace, "svc", code)
    assert proc.stdout.strip() == "ok", proc.stderr


def test_adding_a_schema_or_reordering_renames_nothing(workspace: Path) -> None:
    write(workspace, PETS)
    assert run_codegen("generate", cwd=workspace).code == 0
    before = tree(workspace / "generated")
    grown = json.loads(json.dumps(PETS))
    schemas = grown["components"]["schemas"]
    schemas["Aardvark"] = {"type": "object", "properties": {"cat": {"type": "string"}}}
    schemas["cat_"] = {"type": "object"}  # collides with `cat` after sanitising
    grown["components"]["schemas"] = dict(reversed(list(schemas.items())))
    write(workspace, grown)
    assert run_codegen("generate", cwd=workspace).code == 0
    after = tree(workspace / "generated")
    for name, source in before.items():
        if name.endswith(".py"):
            assert set(names_in(source)) <= set(names_in(after[name])), name


def test_hostile_text_never_becomes_code(workspace: Path) -> None:
    target = workspace / "specs" / "hostile" / "v1.yaml"
    target.parent.mkdir(parents=True)
    target.write_text((HERE / "hostile.yaml").read_text())
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    code = "import hostile.v1.client, hostile.v1.models as m; print(sorted(vars(m))[:1])"
    proc = run_python(workspace, "hostile", code)
    assert proc.returncode == 0, proc.stderr
    assert "pwned" not in proc.stdout + proc.stderr
    mypy = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(workspace / "mc"), "hostile"],
        cwd=workspace / "generated" / "hostile",
        env={**os.environ, "PYTHONPATH": str(ROOT / "runtime")},
        capture_output=True,
        text=True,
    )
    assert mypy.returncode == 0, mypy.stdout


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("openapi: 3.1.0\ninfo: {title: x, version: '1'\npaths: {}\n", "invalid YAML"),
        ("openapi: 3.1.0\ninfo: [1, 2]\npaths: {}\n", "must be a mapping"),
        ("openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: 7\n", "must be a mapping"),
        ("- just\n- a list\n", "not an OpenAPI document"),
        ("name: my-app\nversion: 2\n", "not an OpenAPI document"),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n"
            "  schemas:\n    A: {$ref: '#/components/schemas/B'}\n"
            "    B: {$ref: '#/components/schemas/A'}\n",
            "$ref cycle",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n"
            "  schemas:\n    A: {$ref: 'other.yaml#/B'}\n",
            "missing file",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\ncomponents:\n"
            "  schemas:\n    A: {type: 7, properties: []}\n",
            # the validator checks each schema on its own; the pointer is still absolute
            "specs/svc/v1.yaml#/components/schemas/A/properties: [] is not of type 'object'",
        ),
    ],
)
def test_malformed_input_fails_in_one_paragraph(workspace: Path, raw: str, fragment: str) -> None:
    write(workspace, None, raw=raw)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr, result.stderr
    assert list((workspace / "generated").iterdir()) == []
