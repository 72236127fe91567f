"""A bad spec fails generation with file, JSON pointer and reason; nothing is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import SPECS, run_codegen

SWARM = yaml.safe_load((SPECS / "swarm_analytics" / "v1.yaml").read_text())


def write_spec(workspace: Path, data: object, folder: str = "svc", raw: str | None = None) -> None:
    target = workspace / "specs" / folder / "v1.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(raw if raw is not None else yaml.safe_dump(data, sort_keys=False))


def swarm_copy() -> dict:
    return yaml.safe_load(yaml.safe_dump(SWARM))


def assert_clean_failure(workspace: Path, result, *fragments: str) -> None:
    assert result.code == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    assert list((workspace / "generated").iterdir()) == []


def test_openapi_violation_names_file_and_pointer(workspace: Path) -> None:
    spec = swarm_copy()
    del spec["paths"]["/public/logs"]["post"]["responses"]["200"]
    spec["paths"]["/public/logs"]["post"]["responses"]["201"] = {"descriptio": "typo"}
    write_spec(workspace, spec)
    result = run_codegen("generate", cwd=workspace)
    assert_clean_failure(
        workspace,
        result,
        "specs/svc/v1.yaml#/paths/~1public~1logs/post/responses/201",
        "'description' is a required property",
    )


def test_dangling_ref(workspace: Path) -> None:
    spec = swarm_copy()
    spec["components"]["schemas"]["AppOpened"]["allOf"][0] = {"$ref": "#/components/schemas/Nope"}
    write_spec(workspace, spec)
    result = run_codegen("generate", cwd=workspace)
    assert_clean_failure(
        workspace, result, "#/components/schemas/AppOpened/allOf/0/$ref", "does not resolve"
    )


def test_ref_cycle(workspace: Path) -> None:
    spec = swarm_copy()
    spec["components"]["schemas"]["A"] = {"$ref": "#/components/schemas/B"}
    spec["components"]["schemas"]["B"] = {"$ref": "#/components/schemas/A"}
    write_spec(workspace, spec)
    assert_clean_failure(workspace, run_codegen("generate", cwd=workspace), "$ref cycle")


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (
            lambda s: s["paths"]["/public/logs"]["post"].__setitem__("x-ingest-method", "logs.w"),
            ["#/paths/~1public~1logs/post/x-ingest-method", "unknown extension 'x-ingest-method'"],
        ),
        (
            lambda s: s["paths"]["/public/logs"]["post"].__setitem__("x_ingets", {}),
            ["#/paths/~1public~1logs/post/x_ingets", "unknown extension 'x_ingets'"],
        ),
        (
            lambda s: s["paths"]["/public/logs"]["post"]["x-ingest"].__setitem__("metod", "x"),
            ["#/paths/~1public~1logs/post/x-ingest/metod", "did you mean 'method'?"],
        ),
        (
            lambda s: s["paths"]["/public/logs"]["post"]["x-ingest"].__setitem__(
                "delivery", "fast"
            ),
            ["#/paths/~1public~1logs/post/x-ingest/delivery", "'fast' is not one of"],
        ),
        (
            lambda s: s["paths"]["/public/logs"]["post"]["x-ingest"].__setitem__(
                "category", "prod"
            ),
            ["#/paths/~1public~1logs/post/x-ingest/category", "'prod' is not declared"],
        ),
        (
            lambda s: s["components"]["schemas"]["IngestMeta"]["properties"]["ts"][
                "x-ingest"
            ].__setitem__("autofill", "unix_secs"),
            ["#/components/schemas/IngestMeta/properties/ts/x-ingest/autofill"],
        ),
        (
            lambda s: s["info"]["x-ingest"].__setitem__("retry", {"backoff": [1, 0], "jitter": 2}),
            ["#/info/x-ingest/retry/backoff/1", "#/info/x-ingest/retry/jitter"],
        ),
        (
            lambda s: s["info"]["x-ingest"].__setitem__("retry", {"hold": [400, 503]}),
            ["#/info/x-ingest/retry/hold", "status 503 is retried, so it cannot also be held"],
        ),
        (
            lambda s: s["info"]["x-ingest"].__setitem__("retry", {"hold": [422]}),
            ["#/info/x-ingest/retry/hold", "so this client has none"],
        ),
    ],
    ids=[
        "prefixed-key",
        "near-miss-key",
        "misspelt-key",
        "bad-delivery",
        "undeclared-category",
        "bad-autofill",
        "bad-retry-schedule",
        "held-status-retried",
        "held-without-files",
    ],
)
def test_extension_mistakes(workspace: Path, mutate, fragments: list[str]) -> None:
    spec = swarm_copy()
    mutate(spec)
    write_spec(workspace, spec)
    assert_clean_failure(workspace, run_codegen("generate", cwd=workspace), *fragments)


def test_two_operations_one_method_name(workspace: Path) -> None:
    spec = swarm_copy()
    spec["paths"]["/public/logs"]["post"]["x-ingest"]["method"] = "events.onboarding.step"
    write_spec(workspace, spec)
    assert_clean_failure(
        workspace,
        run_codegen("generate", cwd=workspace),
        "#/paths/~1public~1logs/post",
        "method 'events.onboarding.step' is also generated for POST /public/events/onboarding/step",
    )


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("openapi: 3.1.0\ninfo: {title: x, version: 1.0.0\npaths: {}\n", "invalid YAML at line"),
        ("- just\n- a list\n", "not an OpenAPI document"),
        ("hello: world\n", "not an OpenAPI document"),
        ("openapi: 3.1.0\ninfo: {title: x, version: 1.0.0}\npaths: 7\n", "#/paths"),
        ("openapi: 2.5.0\ninfo: {title: x, version: 1.0.0}\npaths: {}\n", "unsupported OpenAPI"),
    ],
    ids=["truncated-yaml", "list", "not-openapi", "wrong-type", "bad-version"],
)
def test_malformed_input(workspace: Path, raw: str, fragment: str) -> None:
    write_spec(workspace, None, raw=raw)
    result = run_codegen("generate", cwd=workspace)
    assert_clean_failure(workspace, result, "specs/svc/v1.yaml", fragment)


def test_one_bad_spec_does_not_block_the_others(workspace: Path) -> None:
    write_spec(workspace, None, folder="broken", raw="openapi: [\n")
    write_spec(workspace, swarm_copy(), folder="swarm_analytics")
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 2
    assert "broken: FAILED" in result.stdout
    assert (workspace / "generated" / "swarm_analytics" / "pyproject.toml").is_file()
    assert not (workspace / "generated" / "broken").exists()


def test_the_reported_pointer_does_not_depend_on_the_hash_seed(workspace: Path) -> None:
    """A schema with several meta-schema errors is reported at one of them; which one used to
    follow set iteration, so the same spec printed a different pointer from run to run."""
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1.0.0"},
        "paths": {},
        "components": {
            "schemas": {
                "Knobs": {
                    "type": "object",
                    "properties": {
                        name: {"type": "number", "exclusiveMinimum": True}
                        for name in ("beta", "alpha", "gamma", "delta", "eps", "zeta", "eta")
                    },
                }
            }
        },
    }
    write_spec(workspace, spec)
    outputs = {
        run_codegen("generate", cwd=workspace, env={"PYTHONHASHSEED": str(seed)}).stderr
        for seed in range(1, 6)
    }
    assert len(outputs) == 1, outputs
    assert "#/components/schemas/Knobs/properties/alpha/exclusiveMinimum" in outputs.pop()
