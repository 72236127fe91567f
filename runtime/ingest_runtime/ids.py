"""Cheap, thread-safe UUID4 strings and timestamps for the caller's hot path.

``str(uuid.uuid4())`` costs ~3.2 us here. Instead, one ``os.urandom(64 KiB)`` read is turned into
4096 RFC 4122 version-4 strings at once; taking one is an atomic ``list.pop`` (no lock, no
duplicates across threads). The pool is cleared in a forked child so parent and child never share
ids.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from . import config

__all__ = ["new_uuid4", "unix_seconds"]

_VERSION4 = bytes((b & 0x0F) | 0x40 for b in range(256))
_VARIANT = bytes((b & 0x3F) | 0x80 for b in range(256))
_pool: list[str] = []


#: Where the 32 hex digits of an id go in its 8-4-4-4-12 text (the other 4 places are dashes).
_HEX_SLOTS = [*range(0, 8), *range(9, 13), *range(14, 18), *range(19, 23), *range(24, 36)]
_WIDTH = 37  # 36 characters + one space, so a single str.split() cuts the batch into ids


def _refill() -> None:
    """Format 4096 ids with C-level strided copies (~0.03 us each), not a Python loop per id."""
    raw = bytearray(os.urandom(config.ID_POOL_BYTES))
    raw[6::16] = raw[6::16].translate(_VERSION4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    digits = raw.hex().encode()
    count = len(raw) // 16
    out = bytearray(b"-" * (count * _WIDTH))
    for j, slot in enumerate(_HEX_SLOTS):
        out[slot::_WIDTH] = digits[j::32]
    out[36::_WIDTH] = b" " * count
    _pool.extend(out.decode().split())


def new_uuid4() -> str:
    """Return a random UUID version 4 string (8-4-4-4-12 lowercase hex)."""
    while True:
        try:
            return _pool.pop()
        except IndexError:
            _refill()


#: Unix time in seconds as a float (an alias, so the hot path pays no extra call frame).
unix_seconds: Callable[[], float] = time.time

if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.clear)
