"""Synthesize a minimal instance that a JSON schema accepts.

Used to answer 2xx responses for specs that give no example: required properties only, the
first enum/const value, a value inside numeric and length bounds, and a well-formed string for
the common formats. It also reports where the instance holds a token-like string, so the
response renderer can mint a fresh token there on every request.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any

from codegen.server.spec import flatten, follow

Path = tuple[str | int, ...]

_FORMATS = {
    "uuid": "00000000-0000-4000-8000-000000000000",
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "iri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "duration": "PT0S",
    "byte": "",
}
_MAX_DEPTH = 24


def is_token_name(name: str) -> bool:
    """Response properties that carry a credential the client will send back."""
    return name == "token" or name.endswith("_token")


class Synthesizer:
    """Build instances for schemas of one document (refs are followed by pointer)."""

    def __init__(self, data: dict[str, Any], *, use_examples: bool = True) -> None:
        self._data = data
        self._use_examples = use_examples
        self.token_paths: list[Path] = []

    def build(self, pointer: str) -> Any:
        """A valid instance for the schema at `pointer`; token paths land in `token_paths`."""
        self.token_paths = []
        return self._value(pointer, (), 0)

    def _value(self, ptr: str, path: Path, depth: int) -> Any:
        ptr, node = follow(self._data, ptr)
        if not isinstance(node, dict) or depth > _MAX_DEPTH:
            return None
        if self._use_examples:
            if "example" in node:
                return copy.deepcopy(node["example"])
            if isinstance(node.get("examples"), list) and node["examples"]:
                return copy.deepcopy(node["examples"][0])
        if "const" in node:
            return copy.deepcopy(node["const"])
        if isinstance(node.get("enum"), list) and node["enum"]:
            choices = [v for v in node["enum"] if v is not None] or node["enum"]
            return copy.deepcopy(choices[0])
        if "allOf" in node:
            return self._typed(ptr, flatten(self._data, ptr), path, depth)
        for union in ("anyOf", "oneOf"):
            branches = node.get(union)
            if isinstance(branches, list) and branches and "type" not in node:
                return self._value(
                    f"{ptr}/{union}/{_first_non_null(self._data, ptr, union)}", path, depth + 1
                )
        return self._typed(ptr, node, path, depth)

    def _typed(self, ptr: str, node: dict[str, Any], path: Path, depth: int) -> Any:
        kind = _pick_type(node)
        if kind == "object":
            return self._object(ptr, path, depth)
        if kind == "array":
            count = int(node.get("minItems", 0) or 0)
            prefix = node.get("prefixItems")
            if isinstance(prefix, list):
                items = [
                    self._value(f"{ptr}/prefixItems/{i}", (*path, i), depth + 1)
                    for i in range(min(count, len(prefix)))
                ]
                count -= len(items)
            else:
                items = []
            if count > 0 and isinstance(node.get("items"), dict):
                start = len(items)
                items.extend(
                    self._value(f"{ptr}/items", (*path, start + i), depth + 1) for i in range(count)
                )
            return items
        if kind == "string":
            return _string(node)
        if kind in ("integer", "number"):
            return _number(node, integer=kind == "integer")
        if kind == "boolean":
            return False
        return None

    def _object(self, ptr: str, path: Path, depth: int) -> dict[str, Any]:
        view = flatten(self._data, ptr)
        names = list(dict.fromkeys(view["required"]))
        names += [n for n in view["properties"] if is_token_name(n) and n not in names]
        out: dict[str, Any] = {}
        for name in names:
            ptrs = view["properties"].get(name)
            if ptrs:
                value = self._value(ptrs[0], (*path, name), depth + 1)
                if is_token_name(name) and _pick_type(flatten(self._data, ptrs[0])) == "string":
                    self.token_paths.append((*path, name))
            elif isinstance(view.get("additionalProperties"), dict):
                value = self._value(f"{view['pointer']}/additionalProperties", (*path, name), depth)
            else:
                value = None
            out[name] = value
        return out


def _first_non_null(data: dict[str, Any], ptr: str, union: str) -> int:
    _, node = follow(data, ptr)
    for i, _ in enumerate(node[union]):
        _, branch = follow(data, f"{ptr}/{union}/{i}")
        if not (isinstance(branch, dict) and branch.get("type") == "null"):
            return i
    return 0


def _pick_type(node: dict[str, Any]) -> str | None:
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return str(kinds[0]) if kinds else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in node or "required" in node or "additionalProperties" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    if any(k in node for k in ("minLength", "maxLength", "pattern", "format")):
        return "string"
    if any(k in node for k in ("minimum", "maximum", "exclusiveMinimum", "multipleOf")):
        return "number"
    return None


def _string(node: dict[str, Any]) -> str:
    low = int(node.get("minLength", 0) or 0)
    high = node.get("maxLength")
    value = _FORMATS.get(str(node.get("format", "")), "")
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        for candidate in (value, "a" * max(low, 1), "0" * max(low, 1), "A" * max(low, 1), ""):
            if re.search(pattern, candidate):
                value = candidate
                break
    if len(value) < low:
        value += "x" * (low - len(value))
    if isinstance(high, int) and len(value) > high:
        value = value[:high]
    return value


def _number(node: dict[str, Any], *, integer: bool) -> int | float:
    step = 1 if integer else 1e-6
    low = -math.inf
    high = math.inf
    if isinstance(node.get("minimum"), int | float):
        low = node["minimum"]
    if isinstance(node.get("exclusiveMinimum"), int | float):
        low = max(low, node["exclusiveMinimum"] + step)
    if isinstance(node.get("maximum"), int | float):
        high = node["maximum"]
    if isinstance(node.get("exclusiveMaximum"), int | float):
        high = min(high, node["exclusiveMaximum"] - step)
    value: float = min(max(0, low), high) if high >= low else low
    multiple = node.get("multipleOf")
    if isinstance(multiple, int | float) and multiple > 0:
        value = math.ceil(value / multiple) * multiple
    if integer:
        return math.ceil(value)
    return float(value)
