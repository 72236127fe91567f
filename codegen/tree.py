"""Compare a rendered tree with what is on disk, and write it: all of it or nothing."""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

IGNORED_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def on_disk(root: Path, folders: list[str]) -> dict[str, str]:
    """Files under generated/<folder>/ for the given folders (build artefacts ignored)."""
    found: dict[str, str] = {}
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(root)
            if (
                path.is_file()
                and not (IGNORED_PARTS & set(rel.parts))
                and not any(p.endswith(".egg-info") for p in rel.parts)
            ):
                found[rel.as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    return found


def diff(current: dict[str, str], wanted: dict[str, str]) -> str:
    """A unified diff from what is on disk to what the specs produce (added, changed, deleted)."""
    out: list[str] = []
    for rel in sorted(set(current) | set(wanted)):
        old, new = current.get(rel), wanted.get(rel)
        if old == new:
            continue
        fromfile = f"a/generated/{rel}" if old is not None else "/dev/null"
        tofile = f"b/generated/{rel}" if new is not None else "/dev/null"
        lines = list(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=fromfile,
                tofile=tofile,
            )
        )
        # An empty file added or deleted has no hunk: still name it.
        out.extend(lines or [f"--- {fromfile}\n", f"+++ {tofile}\n"])
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def write(root: Path, current: dict[str, str], wanted: dict[str, str]) -> int:
    """Make disk match `wanted`; return how many files changed. Stale files are deleted."""
    changed = 0
    for rel, text in sorted(wanted.items()):
        if current.get(rel) != text:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed += 1
    for rel in sorted(set(current) - set(wanted)):
        (root / rel).unlink()
        changed += 1
        parent = (root / rel).parent
        while (
            parent != root
            and parent.is_dir()
            and not any(p for p in parent.iterdir() if p.name != "__pycache__")
        ):
            shutil.rmtree(parent)
            parent = parent.parent
    return changed
