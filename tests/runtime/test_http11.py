"""The default transport's HTTP/1.1 client against real sockets on 127.0.0.1 that answer with
scripted bytes: every framing a server may choose, kept-alive and closed connections, and
answers it must refuse."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ingest_runtime import HttpClientTransport
from ingest_runtime.errors import TransportFailure


class ScriptedServer:
    """Accepts connections; for each request read (head + Content-Length body) writes the next
    scripted answer; ``None`` in the script closes the connection instead of answering."""

    def __init__(self, script: list[bytes | None], tls: ssl.SSLContext | None = None) -> None:
        self.script = list(script)
        self.requests: list[bytes] = []
        self.connections = 0
        self.tls = tls
        self.sock = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                with conn:
                    self._talk(conn)
            except OSError:
                continue

    def _talk(self, conn: socket.socket) -> None:
        buf = b""
        while self.script:
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            while len(buf) < length:
                buf += conn.recv(65536)
            self.requests.append(head + b"\r\n\r\n" + buf[:length])
            buf = buf[length:]
            answer = self.script.pop(0)
            if answer is None:
                return
            conn.sendall(answer)
            if b"connection: close" in answer.lower() or answer.startswith(b"HTTP/1.0"):
                return

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone leaves it there for
        # the rest of the session (and the listening socket open with it).
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def serve() -> Iterator[list[ScriptedServer]]:
    servers: list[ScriptedServer] = []
    yield servers
    for s in servers:
        s.close()


def transport_for(
    serve: list[ScriptedServer], *script: bytes | None
) -> tuple[ScriptedServer, HttpClientTransport]:
    server = ScriptedServer(list(script))
    serve.append(server)
    return server, HttpClientTransport(server.url + "/base")


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"


def test_one_send_per_request_and_the_connection_is_kept(serve: list[ScriptedServer]) -> None:
    server, t = transport_for(serve, OK, OK)
    for body in (b'{"a":1}', b'{"b":2}'):
        r = t.send("POST", "/v1/x", {"Content-Type": "application/json"}, body, 5)
        assert (r.status, r.body, r.headers["content-type"]) == (200, b"{}", "application/json")
    assert server.connections == 1
    first = server.requests[0].decode()
    assert first.startswith("POST /base/v1/x HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.url.rsplit(':', 1)[1]}\r\n" in first
    assert "Content-Length: 7\r\n" in first and first.endswith('\r\n\r\n{"a":1}')


def test_chunked_answers_informational_answers_and_repeated_headers(
    serve: list[ScriptedServer],
) -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 207 Multi-Status\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
        b'5;ext=1\r\n{"ok"\r\n4\r\n:[]}\r\n0\r\nTrailer: x\r\n\r\n'
    )
    server, t = transport_for(serve, chunked, OK)
    r = t.send("POST", "/x", {}, b"{}", 5)
    assert (r.status, r.body, r.headers["x-a"]) == (207, b'{"ok":[]}', "1, 2")
    assert t.send("POST", "/x", {}, b"{}", 5).status == 200
    assert server.connections == 1


def test_closing_servers_and_bodies_read_to_the_end(serve: list[ScriptedServer]) -> None:
    server, t = transport_for(
        serve,
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}",  # 1.0 without keep-alive: closes
        b"HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\nlater",  # no length: to the end
        b"HTTP/1.1 204 No Content\r\n\r\n",
    )
    assert t.send("POST", "/x", {}, b"1", 5).body == b"{}"
    r = t.send("POST", "/x", {}, b"2", 5)
    assert (r.status, r.body) == (503, b"later")
    assert t.send("POST", "/x", {}, b"3", 5).status == 204
    assert server.connections == 3


def test_a_kept_alive_connection_closed_by_the_server_is_reopened_once(
    serve: list[ScriptedServer],
) -> None:
    server, t = transport_for(serve, OK, None, OK)
    assert t.send("POST", "/x", {}, b"1", 5).status == 200
    assert t.send("POST", "/x", {}, b"2", 5).status == 200  # closed unanswered, then resent
    assert server.connections == 2
    assert [r.rsplit(b"\r\n\r\n", 1)[1] for r in server.requests] == [b"1", b"2", b"2"]


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * (70 * 1024) + b"\r\n\r\n",
    ],
)
def test_answers_that_are_not_http_fail_the_request(
    serve: list[ScriptedServer], answer: bytes
) -> None:
    _, t = transport_for(serve, answer, None)
    with pytest.raises(TransportFailure):
        t.send("POST", "/x", {}, b"{}", 5)


def test_header_values_with_line_breaks_are_refused(serve: list[ScriptedServer]) -> None:
    server, t = transport_for(serve, OK)
    with pytest.raises(ValueError, match="line break"):
        t.send("POST", "/x", {"X-Evil": "a\r\nInjected: 1"}, b"{}", 5)
    assert server.requests == []


DATA = Path(__file__).parent / "data"


def test_https_keeps_one_verified_connection(serve: list[ScriptedServer]) -> None:
    """Over TLS (a self-signed certificate for 127.0.0.1, trusted by the test): the server's
    name is verified, the answer is read whole, and the connection is kept alive."""
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(DATA / "tls-test-cert.pem", DATA / "tls-test-key.pem")
    server = ScriptedServer([OK, OK], tls=server_tls)
    serve.append(server)
    t = HttpClientTransport(server.url)
    t._ssl = ssl.create_default_context(cafile=str(DATA / "tls-test-cert.pem"))
    request = t.begin("POST", "/v1/x", {}, b'{"a":1}', 5)
    deadline = time.monotonic() + 5
    while not request.ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert request.ready()
    assert (request.finish().status, t.send("POST", "/v1/x", {}, b"{}", 5).body) == (200, b"{}")
    assert server.connections == 1
    assert server.requests[0].endswith(b'\r\n\r\n{"a":1}')


def test_https_refuses_a_certificate_it_does_not_trust(serve: list[ScriptedServer]) -> None:
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(DATA / "tls-test-cert.pem", DATA / "tls-test-key.pem")
    server = ScriptedServer([OK], tls=server_tls)
    serve.append(server)
    with pytest.raises(TransportFailure, match="CERTIFICATE_VERIFY_FAILED"):
        HttpClientTransport(server.url).send("POST", "/x", {}, b"{}", 5)
    assert server.requests == []
