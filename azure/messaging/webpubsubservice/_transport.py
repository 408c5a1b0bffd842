"""A lean azure-core transport on ``http.client`` with keep-alive connection pooling.

Web PubSub calls are small requests with small (mostly empty) responses, so per-call overhead dominates.
``requests``/``urllib3`` spend most of a call preparing and adapting; talking HTTP/1.1 over pooled
``http.client`` connections is several times cheaper and needs no third-party package.
"""

from __future__ import annotations

import http.client
import select
import socket
import threading
import weakref
from base64 import b64encode
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.rest._http_response_impl import HttpResponseImpl  # the documented base for transport responses
from azure.core.utils import case_insensitive_dict

from ._network import Cert, NetworkSettings

_STALE_CONNECTION_ERRORS = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                            ConnectionAbortedError)
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
_PoolKey = Tuple[str, str, Optional[str]]


class _OneWrite:
    """Sends the request line, headers and a bytes body in one write.

    ``http.client`` writes the head and the body separately; with TCP_NODELAY that is two packets and two
    wake-ups of the server for every small request, which costs more than the rest of the request.
    """

    _buffer: List[bytes]

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", b""))
            message = b"\r\n".join(self._buffer) + message_body
            del self._buffer[:]
            self.send(message)  # type: ignore[attr-defined]
        else:
            super()._send_output(message_body, encode_chunked)  # type: ignore[misc]


class _HTTPConnection(_OneWrite, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_OneWrite, http.client.HTTPSConnection):
    pass


