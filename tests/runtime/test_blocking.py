"""Blocking calls: value on 2xx, typed IngestError otherwise; httpx errors never leak."""

from __future__ import annotations

import socket

import httpx
import pytest
from ingest_runtime import (
    ApiError,
    AuthError,
    IngestError,
    RateLimited,
    TransportError,
    ValidationRejected,
    call_blocking,
)
from rt_support import REGISTER, Client, Email, Server, Token


def register(url: str, **kw: object) -> Token | None:
    return call_blocking(
        base_url=url, route=REGISTER, body=Email(email="i1"), response_type=Token, **kw
    )  # type: ignore[arg-type]


def test_returns_parsed_response(server: Server) -> None:
    server.script.items.append((200, {}, b'{"token": "jwt", "install_id": "i1"}'))
    tok = register(server.url, token="ignored")
    assert tok == Token(token="jwt", install_id="i1")
    req = server.requests[0]
    assert "Authorization" not in req.headers  # route.auth is False
    assert req.json() == {"email": "i1"}


def test_empty_body_where_a_model_is_promised_is_an_api_error(server: Server) -> None:
    server.respond(204)
    with pytest.raises(ApiError, match="empty response body"):
        register(server.url)
    server.script.items.append((200, {}, b""))
    with pytest.raises(ApiError, match="empty response body"):
        register(server.url)


def test_no_response_model_gives_none(server: Server) -> None:
    server.script.items.append((200, {}, b'{"anything": 1}'))
    result = call_blocking(base_url=server.url, route=REGISTER, body=None, response_type=None)
    assert result is None


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (401, AuthError),
        (500, TransportError),
        (503, TransportError),
        (429, RateLimited),
        (400, ValidationRejected),
        (422, ValidationRejected),
        (404, ApiError),
        (409, ApiError),
    ],
)
def test_status_mapping(server: Server, status: int, exc: type[IngestError]) -> None:
    server.script.items.append((status, {}, b'{"detail": "nope"}'))
    with pytest.raises(exc) as info:
        register(server.url)
    assert info.value.status == status
    assert "nope" in info.value.body
    assert isinstance(info.value, IngestError)


def test_network_error_is_wrapped() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(TransportError) as info:
        register(f"http://127.0.0.1:{port}")
    assert info.value.status is None
    assert not isinstance(info.value, httpx.HTTPError)


def test_bad_response_body_is_api_error(server: Server) -> None:
    server.script.items.append((200, {}, b'{"unexpected": 1}'))
    with pytest.raises(ApiError):
        register(server.url)


def test_client_call_uses_token_and_user_http_client(server: Server) -> None:
    server.script.items.append((200, {}, b'{"token": "t2", "install_id": "i"}'))
    with httpx.Client() as hc, Client(base_url=server.url, token="tok", http_client=hc) as c:
        from rt_support import EMAIL

        out = c._call(EMAIL, Email(email="a@b.c"), Token, query={"x": True, "skip": None})
    assert out == Token(token="t2", install_id="i")
    req = server.requests[0]
    assert req.headers["Authorization"] == "Bearer tok"
    assert req.path == "/public/identify/link_email?x=true"
