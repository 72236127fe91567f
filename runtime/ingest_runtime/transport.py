"""How bytes reach the server. The worker only needs ``send`` and ``close``.

``HttpClientTransport`` (one kept-alive HTTP/1.1 connection, ``http11.py``) is the default: the
background thread's CPU is the delivery budget, and per ~70 KB batch request it costs ~40 us of
CPU on the reference machine, against ~94 us for ``http.client``, ~107 us for ``h11`` and
~480 us for httpx. A transport is used by one thread at a time.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable
from urllib.parse import urlsplit

from .errors import TransportFailure
from .forking import abandon
from .http11 import Http11Connection, Stale

if TYPE_CHECKING:
    import httpx

__all__ = [
    "HttpClientTransport",
    "HttpxTransport",
    "MemoryTransport",
    "Response",
    "SentRequest",
    "Transport",
    "begin",
]


@dataclass(frozen=True, slots=True)
class Response:
    """An HTTP response; header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes


@runtime_checkable
class Transport(Protocol):
    """Sends one request. Raises ``OSError`` (e.g. ``TransportFailure``) when no response came."""

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Response: ...

    def close(self) -> None: ...


def begin(
    transport: Transport,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
) -> Callable[[], Response]:
    """Two-phase send: ``HttpClientTransport`` writes now and reads later; any other transport
    (a user's, httpx, in-memory) sends at once. Both phases raise as ``send`` does."""
    if isinstance(transport, HttpClientTransport):
        return transport.begin(method, path, headers, body, timeout)
    response = transport.send(method, path, headers, body, timeout)
    return lambda: response


_STALE = (Stale, BrokenPipeError, ConnectionResetError)


class HttpClientTransport:
    """One kept-alive HTTP/1.1 connection to ``base_url`` (``http11.py``); reconnects after
    any failure."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._conn: Http11Connection | None = None
        self._ssl: ssl.SSLContext | None = None

    def _connect(self, timeout: float) -> Http11Connection:
        tls = None
        if self._https:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        return Http11Connection(self._host, self._port, timeout, tls)

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Response:
        return self.begin(method, path, headers, body, timeout)()

    def begin(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Callable[[], Response]:
        """Write the request now; the returned function reads the response.

        The worker prepares the next items between the two, while the server handles this
        request, so one thread keeps both sides busy (the caller never sees this).
        """
        conn = self._conn
        reused = conn is not None
        try:
            if conn is None:
                conn = self._conn = self._connect(timeout)
            else:
                conn.sock.settimeout(timeout)
            conn.send_request(method, self._prefix + path, headers, body)
        except OSError as exc:
            self._reset()
            # A kept-alive connection the server closed while idle fails on first use;
            # one immediate retry on a fresh connection is safe (bodies carry idempotency keys).
            if reused and isinstance(exc, _STALE):
                return lambda: self.send(method, path, headers, body, timeout)
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc

        def finish() -> Response:
            try:
                status, response_headers, data = conn.read_response(method)
            except OSError as exc:
                self._reset()
                if reused and isinstance(exc, _STALE):
                    return self.send(method, path, headers, body, timeout)
                raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
            if conn.closed:
                self._reset()
            return Response(status, response_headers, data)

        return finish

    def response_ready(self) -> bool:
        """True when the response to the request in flight can be read without waiting (or
        there is no connection left to wait on)."""
        conn = self._conn
        if conn is None:
            return True
        try:
            return conn.readable()
        except (OSError, ValueError):
            return True

    def _reset(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def after_fork(self) -> None:
        """Forget (without closing) the connection inherited from the parent process."""
        abandon(self._conn)
        self._conn = None

    def close(self) -> None:
        self._reset()


class HttpxTransport:
    """Sends through a caller-owned ``httpx.Client`` (proxies, mTLS, custom auth); not closed."""

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self._client = client
        self._base = base_url.rstrip("/")

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Response:
        import httpx  # already loaded: the caller built the client

        try:
            r = self._client.request(
                method, self._base + path, content=body, headers=dict(headers), timeout=timeout
            )
        except httpx.HTTPError as exc:
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
        return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.content)

    def close(self) -> None:
        """The caller owns the httpx client; nothing to release here."""


@dataclass(frozen=True, slots=True)
class SentRequest:
    """One request recorded by ``MemoryTransport``."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass
class MemoryTransport:
    """In-memory transport for users' tests: records requests and replays scripted outcomes.

    ``script`` items are consumed in order: an int status, a ``Response``, or an exception
    instance (raised as a network failure). Once exhausted, ``default_status`` is answered.
    """

    script: Iterable[int | Response | BaseException] = ()
    default_status: int = 200
    requests: list[SentRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._script = list(self.script)

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Response:
        with self._lock:
            self.requests.append(SentRequest(method, path, dict(headers), body))
            outcome = self._script.pop(0) if self._script else self.default_status
        if isinstance(outcome, BaseException):
            raise TransportFailure(str(outcome)) from outcome
        if isinstance(outcome, Response):
            return outcome
        return Response(outcome, {}, b"")

    def close(self) -> None:
        """Nothing to release."""
