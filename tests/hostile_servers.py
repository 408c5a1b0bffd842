"""Test fakes for HTTP faults no real server produces on demand: raw-socket servers that answer with exact
bytes, and a proxy that tunnels (``CONNECT``) or takes absolute-form requests, over TLS if asked.

Every socket has a timeout and every thread is joined with one, so a client that misbehaves fails its
test instead of hanging it.
"""

from __future__ import annotations

import base64
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

WAIT = 10.0  # upper bound of any socket wait in these fakes
Peer = Tuple[str, int]


@dataclass
class Seen:
    """A request as it arrived: header names lower-cased, repeated fields joined with ", "."""

    method: str
    target: str
    headers: Dict[str, str]
    body: bytes
    peer: Peer


def read_request(sock: socket.socket, buffer: bytearray) -> Optional[Seen]:
    """One request off ``sock`` (``buffer`` keeps bytes read past it); None when the client hung up."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        if not data:
            return None
        buffer += data
        if len(buffer) > 1 << 20:
            raise ValueError("request head too large")
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: Dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            return None
        rest += data
    buffer[:] = rest[length:]
    return Seen(method, target, headers, rest[:length], sock.getpeername()[:2])


def response(status: int = 200, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
             reason: str = "OK") -> bytes:
    """A well-formed response framed with Content-Length (unless ``headers`` frame it otherwise)."""
    fields = dict(headers or {})
    if not any(name.lower() in ("content-length", "transfer-encoding") for name in fields):
        fields["Content-Length"] = str(len(body))
    head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return head.encode("latin-1") + b"\r\n" + body


class Exchange:
    """The server side of one request: the test's handler answers through it."""

    def __init__(self, server: "FaultServer", sock: socket.socket, request: Seen) -> None:
        self.server, self.sock, self.request = server, sock, request
        self.ended = False

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def trickle(self, data: bytes, size: int = 3) -> None:
        """``data`` a few bytes at a time, each piece in a segment of its own."""
        for start in range(0, len(data), size):
            self.sock.sendall(data[start:start + size])
            self.server.stopped.wait(0.0005)

    def wait(self, seconds: float) -> None:
        """Stall (bounded: the server's stop ends it early)."""
        self.server.stopped.wait(seconds)

    def hang_up(self) -> None:
        """Close the connection (FIN) once the handler returns."""
        self.ended = True

    def reset(self) -> None:
        """Abort the connection with a TCP RST."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.ended = True


Handler = Callable[[Exchange], None]


class FaultServer:
    """An HTTP/1.1 server on loopback whose answers the test writes byte by byte (``handler``).

    The connection stays open after the handler returns unless it called ``hang_up()`` or ``reset()``;
    ``after_answer(sock)``, if set, runs on the idle connection after each answer (unsolicited bytes).
    """

    def __init__(self, handler: Handler, host: str = "127.0.0.1", tls: Optional[ssl.SSLContext] = None,
                 serve: Optional[Callable[[socket.socket], None]] = None) -> None:
        self.handler = handler
        self._serve_connection = serve or self._serve
        self.after_answer: Optional[Callable[[socket.socket], None]] = None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self._tls = tls
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self.requests: List[Seen] = []
        self.connections: List[Peer] = []
        self.stopped = threading.Event()
        self._lock = threading.Lock()
        self._sockets: List[socket.socket] = []
        self._threads: List[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}"

    def __enter__(self) -> "FaultServer":
        self._accepting.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._accepting.join(WAIT)
        with self._lock:
            sockets, threads = list(self._sockets), list(self._threads)
        for sock in sockets:
            _close_quietly(sock)
        for thread in threads:
            thread.join(WAIT)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:  # timeout: look at `stopped` again
                continue
            thread = threading.Thread(target=self._serve_connection, args=(sock,), daemon=True)
            with self._lock:
                self._sockets.append(sock)
                self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(WAIT)
        buffer = bytearray()
        try:
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
                with self._lock:
                    self._sockets.append(sock)
            with self._lock:
                self.connections.append(sock.getpeername()[:2])
            while not self.stopped.is_set():
                request = read_request(sock, buffer)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                exchange = Exchange(self, sock, request)
                self.handler(exchange)
                if exchange.ended:
                    return
                if self.after_answer is not None:
                    self.after_answer(sock)
        except (OSError, ValueError):
            return  # the client went away, or TLS failed: the test looks at what the client saw
        finally:
            _close_quietly(sock)


def answer(data: bytes) -> Handler:
    return lambda exchange: exchange.send(data)


def answer_then_hang_up(data: bytes) -> Handler:
    def handle(exchange: Exchange) -> None:
        exchange.send(data)
        exchange.hang_up()

    return handle


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked reading it, which close() alone does not
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@dataclass
class ProxyVisit:
    """What the proxy saw of one client connection."""

    first_byte: bytes  # b"\x16" is a TLS handshake record; b"C" or b"P"/b"G" plain text
    method: str = ""
    target: str = ""
    proxy_authorization: Optional[str] = None
    headers: Dict[str, str] = field(default_factory=dict)
    body: bytes = b""


class FakeProxy:
    """A proxy on loopback: tunnels ``CONNECT host:port`` to the target and answers absolute-form requests
    (``GET http://host/...``) itself with 202, recording each. With ``tls`` the client must speak TLS to
    it first (an ``https://`` proxy). With ``credentials`` (``"user:password"``) anything without the
    matching ``Proxy-Authorization`` gets ``407``.
    """

    def __init__(self, tls: Optional[ssl.SSLContext] = None, credentials: Optional[str] = None) -> None:
        self._tls = tls
        self._expected = None
        if credentials is not None:
            self._expected = "Basic " + base64.b64encode(credentials.encode()).decode()
        self.visits: List[ProxyVisit] = []
        self._server = FaultServer(answer(b""), serve=self._serve)

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self._server.port}"

    def url_with(self, credentials: str) -> str:
        scheme, rest = self.url.split("://")
        return f"{scheme}://{credentials}@{rest}"

    def __enter__(self) -> "FakeProxy":
        self._server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.__exit__()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(WAIT)
        try:
            first = sock.recv(1, socket.MSG_PEEK)
            visit = ProxyVisit(first_byte=first)
            self.visits.append(visit)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
            buffer = bytearray()
            request = read_request(sock, buffer)
            if request is None:
                return
            visit.method, visit.target, visit.headers, visit.body = (request.method, request.target,
                                                                     request.headers, request.body)
            visit.proxy_authorization = request.headers.get("proxy-authorization")
            if self._expected is not None and visit.proxy_authorization != self._expected:
                sock.sendall(response(407, headers={"Proxy-Authenticate": 'Basic realm="fake"', "Connection": "close"},
                                      reason="Proxy Authentication Required"))
                return
            if request.method != "CONNECT":
                sock.sendall(response(202, headers={"Connection": "close"}, reason="Accepted"))
                return
            host, _, port = request.target.rpartition(":")
            with socket.create_connection((host.strip("[]"), int(port)), timeout=WAIT) as upstream:
                sock.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                if buffer:
                    upstream.sendall(bytes(buffer))
                _pipe_both_ways(sock, upstream, self._server.stopped)
        except (OSError, ValueError):
            return
        finally:
            _close_quietly(sock)


def _pipe_both_ways(client: socket.socket, upstream: socket.socket, stopped: threading.Event) -> None:
    """Relay bytes until either side closes, nothing moves for WAIT seconds, or the proxy stops. One thread:
    an SSL socket must not be read and written from two threads at once."""
    other = {client: upstream, upstream: client}
    idle_since = time.monotonic()
    while not stopped.is_set() and time.monotonic() - idle_since < WAIT:
        ready = [end for end in other if isinstance(end, ssl.SSLSocket) and end.pending()]
        if not ready:
            ready = select.select(list(other), [], [], 0.1)[0]
        for end in ready:
            data = end.recv(65536)
            if not data:
                return
            other[end].sendall(data)
            idle_since = time.monotonic()
