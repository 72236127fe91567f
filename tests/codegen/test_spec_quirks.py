"""What real specs get wrong or use rarely, and what the generator does with it (docs/corpus.md):
defaults that contradict their schema, non-PEP 440 versions, validator errors deep in a
component, OpenAPI 3.2 `itemSchema` streams, webhooks and callbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codegen.build import distribution_version
from codegen.load import load_document
from codegen.pipeline import _spec_version
from codegen.validate import validate
from tests.codegen.test_real_world import HERE, run_python, write
from tests.conftest import run_codegen


def _ok(description: str = "ok", schema: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = {"application/json": {"schema": schema}}
    return response


BAD_DEFAULTS = {
    "openapi": "3.0.3",
    "info": {"title": "Defaults", "version": "1.0.0"},
    "paths": {
        "/items": {
            "get": {
                "operationId": "listItems",
                "parameters": [{"$ref": "#/components/parameters/PerPage"}],
                "responses": {"200": _ok(schema={"$ref": "#/components/schemas/Item"})},
            },
            "post": {
                "operationId": "createItem",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Item"}}
                    }
                },
                "responses": {"200": _ok()},
            },
        }
    },
    "components": {
        "parameters": {
            "PerPage": {
                "name": "per_page",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "default": "20 - per page"},
            }
        },
        "schemas": {
            "Item": {
                "type": "object",
                "properties": {
                    # like github: a string default on a boolean, a boolean on a string enum
                    "draft": {"type": "boolean", "default": "str"},
                    "state": {"type": "string", "enum": ["true", "false"], "default": True},
                    "size": {"type": "integer", "default": 3},
                    "nested": {
                        "type": "object",
                        "properties": {"flag": {"type": "boolean", "default": "yes"}},
                    },
                    # a property *named* default is not a default
                    "default": {"type": "string", "default": "kept"},
                },
            }
        },
    },
}


def test_defaults_that_contradict_their_schema_are_dropped_with_a_warning(
    workspace: Path,
) -> None:
    write(workspace, BAD_DEFAULTS)
    result = run_codegen("generate", cwd=workspace)  # strict: not --lenient
    assert result.code == 0, result.stderr
    for where in (
        "specs/svc/v1.yaml#/components/schemas/Item/properties/draft/default",
        "specs/svc/v1.yaml#/components/schemas/Item/properties/state/default",
        "specs/svc/v1.yaml#/components/schemas/Item/properties/nested/properties/flag/default",
        "specs/svc/v1.yaml#/components/parameters/PerPage/schema/default",
    ):
        assert f"warning: {where}: " in result.stderr, result.stderr
    assert result.stderr.count("(dropped)") == 4, result.stderr
    models = (workspace / "generated/svc/svc/v1/models.py").read_text()
    assert '"str"' not in models and "= True" not in models
    assert "= 3" in models and '"kept"' in models
    code = (
        "from svc.v1 import DefaultsClient as C, Item; "
        "assert Item().draft is None and Item().size == 3 and Item().default == 'kept'; "
        "print(sorted(n for n in dir(C) if not n.startswith('_')))"
    )
    proc = run_python(workspace, "svc", code)
    assert proc.returncode == 0, proc.stderr


def test_a_default_only_the_validator_sees_is_dropped_too(tmp_path: Path) -> None:
    spec = tmp_path / "v1.yaml"
    spec.write_text(
        "openapi: 3.0.3\ninfo: {title: x, version: 1.0.0}\npaths: {}\ncomponents:\n"
        "  schemas:\n    A:\n      type: object\n      properties:\n"
        "        n: {type: integer, minimum: 5, default: 1}\n"
    )
    doc = load_document(spec)
    warnings = validate(doc)
    assert [w.pointer for w in warnings] == ["/components/schemas/A/properties/n/default"]
    assert "minimum" in warnings[0].message
    assert "default" not in doc.data["components"]["schemas"]["A"]["properties"]["n"]
    version = _spec_version(spec, "x")  # the pipeline path: validator in a child process
    assert "= 1" not in version.models_source


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("1.2.3", "1.2.3"),
        ("2.0.0rc1", "2.0.0rc1"),
        ("", "0.0.0"),
        ("latest", "0.0.0+latest"),
        ("2024-06-01 (beta)", "0.0.0+2024.06.01.beta"),
        ("Sun Oct 16 2022", "0.0.0+sun.oct.16.2022"),
    ],
)
def test_distribution_version_is_pep440(given: str, expected: str) -> None:
    assert distribution_version(given) == expected


def test_a_non_pep440_version_is_kept_verbatim_in_the_package(workspace: Path) -> None:
    write(
        workspace,
        {
            "openapi": "3.0.1",
            "info": {"title": "Odd", "version": ""},  # langfuse's info.version
            "paths": {"/a": {"get": {"operationId": "getA", "responses": {"200": _ok()}}}},
        },
    )
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    pyproject = (workspace / "generated/svc/pyproject.toml").read_text()
    assert '\nversion = "0.0.0"\n' in pyproject
    proc = run_python(workspace, "svc", "import svc.v1 as v; print(repr(v.__version__))")
    assert proc.stdout.strip() == "''", proc.stderr


def test_validator_errors_inside_a_component_have_absolute_pointers(workspace: Path) -> None:
    write(
        workspace,
        None,
        raw=(
            "openapi: 3.0.3\ninfo: {title: x, version: 1.0.0}\npaths: {}\ncomponents:\n"
            "  schemas:\n    Outer:\n      type: object\n      properties:\n"
            "        inner:\n          type: object\n          properties: 7\n"
        ),
    )
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 2, result.stderr
    assert (
        "error: specs/svc/v1.yaml#/components/schemas/Outer/properties/inner/properties: "
        "7 is not of type 'object'"
    ) in result.stderr, result.stderr
    assert "error: specs/svc/v1.yaml#/properties:" not in result.stderr


def test_hostile_enum_values_and_defaults_round_trip(workspace: Path) -> None:
    target = workspace / "specs" / "hostile" / "v1.yaml"
    target.parent.mkdir(parents=True)
    target.write_text((HERE / "hostile.yaml").read_text())
    assert run_codegen("generate", cwd=workspace).code == 0
    code = r"""
