"""A small OpenAPI 3.0 spec: nullable, path templates, apiKey auth, lowest 2xx, base path."""

from __future__ import annotations

from typing import Any

import jsonschema
from serverproc import THINGS_SPEC, ServerProcess

from codegen.load import load_document
from codegen.server.spec import load_spec

KEY = {"X-API-Key": "k"}


def thing(**extra: Any) -> dict[str, Any]:
    return {"name": "box", "note": None, **extra}


def test_nullable_is_a_type_union(things: ServerProcess) -> None:
    assert things.exchange("PUT", "/things/1", thing(kind=None), KEY)[0] == 200
    assert things.exchange("PUT", "/things/1", thing(kind="a", note="n"), KEY)[0] == 200
    status, body, _ = things.exchange("PUT", "/things/1", {"name": None, "note": None}, KEY)
    assert status == 422 and body["detail"][0]["loc"] == ["body", "name"]
    status, body, _ = things.exchange("PUT", "/things/1", thing(size=10), KEY)
    assert status == 422 and body["detail"][0]["type"] == "less_than"


def test_path_templates_and_specificity(things: ServerProcess) -> None:
    status, body, _ = things.exchange("GET", "/things/abc")
    assert (status, body) == (200, {"email": "owner@example.org"})  # the media-type example
    status, body, _ = things.exchange("GET", "/things/special")
    assert (status, body) == (204, None)
    assert things.exchange("GET", "/things/a/b")[0] == 404
    assert things.exchange("DELETE", "/things/abc")[0] == 405
    recorded = things.get("/_admin/requests")["requests"]
    assert [r["operation"] for r in recorded[:2]] == ["getThing", "getSpecialThing"]


def test_server_url_base_path_is_accepted(things: ServerProcess) -> None:
    assert things.exchange("GET", "/api/v2/things/abc")[0] == 200


def test_api_key_header_and_synthesized_response(things: ServerProcess) -> None:
    assert things.exchange("PUT", "/things/1", thing())[0] == 401
    status, body, _ = things.exchange("PUT", "/things/1", thing(name="crate"), KEY)
    assert status == 200  # lowest 2xx of {200, 201}
    assert body["name"] == "crate"  # echoed from the request
    assert body["session_token"].startswith("tok_")
    _validate(load_spec(THINGS_SPEC), "#/components/schemas/ThingOut", body)
    assert len(body["tags"]) == 2 and all(len(t) >= 3 for t in body["tags"])
    assert body["count"] == 3 and body["ratio"] > 0
    # The minted token is accepted even when tokens are restricted.
    things.post("/_admin/config", {"accepted_tokens": ["only"]})
    assert things.exchange("PUT", "/things/1", thing(), {"X-API-Key": "k"})[0] == 401
    minted = {"X-API-Key": body["session_token"]}
    assert things.exchange("PUT", "/things/1", thing(), minted)[0] == 200
    assert load_document(THINGS_SPEC).data["openapi"] == "3.0.3"


def _validate(data: dict[str, Any], pointer: str, instance: Any) -> None:
    from codegen.server.validation import SchemaValidator, make_registry

    validator = SchemaValidator(make_registry(data), pointer)
    assert validator.errors(instance) == []
    jsonschema.FormatChecker().check(instance["id"], "uuid")
    jsonschema.FormatChecker().check(instance["created_at"], "date-time")
