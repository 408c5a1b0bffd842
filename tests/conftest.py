"""Shared fixtures: a recording HTTP/1.1 server on loopback that answers with scripted responses.

``server`` (function scope) is a reset view of one session-wide :class:`RecordingServer`; tests script
its answers with ``server.reply(Reply(...), ...)`` (first in, first out; ``server.default`` once the
script is used up) or ``server.handler = lambda request: Reply(...)``, and read what arrived in
``server.requests``. ``make_server`` starts extra, private servers (e.g. a reverse proxy).
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.utils import case_insensitive_dict

from azure.messaging.webpubsubservice import WebPubSubServiceClient

ROOT = Path(__file__).resolve().parent.parent
ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
WAIT_SECONDS = 5.0  # upper bound for anything a test waits for

Body = Union[bytes, str, Dict[str, Any], List[Any]]


@dataclass
class Reply:
    """A scripted response. ``body`` str is sent as UTF-8, dict/list as JSON (with a JSON content type)."""

    status: int = 202
    headers: Dict[str, str] = field(default_factory=dict)
    body: Body = b""
    delay: float = 0.0  # seconds to stall before answering (released early when the test ends)
    close: bool = False  # answer with "Connection: close" and close the socket
    hang_up: bool = False  # close the socket after answering without announcing it (an idle keep-alive timeout)
    raw: Optional[bytes] = None  # write exactly these bytes instead of an answer, wait ``delay``, then close

    def encoded(self) -> Tuple[bytes, Dict[str, str]]:
        headers = dict(self.headers)
        body = self.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        return body, headers


@dataclass
class Recorded:
    """One request as it arrived on the wire."""

    method: str
    target: str  # the raw request-target: path and query exactly as sent
    headers: Any  # case-insensitive mapping
    body: bytes
    client: Tuple[str, int]  # the peer address: tells which pooled connection carried the request

    @property
    def path(self) -> str:
        """The raw (still percent-encoded) path."""
        return urlsplit(self.target).path

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    @property
    def query_pairs(self) -> List[Tuple[str, str]]:
        return parse_qsl(self.raw_query, keep_blank_values=True)

    @property
    def query(self) -> Dict[str, List[str]]:
        """The decoded query as a multi-dict: ``{"excluded": ["a", "b"], ...}``."""
        result: Dict[str, List[str]] = {}
        for name, value in self.query_pairs:
            result.setdefault(name, []).append(value)
        return result

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def setup(self) -> None:
        super().setup()
        self.server.owner._opened(self.client_address)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: List[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        owner = self.server.owner
        recorded = Recorded(
            method=self.command,
            target=self.path,
            headers=case_insensitive_dict(self.headers.items()),
            body=self._read_body(),
            client=self.client_address,
        )
        reply = owner._record(recorded)
        if reply.raw is not None:  # malformed or cut-short answers
            self.wfile.write(reply.raw)
            self.wfile.flush()
            owner._released.wait(reply.delay)
            self.close_connection = True
            return
        if reply.delay:
            owner._released.wait(reply.delay)
        body, headers = reply.encoded()
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if not {"content-length", "transfer-encoding"} & {name.lower() for name in headers}:
            self.send_header("Content-Length", str(len(body)))
        if reply.close:
            self.send_header("Connection", "close")
        self.close_connection = reply.close or reply.hang_up
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: "RecordingServer"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-answer (timeout tests) is not a test failure

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            # Reported here, after the base class has shut the socket down and closed it, not from the
            # handler's finish(), which runs before that: a test waiting for a hang-up (``wait_closed``)
            # must find the connection gone, else its client may still reuse it and lose the next request.
            self.owner._closed(client_address)


class RecordingServer:
    """An HTTP/1.1 keep-alive server on 127.0.0.1 that records requests and answers as scripted."""

    def __init__(self, poll_interval: float = 0.5, tls: Optional[Tuple[str, str]] = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.scheme = "http"
        if tls is not None:  # (certfile, keyfile): serve HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._script: Deque[Reply] = deque()
        self._open: Set[Tuple[str, int]] = set()
        self._released = threading.Event()
        self.requests: List[Recorded] = []
        self.default = Reply()
        self.handler: Optional[Callable[[Recorded], Reply]] = None
        self._thread = threading.Thread(target=self._server.serve_forever, args=(poll_interval,), daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> "RecordingServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(WAIT_SECONDS)

    def __enter__(self) -> "RecordingServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget requests and script; release any stalled answer of an earlier test."""
        self._released.set()
        with self._lock:
            self._script.clear()
            self.requests = []
        self.default = Reply()
        self.handler = None
        self._released = threading.Event()

    def reply(self, *replies: Reply) -> None:
        """Queue answers for the next requests, in order."""
        with self._lock:
            self._script.extend(replies)

    @property
    def last(self) -> Recorded:
        assert self.requests, "the server received no request"
        return self.requests[-1]

    @property
    def only(self) -> Recorded:
        assert len(self.requests) == 1, f"expected exactly one request, got {len(self.requests)}"
        return self.requests[0]

    def is_open(self, client: Tuple[str, int]) -> bool:
        with self._lock:
            return client in self._open

    def wait_closed(self, client: Tuple[str, int], timeout: float = WAIT_SECONDS) -> bool:
        """Wait until that connection is closed (by either side) and the server's socket is closed too."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while client in self._open:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True

    # -- called from handler threads -----------------------------------------------------------------------

    def _record(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            return scripted
        if self.handler is not None:
            return self.handler(recorded)
        return self.default

    def _opened(self, client: Tuple[str, int]) -> None:
        with self._changed:
            self._open.add(client)
            self._changed.notify_all()

    def _closed(self, client: Tuple[str, int]) -> None:
        with self._changed:
            self._open.discard(client)
            self._changed.notify_all()


@pytest.fixture(scope="session")
def _session_server() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


@pytest.fixture
def server(_session_server: RecordingServer) -> Iterator[RecordingServer]:
    """The recording server, with no requests recorded and nothing scripted (answers 202 by default)."""
    _session_server.reset()
    yield _session_server
    _session_server.reset()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl CLI): ``(certfile, keyfile)``."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


@pytest.fixture
def make_server() -> Iterator[Callable[..., RecordingServer]]:
    """Start extra recording servers (``make_server(tls=(cert, key))`` for HTTPS); stopped when the test ends."""
    started: List[RecordingServer] = []

    def make(tls: Optional[Tuple[str, str]] = None) -> RecordingServer:
        started.append(RecordingServer(poll_interval=0.02, tls=tls).start())
        return started[-1]

    yield make
    for extra in started:
        extra.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A loopback port whose listen backlog is full: a new connection attempt hangs until it times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = int(listener.getsockname()[1])
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    time.sleep(0.05)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.fixture
def client(server: RecordingServer) -> Iterator[WebPubSubServiceClient]:
    """A sync ``WebPubSubServiceClient`` for hub ``hub`` on the recording server, signed with ``ACCESS_KEY``.

    ``retry_total=0``: an error status is raised at once (tests of retries build their own client).
    """
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=0) as sync_client:
        yield sync_client


_SKIP_COPY = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist", "tests")


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``pip install . ./emulator`` (non-editable, ``--no-deps``) from a copy of the clone into a scratch
    ``--target`` folder (building in place would leave build/ behind): the package as users get it."""
    scratch = tmp_path_factory.mktemp("install")
    source = scratch / "clone"
    source.mkdir()
    for name in ("setup.py", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "azure", source / "azure", ignore=_SKIP_COPY)
    shutil.copytree(ROOT / "emulator", source / "emulator", ignore=_SKIP_COPY)
    target = scratch / "site-packages"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
         "--target", str(target), ".", "./emulator"],
        cwd=source, timeout=240, capture_output=True, text=True,
    )
    assert pip.returncode == 0, pip.stderr
    return target
