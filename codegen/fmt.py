"""Format generated Python with ruff, in one process for the whole tree.

ruff runs isolated from any user configuration with fixed settings, so the output depends only
on the pinned ruff version and the input. A file known before the others (a version's models
module, most of the tree's bytes) can be formatted in the background while the rest is built
(`start`); the final pass takes its result where the file's text is still the same.
"""

from __future__ import annotations

import functools
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

RUFF_SETTINGS = ["--isolated", "--line-length", "100", "--target-version", "py310"]
CHECK = ["check", "--fix", "--extend-select", "I", "--quiet", "--exit-zero"]


def format_python(files: dict[str, str], early: Iterable[Background] = ()) -> dict[str, str]:
    """Return `files` with every `.py` lint-fixed (ruff's default rules + import order), then
    formatted: the same rules `make check` applies to generated code. `early` are background
    runs (`start`) over some of the files as they were then; a file whose text has not changed
    since is taken from them instead of being formatted again."""
    # ruff also formats the Python code blocks of Markdown files (the READMEs' examples).
    python = {k: v for k, v in files.items() if k.endswith((".py", ".md"))}
    early = [e for e in early if any(python.get(rel) == text for rel, text in e.given.items())]
    taken = {rel for e in early for rel, text in e.given.items() if python.get(rel) == text}
    formatted = _format({k: v for k, v in python.items() if k not in taken})
    for e in early:
        mine = {rel: python[rel] for rel in e.given if rel in taken}
        out = e.result()
        formatted.update({rel: out[rel] for rel in mine} if out is not None else _format(mine))
    return {**files, **formatted}


class Background:
    """ruff over `given` (paths as in the tree) in a thread. The files are alone in their tree
    there: fine for files whose formatting does not depend on their neighbours (no first-party
    imports to sort)."""

    def __init__(self, given: dict[str, str]) -> None:
        self.given = given
        self._out: dict[str, str] | None = None
        self._thread = threading.Thread(target=self._run, name="ruff")
        self._thread.start()

    def _run(self) -> None:
        try:
            self._out = _format(self.given)
        except (OSError, RuntimeError):
            self._out = None  # formatted again in the final pass, which reports the failure

    def result(self) -> dict[str, str] | None:
        """The formatted files, once ruff is done; None when it failed."""
        self._thread.join()
        return self._out


def start(files: dict[str, str]) -> Background:
    """Format `files` in the background (`format_python` takes the result)."""
    return Background(files)


def _format(python: dict[str, str]) -> dict[str, str]:
    if not python:
        return {}
    with tempfile.TemporaryDirectory(prefix="ingest-codegen-") as tmp:
        root = Path(tmp)
        for rel, text in python.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _ruff(CHECK, root)
        _ruff(["format"], root)
        # `ruff check` reads only the .py files; `ruff format` rewrote both kinds.
        return {rel: (root / rel).read_text(encoding="utf-8") for rel in python}


@functools.cache
def _ruff_command() -> tuple[str, ...]:
    """The ruff binary itself: `python -m ruff` would start an interpreter only to exec it."""
    try:
        from ruff import find_ruff_bin  # type: ignore[import-untyped]

        return (str(find_ruff_bin()),)
    except (ImportError, FileNotFoundError):  # pragma: no cover - ruff installed otherwise
        return (sys.executable, "-m", "ruff")


def _ruff(args: list[str], root: Path) -> None:
    cmd = [*_ruff_command(), *args, *RUFF_SETTINGS, "."]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"ruff {args[0]} failed on generated code:\n{result.stderr or result.stdout}"
        )
