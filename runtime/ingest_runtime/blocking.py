"""Blocking request/response calls on the caller's thread (e.g. ``register`` -> token).

These are rare, need an answer, and use httpx (proxies, TLS, user-supplied clients). Every
failure becomes an ``IngestError`` subclass; raw httpx exceptions never leak.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

import pydantic

if TYPE_CHECKING:
    import httpx

from ._version import __version__
from .errors import (
    ApiError,
    AuthError,
    IngestError,
    RateLimited,
    TransportError,
    ValidationRejected,
)
from .routes import Route, base_headers

__all__ = [
    "UNSET",
    "Unset",
    "call_blocking",
    "encode_body",
    "given",
    "present",
    "request_blocking",
    "user_agent",
]

T = TypeVar("T")


def user_agent(service: str | None = None) -> str:
    return f"ingest-runtime/{__version__} {service}" if service else f"ingest-runtime/{__version__}"


def encode_body(route: Route, body: pydantic.BaseModel | None) -> bytes:
    """Wire bytes for ``body``: aliases applied; only fields that were given (a field left
    unset is absent, not ``null``, so non-nullable optional fields stay valid); an explicit
    None is sent as null unless ``route.omit_none``."""
    if body is None:
        return b""
    return body.__pydantic_serializer__.to_json(
        body, by_alias=True, exclude_unset=True, exclude_none=route.omit_none
    )


def given(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The optional arguments of a generated call that were given (not None)."""
    return {name: value for name, value in fields.items() if value is not None}


class Unset(enum.Enum):
    """The default of an optional argument whose field admits null: left out of the request,
    while an explicit None is sent as ``null`` (the two mean different things to the API)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset.UNSET


def present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The nullable optional arguments of a generated call that were passed (None included)."""
    return {name: value for name, value in fields.items() if value is not UNSET}


@functools.lru_cache(maxsize=256)
def _adapter(tp: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(tp)


def _query_params(query: Mapping[str, object] | None) -> dict[str, str | list[str]] | None:
    if not query:
        return None
    out: dict[str, str | list[str]] = {}
    for name, value in query.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            out[name] = [_scalar(v) for v in value]
        else:
            out[name] = _scalar(value)
    return out


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _raise_for_status(status: int, text: str) -> None:
    message = f"HTTP {status}: {text[:200]}"
    if status == 401:
        raise AuthError(message, status=status, body=text)
    if status == 429:
        raise RateLimited(message, status=status, body=text)
    if status >= 500:
        raise TransportError(message, status=status, body=text)
    if status in (400, 422):
        raise ValidationRejected(message, status=status, body=text)
    raise ApiError(message, status=status, body=text)


def request_blocking(
    client: httpx.Client,
    *,
    base_url: str,
    route: Route,
    body: pydantic.BaseModel | None,
    response_type: type[T] | None,
    token: str | None,
    timeout: float,
    path: str | None = None,
    query: Mapping[str, object] | None = None,
    service: str | None = None,
) -> T | None:
    """Send one request with ``client`` and map the outcome to a value or an ``IngestError``."""
    import httpx  # imported on first use: a queued-only client never pays its ~13 MB

    headers = base_headers(route, token, user_agent(service))
    content = encode_body(route, body)
    if body is None:
        headers.pop("Content-Type", None)
    url = base_url.rstrip("/") + (path if path is not None else route.path)
    try:
        resp = client.request(
            route.method,
            url,
            content=content or None,
            headers=headers,
            params=_query_params(query),
            timeout=timeout,
        )
        data = resp.content
    except httpx.HTTPError as exc:
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
    status = resp.status_code
    if status >= 400:
        _raise_for_status(status, data.decode("utf-8", "replace"))
    if response_type is None:
        return None
    if not data.strip():
        raise ApiError(
            f"empty response body for {route.key}: the spec promises a JSON body",
            status=status,
            body="",
        )
    try:
        result: T = _adapter(response_type).validate_json(data)  # type: ignore[arg-type]
    except pydantic.ValidationError as exc:
        raise ApiError(
            f"unexpected response body for {route.key}: {exc.error_count()} error(s)",
            status=status,
            body=data.decode("utf-8", "replace"),
        ) from exc
    return result


@overload
def call_blocking(
    *,
    base_url: str,
    route: Route,
    body: pydantic.BaseModel | None,
    response_type: type[T],
    token: str | None = ...,
    timeout: float = ...,
    http_client: httpx.Client | None = ...,
    path: str | None = ...,
    query: Mapping[str, object] | None = ...,
    service: str | None = ...,
) -> T: ...


@overload
def call_blocking(
    *,
    base_url: str,
    route: Route,
    body: pydantic.BaseModel | None,
    response_type: None,
    token: str | None = ...,
    timeout: float = ...,
    http_client: httpx.Client | None = ...,
    path: str | None = ...,
    query: Mapping[str, object] | None = ...,
    service: str | None = ...,
) -> None: ...


def call_blocking(
    *,
    base_url: str,
    route: Route,
    body: pydantic.BaseModel | None,
    response_type: type[T] | None,
    token: str | None = None,
    timeout: float = 10.0,
    http_client: httpx.Client | None = None,
    path: str | None = None,
    query: Mapping[str, object] | None = None,
    service: str | None = None,
) -> T | None:
    """One blocking call without a client instance (static/class methods such as ``register``).

    Uses ``http_client`` if given, else a short-lived ``httpx.Client`` closed before returning.
    """
    kwargs: dict[str, Any] = {
        "base_url": base_url,
        "route": route,
        "body": body,
        "response_type": response_type,
        "token": token,
        "timeout": timeout,
        "path": path,
        "query": query,
        "service": service,
    }
    if http_client is not None:
        return request_blocking(http_client, **kwargs)
    import httpx

    try:
        with httpx.Client(timeout=timeout) as client:
            return request_blocking(client, **kwargs)
    except IngestError:
        raise
    except httpx.HTTPError as exc:  # e.g. raised while closing
        raise TransportError(f"{type(exc).__name__}: {exc}") from exc
