"""A lean azure-core async transport: HTTP/1.1 over pooled asyncio connections, no third-party package.

Web PubSub calls are small requests with small (mostly empty) responses, so the per-call cost of a
general-purpose client dominates. This transport writes the request in one go and parses the response in
the protocol callback; see ``_connection.py``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from base64 import b64encode
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Tuple, Union
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import ServiceRequestError, ServiceRequestTimeoutError, ServiceResponseError
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import AsyncHttpResponse, HttpRequest
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl  # the documented base for transports
from azure.core.utils import case_insensitive_dict

from .._network import Cert, NetworkSettings
from .._transport import IDEMPOTENT_METHODS, PrivateAttributesMixin, _body as sync_body
from ._connection import HttpConnection, ResponseHead, StaleConnectionError, decompressor_for
from ._pool import ConnectionPool

_PoolKey = Tuple[str, str, Optional[str], Any, Any]  # scheme, host:port, proxy, verify, cert
_NO_CONTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})


class AsyncioTransportResponse(PrivateAttributesMixin, AsyncHttpResponseImpl):
    """An ``azure.core.rest.AsyncHttpResponse``; ``content`` is loaded unless the call asked to stream."""

    def __init__(self, request: HttpRequest, head: ResponseHead, body: Optional[bytes],
                 stream: Optional["_Stream"], block_size: int) -> None:
        headers = case_insensitive_dict(head.headers)
        super().__init__(
            request=request, internal_response=stream, status_code=head.status, reason=head.reason,
            content_type=headers.get("content-type"), headers=headers, block_size=block_size,
            stream_download_generator=_stream_download,
        )
        if body is not None:
            self._content = body
            self._is_closed = True

    async def close(self) -> None:
        if not self.is_closed:
            self._is_closed = True
            if self._internal_response is not None:
                self._internal_response.release(finished=self._is_stream_consumed)


class _Stream:
    """The connection behind a streamed response, handed back to the pool once the body is read."""

    __slots__ = ("connection", "pool", "read_timeout", "decompressor")

    def __init__(self, connection: HttpConnection, pool: ConnectionPool, read_timeout: float,
                 head: ResponseHead) -> None:
        self.connection: Optional[HttpConnection] = connection
        self.pool = pool
        self.read_timeout = read_timeout
        self.decompressor = decompressor_for(head.headers)

    def release(self, finished: bool) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            self.pool.release(connection, reusable=finished)


async def _stream_download(pipeline: Any, response: AsyncioTransportResponse, *, decompress: bool = True,
                           **kwargs: Any) -> AsyncIterator[bytes]:
    stream: _Stream = response._internal_response  # pylint: disable=protected-access
    decompressor = stream.decompressor if decompress else None
    finished = False
    try:
        while stream.connection is not None:
            chunk = await stream.connection.read_chunk(stream.read_timeout)
            if not chunk:
                finished = True
                break
            yield decompressor.decompress(chunk) if decompressor else chunk
        tail = decompressor.flush() if decompressor is not None else b""
        if tail:
            yield tail
        response._is_stream_consumed = True  # pylint: disable=protected-access
    finally:
        stream.release(finished)
        response._is_closed = True  # pylint: disable=protected-access


class AsyncioTransport(AsyncHttpTransport):  # type: ignore[type-arg]
    """The async transport used by default by :class:`~azure.messaging.webpubsubservice.aio.WebPubSubServiceClient`.

    :keyword float connection_timeout: seconds to wait for a connection (default 300).
    :keyword float read_timeout: seconds to wait for response data (default 300).
    :keyword connection_verify: ``True`` (default), ``False`` or a CA bundle path.
    :keyword connection_cert: a client certificate file, or ``(certfile, keyfile)``.
    :keyword proxies: ``{"http": url, "https": url}``; by default the ``*_PROXY`` environment variables.
    :keyword int connection_limit: connections in use at once per host (default 100); further calls queue.
    """

    def __init__(self, *, connection_timeout: float = 300, read_timeout: float = 300,
                 connection_verify: Union[bool, str] = True, connection_cert: Cert = None,
                 proxies: Optional[Mapping[str, str]] = None, connection_limit: int = 100,
                 use_env_settings: bool = True, block_size: int = 65536, **kwargs: Any) -> None:
        self._connection_timeout = connection_timeout
        self._read_timeout = read_timeout
        self._network = NetworkSettings(verify=connection_verify, cert=connection_cert, proxies=proxies,
                                        use_env_settings=use_env_settings)
        self._limit = connection_limit
        self._block_size = block_size
        self._pools: Dict[_PoolKey, ConnectionPool] = {}
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    # -- azure-core transport protocol -------------------------------------------------------------------

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        if asyncio.get_running_loop() is not self._loop:
            self._forget_other_loop()
            return
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.close()

    async def __aenter__(self) -> "AsyncioTransport":
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()

    async def send(self, request: HttpRequest, *, stream: bool = False,
                   **kwargs: Any) -> AsyncHttpResponse:
        parts = urlsplit(request.url)
        scheme = parts.scheme.lower()
        host = parts.hostname
        if scheme not in ("http", "https") or not host:
            raise ServiceRequestError(f"cannot send to {request.url!r}: only absolute http(s) URLs are supported")
        proxy = self._network.proxy_for(scheme, host, kwargs.get("proxies"))
        verify = kwargs.get("connection_verify")
        cert = kwargs.get("connection_cert")
        connection_timeout = kwargs.get("connection_timeout") or self._connection_timeout
        read_timeout = kwargs.get("read_timeout") or self._read_timeout
        target = request.url if proxy and scheme == "http" else (parts.path or "/") + (
            "?" + parts.query if parts.query else "")
        body = await _request_body(request)
        head = _serialize_head(request, target, parts.netloc, body, proxy if scheme == "http" else None)
        method = request.method.upper()

        pool = self._pool_for((scheme, parts.netloc, proxy, verify, cert))

        async def connect() -> HttpConnection:
            return await self._connect(scheme, host or "", parts.port, proxy, verify, cert,
                                       connection_timeout, read_timeout)

        for attempt in (1, 2):
            connection, reused = await pool.acquire(connect, connection_timeout)
            try:
                connection.send(head, body, head_only=method == "HEAD", streaming=stream)
                response_head = await connection.read_head(read_timeout)
                if stream:
                    handle = _Stream(connection, pool, read_timeout, response_head)
                    return AsyncioTransportResponse(request, response_head, None, handle, self._block_size)
                content = await connection.read_body(read_timeout)
            except StaleConnectionError:
                pool.release(connection, reusable=False)
                # Closed without an answer just as we wrote: the server may have acted on the request, so
                # only idempotent requests go again (a send must never be delivered twice).
                if reused and attempt == 1 and method in IDEMPOTENT_METHODS:
                    continue
                raise
            except BaseException:
                pool.release(connection, reusable=False)  # cancelled or failed mid-exchange: never reuse
                raise
            pool.release(connection, reusable=True)
            decompressor = decompressor_for(response_head.headers) if content else None
            if decompressor is not None:
                content = decompressor.decompress(content) + decompressor.flush()
            return AsyncioTransportResponse(request, response_head, content, None, self._block_size)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- connections -------------------------------------------------------------------------------------

    def _pool_for(self, key: _PoolKey) -> ConnectionPool:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections belong to the loop that opened them; a new loop (a second asyncio.run) starts afresh.
            self._forget_other_loop()
            self._loop = loop
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = ConnectionPool(self._limit, self._limit)
        return pool

    def _forget_other_loop(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.abandon()

    async def _connect(self, scheme: str, host: str, port: Optional[int], proxy: Optional[str], verify: Any,
                       cert: Cert, connection_timeout: float, read_timeout: float) -> HttpConnection:
        loop = asyncio.get_running_loop()
        default_port = 443 if scheme == "https" else 80
        connect_host, connect_port, proxy_authorization = host, port or default_port, None
        if proxy:
            proxy_parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            connect_host, connect_port = proxy_parts.hostname or "", proxy_parts.port or 80
            proxy_authorization = _basic_authorization(proxy_parts.username, proxy_parts.password)
        tls = self._network.ssl_context(verify, cert) if scheme == "https" else None
        tunnel = bool(proxy and tls)
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(lambda: HttpConnection(loop), connect_host, connect_port,
                                       ssl=None if tunnel else tls,
                                       server_hostname=None if tunnel or not tls else host),
                connection_timeout)
            if tunnel:
                connection = await asyncio.wait_for(
                    _open_tunnel(loop, connection, host, port or default_port, tls, proxy_authorization, read_timeout),
                    connection_timeout)
        except asyncio.TimeoutError as error:
            raise ServiceRequestTimeoutError(f"could not connect to {connect_host}: timed out", error=error) from None
        except ServiceResponseError as error:
            raise ServiceRequestError(f"could not open a tunnel through {proxy}: {error}", error=error) from None
        except (OSError, ssl.SSLError) as error:
            raise ServiceRequestError(f"could not connect to {connect_host}: {error}", error=error) from error
        sock = connection.transport.get_extra_info("socket") if connection.transport else None
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection


async def _open_tunnel(loop: asyncio.AbstractEventLoop, connection: HttpConnection, host: str, port: int,
                       tls: Optional[ssl.SSLContext], proxy_authorization: Optional[str],
                       read_timeout: float) -> HttpConnection:
    """``CONNECT host:port`` through an HTTP proxy, then TLS to the service inside the tunnel."""
    authority = f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy_authorization:
        lines.append(f"Proxy-Authorization: {proxy_authorization}")
    connection.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), None, head_only=True, streaming=False)
    try:
        head = await connection.read_head(read_timeout)
        if not 200 <= head.status < 300:
            raise ServiceResponseError(f"the proxy answered {head.status} {head.reason}")
        assert connection.transport is not None
        tls_transport = await loop.start_tls(connection.transport, connection, tls,  # type: ignore[arg-type]
                                             server_hostname=host)
    except BaseException:
        connection.abort()
        raise
    connection.transport = tls_transport
    return connection


async def _request_body(request: HttpRequest) -> Optional[bytes]:
    content: Any = getattr(request, "content", None)
    if hasattr(content, "__aiter__"):
        return b"".join([chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
                         async for chunk in content])
    return sync_body(request)


def _serialize_head(request: HttpRequest, target: str, netloc: str, body: Optional[bytes],
                    http_proxy: Optional[str]) -> bytes:
    lines = [f"{request.method} {target} HTTP/1.1"]
    names = set()
    for name, value in request.headers.items():
        lowered = name.lower()
        if lowered in ("content-length", "transfer-encoding"):
            continue  # framing is ours to decide: the body is sent whole with its length
        names.add(lowered)
        lines.append(f"{name}: {value}")
    if "host" not in names:
        lines.insert(1, f"Host: {netloc}")
    if body is not None or request.method.upper() not in _NO_CONTENT_METHODS:
        lines.append(f"Content-Length: {len(body) if body else 0}")
    if http_proxy and "proxy-authorization" not in names:
        proxy_parts = urlsplit(http_proxy if "://" in http_proxy else "http://" + http_proxy)
        authorization = _basic_authorization(proxy_parts.username, proxy_parts.password)
        if authorization:
            lines.append(f"Proxy-Authorization: {authorization}")
    head = "\r\n".join(lines)
    # One check for the whole head: a CR or LF anywhere but between lines would smuggle in a header.
    separators = len(lines) - 1
    if head.count("\n") != separators or head.count("\r") != separators or "\0" in head:
        raise ServiceRequestError("a request header or the URL contains a line break or NUL")
    head += "\r\n\r\n"
    try:
        return head.encode("latin-1")
    except UnicodeEncodeError:
        # RFC 9110 allows only ISO-8859-1 in field values; UTF-8 is what servers in practice accept.
        return head.encode("utf-8")


def _basic_authorization(username: Optional[str], password: Optional[str]) -> Optional[str]:
    if not username:
        return None
    credentials = f"{unquote(username)}:{unquote(password or '')}"
    return "Basic " + b64encode(credentials.encode()).decode()


__all__: List[str] = ["AsyncioTransport", "AsyncioTransportResponse"]
