"""Spec recipes (`x-ingest` derive / batch / redact / sign) as runtime declarations.

A recipe in a spec is data (`{hash: [...], algorithm: blake3, prefix: evt_}`); the runtime reads
the same thing as frozen dataclasses (`Hash((...), algorithm="blake3", prefix="evt_")`). This
module turns one into Python source for the generated `Route`, with every spec string passed
through `repr`, and records which runtime names the source needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecipeWriter:
    """Builds Python source for recipe parts; `names` collects the runtime names used."""

    names: set[str] = field(default_factory=set)
    requirements: set[str] = field(default_factory=set)  # extra packages the recipes need

    def part(self, spec: dict[str, Any]) -> str:
        if "field" in spec:
            return self._call("Field", repr(spec["field"]))
        if "const" in spec:
            return self._call("Const", repr(spec["const"]))
        if "seq" in spec:
            return self._call("Seq")
        if "millis" in spec:
            return self._call("Millis", repr(spec["millis"]))
        if "lit" in spec:
            return self._call("Lit", repr(spec["lit"]))
        if "new_id" in spec:
            return self._call("NewId")
        if "item_values" in spec:
            return self._call("ItemValues", repr(spec["item_values"]))
        if "json" in spec:
            args = [repr(spec["json"])]
            if "separators" in spec:
                args.append(f"separators={tuple(spec['separators'])!r}")
            for key in ("ensure_ascii", "sort_keys"):
                if key in spec:
                    args.append(f"{key}={bool(spec[key])!r}")
            return self._call("Json", *args)
        if "join" in spec:
            args = [self.parts(spec["join"])]
            if "sep" in spec:
                args.append(f"sep={spec['sep']!r}")
            return self._call("Join", *args)
        if "hash" in spec:
            args = [self.parts(spec["hash"])]
            if spec.get("algorithm") == "blake3":
                self.requirements.add("blake3>=1.0")  # the runtime imports it lazily
            for key in ("algorithm", "sep", "prefix", "length", "sort"):
                if key in spec:
                    args.append(f"{key}={spec[key]!r}")
            return self._call("Hash", *args)
        if "timestamp" in spec:
            args = [repr(spec["timestamp"])]
            if "format" in spec:
                args.append(f"format={spec['format']!r}")
            return self._call("Timestamp", *args)
        raise ValueError(f"unknown recipe part {sorted(spec)}")  # the extension schema forbids it

    def parts(self, specs: list[dict[str, Any]]) -> str:
        inner = ", ".join(self.part(p) for p in specs)
        return f"({inner},)" if len(specs) == 1 else f"({inner})"

    def derive(self, items: list[dict[str, Any]]) -> str:
        calls = [self._call("Derive", repr(d["target"]), self.part(d["value"])) for d in items]
        return f"({', '.join(calls)},)" if len(calls) == 1 else f"({', '.join(calls)})"

    def batch(self, spec: dict[str, Any]) -> str:
        args = [repr(spec["items"])]
        for key in ("max_items", "max_bytes", "flush_interval"):
            if key in spec:
                args.append(f"{key}={spec[key]!r}")
        for key in ("envelope", "hoist"):
            if spec.get(key):
                args.append(f"{key}={tuple(spec[key])!r}")
        if spec.get("derive"):
            args.append(f"derive={self.derive(spec['derive'])}")
        if spec.get("item_errors"):
            errors = spec["item_errors"]
            args.append(f"item_errors={(str(errors['list']), str(errors['index']))!r}")
        if spec.get("ordered") is False:
            args.append("ordered=False")
        return self._call("Batch", *args)

    def redact(self, items: list[dict[str, Any]]) -> str:
        calls = []
        for item in items:
            args = [repr(item["path"])]
            if "max_chars" in item:
                args.append(f"max_chars={item['max_chars']!r}")
            calls.append(self._call("Redact", *args))
        return f"({', '.join(calls)},)" if len(calls) == 1 else f"({', '.join(calls)})"

    def sign(self, target: str, spec: dict[str, Any]) -> str:
        return self._call("Sign", self.parts(spec["message"]), f"field={target!r}")

    def _call(self, name: str, *args: str) -> str:
        self.names.add(name)
        return f"{name}({', '.join(args)})"


def derived_targets(op_ext: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Item-level derive targets of an operation, by dotted target path."""
    return {d["target"]: d["value"] for d in op_ext.get("derive") or []}
