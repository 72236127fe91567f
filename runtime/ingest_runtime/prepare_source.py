"""A route's whole preparation compiled to one function, once per route and client.

``Preparer.prepare_reference`` reads as the steps are specified: parse the caller's JSON,
derive, redact, ``before_send``, sign, keep the envelope's values, hoist, encode. Run per item,
its generic loops and tests cost as much as the JSON work itself. This module writes the same
steps for one route as straight-line source, the way ``recipe_source`` writes derivations
(which it inlines): constants, hook and signing key are known when the client starts, so the
steps a route does not declare are simply absent.

The source holds spec text only as ``repr()`` literals; every other name in it is chosen here.
A property test checks that both functions give the same bytes, values and counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic_core import from_json, to_json

from .recipe_source import derive_writer
from .recipes import Env

if TYPE_CHECKING:
    from .batching import Preparer, _Plan
    from .routes import Route

__all__ = ["PrepareFunction", "compile_prepare_function"]

#: ``fn(data)``: prepared bytes, or None when ``before_send`` dropped the item.
PrepareFunction = Callable[[bytes], "bytes | None"]


def compile_prepare_function(route: Route, plan: _Plan, preparer: Preparer) -> PrepareFunction:
    """``preparer.prepare_reference(route, data)`` for this route, as one function."""
    from .batching import _strip_none

    env = Env((), preparer.constants, 0)  # this function's own: one thread runs it
    writer = derive_writer(route.derive, route.omit_none, preparer.constants)
    ns: dict[str, Any] = {
        **writer.namespace,
        "_from_json": from_json,
        "_to_json": to_json,
        "_strip_none": _strip_none,
        "_preparer": preparer,
        "_route": route,
        "_plan": plan,
        "_env": env,
        "_reference": preparer.prepare_reference,
    }
    hook = preparer.before_send
    signs = plan.sign is not None and preparer.signing_key is not None
    out = [
        "def prepare(data):",
        "    _preparer.values = None",
        "    item = _from_json(data)",
        "    if item.__class__ is not dict:",
        "        return _reference(_route, data)  # not an object: the reference's behaviour",
        "    env = _env",
    ]
    if route.uses_seq:
        out.append("    _preparer.seq = env.seq = _preparer.seq + 1")
    out.extend(f"    {line}" for line in writer.lines)
    if plan.redact_top:
        ns["_field"] = preparer.redactor.field
        for i, (name, spec) in enumerate(plan.redact_top):
            ns[f"_redact{i}"] = spec
            out += [
                f"    _v = item.get({name!r})",
                "    if _v.__class__ is str:",
                f"        item[{name!r}] = _field(_v, _redact{i})",
            ]
    if plan.redact:
        out.append("    _preparer.redact_nested(_plan, item)")
    # With omit_none, nulls a hook wrote are stripped from the final bytes; ``check`` is the
    # test's condition text ("" when it always applies, a local flag when signing may clear it).
    check: str | None = None
    if hook is not None:
        ns["_hook"] = hook
        ns["_key"] = route.key
        when = preparer.before_send_when
        pad = "    "
        if when is not None:  # the hook runs only when one of these fields holds a value
            if route.omit_none:
                out.append("    _check = False")
            test = " or ".join(f"item.get({name!r})" for name in when) or "False"
            out.append(f"    if {test}:")
            pad = "        "
        block = [
            "try:",
            "    _out = _hook(_key, item)",
            "except Exception:",
            "    _preparer.hook_failed()",
            "else:",
            "    if _out is None:",
            "        return None",
            "    item = _out",
        ]
        if route.omit_none:
            check = "" if when is None and plan.sign is None else "_check and "
            if check:
                block.append("_check = True")
            if plan.sign is not None:
                block += [
                    "if b'null' in _to_json(item):",
                    "    item = _strip_none(item)",
                    "    _check = False",
                ]
        out += [pad + line for line in block]
    if signs:
        out.append("    _preparer.sign_field(_plan, item, env)")
    if plan.envelope_fields:
        pairs = ", ".join(f"{name!r}: item.get({name!r})" for name in plan.envelope_fields)
        out.append(f"    _preparer.values = {{{pairs}}}")
    lists = []
    for i, name in enumerate(plan.hoist):
        out += [
            f"    _h = item.pop({name!r}, None)",
            f"    _e{i} = _to_json(_h) if _h and isinstance(_h, list) else b'[]'",
        ]
        if check is not None:
            out += [
                f"    if {check}b'null' in _e{i}:",
                f"        _e{i} = _to_json(_strip_none(_h))",
            ]
        lists.append(f"_e{i}")
    out.append("    _b = _to_json(item)")
    if check is not None:
        out += [f"    if {check}b'null' in _b:", "        _b = _to_json(_strip_none(item))"]
    if lists:
        out.append(f"    return b'\\n'.join((_b, {', '.join(lists)}))")
    else:
        out.append("    return _b")
    source = "\n".join(out) + "\n"
    code = compile(source, f"<ingest_runtime prepare {route.key!r}>", "exec")
    exec(code, ns)  # our own source; spec text only as repr() literals
    fn: PrepareFunction = ns["prepare"]
    fn.__doc__ = source  # what runs, for debugging
    return fn
