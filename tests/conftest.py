"""Shared fixtures: run the real CLI, start the real reference server."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_codegen(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """`python -m codegen ...` in a fresh process, as a user runs it (``env``: extra
    variables)."""
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**_env(), "PYTHONPATH": str(ROOT), **(env or {})},
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project-like folder with its own specs/ and generated/ trees."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "generated").mkdir()
    return tmp_path


def add_spec(workspace: Path, folder: str, source: Path, name: str = "v1.yaml") -> Path:
    target = workspace / "specs" / folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


@pytest.fixture
def swarm_workspace(workspace: Path) -> Iterator[Path]:
    add_spec(workspace, "swarm_analytics", SPECS / "swarm_analytics" / "v1.yaml")
    yield workspace
