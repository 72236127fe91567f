"""The toolkit's `x-ingest` vocabulary: what OpenAPI cannot say about an ingest client.

One object per level (`info`, operation, schema property), checked against a JSON Schema so a
misspelt key fails generation instead of being ignored. Other vendors' `x-` keys are left alone.
Documented, with examples, in docs/extensions.md.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from codegen.errors import Problem, pointer

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

KEY = "x-ingest"

AUTOFILL_KINDS = ("unix_seconds", "uuid4")

_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
_DOTTED = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"}
_STATUS_LIST = {
    "type": "array",
    "items": {"type": "integer", "minimum": 100, "maximum": 599},
    "uniqueItems": True,
}

_PATH = {
    "type": "string",
    "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\[\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[\])?)*$",
}


def _single(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A recipe part that is one key: `{field: a.b}`, `{seq: true}`..."""
    return {"required": [key], "properties": {key: schema}, "additionalProperties": False}


#: A value computed on the worker (see docs/extensions.md "Recipes"): one key per part kind.
PART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "oneOf": [
        {"required": ["field"], "properties": {"field": _PATH}, "additionalProperties": False},
        {"required": ["const"], "properties": {"const": _NAME}, "additionalProperties": False},
        {
            "required": ["seq"],
            "properties": {"seq": {"const": True}},
            "additionalProperties": False,
        },
        {"required": ["millis"], "properties": {"millis": _PATH}, "additionalProperties": False},
        {
            "required": ["lit"],
            "properties": {"lit": {"type": "string"}},
            "additionalProperties": False,
        },
        {
            "required": ["new_id"],
            "properties": {"new_id": {"const": True}},
            "additionalProperties": False,
        },
        {
            "required": ["item_values"],
            "properties": {"item_values": _PATH},
            "additionalProperties": False,
        },
        {
            "required": ["json"],
            "properties": {
                "json": _PATH,
                "separators": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "ensure_ascii": {"type": "boolean"},
                "sort_keys": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        {
            "required": ["join"],
            "properties": {
                "join": {"type": "array", "items": {"$ref": "#/$defs/part"}, "minItems": 1},
                "sep": {"type": "string"},
            },
            "additionalProperties": False,
        },
        {
            "required": ["hash"],
            "properties": {
                "hash": {"type": "array", "items": {"$ref": "#/$defs/part"}, "minItems": 1},
                "algorithm": {"enum": ["sha256", "blake2b-256", "blake3"]},
                "sep": {"type": "string"},
                "prefix": {"type": "string"},
                "length": {"type": "integer", "minimum": 1},
                "sort": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        {
            "required": ["timestamp"],
            "properties": {
                "timestamp": {"anyOf": [_PATH, {"type": "null"}]},
                "format": {"enum": ["rfc3339_ms", "iso8601", "unix_s", "unix_ms"]},
            },
            "additionalProperties": False,
        },
    ],
}
_PART_REF = {"$ref": "#/$defs/part"}
_DERIVE_LIST = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["target", "value"],
        "properties": {"target": _PATH, "value": _PART_REF},
        "additionalProperties": False,
    },
}

INFO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "package": _NAME,
        "client": _NAME,
        "categories": {"type": "array", "items": _NAME, "uniqueItems": True},
        "modes": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {"type": "array", "items": _NAME, "uniqueItems": True},
            "minProperties": 1,
        },
        "default_mode": _NAME,
        "constants": {
            "type": "object",
            "propertyNames": _NAME,
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "type": {"enum": ["string", "integer", "number", "boolean"]},
                    "env": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"},
                    "default": {"type": ["string", "integer", "number", "boolean"]},
                    "required": {"type": "boolean"},
                    "description": {"type": "string"},
                },
                "additionalProperties": False,
            },
        },
        "env": {
            "type": "object",
            "properties": {
                k: {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"}
                for k in ("token", "base_url", "signing_key")
            },
            "additionalProperties": False,
        },
        "retry": {
            "type": "object",
            "properties": {
                "max_attempts": {"type": "integer", "minimum": 1},
                "backoff": {
                    "type": "array",
                    "items": {"type": "number", "exclusiveMinimum": 0},
                    "minItems": 1,
                },
                "jitter": {"type": "number", "minimum": 0, "maximum": 1},
                "transient": _STATUS_LIST,
                "hold": _STATUS_LIST,
            },
            "additionalProperties": False,
        },
    },
}

OPERATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "method": _DOTTED,
        "delivery": {"enum": ["queued", "blocking"]},
        "category": _NAME,
        "static": {"type": "boolean"},
        "returns": _NAME,
        "batch": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": _NAME,
                "max_items": {"type": "integer", "minimum": 1},
                "max_bytes": {"type": "integer", "minimum": 1024},
                "flush_interval": {"type": "number", "exclusiveMinimum": 0},
                "envelope": {"type": "array", "items": _NAME},
                "hoist": {"type": "array", "items": _NAME},
                "derive": _DERIVE_LIST,
                "item_key": {"type": "array", "items": _PATH, "minItems": 1},
                "item_errors": {
                    "type": "object",
                    "required": ["list", "index"],
                    "properties": {"list": _NAME, "index": _NAME},
                    "additionalProperties": False,
                },
                "ordered": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "derive": _DERIVE_LIST,
        "redact": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path"],
                "properties": {"path": _PATH, "max_chars": {"type": "integer", "minimum": 1}},
                "additionalProperties": False,
            },
        },
        "omit_none": {"type": "boolean"},
    },
}

PROPERTY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "autofill": {"enum": list(AUTOFILL_KINDS)},
        "idempotency_key": {"type": "boolean"},
        "python_name": _NAME,
        "sign": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "algorithm": {"const": "hmac-sha256"},
                "key": _NAME,
                "message": {"type": "array", "items": _PART_REF, "minItems": 1},
            },
            "additionalProperties": False,
        },
    },
}

_SCHEMAS = {"info": INFO_SCHEMA, "operation": OPERATION_SCHEMA, "property": PROPERTY_SCHEMA}


@functools.cache
def _validator(level: str) -> Draft202012Validator:
    """The validator of one level, made when first needed: jsonschema is imported by the
    OpenAPI validator's child process anyway, and the parent rarely checks anything itself."""
    import jsonschema

    return jsonschema.Draft202012Validator({**_SCHEMAS[level], "$defs": {"part": PART_SCHEMA}})


_KNOWN_KEYS = {
    "info": INFO_SCHEMA["properties"],
    "operation": OPERATION_SCHEMA["properties"],
    "property": PROPERTY_SCHEMA["properties"],
}


def check(value: Any, level: str, file: str, path: tuple[str, ...]) -> list[Problem]:
    """Problems in one `x-ingest` object found at `path` (a `level` of the spec)."""
    problems = []
    where = (*path, KEY)
    for error in sorted(_validator(level).iter_errors(value), key=lambda e: list(e.path)):
        loc = pointer(*where, *(str(p) for p in error.absolute_path))
        if error.validator == "additionalProperties" and isinstance(value, dict):
            for extra in sorted(set(value) - set(_KNOWN_KEYS[level])):
                hint = difflib.get_close_matches(extra, list(_KNOWN_KEYS[level]), n=1)
                known = ", ".join(sorted(_KNOWN_KEYS[level]))
                tip = f"; did you mean {hint[0]!r}?" if hint else f"; known keys: {known}"
                problems.append(
                    Problem(file, pointer(*where, extra), f"unknown {KEY} key {extra!r}{tip}")
                )
        else:
            problems.append(Problem(file, loc, f"invalid {KEY} value: {error.message}"))
    return problems


def misspelt_keys(node: dict[str, Any], path: tuple[str, ...], file: str) -> Iterator[Problem]:
    """`x-ingest-method`, `x-ingets`, `x_ingest`...: near-misses of our key are errors."""
    for key in node:
        if not isinstance(key, str) or key == KEY:
            continue
        if _near_miss(key.lower().replace("_", "-")):
            yield Problem(
                file,
                pointer(*path, key),
                f"unknown extension {key!r}: the toolkit reads one object, {KEY!r} "
                "(see docs/extensions.md)",
            )


@functools.lru_cache(maxsize=4096)
def _near_miss(lowered: str) -> bool:
    """Spelt almost like our key. Specs repeat the same few keys thousands of times (cached),
    and the two cheap upper bounds of `ratio` rule out nearly all of them (same verdict)."""
    if lowered.startswith("x-ingest"):
        return True
    matcher = difflib.SequenceMatcher(None, lowered, KEY)
    return (
        matcher.real_quick_ratio() >= 0.85
        and matcher.quick_ratio() >= 0.85
        and matcher.ratio() >= 0.85
    )
