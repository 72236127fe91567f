"""A route's derivations compiled to one Python function, as dataclasses compiles ``__init__``.

``compile_derives`` (closures) is the reference semantics; this module writes the same steps as
straight-line source and ``exec``s it once per route, which halves the worker's cost per item
(one call instead of a tree of closure calls). Parts it does not inline (``ItemValues``,
``Json``, sorted hashes, nested list targets, dotted targets) call the compiled closure for
that part, so every recipe is supported.

The source never contains spec text except as ``repr()`` literals, and every name in it is
one this module chose, so a hostile path, prefix or separator cannot change the program.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .ids import new_uuid4
from .recipes import (
    TIMESTAMP_FORMATS,
    Const,
    Derive,
    Env,
    Field,
    Hash,
    Join,
    Lit,
    Millis,
    NewId,
    Part,
    Seq,
    Timestamp,
    _compile_list_derives,
    _get_keys,
    _resolve,
    _rfc3339_ms,
    compile_derive,
    compile_part,
    derive_groups,
    format_timestamp,
    prefixes,
    text,
    to_millis,
)

__all__ = ["DeriveAll", "compile_derive_function"]

#: ``fn(item, env)``: every derivation of a route, in declared order, written into ``item``.
DeriveAll = Callable[[Any, Env], None]


def compile_derive_function(
    derives: Sequence[Derive], omit_none: bool = False, name: str = "route"
) -> DeriveAll:
    """One function running ``derives`` in order, equivalent to ``compile_derives``."""
    writer = derive_writer(derives, omit_none)
    source = "def derive_all(item, env):\n    if not isinstance(item, dict):\n        return\n"
    source += "".join(f"    {line}\n" for line in writer.lines) or "    pass\n"
    namespace = dict(writer.namespace)
    code = compile(source, f"<ingest_runtime derive {name!r}>", "exec")
    exec(code, namespace)  # our own source; spec text only as repr() literals
    fn: DeriveAll = namespace["derive_all"]
    fn.__doc__ = source  # what runs, for debugging
    return fn


def derive_writer(
    derives: Sequence[Derive], omit_none: bool, constants: Mapping[str, Any] | None = None
) -> _Writer:
    """The statements running ``derives`` on ``item`` (and ``env``), with their namespace."""
    writer = _Writer(omit_none, constants)
    for head, group in derive_groups(derives):  # the grouping compile_derives uses
        if head is None:
            writer.top_derive(group[0])
        else:
            writer.list_derives(head, group)
    return writer


def _hasher(algorithm: str) -> Callable[[bytes], Any]:
    """The hash constructor (``.hexdigest()`` gives lowercase hex); raises early if unknown."""
    if algorithm == "sha256":
        return hashlib.sha256
    if algorithm == "blake2b-256":
        return functools.partial(hashlib.blake2b, digest_size=32)
    if algorithm == "blake3":
        mod: Any = importlib.import_module("blake3")  # check_route reported a missing package
        return mod.blake3  # type: ignore[no-any-return]
    raise ValueError(f"unknown hash algorithm {algorithm!r} (sha256, blake2b-256, blake3)")


class _Writer:
    """Accumulates source lines and the objects they refer to (by names it generates)."""

    def __init__(self, omit_none: bool, constants: Mapping[str, Any] | None = None) -> None:
        self.omit_none = omit_none
        #: The client's constants when they are known at compile time (bound as names).
        self.constants = constants
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = {
            "_get_keys": _get_keys,
            "_text": text,
            "_to_millis": to_millis,
            "_rfc3339_ms": _rfc3339_ms,
            "_format_timestamp": format_timestamp,
            "_new_uuid4": new_uuid4,
            "_const": _const,
        }
        self._count = 0

    def _name(self, prefix: str, obj: Any) -> str:
        self._count += 1
        name = f"_{prefix}{self._count}"
        self.namespace[name] = obj
        return name

    # ---- statements -----------------------------------------------------------------------

    def top_derive(self, d: Derive) -> None:
        if "." in d.target or "[" in d.target:  # a dotted target (creates parents): closure
            fn = self._name("derive", compile_derive(d, self.omit_none))
            self.lines.append(f"{fn}(item, env)")
            return
        expr = self.expr(d.value, ("",), ("item",))
        self.lines.extend(self._write("item", d.target, expr, _never_none(d.value)))

    def list_derives(self, head: str, derives: Sequence[Derive]) -> None:
        rests = [d.target.partition("[].")[2] for d in derives]
        if any("." in r or "[" in r for r in rests):  # dotted targets in elements: closures
            group = _compile_list_derives(head, derives, self.omit_none)
            self.lines.append(f"{self._name('derive', group)}(item, env)")
            return
        keys = head.split(".")
        read = f"item.get({keys[0]!r})" if len(keys) == 1 else f"_get_keys(item, {keys!r})"
        self.lines.append(f"_list = {read}")
        self.lines.append("if _list and isinstance(_list, list):")
        self.lines.append("    for _el in _list:")
        self.lines.append("        if not isinstance(_el, dict):")
        self.lines.append("            continue")
        for d, rest in zip(derives, rests, strict=True):
            expr = self.expr(d.value, prefixes(d.target), ("item", "_el"))
            lines = self._write("_el", rest, expr, _never_none(d.value))
            self.lines.extend("        " + line for line in lines)

    def _write(self, parent: str, key: str, expr: str, never_none: bool) -> list[str]:
        if not self.omit_none or never_none:
            return [f"{parent}[{key!r}] = {expr}"]
        return [
            f"_v = {expr}",
            "if _v is None:",
            f"    {parent}.pop({key!r}, None)",
            "else:",
            f"    {parent}[{key!r}] = _v",
        ]

    # ---- expressions ------------------------------------------------------------------------

    def expr(self, part: Part, names: tuple[str, ...], objs: tuple[str, ...]) -> str:
        """A Python expression for ``part`` read in the contexts ``objs`` (variable names)."""
        if isinstance(part, Field):
            return self._read(part.path, names, objs)
        if isinstance(part, Const):
            if self.constants is not None and part.name in self.constants:
                return self._name("const", self.constants[part.name])  # bound once, not read
            return f"_const(env, {part.name!r})"
        if isinstance(part, Seq):
            return "env.seq"
        if isinstance(part, Lit):
            return repr(part.text)
        if isinstance(part, Millis):
            return f"_to_millis({self._read(part.path, names, objs)})"
        if isinstance(part, NewId):
            return "_new_uuid4()"
        if isinstance(part, Timestamp):
            if part.format not in TIMESTAMP_FORMATS:
                compile_part(part, names)  # raises the usual error
            value = "None" if part.path is None else self._read(part.path, names, objs)
            if part.format == "rfc3339_ms" and part.path is not None:
                return f"_rfc3339_ms({value})"
            return f"_format_timestamp({value}, {part.format!r})"
        if isinstance(part, Join):
            flat = self._flat(part, names, objs)
            if flat is not None:
                return flat
        if isinstance(part, Hash) and not part.sort:
            message = self._flat(Join(part.parts, part.sep), names, objs)
            if message is not None:
                hasher = self._name("hash", _hasher(part.algorithm))
                length = part.length
                if part.algorithm == "blake3" and length and length % 2 == 0 and length <= 64:
                    # BLAKE3's output is extendable: its first n bytes are the digest's first
                    # n bytes, so asking for them saves encoding and slicing 64 hex digits
                    # (and bytes.hex() is faster than blake3's own hexdigest: 0.39 us, not 0.46).
                    digest = f"{hasher}(({message}).encode()).digest({length // 2}).hex()"
                else:
                    digest = f"{hasher}(({message}).encode()).hexdigest()"
                    if length is not None:
                        digest += f"[:{length}]"
                return f"{part.prefix!r} + {digest}" if part.prefix else digest
        # Anything else: the part's compiled closure, called with the context objects.
        fn = self._name("part", compile_part(part, names))
        return f"{fn}(({', '.join(objs)},), env)"

    def _read(self, path: str, names: tuple[str, ...], objs: tuple[str, ...]) -> str:
        depth, keys = _resolve(path, names)
        if depth < 0:
            return "None"
        obj = objs[depth]  # a dict: the item, or a list element checked to be one
        if len(keys) == 1:
            return f"{obj}.get({keys[0]!r})"
        return f"_get_keys({obj}, {tuple(keys)!r})"

    def _flat(self, part: Join, names: tuple[str, ...], objs: tuple[str, ...]) -> str | None:
        """The text of a Join as one concatenation, or None when a part is multi-valued."""
        pieces: list[str] = []
        for i, p in enumerate(part.parts):
            if i and part.sep:
                pieces.append(repr(part.sep))
            if isinstance(p, Join):
                inner = self._flat(p, names, objs)
                if inner is None:
                    return None
                pieces.append(f"({inner})")
            elif isinstance(p, Lit):
                pieces.append(repr(p.text))
            elif isinstance(p, (Field, Const, Seq, Millis, NewId, Timestamp, Hash)):
                value = self.expr(p, names, objs)
                if isinstance(p, Hash) and not p.sort:
                    pieces.append(f"({value})")  # always a str
                elif isinstance(p, (Field, Const)):  # usually a str already: no call
                    pieces.append(f"(_s if (_s := {value}).__class__ is str else _text(_s))")
                elif isinstance(p, (Seq, Millis)):  # usually an int
                    pieces.append(f"(str(_i) if (_i := {value}).__class__ is int else _text(_i))")
                else:
                    pieces.append(f"_text({value})")
            else:
                return None
        return " + ".join(pieces) if pieces else "''"


def _never_none(part: Part) -> bool:
    """Whether ``part`` always gives a value (so an ``omit_none`` write needs no test)."""
    return isinstance(part, (Join, Hash, Lit, Seq, NewId, Timestamp))


def _const(env: Env, name: str) -> Any:
    try:
        return env.constants[name]
    except KeyError:
        raise KeyError(f"client constant {name!r} is not set (IngestClient(constants=))") from None