import json
from hostile.v1.models import EvilName1
default = EvilName1()
assert default.await_ == '\"\"\"\'\'\'\\ {{ x }}\n', repr(default.await_)
for value in ['a"b', '\"\"\"', '{% x %}', '\\', 'x\ny']:
    item = EvilName1.model_validate({"async": value})
    assert item.async_ == value
    again = EvilName1.model_validate_json(item.model_dump_json(by_alias=True))
    assert again.async_ == value and again.await_ == default.await_
print("ok")
"""
    proc = run_python(workspace, "hostile", code)
    assert proc.stdout.strip() == "ok", proc.stderr


STREAMS_32 = {
    "openapi": "3.2.0",
    "info": {"title": "Streams", "version": "1.0.0"},
    "paths": {
        "/events": {
            "get": {
                "operationId": "streamEvents",
                "responses": {
                    "200": {
                        "description": "one event per message",
                        "content": {
                            "text/event-stream": {
                                "itemSchema": {"$ref": "#/components/schemas/Event"}
                            }
                        },
                    }
                },
            }
        },
        "/logs": {
            "get": {
                "operationId": "tailLogs",
                "responses": {
                    "200": {
                        "description": "one JSON line each",
                        "content": {
                            "application/jsonl": {
                                "itemSchema": {
                                    "type": "object",
                                    "properties": {"line": {"type": "string"}},
                                    "required": ["line"],
                                }
                            }
                        },
                    }
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Event": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "data": {"type": "string"}},
            }
        }
    },
}


def test_openapi_32_item_schemas_are_kept_in_the_service_model(tmp_path: Path) -> None:
    import yaml

    spec = tmp_path / "streams" / "v1.yaml"
    spec.parent.mkdir()
    spec.write_text(yaml.safe_dump(STREAMS_32))
    version = _spec_version(spec, "streams")
    ops = {op.name: op for op in version.operations}
    assert ops["stream_events"].stream_item_model == "Event"
    assert ops["stream_events"].stream_media_type == "text/event-stream"
    tail = ops["tail_logs"]
    assert tail.stream_media_type == "application/jsonl"
    assert tail.stream_item_model in version.model_names
    assert "line: str" in version.models_source


def test_openapi_32_streams_generate_and_import(workspace: Path) -> None:
    write(workspace, STREAMS_32)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    proc = run_python(workspace, "svc", "from svc.v1 import StreamsClient, Event; print('ok')")
    assert proc.stdout.strip() == "ok", proc.stderr


WEBHOOKS_AND_CALLBACKS = {
    "openapi": "3.1.0",
    "info": {"title": "Hooks", "version": "1.0.0"},
    "paths": {
        "/subscriptions": {
            "post": {
                "operationId": "subscribe",
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"url": {"type": "string"}},
                                "required": ["url"],
                            }
                        }
                    }
                },
                "callbacks": {
                    "onEvent": {
                        "{$request.body#/url}": {
                            "post": {
                                "requestBody": {
                                    "content": {
                                        "application/json": {
                                            "schema": {"$ref": "#/components/schemas/Ping"}
                                        }
                                    }
                                },
                                "responses": {"200": _ok()},
                            }
                        }
                    }
                },
                "responses": {"201": _ok()},
            }
        }
    },
    "webhooks": {
        "ping": {
            "post": {
                "operationId": "pingWebhook",
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Ping"}}
                    }
                },
                "responses": {"200": _ok()},
            }
        }
    },
    "components": {
        "schemas": {"Ping": {"type": "object", "properties": {"at": {"type": "integer"}}}},
        "pathItems": {
            "Shared": {"get": {"operationId": "sharedItem", "responses": {"200": _ok()}}}
        },
    },
}


def test_webhooks_and_callbacks_do_not_break_generation(workspace: Path) -> None:
    write(workspace, WEBHOOKS_AND_CALLBACKS)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    client = (workspace / "generated/svc/svc/v1/client.py").read_text()
    assert "def subscribe(" in client
    # Webhooks and callbacks are requests the API sends, not methods of a client.
    assert "ping_webhook" not in client and "shared_item" not in client
    proc = run_python(workspace, "svc", "from svc.v1 import HooksClient, Ping; print('ok')")
    assert proc.stdout.strip() == "ok", proc.stderr


READ_WRITE_ONLY = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1.0.0"},
    "paths": {
        "/pets": {
            "post": {
                "operationId": "addPet",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                    },
                },
                "responses": {"200": _ok(schema={"$ref": "#/components/schemas/Pet"})},
            }
        },
        "/pets/traced": {  # a header parameter: the call goes through the generated _http module
            "post": {
                "operationId": "addTracedPet",
                "parameters": [{"name": "X-Trace", "in": "header", "schema": {"type": "string"}}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}
                    },
                },
                "responses": {"200": _ok(schema={"$ref": "#/components/schemas/Pet"})},
            }
        },
    },
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["id", "name", "password", "created", "secret"],
                "properties": {
                    "id": {"type": "integer", "readOnly": True},
                    "name": {"type": "string"},
                    "password": {"type": "string", "writeOnly": True},
                    "created": {"$ref": "#/components/schemas/Stamp"},
                    "secret": {"type": "string", "nullable": True, "writeOnly": True},
                    "owner": {"$ref": "#/components/schemas/Owner"},
                },
            },
            "Stamp": {"type": "string", "readOnly": True},
            "Owner": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string", "readOnly": True},
                    "name": {"type": "string"},
                },
            },
        }
    },
}


def test_read_only_and_write_only_properties_follow_the_direction(workspace: Path) -> None:
    """A request need not (and through a method cannot) carry a required readOnly property; a
    response parses without a required writeOnly one, which stays a required argument; an
    optional argument left unset is absent from the request body, never `null`."""
    write(workspace, READ_WRITE_ONLY)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    code = """
