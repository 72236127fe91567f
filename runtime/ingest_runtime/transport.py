"""How bytes reach the server. The worker only needs ``send`` and ``close``.

``HttpClientTransport`` (kept-alive HTTP/1.1 connections, ``http11.py``) is the default: the
background thread's CPU is the delivery budget, and per ~70 KB batch request it costs ~40 us of
CPU on the reference machine, against ~94 us for ``http.client``, ~107 us for ``h11`` and
~480 us for httpx. It also sends in two phases (``begin``: write now, read later), so the worker
can keep more than one request in flight, one per connection. A transport is used by one
thread at a time.
"""

from __future__ import annotations

import contextlib
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
    "InFlight",
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


class InFlight(Protocol):
    """A request written and its response not read yet (``begin``)."""

    def ready(self) -> bool:
        """True when ``finish`` would not wait for the network."""
        ...

    def finish(self) -> Response:
        """The response; raises as ``Transport.send`` does."""
        ...


class _Obtained:
    """An answer a function gives: already known (a transport that sends in one call), or
    got by sending again (a kept-alive connection that turned out closed)."""

    __slots__ = ("_get",)

    def __init__(self, get: Callable[[], Response]) -> None:
        self._get = get

    def ready(self) -> bool:
        return True

    def finish(self) -> Response:
        return self._get()


def begin(
    transport: Transport,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    timeout: float,
) -> InFlight:
    """Two-phase send: ``HttpClientTransport`` writes now and reads later; any other transport
    (a user's, httpx, in-memory) sends at once. Both phases raise as ``send`` does."""
    if isinstance(transport, HttpClientTransport):
        return transport.begin(method, path, headers, body, timeout)
    response = transport.send(method, path, headers, body, timeout)
    return _Obtained(lambda: response)


_STALE = (Stale, BrokenPipeError, ConnectionResetError)


class HttpClientTransport:
    """Kept-alive HTTP/1.1 connections to ``base_url`` (``http11.py``): one per request in
    flight, reused in turn; a connection that failed is closed and replaced."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        #: Open connections with no request in flight, most recently used last.
        self._idle: list[Http11Connection] = []
        #: Every open connection (idle or with a request in flight), to close or abandon.
        self._open: list[Http11Connection] = []
        self._ssl: ssl.SSLContext | None = None

    def _connect(self, timeout: float) -> Http11Connection:
        tls = None
        if self._https:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            tls = self._ssl
        conn = Http11Connection(self._host, self._port, timeout, tls)
        self._open.append(conn)
        return conn

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> Response:
        return self.begin(method, path, headers, body, timeout).finish()

    def begin(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> InFlight:
        """Write the request now, on an idle connection (or a new one); ``finish()`` on the
        result reads the response.

        The worker prepares the next items between the two, while the server handles this
        request, so one thread keeps both sides busy (the caller never sees this).
        """
        conn = self._idle.pop() if self._idle else None
        reused = conn is not None
        try:
            if conn is None:
                conn = self._connect(timeout)
            else:
                conn.set_timeout(timeout)
            conn.send_request(method, self._prefix + path, headers, body)
        except OSError as exc:
            if conn is not None:
                self._discard(conn)
            # A kept-alive connection the server closed while idle fails on first use;
            # one immediate retry on a fresh connection is safe (bodies carry idempotency keys).
            if reused and isinstance(exc, _STALE):
                return _Obtained(lambda: self.send(method, path, headers, body, timeout))
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
        return _HttpInFlight(self, conn, reused, (method, path, headers, body, timeout))

    def _discard(self, conn: Http11Connection) -> None:
        with contextlib.suppress(ValueError):
            self._open.remove(conn)
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
        conn.close()

    def _release(self, conn: Http11Connection) -> None:
        """A connection whose response was read: kept for the next request, unless closing."""
        if conn.closed:
            self._discard(conn)
        else:
            self._idle.append(conn)

    def after_fork(self) -> None:
        """Forget (without closing) the connections inherited from the parent process."""
        for conn in self._open:
            abandon(conn)
        self._open, self._idle = [], []

    def close(self) -> None:
        open_, self._open, self._idle = self._open, [], []
        for conn in open_:
            conn.close()


class _HttpInFlight:
    """A request written on one of ``HttpClientTransport``'s connections."""

    __slots__ = ("_conn", "_request", "_reused", "_transport")

    def __init__(
        self,
        transport: HttpClientTransport,
        conn: Http11Connection,
        reused: bool,
        request: tuple[str, str, Mapping[str, str], bytes, float],
    ) -> None:
        self._transport = transport
        self._conn = conn
        self._reused = reused
        self._request = request

    def ready(self) -> bool:
        try:
            return self._conn.readable()
        except (OSError, ValueError):
            return True  # finish() reports the failure at once

    def finish(self) -> Response:
        transport, conn = self._transport, self._conn
        method = self._request[0]
        try:
            status, response_headers, data = conn.read_response(method)
        except OSError as exc:
            transport._discard(conn)
            if self._reused and isinstance(exc, _STALE):
                return transport.send(*self._request)
            raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
        transport._release(conn)
        return Response(status, response_headers, data)


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
