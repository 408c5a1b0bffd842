"""The default async transport: a thin azure-core ``AsyncHttpTransport`` on one reused ``aiohttp.ClientSession``.

aiohttp does the HTTP: parsing, the connection pool (``connection_limit`` connections at a time), proxies
(``CONNECT`` tunnels, TLS to ``https://`` proxies) and TLS. This module maps azure-core's options onto it,
bounds decoded bodies (``_network``) and turns every library error into azure-core's family, as the sync
transport does: ``ServiceRequestError`` when nothing reached the service, ``ServiceResponseError`` when the
request may have (their ``*TimeoutError`` subclasses for timeouts), ``DecodeError`` for an undecodable body.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import weakref
from typing import Any, AsyncIterator, Dict, Mapping, Optional, Tuple, Union

from azure.core.exceptions import (
    AzureError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import AsyncHttpTransport
from azure.core.rest import AsyncHttpResponse, HttpRequest
from azure.core.rest._http_response_impl_async import AsyncHttpResponseImpl  # the documented base for transports

from .._network import (
    MAX_RESPONSE_HEADERS,
    BodyDecoder,
    Cert,
    ThinResponse,
    TransportOptions,
    Verify,
    authority,
    body_failure,
    decoded,
    request_body,
    request_headers,
    tls_context,
)

try:
    import aiohttp
    from aiohttp.connector import Connection
    from yarl import URL
except ImportError as missing:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "azure.messaging.webpubsubservice.aio needs aiohttp, this package's [aio] extra: from a clone of this "
        "repository, pip install \".[aio]\" (or pip install aiohttp)") from missing

# What aiohttp raises for a failed call or body (asyncio.TimeoutError for its sock_read/sock_connect timeouts).
_AIOHTTP_ERRORS = (aiohttp.ClientError, OSError, ValueError, asyncio.TimeoutError)
_Tls = Union[bool, ssl.SSLContext]


class _Connector(aiohttp.TCPConnector):
    """aiohttp's connector, minus one hazard: bytes that arrive on a pooled connection while it sits idle
    (a stray or injected response) would be read as the answer to the next request sent on it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handed_out: "weakref.WeakSet[Any]" = weakref.WeakSet()

    async def connect(self, *args: Any, **kwargs: Any) -> Connection:
        for _ in range(3):  # a server that talks before it is asked gets its connection used in the end
            connection = await super().connect(*args, **kwargs)
            protocol = connection.protocol
            if protocol is None:
                return connection
            if protocol not in self._handed_out:  # a new connection
                self._handed_out.add(protocol)
                return connection
            if not protocol.should_close:
                return connection
            connection.close()
        return connection


class AiohttpTransportResponse(ThinResponse, AsyncHttpResponseImpl):
    """An ``azure.core.rest.AsyncHttpResponse`` over an ``aiohttp.ClientResponse``."""

    async def load(self) -> None:
        raw: aiohttp.ClientResponse = self._internal_response
        try:
            body = await raw.read()  # aiohttp gives the connection back to its pool
        except _AIOHTTP_ERRORS as error:
            raw.close()
            raise _body_error(error) from error
        self._is_closed = True
        self._content = decoded(self._headers, body)

    async def close(self) -> None:
        if not self._is_closed:
            self._is_closed = True
            # A body read to its end goes back to the pool; aiohttp closes a connection left mid-body.
            self._internal_response.release()

    def __del__(self) -> None:
        # A streamed response dropped unread would hold its connection for good: aiohttp's pool keeps the
        # ClientResponse alive through its body's callbacks, so aiohttp's own release-on-collection never runs.
        if not getattr(self, "_is_closed", True):
            self._internal_response.close()

    @staticmethod
    async def stream_body(pipeline: Any, response: Any, *, decompress: bool = True,
                          **kwargs: Any) -> AsyncIterator[bytes]:
        raw: aiohttp.ClientResponse = response._internal_response  # pylint: disable=protected-access
        decoder = BodyDecoder(response.headers.get("content-encoding") if decompress else None)
        try:
            async for chunk in raw.content.iter_chunked(response._block_size):  # pylint: disable=protected-access
                yield decoder.decode(chunk)
            tail = decoder.finish()
            if tail:
                yield tail
        except _AIOHTTP_ERRORS as error:
            raise _body_error(error) from error
        finally:
            await response.close()


