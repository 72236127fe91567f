"""Format generated Python with ruff, in one process for the whole tree.

ruff runs isolated from any user configuration with fixed settings, so the output depends only
on the pinned ruff version and the input.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

RUFF_SETTINGS = ["--isolated", "--line-length", "100", "--target-version", "py310"]


def format_python(files: dict[str, str]) -> dict[str, str]:
    """Return `files` with every `.py` lint-fixed (ruff's default rules + import order), then
    formatted: the same rules `make check` applies to generated code."""
    # ruff also formats the Python code blocks of Markdown files (the READMEs' examples).
    python = {k: v for k, v in files.items() if k.endswith((".py", ".md"))}
    if not python:
        return files
    with tempfile.TemporaryDirectory(prefix="ingest-codegen-") as tmp:
        root = Path(tmp)
        for rel, text in python.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        _ruff(["check", "--fix", "--extend-select", "I", "--quiet", "--exit-zero"], root)
        _ruff(["format"], root)
        formatted = {rel: (root / rel).read_text(encoding="utf-8") for rel in python}
        # `ruff check` reads only the .py files; `ruff format` rewrote both kinds.
    return {**files, **formatted}


def _ruff(args: list[str], root: Path) -> None:
    cmd = [sys.executable, "-m", "ruff", *args, *RUFF_SETTINGS, "."]
    result = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"ruff {args[0]} failed on generated code:\n{result.stderr or result.stdout}"
        )
