"""Errors that carry a location, so a user can go straight to the broken part of a spec."""

from __future__ import annotations

from dataclasses import dataclass


def pointer(*parts: object) -> str:
    """Build a JSON pointer (RFC 6901) from path segments."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped) if parts else ""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec: where it is and what is wrong."""

    file: str
    pointer: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}#{self.pointer}" if self.pointer else self.file
        return f"{where}: {self.message}"


class SpecError(Exception):
    """A spec cannot be turned into a client. Carries every problem found, each with a location."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))

    @classmethod
    def single(cls, file: str, ptr: str, message: str) -> SpecError:
        return cls([Problem(file, ptr, message)])
