"""Render an operation's 2xx response: a schema-valid body, with echoes and minted tokens.

The body is planned once at start-up (example or synthesized instance). Per request only the
parts that depend on the request are filled in; bodies that never vary are pre-encoded.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from referencing import Registry

from codegen.server.batches import BatchOutcome
from codegen.server.spec import MISSING, OperationSpec, flatten
from codegen.server.synth import Path, Synthesizer, is_token_name
from codegen.server.validation import SchemaValidator


class ResponsePlan:
    """How to answer one operation when the request is accepted."""

    def __init__(self, data: dict[str, Any], registry: Registry[Any], spec: OperationSpec) -> None:
        self.status = spec.response_status
        self.has_body = spec.response_pointer is not None or spec.response_example is not MISSING
        self.template: Any = None
        self._token_paths: list[Path] = []
        self._echo: list[tuple[str, list[SchemaValidator]]] = []
        self._duplicate_flag = False
        if spec.response_pointer is not None:
            self._plan_schema(data, registry, spec.response_pointer, spec.response_example)
        elif spec.response_example is not MISSING:
            self.template = spec.response_example
            self._token_paths = list(_token_paths(self.template, ()))
        self._static = {dup: self._encode(self._with_flag(dup)) for dup in (False, True)}

    def _plan_schema(
        self, data: dict[str, Any], registry: Registry[Any], pointer: str, example: Any
    ) -> None:
        validator = SchemaValidator(registry, pointer)
        if example is not MISSING and validator.is_valid(example):
            self.template = example
            self._token_paths = list(_token_paths(example, ()))
        else:
            synth = Synthesizer(data)
            value = synth.build(pointer)
            if not validator.is_valid(value):  # an invalid `example` somewhere: ignore them all
                synth = Synthesizer(data, use_examples=False)
                value = synth.build(pointer)
            self.template = value
            self._token_paths = synth.token_paths
        view = flatten(data, pointer)
        props: dict[str, list[str]] = view["properties"]
        if isinstance(self.template, dict):
            dup_ptrs = props.get("duplicate", [])
            self._duplicate_flag = bool(dup_ptrs) and all(
                SchemaValidator(registry, p).is_valid(True) for p in dup_ptrs
            )
            minted = {path[0] for path in self._token_paths if len(path) == 1}
            self._echo = [
                (name, [SchemaValidator(registry, p) for p in ptrs])
                for name, ptrs in props.items()
                if name != "duplicate" and name not in minted
            ]

    def _with_flag(self, duplicate: bool) -> Any:
        if self._duplicate_flag and isinstance(self.template, dict):
            return {**self.template, "duplicate": duplicate}
        return self.template

    def _encode(self, value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode() if self.has_body else b""

    def render_batch(self, outcome: BatchOutcome) -> bytes:
        """The response to a batch: outcome counts go into properties of the same name."""
        value = copy.deepcopy(self.template)
        if isinstance(value, dict):
            fills: dict[str, Any] = {
                "created": outcome.created,
                "skipped": outcome.skipped,
                "errors": outcome.errors or [],
                "duplicate": outcome.created == 0 and outcome.skipped > 0,
            }
            for name, fill in fills.items():
                if name in value and type(value[name]) is type(fill):
                    value[name] = fill
            if isinstance(value.get("accepted"), int) and not isinstance(value["accepted"], bool):
                value["accepted"] = outcome.created + outcome.skipped
        for path in self._token_paths:
            _set(value, path, "tok_batch")
        return self._encode(value)

    def render(self, body: Any, duplicate: bool, mint: Callable[[], str]) -> bytes:
        """The response body for an accepted (or duplicate) request carrying `body`."""
        echoed: dict[str, Any] = {}
        if self._echo and isinstance(body, dict):
            for name, validators in self._echo:
                if name in body and all(v.is_valid(body[name]) for v in validators):
                    echoed[name] = body[name]
        if not echoed and not self._token_paths:
            return self._static[duplicate]
        value = copy.deepcopy(self._with_flag(duplicate))
        if echoed:
            value.update(echoed)
        for path in self._token_paths:
            _set(value, path, mint())
        return self._encode(value)


def _token_paths(value: Any, path: Path) -> list[Path]:
    """Token-named string fields of an example, so examples mint fresh tokens too."""
    found: list[Path] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if is_token_name(str(key)) and isinstance(item, str):
                found.append((*path, key))
            else:
                found.extend(_token_paths(item, (*path, key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found.extend(_token_paths(item, (*path, i)))
    return found


def _set(value: Any, path: Path, item: Any) -> None:
    for part in path[:-1]:
        value = value[part]
    value[path[-1]] = item