class PrivateAttributesMixin:
    """azure-core's back-compat hook maps public names (``status_code``) onto private fields on every
    assignment, a dozen per response; private names never need it."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class HttpClientTransportResponse(PrivateAttributesMixin, HttpResponseImpl):
    """An ``azure.core.rest.HttpResponse`` read from an ``http.client`` response."""

    def __init__(self, request: HttpRequest, raw: http.client.HTTPResponse, body: Optional[bytes],
                 release: "_Release", block_size: int) -> None:
        headers = case_insensitive_dict(raw.getheaders())
        super().__init__(
            request=request, internal_response=raw, status_code=raw.status, reason=raw.reason,
            content_type=headers.get("content-type"), headers=headers, block_size=block_size,
            stream_download_generator=_stream_download,
        )
        self._release = release
        if body is not None:
            self._content = body

    def close(self) -> None:
        if not self.is_closed:
            self._is_closed = True
            # A partly read body leaves the socket mid-message: it cannot go back to the pool.
            self._release(reusable=self._content is not None or self._is_stream_consumed)


def _stream_download(pipeline: Any, response: HttpClientTransportResponse, **kwargs: Any) -> Iterator[bytes]:
    raw: http.client.HTTPResponse = response._internal_response  # pylint: disable=protected-access
    try:
        while True:
            try:
                chunk = raw.read(response._block_size)  # pylint: disable=protected-access
            except (OSError, http.client.HTTPException) as error:
                raise ServiceResponseError(str(error), error=error) from error
            if not chunk:
                if raw.length:  # http.client's read(n) returns b"" when the server closes before Content-Length
                    raise ServiceResponseError(f"the response body ended {raw.length} bytes short")
                break
            yield chunk
        response._is_stream_consumed = True  # pylint: disable=protected-access
    finally:
        response.close()


class _Release:
    """Gives a connection back to its pool once its response has been read, or discards it."""

    __slots__ = ("_transport", "_key", "_connection")

    def __init__(self, transport: "HttpClientTransport", key: _PoolKey, connection: http.client.HTTPConnection):
        self._transport, self._key, self._connection = transport, key, connection

    def __call__(self, reusable: bool) -> None:
        connection, self._connection = self._connection, None  # type: ignore[assignment]
        if connection is not None:
            self._transport._checkin(self._key, connection, reusable)  # pylint: disable=protected-access


class HttpClientTransport(HttpTransport):  # type: ignore[type-arg]
    """Sync transport used by default by :class:`WebPubSubServiceClient`.

    :keyword float connection_timeout: seconds to wait for a connection (default 300).
    :keyword float read_timeout: seconds to wait for response data (default 300).
    :keyword connection_verify: ``True`` (default), ``False`` or a CA bundle path.
    :keyword connection_cert: a client certificate file, or ``(certfile, keyfile)``.
    :keyword proxies: ``{"http": url, "https": url}``; by default the ``*_PROXY`` environment variables.
    :keyword int pool_maxsize: idle connections kept per host (default 32).
    """

    def __init__(self, *, connection_timeout: float = 300, read_timeout: float = 300,
                 connection_verify: Union[bool, str] = True, connection_cert: Cert = None,
                 proxies: Optional[Mapping[str, str]] = None, pool_maxsize: int = 32,
                 use_env_settings: bool = True, block_size: int = 65536, **kwargs: Any) -> None:
        self._connection_timeout = connection_timeout
        self._read_timeout = read_timeout
        self._network = NetworkSettings(verify=connection_verify, cert=connection_cert, proxies=proxies,
                                        use_env_settings=use_env_settings)
        self._pool_maxsize = pool_maxsize
        self._block_size = block_size
        self._idle: Dict[_PoolKey, List[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        # A client dropped without close() (a REPL session, a script) still closes its pooled sockets.
        weakref.finalize(self, _close_idle, self._idle)

    # -- azure-core transport protocol -------------------------------------------------------------------

    def open(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            pools = dict(self._idle)
            self._idle.clear()
        _close_idle(pools)

    def __enter__(self) -> "HttpClientTransport":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def send(self, request: HttpRequest, *, stream: bool = False, **kwargs: Any) -> HttpResponse:
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ServiceRequestError(f"cannot send to {request.url!r}: only absolute http(s) URLs are supported")
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        body = _body(request)
        # http.client sets Content-Length from the encoded body; azure-core's own value counts the characters
        # of a str body, which is short for non-ASCII text and would desynchronise the keep-alive connection.
        headers = {name: value for name, value in request.headers.items() if name.lower() != "content-length"}
        proxy = self._network.proxy_for(scheme, parts.hostname, kwargs.pop("proxies", None))
        if proxy and scheme == "http":
            target = request.url  # plain-HTTP proxies take the absolute URL
        options = {name: kwargs.get(name) for name in ("connection_timeout", "read_timeout",
                                                       "connection_verify", "connection_cert")}
        key: _PoolKey = (scheme, parts.netloc, proxy)
        for attempt in (1, 2):
            connection, reused = self._checkout(key, parts.hostname, parts.port, options)
            written = False
            try:
                connection.request(request.method, target, body, headers)
                written = True
                raw = connection.getresponse()
            except _STALE_CONNECTION_ERRORS as error:
                connection.close()
                # A failed write means the server had closed the idle connection: nothing was processed. Once
                # the request is written, the server may have acted on it: only idempotent requests go again.
                if reused and attempt == 1 and (not written or request.method.upper() in IDEMPOTENT_METHODS):
                    continue
                raise ServiceResponseError(str(error) or type(error).__name__, error=error) from error
            except socket.timeout as error:
                connection.close()
                raise ServiceResponseTimeoutError(f"no response within the read timeout: {error}", error=error) from error
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                raise ServiceResponseError(str(error) or type(error).__name__, error=error) from error
            break
        release = _Release(self, key, connection)
        if stream:
            return HttpClientTransportResponse(request, raw, None, release, self._block_size)
        try:
            content = raw.read()
        except socket.timeout as error:
            release(reusable=False)
            raise ServiceResponseTimeoutError(f"response body not received in time: {error}", error=error) from error
        except (OSError, http.client.HTTPException) as error:
            release(reusable=False)
            raise ServiceResponseError(str(error), error=error) from error
        response = HttpClientTransportResponse(request, raw, content, release, self._block_size)
        release(reusable=not raw.will_close)
        response._is_closed = True  # pylint: disable=protected-access
        return response

    # -- connections -------------------------------------------------------------------------------------

    def _checkout(self, key: _PoolKey, host: str, port: Optional[int],
                  options: Mapping[str, Any]) -> Tuple[http.client.HTTPConnection, bool]:
        read_timeout = options["read_timeout"] or self._read_timeout
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None:
                break
            if _dropped(connection.sock):  # closed by the server while idle (keep-alive timeout)
                connection.close()
                continue
            connection.sock.settimeout(read_timeout)
            return connection, True
        connection = self._new_connection(key, host, port, options)
        try:
            connection.connect()
        except socket.timeout as error:
            raise ServiceRequestTimeoutError(f"could not connect to {host}: timed out", error=error) from error
        except OSError as error:
            raise ServiceRequestError(f"could not connect to {host}: {error}", error=error) from error
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.settimeout(read_timeout)
        return connection, False

    def _checkin(self, key: _PoolKey, connection: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable and connection.sock is not None:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self._pool_maxsize:
                    idle.append(connection)
                    return
        connection.close()

    def _new_connection(self, key: _PoolKey, host: str, port: Optional[int],
                        options: Mapping[str, Any]) -> http.client.HTTPConnection:
        scheme, _, proxy = key
        timeout = options["connection_timeout"] or self._connection_timeout
        connect_host, connect_port, tunnel_headers = host, port, None
        if proxy:
            proxy_parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            connect_host, connect_port = proxy_parts.hostname or "", proxy_parts.port
            if proxy_parts.username:
                credentials = f"{unquote(proxy_parts.username)}:{unquote(proxy_parts.password or '')}"
                tunnel_headers = {"Proxy-Authorization": "Basic " + b64encode(credentials.encode()).decode()}
        connection: http.client.HTTPConnection
        if scheme == "https":
            context = self._network.ssl_context(options["connection_verify"], options["connection_cert"])
            connection = _HTTPSConnection(connect_host, connect_port, timeout=timeout, context=context)
        else:
            connection = _HTTPConnection(connect_host, connect_port, timeout=timeout)
        if proxy and scheme == "https":
            connection.set_tunnel(host, port, headers=tunnel_headers)
        return connection


def _dropped(sock: Optional[socket.socket]) -> bool:
    """Whether an idle keep-alive socket is unusable: it is readable only once the server closed it."""
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _close_idle(pools: Dict[_PoolKey, List[http.client.HTTPConnection]]) -> None:
    for connections in list(pools.values()):
        for connection in connections:
            connection.close()
    pools.clear()


def _body(request: HttpRequest) -> Optional[bytes]:
    content = getattr(request, "content", None)
    if content is None:
        content = getattr(request, "data", None)  # legacy azure.core.pipeline.transport.HttpRequest
    if content is None or isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (bytearray, memoryview)):
        return bytes(content)
    if hasattr(content, "read"):
        data = content.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if isinstance(content, dict):
        raise ServiceRequestError("multipart and form bodies are not supported by HttpClientTransport; "
                                  "pass transport=RequestsTransport() to send them")
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk) for chunk in content)
