"""SQLite record of every request, the deduped event store, and running counters.

One connection, used only from the event-loop thread, in WAL mode with synchronous=NORMAL:
each request is one short transaction (commit without fsync), which keeps the server in the
same cost range as a bare FastAPI+SQLite ingest app.

Events are appended under an INTEGER rowid and deduped against an in-memory set of
(operation, scope, key), loaded from the file at start. A unique index would do the same job,
but with random keys (uuid4s, content hashes) every insert lands on a random index page, so a
256-event batch dirties ~256 pages and its commit writes them all: 10 us per event, more than
the rest of the server together. One process owns the file, so the set is authoritative.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    query TEXT NOT NULL,
    operation TEXT,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    json_ok INTEGER NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    duplicate INTEGER NOT NULL,
    key TEXT,
    fault TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    operation TEXT NOT NULL,
    scope TEXT NOT NULL,
    key TEXT,
    body TEXT NOT NULL
);
"""

OUTCOMES = ("accepted", "duplicates", "rejected", "faulted")


@dataclass
class Entry:
    """One non-admin request as it will be recorded."""

    method: str
    path: str
    query: str
    operation: str | None
    headers: dict[str, str]
    body: str
    json_ok: bool
    status: int
    outcome: str  # one of OUTCOMES
    duplicate: bool = False
    key: str | None = None
    fault: str | None = None


class Recorder:
    """Owns the SQLite file; all methods are called from the event-loop thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(str(path), check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA cache_size=-65536")
        self.conn.execute("PRAGMA temp_store=MEMORY")
        self.conn.executescript(_SCHEMA)
        self.stats: dict[str, int] = {}
        self.by_operation: dict[str, dict[str, int]] = {}
        self._load_stats()

    def _load_stats(self) -> None:
        """Counters survive a restart on the same --db file."""
        self.stats = {"received": 0, **dict.fromkeys(OUTCOMES, 0), "stored": 0}
        self.by_operation = {}
        rows = self.conn.execute(
            "SELECT operation, outcome, count(*) FROM requests GROUP BY operation, outcome"
        ).fetchall()
        for operation, outcome, count in rows:
            self._count(operation, outcome, count)
        self.stats["stored"] = self.conn.execute("SELECT count(*) FROM events").fetchone()[0]
        self.keys = {
            (str(op), str(scope), str(key))
            for op, scope, key in self.conn.execute(
                "SELECT operation, scope, key FROM events WHERE key IS NOT NULL"
            )
        }

    def _count(self, operation: str | None, outcome: str, n: int = 1) -> None:
        self.stats["received"] += n
        self.stats[outcome] += n
        if operation is not None:
            per = self.by_operation.get(operation)
            if per is None:
                per = self.by_operation[operation] = {"received": 0, **dict.fromkeys(OUTCOMES, 0)}
            per["received"] += n
            per[outcome] += n

    def store_event(self, operation: str, scope: str, key: str | None, body: str) -> bool:
        """Store an accepted event; False when (operation, scope, key) was already stored."""
        return self.store_events(operation, scope, [(key, body)])[0]

    def store_events(
        self, operation: str, scope: str, events: list[tuple[str | None, str]]
    ) -> list[bool]:
        """Store accepted events (key, body) in one statement; per event, False for a duplicate
        of an earlier request or of an earlier event in the same list. Committed by `record`."""
        keys = self.keys
        now = time.time()
        rows = []
        fresh = []
        for key, body in events:
            if key is not None:
                ident = (operation, scope, key)
                if ident in keys:
                    fresh.append(False)
                    continue
                keys.add(ident)
            rows.append((now, operation, scope, key, body))
            fresh.append(True)
        self.conn.executemany(
            "INSERT INTO events (time, operation, scope, key, body) VALUES (?,?,?,?,?)", rows
        )
        self.stats["stored"] += len(rows)
        return fresh

    def record(self, entry: Entry) -> None:
        """Record one request and commit it, together with any event stored for it."""
        self.conn.execute(
            "INSERT INTO requests (time, method, path, query, operation, headers, body, json_ok,"
            " status, outcome, duplicate, key, fault) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                time.time(),
                entry.method,
                entry.path,
                entry.query,
                entry.operation,
                json.dumps(entry.headers),
                entry.body,
                int(entry.json_ok),
                entry.status,
                entry.outcome,
                int(entry.duplicate),
                entry.key,
                entry.fault,
            ),
        )
        self.conn.commit()
        self._count(entry.operation, entry.outcome)

    def requests(
        self,
        *,
        path: str | None = None,
        operation: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Recorded requests, oldest first, optionally filtered."""
        sql = (
            "SELECT id, time, method, path, query, operation, headers, body, json_ok, status,"
            " outcome, duplicate, key, fault FROM requests WHERE id > ?"
        )
        args: list[Any] = [after_id]
        if path is not None:
            sql += " AND path = ?"
            args.append(path)
        if operation is not None:
            sql += " AND operation = ?"
            args.append(operation)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            {
                "id": row[0],
                "time": row[1],
                "method": row[2],
                "path": row[3],
                "query": row[4],
                "operation": row[5],
                "headers": json.loads(row[6]),
                "body": json.loads(row[7]) if row[8] else None,
                "raw_body": row[7],
                "status": row[9],
                "outcome": row[10],
                "duplicate": bool(row[11]),
                "key": row[12],
                "fault": row[13],
            }
            for row in self.conn.execute(sql, args)
        ]

    def events(self, operation: str | None = None) -> list[dict[str, Any]]:
        """Stored (deduped) events, oldest first."""
        sql = "SELECT id, time, operation, scope, key, body FROM events"
        args: list[Any] = []
        if operation is not None:
            sql += " WHERE operation = ?"
            args.append(operation)
        sql += " ORDER BY id"
        out = []
        for row in self.conn.execute(sql, args):
            try:
                body = json.loads(row[5])
            except ValueError:
                body = None
            out.append(
                {
                    "id": row[0],
                    "time": row[1],
                    "operation": row[2],
                    "scope": row[3],
                    "key": row[4],
                    "body": body,
                    "raw_body": row[5],
                }
            )
        return out

    def snapshot(self) -> dict[str, Any]:
        return {**self.stats, "by_operation": {k: dict(v) for k, v in self.by_operation.items()}}

    def reset(self) -> None:
        self.conn.execute("DELETE FROM requests")
        self.conn.execute("DELETE FROM events")
        self.conn.commit()
        self._load_stats()

    def close(self) -> None:
        self.conn.close()
