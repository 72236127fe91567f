"""The reference server as a real process, started through the CLI a user would run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codegen.testing import RefServer, free_port
from tests.conftest import SPECS

__all__ = ["RefServer", "free_port", "wait_for"]

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


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
