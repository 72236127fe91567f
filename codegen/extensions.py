"""The toolkit's `x-ingest` vocabulary: what OpenAPI cannot say about an ingest client.

One object per level (`info`, operation, schema property), checked against a JSON Schema so a
misspelt key fails generation instead of being ignored. Other vendors' `x-` keys are left alone.
Documented, with examples, in docs/extensions.md.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Any

import jsonschema

from codegen.errors import Problem, pointer

KEY = "x-ingest"

AUTOFILL_KINDS = ("unix_seconds", "uuid4")

_NAME = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"}
_DOTTED = {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"}

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
    },
}

PROPERTY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "autofill": {"enum": list(AUTOFILL_KINDS)},
        "idempotency_key": {"type": "boolean"},
        "python_name": _NAME,
    },
}

_VALIDATORS = {
    "info": jsonschema.Draft202012Validator(INFO_SCHEMA),
    "operation": jsonschema.Draft202012Validator(OPERATION_SCHEMA),
    "property": jsonschema.Draft202012Validator(PROPERTY_SCHEMA),
}
_KNOWN_KEYS = {
    "info": INFO_SCHEMA["properties"],
    "operation": OPERATION_SCHEMA["properties"],
    "property": PROPERTY_SCHEMA["properties"],
}


def check(value: Any, level: str, file: str, path: tuple[str, ...]) -> list[Problem]:
    """Problems in one `x-ingest` object found at `path` (a `level` of the spec)."""
    problems = []
    where = (*path, KEY)
    for error in sorted(_VALIDATORS[level].iter_errors(value), key=lambda e: list(e.path)):
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
        lowered = key.lower().replace("_", "-")
        near = (
            lowered.startswith("x-ingest")
            or difflib.SequenceMatcher(None, lowered, KEY).ratio() >= 0.85
        )
        if near:
            yield Problem(
                file,
                pointer(*path, key),
                f"unknown extension {key!r}: the toolkit reads one object, {KEY!r} "
                "(see docs/extensions.md)",
            )
