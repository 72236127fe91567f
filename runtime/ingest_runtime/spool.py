"""Durable storage for accepted events: the ``Spool`` protocol and its SQLite implementation.

The spool is only ever touched by the spool-writer thread (never the caller's thread). Rows are
deleted on 2xx or on a counted permanent drop; anything else survives a restart and is replayed
with its original body, so the server deduplicates on the idempotency key.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from . import config
from .forking import abandon

__all__ = ["Record", "Spool", "SqliteSpool"]


@dataclass(slots=True)
class Record:
    """One spooled event. ``spool_id`` is assigned by the spool and orders replay."""

    route_key: str
    body: bytes
    key: str
    path: str | None = None
    attempts: int = 0
    spool_id: int = 0


@runtime_checkable
class Spool(Protocol):
    """What the runtime needs from durable storage. Calls come from one thread at a time."""

    def load(self, after_id: int = 0, limit: int | None = None) -> list[Record]:
        """Records with ``spool_id > after_id`` in insertion order."""
        ...

    def count(self) -> int:
        """Number of stored records."""
        ...

    def commit(
        self,
        added: Sequence[Record],
        removed: Sequence[int],
        attempts: Sequence[tuple[int, int]],
    ) -> list[Record]:
        """Apply one group commit atomically: delete ``removed`` ids, update ``(id, attempts)``
        pairs, insert ``added`` (assigning each ``spool_id``), then evict the oldest rows while
        over the size bound. Returns the evicted records, oldest first."""
        ...

    def after_fork(self) -> None:
        """Drop (without closing) state inherited from the parent process."""
        ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    route_key TEXT NOT NULL,
    path TEXT,
    body BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL
)
"""
_COLUMNS = "id, key, route_key, path, body, attempts"


def _row_to_record(row: tuple[int, str, str, str | None, bytes, int]) -> Record:
    return Record(row[2], bytes(row[4]), row[1], row[3], row[5], row[0])


class SqliteSpool:
    """SQLite (WAL) spool bounded by ``max_bytes`` of payload.

    ``synchronous=NORMAL`` in WAL mode makes a commit durable against a process crash
    (``kill -9``); only an OS crash or power loss can lose the last commits. ``max_bytes``
    bounds the stored payload plus a small per-row overhead; SQLite reuses the freed pages.
    """

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = config.SPOOL_MAX_BYTES):
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._bytes = 0

    def _db(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute(_SCHEMA)
            (total,) = conn.execute("SELECT COALESCE(SUM(size), 0) FROM spool").fetchone()
            self._bytes = int(total)
            self._conn = conn
        return conn

    def load(self, after_id: int = 0, limit: int | None = None) -> list[Record]:
        with self._lock:
            rows = (
                self._db()
                .execute(
                    f"SELECT {_COLUMNS} FROM spool WHERE id > ? ORDER BY id LIMIT ?",
                    (after_id, -1 if limit is None else limit),
                )
                .fetchall()
            )
        return [_row_to_record(r) for r in rows]

    def count(self) -> int:
        with self._lock:
            (n,) = self._db().execute("SELECT COUNT(*) FROM spool").fetchone()
        return int(n)

    def size_bytes(self) -> int:
        """Bytes currently charged against ``max_bytes``."""
        with self._lock:
            self._db()
            return self._bytes

    def commit(
        self,
        added: Sequence[Record],
        removed: Sequence[int],
        attempts: Sequence[tuple[int, int]],
    ) -> list[Record]:
        with self._lock:
            db = self._db()
            evicted: list[Record] = []
            db.execute("BEGIN IMMEDIATE")
            try:
                delta = 0
                for i in range(0, len(removed), 500):
                    chunk = removed[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    (freed,) = db.execute(
                        f"SELECT COALESCE(SUM(size), 0) FROM spool WHERE id IN ({marks})", chunk
                    ).fetchone()
                    db.execute(f"DELETE FROM spool WHERE id IN ({marks})", chunk)
                    delta -= int(freed)
                if attempts:
                    db.executemany(
                        "UPDATE spool SET attempts = ? WHERE id = ?", [(n, i) for i, n in attempts]
                    )
                if added:
                    (last,) = db.execute(
                        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name='spool'),"
                        " 0), COALESCE((SELECT MAX(id) FROM spool), 0))"
                    ).fetchone()
                    now = time.time()
                    rows = []
                    for rec in added:
                        last += 1
                        rec.spool_id = last
                        size = len(rec.body) + len(rec.key) + len(rec.route_key)
                        size += config.SPOOL_ROW_OVERHEAD
                        delta += size
                        rows.append(
                            (
                                last,
                                rec.key,
                                rec.route_key,
                                rec.path,
                                rec.body,
                                rec.attempts,
                                size,
                                now,
                            )
                        )
                    db.executemany("INSERT INTO spool VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
                total = self._bytes + delta
                while total > self.max_bytes:
                    old = db.execute(
                        f"SELECT {_COLUMNS}, size FROM spool ORDER BY id LIMIT ?",
                        (config.SPOOL_EVICT_CHUNK,),
                    ).fetchall()
                    if not old:
                        total = 0
                        break
                    for row in old:
                        if total <= self.max_bytes:
                            break
                        db.execute("DELETE FROM spool WHERE id = ?", (row[0],))
                        total -= int(row[6])
                        evicted.append(_row_to_record(row[:6]))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            self._bytes = total
            return evicted

    def after_fork(self) -> None:
        # The inherited connection is parked, never closed here; the child reopens lazily.
        abandon(self._conn)
        self._lock = threading.Lock()
        self._conn = None

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