import inspect, json
import httpx
from svc.v1 import PetsClient, Pet, Owner

sent = []
traces = []
def handler(request):
    sent.append(json.loads(request.content))
    traces.append(request.headers.get("x-trace"))
    # the server's answer: readOnly fields filled in, writeOnly ones never echoed
    return httpx.Response(200, json={"id": 7, "name": "Rex", "created": "2026-01-01",
                                     "owner": {"id": "o1", "name": "Ann"}})

client = PetsClient(base_url="http://pets.test",
                    http_client=httpx.Client(transport=httpx.MockTransport(handler)))
params = inspect.signature(client.add_pet).parameters
assert "id" not in params and "created" not in params, list(params)
assert params["password"].default is inspect.Parameter.empty
assert params["secret"].default is inspect.Parameter.empty

pet = client.add_pet(name="Rex", password="pw", secret=None, owner=Owner(name="Ann"))
# readOnly properties are absent (not null); the required nullable one is sent as given
assert sent[-1] == {"name": "Rex", "password": "pw", "secret": None, "owner": {"name": "Ann"}}
assert (pet.id, pet.name, pet.password, pet.owner.id) == (7, "Rex", None, "o1"), pet
client.add_pet(name="Rex", password="pw", secret="s")
# an optional argument left unset never reaches the wire as null (owner is not nullable)
assert sent[-1] == {"name": "Rex", "password": "pw", "secret": "s"}, sent[-1]
client.add_traced_pet(name="Rex", password="pw", secret="s", x_trace="t1")  # through _http
assert sent[-1] == {"name": "Rex", "password": "pw", "secret": "s"} and traces[-1] == "t1", sent
client.close()