class AiohttpSessionTransport(TransportOptions, AsyncHttpTransport):  # type: ignore[type-arg]
    """The async transport used by default by :class:`~azure.messaging.webpubsubservice.aio.WebPubSubServiceClient`.

    One ``aiohttp.ClientSession`` serves every call; it is created in the running event loop on the first
    call and closed by ``close()``. Connections are pooled per scheme, host, port, proxy and TLS settings.

    :keyword float connection_timeout: seconds to wait for a connection (default 300).
    :keyword float read_timeout: seconds to wait for response data (default 300).
    :keyword connection_verify: ``True`` (default), ``False``, or a CA bundle file or directory.
    :keyword connection_cert: a client certificate file, or ``(certfile, keyfile)``.
    :keyword proxies: ``{"http": url, "https": url}``; by default the ``*_PROXY``/``NO_PROXY`` environment
        variables, read once here. ``https://`` proxies are spoken to over TLS; ``user:password@`` in a proxy
        URL is sent as ``Proxy-Authorization`` (with ``CONNECT`` for https:// endpoints).
        Before Python 3.11 asyncio cannot run TLS inside TLS: https:// endpoints through an https:// proxy
        raise ``ServiceRequestError`` saying so.
    :keyword int connection_limit: connections in use at once (default 100); further calls wait for one.
    """

    def __init__(self, *, connection_limit: int = 100, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.connection_config
        self._limit = connection_limit
        # No bound on waiting for a free connection: a call queued behind `connection_limit` others waits its turn.
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=config.timeout, sock_read=config.read_timeout)
        self._tls: Dict[Tuple[Verify, Cert], _Tls] = {(True, None): True, (False, None): False}
        self._default_tls = self._tls_for(config.verify, config.cert)
        self._session: Optional[aiohttp.ClientSession] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        # proxy URL -> (the URL without credentials, its Proxy-Authorization): aiohttp's error texts show the URL
        self._proxy_parts: Dict[str, Tuple[URL, Optional[str]]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        if self._loop is asyncio.get_running_loop():
            await session.close()
        else:
            session.detach()  # its connections belong to another (likely closed) event loop

    async def __aenter__(self) -> "AiohttpSessionTransport":
        return self

    async def __aexit__(self, *args: Any) -> None:
        await self.close()

    async def send(self, request: HttpRequest, *, stream: bool = False,
                   proxies: Optional[Mapping[str, str]] = None, **kwargs: Any) -> AsyncHttpResponse:
        config = self.connection_config
        url = request.url
        proxy = self.route(url, proxies)
        headers = request_headers(request)
        proxy_url, proxy_headers = None, None
        if proxy:
            proxy_url, authorization = self._proxy(url, proxy)
            if authorization and url[:6].lower() == "https:":
                proxy_headers = {"Proxy-Authorization": authorization}  # sent with CONNECT only
            elif authorization:
                headers["Proxy-Authorization"] = authorization  # the request itself goes to the proxy
        timeout, tls = self._timeout, self._default_tls
        if kwargs:
            timeouts = self.timeouts(kwargs)
            if timeouts is not None:
                timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeouts[0], sock_read=timeouts[1])
            if "connection_verify" in kwargs or "connection_cert" in kwargs:
                tls = self._tls_for(kwargs.get("connection_verify", config.verify),
                                    kwargs.get("connection_cert", config.cert))
        content: Any = getattr(request, "content", None)
        session = self._session_in_this_loop()
        try:
            body = await _joined(content) if hasattr(content, "__aiter__") else request_body(request)
            raw = await session.request(
                request.method, URL(url, encoded=True),  # as signed: the token's audience is this exact URL
                data=body, headers=headers, allow_redirects=False, ssl=tls, proxy=proxy_url,
                proxy_headers=proxy_headers, timeout=timeout)
        except _AIOHTTP_ERRORS as error:
            raise _azure_error(error, url, proxy) from error
        except asyncio.CancelledError:
            if session.closed and not _cancelling():  # close() cancelled our wait for a free connection
                raise ServiceRequestError("the transport was closed while the call waited for a connection") from None
            raise
        if len(raw.raw_headers) > MAX_RESPONSE_HEADERS:
            raw.close()
            raise ServiceResponseError(f"the response from {authority(url)} has more than {MAX_RESPONSE_HEADERS} "
                                       "header fields: refused")
        response = AiohttpTransportResponse(request, raw, config.data_block_size)
        if not stream:
            await response.load()
        return response

    def _proxy(self, url: str, proxy: str) -> Tuple[URL, Optional[str]]:
        found = self._proxy_parts.get(proxy)
        if found is None:
            with_credentials = URL(proxy)
            credentials = aiohttp.BasicAuth.from_url(with_credentials)
            found = (with_credentials.with_user(None), credentials.encode() if credentials else None)
            if len(self._proxy_parts) >= 64:
                self._proxy_parts.clear()
            self._proxy_parts[proxy] = found
        if sys.version_info < (3, 11) and found[0].scheme == "https" and url[:6].lower() == "https:":
            raise ServiceRequestError(
                f"the async client cannot reach https:// endpoints through the https:// proxy {authority(proxy)} on "
                f"Python {sys.version_info[0]}.{sys.version_info[1]}: asyncio runs TLS inside TLS from Python 3.11 "
                "on; use an http:// proxy URL (the tunnel to the endpoint is still TLS) or the sync client")
        return found

    def _session_in_this_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            if self._session is not None:
                self._session.detach()  # a client used from a second event loop starts afresh there
            self._session = aiohttp.ClientSession(
                connector=_Connector(limit=self._limit), timeout=self._timeout,
                auto_decompress=False,  # decoded here, with a bound on the size
                cookie_jar=aiohttp.DummyCookieJar(), trust_env=False)  # proxies come from TransportOptions
            self._loop = loop
        return self._session

    def _tls_for(self, verify: Verify, cert: Cert) -> _Tls:
        # One object per setting: aiohttp pools connections per TLS object, so each setting gets its own.
        tls = self._tls.get((verify, cert))
        if tls is None:
            tls = self._tls[(verify, cert)] = tls_context(verify, cert)
        return tls


