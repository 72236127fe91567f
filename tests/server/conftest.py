"""Fixtures: the reference server as a real subprocess, one per spec, reset before each test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serverproc import SWARM_SPEC, THINGS_SPEC, ServerProcess


@pytest.fixture(scope="session")
def swarm_server() -> Iterator[ServerProcess]:
    with ServerProcess(SWARM_SPEC) as server:
        yield server


@pytest.fixture(scope="session")
def things_server() -> Iterator[ServerProcess]:
    with ServerProcess(THINGS_SPEC) as server:
        yield server


@pytest.fixture
def swarm(swarm_server: ServerProcess) -> ServerProcess:
    swarm_server.post("/_admin/reset", {})
    return swarm_server


@pytest.fixture
def things(things_server: ServerProcess) -> ServerProcess:
    things_server.post("/_admin/reset", {})
    return things_server
