"""Hand-written extension modules kept beside a service's spec.

Some of a client's Python surface is not derivable from the wire contract (a builder, a config
object, a convenience wrapper). It lives in `specs/<service>/python/<module>.py`, is copied
byte for byte into `generated/<package>/<package>/<module>.py` (so `make check` still catches
hand edits of generated/), and the names in its `__all__` are re-exported by the package. Such
a module stays thin: it builds on the generated client and the runtime, and regeneration never
touches its source.

An export may not shadow a generated name by accident. A module that means to (a seed's own
class in place of the wire model of the same name, e.g. AOP's `TraceEvent` with `to_dict()`)
lists it in `__replaces__`; the package then exports the module's, and `<package>.v<major>`
keeps the generated one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from codegen.errors import SpecError

FOLDER = "python"
_RESERVED = re.compile(r"^(__init__|v\d+|_http|client|models)$")


@dataclass(frozen=True)
class Handwritten:
    name: str  # module name inside the package
    source: str
    exports: tuple[str, ...]  # its __all__
    replaces: tuple[str, ...] = ()  # generated names it deliberately replaces (__replaces__)


def load_handwritten(service_folder: Path) -> list[Handwritten]:
    """Every `python/*.py` module of a service folder, checked, in name order."""
    found = []
    for path in sorted((service_folder / FOLDER).glob("*.py")):
        shown = path.as_posix()
        name = path.stem
        if not name.isidentifier() or _RESERVED.match(name):
            raise SpecError.single(shown, "", f"{name!r} is not a usable extension module name")
        source = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(source, filename=shown)
        except SyntaxError as exc:
            raise SpecError.single(
                shown, "", f"not valid Python (line {exc.lineno}): {exc.msg}"
            ) from None
        exports = _literal_list(tree, "__all__", shown)
        replaces = _literal_list(tree, "__replaces__", shown)
        if stray := sorted(set(replaces) - set(exports)):
            raise SpecError.single(shown, "", f"__replaces__ names {stray}, not in __all__")
        found.append(Handwritten(name, source, exports, replaces))
    return found


def _literal_list(tree: ast.Module, variable: str, shown: str) -> tuple[str, ...]:
    """The strings of a module-level ``variable = [...]`` (``__all__``, ``__replaces__``)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == variable for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise SpecError.single(shown, "", f"{variable} must be a literal list") from None
            return tuple(str(v) for v in value)
    return ()


def check_exports(shown: str, generated: set[str], modules: list[Handwritten]) -> set[str]:
    """The generated names the package takes from extension modules instead; raises on an
    accidental clash or on a replacement of a name the generated client does not have."""
    replaced = {n for h in modules for n in h.replaces}
    if missing := sorted(replaced - generated):
        raise SpecError.single(
            shown, "", f"__replaces__ names {missing}, which the generated client does not export"
        )
    clashes = (generated & {n for h in modules for n in h.exports}) - replaced
    if clashes:
        raise SpecError.single(
            shown,
            "",
            f"extension modules export names the generated client has: {sorted(clashes)} "
            "(list them in __replaces__ to replace them on purpose)",
        )
    return replaced