def _cancelling() -> bool:
    """Whether the running task is being cancelled (knowable from Python 3.11; assumed not before)."""
    cancelling = getattr(asyncio.current_task(), "cancelling", None)
    return bool(cancelling()) if cancelling is not None else False


async def _joined(content: Any) -> bytes:
    return b"".join([chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk) async for chunk in content])


def _azure_error(error: BaseException, url: str, proxy: Optional[str]) -> AzureError:
    """The azure-core error for an aiohttp failure (see ``_transport._azure_error`` for the rule)."""
    target = f"proxy {authority(proxy)}" if proxy else authority(url)
    if isinstance(error, aiohttp.ClientHttpProxyError):
        return ServiceRequestError(f"the {target} refused the connection: {error.status} {error.message}", error=error)
    if isinstance(error, aiohttp.ClientSSLError):
        return ServiceRequestError(f"TLS with {authority(url)} failed: {error}", error=error)
    if isinstance(error, aiohttp.ClientConnectorError):
        where = target if isinstance(error, aiohttp.ClientProxyConnectionError) else authority(url)
        return ServiceRequestError(f"could not connect to {where}: {error.os_error}", error=error)
    if isinstance(error, aiohttp.ConnectionTimeoutError):
        return ServiceRequestTimeoutError(f"could not connect to {target} within the connection timeout", error=error)
    if isinstance(error, (aiohttp.InvalidURL, ValueError)) and not isinstance(error, aiohttp.ClientResponseError):
        return ServiceRequestError(f"invalid request: {error}", error=error)
    if isinstance(error, asyncio.TimeoutError):
        return ServiceResponseTimeoutError(f"no response from {target} within the read timeout", error=error)
    return ServiceResponseError(f"the response from {target} failed: {_detail(error)}", error=error)


def _body_error(error: BaseException) -> AzureError:
    return body_failure(error, _detail(error), timed_out=isinstance(error, asyncio.TimeoutError))


def _detail(error: BaseException) -> str:
    if isinstance(error, aiohttp.ClientResponseError):
        return f"{error.status}, {error.message}"
    return str(error) or type(error).__name__
