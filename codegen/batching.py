"""Batched operations: the caller-side item model and the facts the service model needs.

A batched operation's request body is an envelope (`{run_id, events: [TraceEvent]}`); callers
submit items, and the worker builds envelopes. Fields the worker derives (ids, sequence numbers,
signatures, formatted timestamps) must not be required from the caller, so each batched
operation gets an input model: the item schema with its derived fields optional. Timestamps the
worker formats are taken as unix seconds, stamped at call time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from codegen import extensions, names
from codegen.errors import SpecError, pointer
from codegen.schemas import SCHEMA_PREFIX, deref


@dataclass(frozen=True)
class BatchedItem:
    """What build.py needs to know about one batched operation."""

    envelope_class: str
    item_class: str
    input_class: str  # the caller-side model (derived fields optional)
    derived: frozenset[str]  # top-level item properties the worker fills
    stamped: frozenset[str]  # top-level timestamps the caller's call time fills
    signature: tuple[str, dict[str, Any]] | None  # (dotted target, sign recipe)


def plan_batches(
    document: dict[str, Any],
    file: str,
    operations: list[tuple[str, str, dict[str, Any]]],
    request_class: dict[str, str],
) -> dict[str, BatchedItem]:
    """Add an input model per batched operation to `document`; return facts by "METHOD path"."""
    schemas: dict[str, Any] = document["components"]["schemas"]
    planned: dict[str, BatchedItem] = {}
    for method, path, op in operations:
        ext = op.get(extensions.KEY) or {}
        batch = ext.get("batch")
        if not isinstance(batch, dict):
            continue
        where = ("paths", path, method, extensions.KEY, "batch")
        key = f"{method.upper()} {path}"
        envelope = request_class.get(key)
        if envelope is None:
            raise SpecError.single(file, pointer(*where), "a batched operation needs a JSON body")
        envelope_schema = deref(document, schemas[envelope])
        items_schema = (envelope_schema.get("properties") or {}).get(batch["items"])
        ref = (items_schema or {}).get("items", {}).get("$ref", "")
        if not (isinstance(ref, str) and ref.startswith(SCHEMA_PREFIX)):
            raise SpecError.single(
                file,
                pointer(*where, "items"),
                f"`{batch['items']}` must be an array whose items are a component $ref",
            )
        item_class = ref[len(SCHEMA_PREFIX) :]
        targets = {d["target"]: d["value"] for d in ext.get("derive") or []}
        signature = find_signature(document, schemas[item_class], (), 0)
        # `a.b` makes `a` the worker's; `a[].b` only fills the elements the caller passes in `a`.
        derived = {t.split(".")[0] for t in targets if not t.split(".")[0].endswith("[]")}
        if signature is not None and "." not in signature[0]:
            derived.add(signature[0])  # a nested signature stays an optional field of its object
        stamped = {
            t
            for t, value in targets.items()
            if "." not in t and "timestamp" in value and value["timestamp"] == t
        }
        # Named after the operation (two operations may batch the same item differently).
        op_name = names.pascal(op.get("operationId") or f"{method} {path}")
        input_class = names.unique(f"{op_name}{item_class}", set(schemas))
        schemas[input_class] = _input_schema(
            document, schemas[item_class], derived, stamped, file, where
        )
        for hoisted in batch.get("hoist") or []:
            # An envelope list the worker fills from the items: callers pass it per item.
            listed = (envelope_schema.get("properties") or {}).get(hoisted) or {}
            hoisted_ref = (listed.get("items") or {}).get("$ref", "")
            if not hoisted_ref.startswith(SCHEMA_PREFIX):
                raise SpecError.single(
                    file, pointer(*where, "hoist"), f"`{hoisted}` must be an array of a $ref"
                )
            nested = hoisted_ref[len(SCHEMA_PREFIX) :]
            prefix = f"{hoisted}[]."
            nested_derived = {
                t[len(prefix) :].split(".")[0] for t in targets if t.startswith(prefix)
            }
            nested_input = names.unique(f"{op_name}{nested}", set(schemas))
            schemas[nested_input] = _input_schema(
                document, schemas[nested], nested_derived, set(), file, where
            )
            schemas[input_class]["properties"][hoisted] = {
                "type": "array",
                "items": {"$ref": SCHEMA_PREFIX + nested_input},
                "default": [],
            }
        planned[key] = BatchedItem(
            envelope_class=envelope,
            item_class=item_class,
            input_class=input_class,
            derived=frozenset(derived),
            stamped=frozenset(stamped),
            signature=signature,
        )
    return planned


def _input_schema(
    document: dict[str, Any],
    item: Any,
    derived: set[str],
    stamped: set[str],
    file: str,
    where: tuple[str, ...],
) -> dict[str, Any]:
    schema: dict[str, Any] = copy.deepcopy(deref(document, item))
    if "allOf" in schema or not isinstance(schema.get("properties"), dict):
        raise SpecError.single(
            file, pointer(*where), "batched item schemas must be plain objects (no allOf) for now"
        )
    schema["required"] = [r for r in schema.get("required", []) if r not in derived]
    for name in derived:
        if name in stamped:
            schema["properties"][name] = {"anyOf": [{"type": "number"}, {"type": "string"}]}
        elif name in schema["properties"]:
            # Never passed by the caller (not in the signature): the worker fills it.
            schema["properties"][name] = {"default": None, "description": "Filled by the worker."}
    schema.pop("title", None)
    return schema


def find_signature(
    document: dict[str, Any], schema: Any, path: tuple[str, ...], depth: int
) -> tuple[str, dict[str, Any]] | None:
    schema = deref(document, schema)
    if not isinstance(schema, dict) or depth > 4:
        return None
    for name, prop in (schema.get("properties") or {}).items():
        ext = prop.get(extensions.KEY) if isinstance(prop, dict) else None
        if isinstance(ext, dict) and isinstance(ext.get("sign"), dict):
            return ".".join((*path, name)), ext["sign"]
        found = find_signature(document, prop, (*path, name), depth + 1)
        if found is not None:
            return found
    return None
