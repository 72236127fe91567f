"""Objects a forked child inherits from its parent and must neither use nor close.

Closing one in the child runs C-level clean-up (``sqlite3_close`` with its checkpoint, a buffered
file's flush, OpenSSL's ``SSL_free``) that may wait on a lock some parent thread held at the
instant of the fork, a lock no thread in the child will ever release, or write the parent's
buffered bytes a second time. SQLite's own rule is the same: a connection carried across
``fork()`` must not be used by the child. Such objects are parked here for the child's lifetime.
"""

from __future__ import annotations

__all__ = ["abandon"]

_parked: list[object] = []


def abandon(obj: object) -> None:
    """Keep ``obj`` referenced forever, so that its finaliser never runs in this process."""
    if obj is not None:
        _parked.append(obj)
