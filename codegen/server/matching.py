"""Match a request path against the spec's path templates, compiled once.

Concrete paths are one dict lookup; templated paths are tried most-specific first (more
literal segments win), as OpenAPI requires when `/users/me` and `/users/{id}` coexist.
"""

from __future__ import annotations

import re
from typing import Generic, TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")
_PARAM = re.compile(r"\{([^{}/]+)\}")


class PathMatcher(Generic[T]):
    """Maps (path) -> {METHOD: value} plus the captured path parameters."""

    def __init__(self, routes: list[tuple[str, str, T]], server_url: str = "") -> None:
        self._static: dict[str, dict[str, T]] = {}
        templated: dict[str, dict[str, T]] = {}
        for method, template, value in routes:
            target = templated if _PARAM.search(template) else self._static
            target.setdefault(template, {})[method.upper()] = value
        self._templated: list[tuple[re.Pattern[str], list[str], dict[str, T]]] = []
        for template in sorted(templated, key=_specificity):
            names = _PARAM.findall(template)
            parts = _PARAM.split(template)
            regex = "".join(
                re.escape(part) if i % 2 == 0 else "([^/]+)" for i, part in enumerate(parts)
            )
            self._templated.append((re.compile(f"^{regex}$"), names, templated[template]))
        self._prefix = urlsplit(server_url).path.rstrip("/") if "{" not in server_url else ""

    def match(self, path: str) -> tuple[dict[str, T] | None, dict[str, str]]:
        """The methods served at `path` (None if unknown) and the path parameters."""
        found = self._match(path)
        if found[0] is None and self._prefix and path.startswith(self._prefix + "/"):
            found = self._match(path[len(self._prefix) :])
        return found

    def _match(self, path: str) -> tuple[dict[str, T] | None, dict[str, str]]:
        methods = self._static.get(path)
        if methods is not None:
            return methods, {}
        for regex, names, methods in self._templated:
            hit = regex.match(path)
            if hit:
                values = (unquote(v) for v in hit.groups())
                return methods, dict(zip(names, values, strict=True))
        return None, {}


def _specificity(template: str) -> tuple[int, int]:
    literal = [s for s in template.split("/") if s and not _PARAM.search(s)]
    return (-len(literal), -len(template))
