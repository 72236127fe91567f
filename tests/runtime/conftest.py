"""Fixtures for the runtime tests (helpers live in rt_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from rt_support import Server


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()
