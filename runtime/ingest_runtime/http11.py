"""One keep-alive HTTP/1.1 client connection: a request in one send, the response read whole.

The worker's transport posts the same few headers and a body it already holds as bytes, then
reads a short JSON answer. ``http.client`` spends most of its time elsewhere: two sends per
request (headers, then body), a buffered file object and an ``email`` parser per response.
Measured on this machine for a 256-event batch (~70 KB) to a local server: 94 us of CPU per
request with ``http.client``, 107 us with ``h11``, 40 us here; every send or wait also hands
the GIL to the application's threads, and this makes one send and usually one read.

What it reads: a status line, headers, then a body framed by ``Content-Length``, chunked
transfer coding, or the end of the connection; 1xx answers are skipped; no body after HEAD,
204 or 304. ``Connection: close`` (or HTTP/1.0 without keep-alive) closes after the response.
Limits guard against a hostile server: 64 KiB of status line and headers, 64 MiB of body.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from collections.abc import Mapping

__all__ = ["Http11Connection", "ProtocolError", "Stale"]

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
_RECV = 256 * 1024


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x this reader understands, or breaks a limit."""


class Stale(ConnectionError):
    """A reused connection was closed by the server before any byte of the answer."""


class Http11Connection:
    """A TCP (or TLS) connection to one origin; one request at a time, kept alive."""

    def __init__(
        self, host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None
    ) -> None:
        sock = socket.create_connection((host, port), timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.timeout = timeout
        self.host_header = host if ":" not in host else f"[{host}]"
        if port not in (80, 443):
            self.host_header += f":{port}"
        self._buf = b""
        #: Requests answered on this connection (0: fresh, so an early EOF is not "stale").
        self.used = 0
        self.closed = False

    def set_timeout(self, timeout: float) -> None:
        """The socket's timeout, set only when it changes: ``settimeout`` is a system call
        that hands the GIL to the application's threads, and winning it back can take a
        switch interval (5 ms)."""
        if timeout != self.timeout:
            self.sock.settimeout(timeout)
            self.timeout = timeout

    def send_request(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Write the request line, the headers and the body with one ``sendall``."""
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        for name, value in headers.items():
            if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                raise ValueError(f"header {name!r} holds a line break")
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.sock.sendall(head + body)

    def readable(self) -> bool:
        """True when reading the answer would not wait (bytes buffered or on the socket)."""
        if self._buf:
            return True
        sock = self.sock
        if isinstance(sock, ssl.SSLSocket) and sock.pending():
            return True
        return bool(select.select([sock], [], [], 0)[0])

    def read_response(self, method: str = "POST") -> tuple[int, dict[str, str], bytes]:
        """``(status, headers with lower-case names, body)`` of the next final answer."""
        while True:
            status, version, headers = self._read_head()
            if 100 <= status < 200:
                continue  # informational (e.g. 103): the final answer follows
            break
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise ProtocolError("bad Content-Length") from None
            if not 0 <= length <= MAX_BODY:
                raise ProtocolError("Content-Length out of range")
            body = self._read_exact(length)
        else:
            body = self._read_to_end()
            self.closed = True
        connection = headers.get("connection", "").lower()
        if "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection):
            self.closed = True
        self.used += 1
        return status, headers, body

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    # ---- reading -------------------------------------------------------------------------

    def _fill(self) -> bool:
        """Append what the socket has (waiting if need be); False at the end of the stream."""
        data = self.sock.recv(_RECV)
        if not data:
            return False
        self._buf += data
        return True

    def _read_head(self) -> tuple[int, str, dict[str, str]]:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end > MAX_HEAD or (end < 0 and len(self._buf) > MAX_HEAD):
                raise ProtocolError("status line and headers exceed 64 KiB")
            if end >= 0:
                break
            if not self._fill():
                if not self._buf and self.used:
                    raise Stale("the server closed the kept-alive connection")
                raise ProtocolError("connection closed inside the response head")
        head, self._buf = self._buf[:end], self._buf[end + 4 :]
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise ProtocolError(f"malformed header line: {line[:80]!r}")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return int(parts[1]), parts[0], headers

    def _read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ProtocolError("connection closed inside the response body")
        body, self._buf = self._buf[:n], self._buf[n:]
        return body

    def _read_line(self) -> bytes:
        while True:
            end = self._buf.find(b"\r\n")
            if end >= 0:
                line, self._buf = self._buf[:end], self._buf[end + 2 :]
                return line
            if len(self._buf) > MAX_HEAD:
                raise ProtocolError("chunk line exceeds 64 KiB")
            if not self._fill():
                raise ProtocolError("connection closed inside a chunked body")

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
            if size == 0:
                while self._read_line():  # trailers, up to the empty line
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ProtocolError("chunked body exceeds 64 MiB")
            chunks.append(self._read_exact(size))
            if self._read_exact(2) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")

    def _read_to_end(self) -> bytes:
        while self._fill():
            if len(self._buf) > MAX_BODY:
                raise ProtocolError("body exceeds 64 MiB")
        body, self._buf = self._buf, b""
        return body
