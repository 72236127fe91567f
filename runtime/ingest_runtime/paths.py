"""Path templates filled with caller values, each percent-encoded as one path segment."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["expand_path"]


def expand_path(template: str, values: Mapping[str, object]) -> str:
    """`expand_path("/notes/{note_id}", {"note_id": "a/b"})` -> `"/notes/a%2Fb"`.

    Values are encoded with no safe characters, so a value can never add a segment, a query or
    a fragment to the URL. Booleans are spelt as JSON spells them.
    """
    path = template
    for name, value in values.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        path = path.replace("{" + name + "}", quote(text, safe=""))
    return path
