"""The reference server as a real process, started through the CLI a user would run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codegen.testing import RefServer, free_port
from tests.conftest import SPECS

__all__ = ["RefServer", "free_port", "run_script", "wait_for"]

SWARM_SPEC = SPECS / "swarm_analytics" / "v1.yaml"


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., RefServer]]:
    started: list[RefServer] = []

    def start(
        spec: Path = SWARM_SPEC, port: int | None = None, secret: str | None = None
    ) -> RefServer:
        server = RefServer(spec, tmp_path / f"server-{len(started)}.db", port, secret=secret)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def swarm_server(start_server: Callable[..., RefServer]) -> RefServer:
    return start_server()


def run_script(
    script: str, cwd: Path, *, import_path: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A user's program in a fresh interpreter; `import_path` goes in front of PYTHONPATH."""
    env = dict(os.environ)
    if import_path is not None:
        outer = env.get("PYTHONPATH")
        env["PYTHONPATH"] = str(import_path) + (os.pathsep + outer if outer else "")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
