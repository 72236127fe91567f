"""Client settings that fall back to environment variables named in the spec."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal, TypeVar, overload

__all__ = ["setting"]

T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(raw: str, cast: Callable[[str], T]) -> T:
    if cast is bool:  # bool("false") is True: spell booleans out
        lowered = raw.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise ValueError(raw)
        return lowered in _TRUE  # type: ignore[return-value]
    return cast(raw)


@overload
def setting(
    value: T | None,
    env: str | None,
    cast: Callable[[str], T],
    *,
    name: str,
    required: Literal[True],
    default: T | None = ...,
) -> T: ...


@overload
def setting(
    value: T | None,
    env: str | None,
    cast: Callable[[str], T],
    *,
    name: str,
    required: bool = ...,
    default: T | None = ...,
) -> T | None: ...


def setting(
    value: T | None,
    env: str | None,
    cast: Callable[[str], T],
    *,
    name: str,
    required: bool = False,
    default: T | None = None,
) -> T | None:
    """The argument if given, else the environment variable, else the default.

    A missing required setting or an unparsable variable is a `ValueError` at construction,
    naming both the argument and the variable.
    """
    if value is not None:
        return value
    raw = os.environ.get(env) if env else None
    if raw:
        try:
            return _parse(raw, cast)
        except ValueError:
            kind = getattr(cast, "__name__", "value")
            raise ValueError(f"{env}={raw!r} is not a valid {kind} for {name}") from None
    if default is not None:
        return default
    if required:
        hint = f" or set {env}" if env else ""
        raise ValueError(f"{name} is required: pass {name}=...{hint}")
    return None
