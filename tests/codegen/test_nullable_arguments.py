"""An optional body field that admits null: leaving the argument out and passing None differ."""

from __future__ import annotations

from pathlib import Path

from tests.codegen.test_real_world import run_python, write
from tests.conftest import run_codegen

NULLABLE_FIELDS = {
    "openapi": "3.1.0",
    "info": {"title": "Notes", "version": "1.0.0"},
    "paths": {
        "/notes": {
            "patch": {
                "operationId": "updateNote",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {
                                    "id": {"type": "string"},
                                    # 3.1 type array, and a null variant: both admit null
                                    "due": {"type": ["string", "null"]},
                                    "owner": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                                    "title": {"type": "string"},  # optional, never null
                                },
                            }
                        }
                    },
                },
                "responses": {"204": {"description": "updated"}},
            }
        }
    },
}


def test_none_clears_a_nullable_field_and_an_unset_argument_is_left_out(workspace: Path) -> None:
    """PATCH-style APIs read `"due": null` as "clear it" and a missing key as "keep it": a
    nullable optional argument defaults to UNSET (left out) and sends None as `null`; a
    non-nullable optional argument left at None is still left out."""
    write(workspace, NULLABLE_FIELDS)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    code = """
import inspect, json
import httpx
from ingest_runtime import UNSET
from svc.v1 import NotesClient

sent = []
def handler(request):
    sent.append(json.loads(request.content))
    return httpx.Response(204)

client = NotesClient(base_url="http://notes.test",
                     http_client=httpx.Client(transport=httpx.MockTransport(handler)))
params = inspect.signature(client.update_note).parameters
assert params["due"].default is UNSET and params["owner"].default is UNSET
assert params["title"].default is None
client.update_note(id="n1")
client.update_note(id="n1", due=None, owner="ann", title=None)
client.update_note(id="n1", due="2026-12-24", owner=None, title="Gifts")
assert sent == [
    {"id": "n1"},
    {"id": "n1", "due": None, "owner": "ann"},
    {"id": "n1", "due": "2026-12-24", "owner": None, "title": "Gifts"},
], sent
client.close()
print("ok")
"""
    proc = run_python(workspace, "svc", code)
    assert proc.stdout.strip() == "ok", proc.stderr
