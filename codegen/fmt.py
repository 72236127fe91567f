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
from collections.abc import Callable, Iterable
from pathlib import Path

RUFF_SETTINGS = ["--isolated", "--line-length", "100", "--target-version", "py310"]
CHECK = ["check", "--fix", "--extend-select", "I", "--quiet", "--exit-zero"]

# path -> (text given, text formatted); empty when the background run failed
Formatted = dict[str, tuple[str, str]]


def format_python(
    files: dict[str, str], early: Iterable[Callable[[], Formatted]] = ()
) -> dict[str, str]:
    """Return `files` with every `.py` lint-fixed (ruff's default rules + import order), then
    formatted: the same rules `make check` applies to generated code. `early` are background
    runs (`start`) over some of the files as they were then; a file whose text has not changed
    since is taken from them instead of being formatted again."""
    # ruff also formats the Python code blocks of Markdown files (the READMEs' examples).
    python = {k: v for k, v in files.items() if k.endswith((".py", ".md"))}
    done: dict[str, str] = {}
    for wait in early:
        done.update({rel: out for rel, (given, out) in wait().items() if python.get(rel) == given})
    rest = {k: v for k, v in python.items() if k not in done}
    return {**files, **_format(rest), **done}


def start(files: dict[str, str]) -> Callable[[], Formatted]:
    """Format `files` (paths as in the tree) in the background; returns a function that waits
    for the result. The files are alone in their tree then: fine for files whose formatting
    does not depend on their neighbours (no first-party imports to sort)."""
    result: Formatted = {}

    def run() -> None:
        try:
            formatted = _format(files)
        except (OSError, RuntimeError):
            return  # formatted again in the final pass, which reports the failure
        result.update({rel: (files[rel], formatted[rel]) for rel in files})

    thread = threading.Thread(target=run, name="ruff")
    thread.start()

    def wait() -> Formatted:
        thread.join()
        return result

    return wait


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
