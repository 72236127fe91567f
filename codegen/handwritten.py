"""Hand-written extension modules kept beside a service's spec.

Some of a client's Python surface is not derivable from the wire contract (a builder, a config
object, a convenience wrapper). It lives in `specs/<service>/python/<module>.py`, is copied
byte for byte into `generated/<package>/<package>/<module>.py` (so `make check` still catches
hand edits of generated/), and the names in its `__all__` are re-exported by the package. Such
a module stays thin: it builds on the generated client and the runtime, and regeneration never
touches its source.
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
        found.append(Handwritten(name, source, _exports(tree, shown)))
    return found


def _exports(tree: ast.Module, shown: str) -> tuple[str, ...]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                raise SpecError.single(shown, "", "__all__ must be a literal list") from None
            return tuple(str(v) for v in value)
    return ()
