"""Local files: the fallback directory (undelivered items, replayed by the next client; held
items, refused by the server and kept until ``release_held()``) and the replay file (a trace of
every item sent). Only background threads (or ``close``) write them."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterable
from typing import IO

from .ids import new_uuid4

__all__ = ["FallbackFile", "FallbackStore", "ReplayWriter"]

#: One undelivered item: (route key, prepared body bytes, idempotency key, formatted path).
Row = tuple[str, bytes, "str | None", "str | None"]


class FallbackFile:
    """A file loaded at start; deleted once every item read from it is settled."""

    def __init__(self, path: str, remaining: int) -> None:
        self.path = path
        self.remaining = remaining
        self._lock = threading.Lock()

    def done(self) -> None:
        with self._lock:
            self.remaining -= 1
            last = self.remaining == 0
        if last:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


class FallbackStore:
    """``<dir>/<kind>-<service>-<unix ms>-<pid>-<rand>.jsonl``, one JSON object per line:
    ``{"route": key, "path": path|null, "key": key|null, "body": "<prepared body text>"}``.

    ``kind`` is ``fallback`` (undelivered at close or after the last retry; the next client
    loads them) or ``held`` (refused with a status the spec holds; loaded by ``release_held()``).
    Bodies are the prepared bytes (already redacted, ids derived and signed), so they are re-sent
    unchanged and the server deduplicates as usual. Use one live client per dir.
    """

    def __init__(
        self, directory: str | os.PathLike[str], service: str, kind: str = "fallback"
    ) -> None:
        self.dir = os.fspath(directory)
        self.kind = kind
        self.prefix = f"{kind}-{service}-"
        self._path: str | None = None
        self._lock = threading.Lock()
        #: Files this store loaded already: settled (and deleted) by this process, never
        #: queued twice (``release_held()`` called again before the last one's items settle).
        self._loaded: set[str] = set()

    def write(self, rows: Iterable[Row]) -> int:
        """Append rows (flushed and fsynced); returns how many. Raises ``OSError``."""
        lines = [
            json.dumps(
                {"route": r, "path": p, "key": k, "body": b.decode("utf-8")},
                ensure_ascii=False,
                separators=(",", ":"),
            )
            + "\n"
            for r, b, k, p in rows
        ]
        if not lines:
            return 0
        with self._lock:
            if self._path is None:
                os.makedirs(self.dir, exist_ok=True)
                name = f"{self.prefix}{int(time.time() * 1000)}-{os.getpid()}-{new_uuid4()[:8]}"
                self._path = os.path.join(self.dir, name + ".jsonl")
            with open(self._path, "a", encoding="utf-8") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
        return len(lines)

    def load(self) -> list[tuple[FallbackFile, list[Row]]]:
        """Every file of this kind and service in the directory not loaded before, oldest
        first. Later writes go to a new file: a loaded file is deleted once its rows settle."""
        with self._lock:
            self._path = None
            try:
                names = sorted(n for n in os.listdir(self.dir) if n.startswith(self.prefix))
            except FileNotFoundError:
                return []
            paths = [os.path.join(self.dir, n) for n in names if n.endswith(".jsonl")]
            paths = [path for path in paths if path not in self._loaded]
            self._loaded.update(paths)
        out: list[tuple[FallbackFile, list[Row]]] = []
        for path in paths:
            rows: list[Row] = []
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        obj = json.loads(line)
                        rows.append((obj["route"], obj["body"].encode(), obj["key"], obj["path"]))
                    except (ValueError, KeyError, AttributeError):
                        continue  # a torn last line (crash mid-write) is skipped
            if rows:
                out.append((FallbackFile(path, len(rows)), rows))
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
        return out

    def after_fork(self) -> None:
        self._path = None
        self._lock = threading.Lock()


class ReplayWriter:
    """Appends ``{"route": key, "item": <item JSON>}`` per item sent with a 2xx."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._f: IO[bytes] | None = None

    def write(self, route_key: str, items: Iterable[bytes]) -> int:
        f = self._f
        if f is None:
            f = self._f = open(self.path, "ab")  # noqa: SIM115 - kept open, closed in close()
        head = b'{"route":' + json.dumps(route_key).encode() + b',"item":'
        n = 0
        for data in items:
            f.write(head + data.split(b"\n", 1)[0] + b"}\n")
            n += 1
        f.flush()
        return n

    def close(self) -> None:
        f, self._f = self._f, None
        if f is not None:
            f.close()