# the same through the models: a request body without its readOnly properties validates,
# a response without its writeOnly properties parses
Pet(name="Rex", password="pw")
Pet.model_validate({"id": 1, "name": "Rex", "created": "2026-01-01"})
print("ok")
"""
    proc = run_python(workspace, "svc", code)
    assert proc.stdout.strip() == "ok", proc.stderr


# Like Stripe (`account.balance_transaction` before `balance_transaction`) and GitHub: an
# earlier component's nested inline object takes the class name a later component would get,
# so the models generator names the component's class otherwise (`BalanceTransaction1`).
_TXN = {"$ref": "#/components/schemas/balance_transaction"}
TAKEN_COMPONENT_NAME = {
    "openapi": "3.0.3",
    "info": {"title": "Ledger", "version": "1.0.0"},
    "paths": {
        "/balance_transactions/{id}": {
            "parameters": [
                {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "operationId": "getBalanceTransaction",
                "responses": {"200": _ok(schema=_TXN)},
            },
            # `id` is a path parameter too, so the body is one `body` argument of the class
            "put": {
                "operationId": "putBalanceTransaction",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _TXN}},
                },
                "responses": {"200": _ok(schema=_TXN)},
            },
        },
        "/balance_transactions": {
            "post": {  # a flattened body: arguments of the component's class
                "operationId": "createBalanceTransaction",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _TXN}},
                },
                "responses": {"200": _ok(schema=_TXN)},
            },
        },
        "/transfers": {
            "post": {  # inline bodies referring to it: written by codegen/bodies.py
                "operationId": "createTransfer",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["txn"],
                                "properties": {"txn": _TXN, "note": {"type": "string"}},
                                "additionalProperties": False,
                            }
                        }
                    },
                },
                "responses": {
                    "200": _ok(
                        schema={
                            "type": "object",
                            "properties": {"data": {"type": "array", "items": _TXN}},
                        }
                    )
                },
            }
        },
    },
    "components": {
        "schemas": {
            "account": {
                "type": "object",
                "properties": {
                    "balance_transaction": {
                        "type": "object",
                        "properties": {"note": {"type": "string"}},
                    }
                },
            },
            "balance_transaction": {
                "type": "object",
                "required": ["id", "amount"],
                "properties": {"id": {"type": "string"}, "amount": {"type": "integer"}},
            },
        }
    },
}


def test_a_component_whose_class_name_was_taken_types_its_methods(workspace: Path) -> None:
    """Methods whose body or response is a bare `$ref` to such a component are typed with the
    component's class (as the models generator named it), and real calls decode into it."""
    write(workspace, TAKEN_COMPONENT_NAME)
    result = run_codegen("generate", cwd=workspace)
    assert result.code == 0, result.stderr
    code = """
import json, typing
import httpx
from svc.v1 import models
from svc.v1.client import LedgerClient

component = next(
    c for c in vars(models).values()
    if isinstance(c, type) and issubclass(c, models.BaseModel)
    and set(c.model_fields) == {"id", "amount"}
)
assert component.__name__ != "BalanceTransaction", component  # the nested class has that name
assert set(models.BalanceTransaction.model_fields) == {"note"}

sent = []
def handler(request):
    sent.append((request.method, request.url.path, json.loads(request.content or b"null")))
    if request.url.path == "/transfers":
        return httpx.Response(200, json={"data": [{"id": "txn_3", "amount": 1}]})
    return httpx.Response(200, json={"id": "txn_1", "amount": 5})

client = LedgerClient(base_url="http://ledger.test",
                      http_client=httpx.Client(transport=httpx.MockTransport(handler)))
for method in (client.get_balance_transaction, client.put_balance_transaction,
               client.create_balance_transaction):
    hints = typing.get_type_hints(method)
    assert hints["return"] is component, (method.__name__, hints)
assert typing.get_type_hints(client.put_balance_transaction)["body"] is component

got = client.get_balance_transaction(id="txn_1")
assert type(got) is component and (got.id, got.amount) == ("txn_1", 5), got
got = client.put_balance_transaction(id="txn_1", body=component(id="txn_1", amount=5))
assert type(got) is component and sent[-1] == ("PUT", "/balance_transactions/txn_1",
                                              {"id": "txn_1", "amount": 5}), sent[-1]
got = client.create_balance_transaction(id="txn_2", amount=7)
assert type(got) is component and sent[-1] == ("POST", "/balance_transactions",
                                              {"id": "txn_2", "amount": 7}), sent[-1]
hints = typing.get_type_hints(client.create_transfer)
assert hints["txn"] is component, hints
assert typing.get_type_hints(hints["return"])["data"] == list[component] | None, hints
got = client.create_transfer(txn=component(id="txn_3", amount=1))
assert sent[-1] == ("POST", "/transfers", {"txn": {"id": "txn_3", "amount": 1}}), sent[-1]
assert got.data is not None and [type(t) for t in got.data] == [component], got
client.close()
print("ok")
"""
    proc = run_python(workspace, "svc", code)
    assert proc.stdout.strip() == "ok", proc.stderr
