"""The default sync transport: a thin azure-core ``HttpTransport`` on urllib3.

urllib3 does the HTTP: parsing, keep-alive pools, proxies (``CONNECT`` tunnels, TLS to ``https://``
proxies) and TLS. This module maps azure-core's options onto it, bounds decoded bodies (``_network``) and
turns every library error into azure-core's family: ``ServiceRequestError`` when nothing reached the
service, ``ServiceResponseError`` when the request may have (their ``*TimeoutError`` subclasses for
timeouts), ``DecodeError`` for a body that cannot be decoded.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Tuple

import urllib3
from azure.core.exceptions import (
    AzureError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest, HttpResponse
from azure.core.rest._http_response_impl import HttpResponseImpl  # the documented base for transport responses
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from ._network import (
    BodyDecoder,
    Cert,
    ProxyRoutes,
    Verify,
    authority,
    body_failure,
    connection_config,
    decoded,
    request_body,
    request_headers,
    split_proxy_url,
)
from ._policies import redact_url

# What urllib3 (and http.client under it) raise for a bad body: a negative chunk size is a ValueError,
# a huge one an OverflowError.
_BODY_ERRORS = (HTTPError, OSError, ValueError, OverflowError)
_ManagerKey = Tuple[Optional[str], Verify, Cert]
_MAX_POOLS = 64  # hosts (per proxy and TLS setting) with connections kept open


class _RedactedRequestLines(logging.Filter):
    """urllib3 logs every request line at DEBUG (``"GET /path?query HTTP/1.1" 200``): query values that
    carry secrets (``access_token=``) are redacted there as in the SDK's own log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactedRequestLines())


class DirectAttributesMixin:
    """azure-core's responses send every attribute assignment through a back-compat hook that maps legacy
    public names (``internal_response``) onto private fields: a dozen Python calls per response. Ours are
    assigned directly; azure-core never assigns those names (``HttpResponse`` has them as read-only
    properties)."""

    __setattr__ = object.__setattr__


class Urllib3TransportResponse(DirectAttributesMixin, HttpResponseImpl):
    """An ``azure.core.rest.HttpResponse`` over a ``urllib3.BaseHTTPResponse``."""

    def __init__(self, request: HttpRequest, raw: urllib3.BaseHTTPResponse, block_size: int) -> None:
        headers = raw.headers  # case-insensitive; repeated fields read joined by ", "
        super().__init__(request=request, internal_response=raw, status_code=raw.status, reason=raw.reason or "",
                         content_type=headers.get("content-type"), headers=headers, block_size=block_size,
                         stream_download_generator=_stream_body)

    def load(self) -> None:
        raw: urllib3.BaseHTTPResponse = self._internal_response
        try:
            body = raw.read(decode_content=False)  # read whole, urllib3 gives the connection back to its pool
        except _BODY_ERRORS as error:
            self.close()
            raise _body_error(error) from error
        self._is_closed = True
        self._content = decoded(self._headers, body)

    def close(self) -> None:
        if not self._is_closed:
            self._is_closed = True
            raw: urllib3.BaseHTTPResponse = self._internal_response
            # A body read to its end was given back to the pool already; a socket left mid-body is closed.
            raw.close()
            raw.release_conn()

    def __del__(self) -> None:
        if not getattr(self, "_is_closed", True):  # a streamed response dropped unread: free its connection
            self.close()


def _stream_body(pipeline: Any, response: Urllib3TransportResponse, *, decompress: bool = True,
                 **kwargs: Any) -> Iterator[bytes]:
    raw: urllib3.BaseHTTPResponse = response._internal_response  # pylint: disable=protected-access
    decoder = BodyDecoder(response.headers.get("content-encoding") if decompress else None)
    try:
        for chunk in raw.stream(response._block_size, decode_content=False):  # pylint: disable=protected-access
            yield decoder.decode(chunk)
        tail = decoder.finish()
        if tail:
            yield tail
    except _BODY_ERRORS as error:
        raise _body_error(error) from error
    finally:
        response.close()


class Urllib3Transport(HttpTransport):  # type: ignore[type-arg]
    """The sync transport used by default by :class:`WebPubSubServiceClient`.

    Connections are pooled per scheme, host, port, proxy and TLS settings (``connection_verify`` and
    ``connection_cert``, on the client or per call), so a per-call opt-out never touches another call's
    connections.

    :keyword float connection_timeout: seconds to wait for a connection (default 300).
    :keyword float read_timeout: seconds to wait for response data (default 300).
    :keyword connection_verify: ``True`` (default), ``False``, or a CA bundle file or directory.
    :keyword connection_cert: a client certificate file, or ``(certfile, keyfile)``.
    :keyword proxies: ``{"http": url, "https": url}``; by default the ``*_PROXY``/``NO_PROXY`` environment
        variables, read once here. ``https://`` proxies are spoken to over TLS; ``user:password@`` in a proxy
        URL is sent as ``Proxy-Authorization``.
    :keyword int pool_maxsize: idle connections kept per host (default 32).
    """

    def __init__(self, *, connection_timeout: float = 300, read_timeout: float = 300,
                 connection_verify: Verify = True, connection_cert: Cert = None,
                 proxies: Optional[Mapping[str, str]] = None, use_env_settings: bool = True,
                 pool_maxsize: int = 32, connection_data_block_size: int = 65536, **kwargs: Any) -> None:
        self.connection_config = connection_config(connection_timeout, read_timeout, connection_verify,
                                                   connection_cert, connection_data_block_size)
        self._routes = ProxyRoutes(proxies, use_env_settings)
        self._pool_maxsize = pool_maxsize
        self._timeout = urllib3.Timeout(connect=connection_timeout, read=read_timeout)
        self._managers: Dict[_ManagerKey, urllib3.PoolManager] = {}
        self._pools: Dict[Tuple[str, Verify, Cert], urllib3.HTTPConnectionPool] = {}
        self._lock = threading.Lock()

    def open(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            managers = list(self._managers.values())
            self._managers.clear()
            self._pools.clear()
        for manager in managers:
            manager.clear()

    def __enter__(self) -> "Urllib3Transport":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def send(self, request: HttpRequest, *, stream: bool = False, proxies: Optional[Mapping[str, str]] = None,
             **kwargs: Any) -> HttpResponse:
        config = self.connection_config
        url = request.url
        proxy = self._routes.route(url, proxies)
        verify, cert = kwargs.get("connection_verify", config.verify), kwargs.get("connection_cert", config.cert)
        timeout = self._timeout
        if "connection_timeout" in kwargs or "read_timeout" in kwargs:
            timeout = urllib3.Timeout(connect=kwargs.get("connection_timeout", config.timeout),
                                      read=kwargs.get("read_timeout", config.read_timeout))
        try:
            send: Callable[..., urllib3.BaseHTTPResponse]
            if proxy is None:  # the pool itself, as PoolManager.urlopen would pick it, minus its per-call parsing
                pool, target = self._direct_pool(url, verify, cert)
                send = pool.urlopen
            else:
                send, target = self._manager((proxy, verify, cert)).urlopen, url
            raw = send(request.method, target, body=request_body(request), headers=request_headers(request),
                       retries=False, redirect=False, assert_same_host=False, timeout=timeout, preload_content=False,
                       decode_content=False, enforce_content_length=True)  # urllib3 1.26 does not by default
        except (HTTPError, OSError, ValueError) as error:
            raise _azure_error(error, url, proxy) from error
        response = Urllib3TransportResponse(request, raw, config.data_block_size)
        _check_head(response)
        if not stream:
            response.load()
        return response

    def _direct_pool(self, url: str, verify: Verify, cert: Cert) -> Tuple[urllib3.HTTPConnectionPool, str]:
        """The pool for ``scheme://host:port`` of ``url`` and the request target (path and query)."""
        path_start = url.find("/", url.find("://") + 3)
        origin, target = (url, "/") if path_start < 0 else (url[:path_start], url[path_start:])
        key = (origin, verify, cert)
        pool = self._pools.get(key)
        if pool is None:
            parsed = urllib3.util.parse_url(origin)
            pool = self._manager((None, verify, cert)).connection_from_host(parsed.host, parsed.port, parsed.scheme)
            with self._lock:
                if len(self._pools) >= _MAX_POOLS // 2:  # so the manager never evicts (closes) a pool kept here
                    self._pools.clear()
                self._pools[key] = pool
        return pool, target

    def _manager(self, key: _ManagerKey) -> urllib3.PoolManager:
        manager = self._managers.get(key)
        if manager is None:
            with self._lock:
                manager = self._managers.get(key)
                if manager is None:
                    manager = self._managers[key] = self._new_manager(*key)
        return manager

    def _new_manager(self, proxy: Optional[str], verify: Verify, cert: Cert) -> urllib3.PoolManager:
        # block=False: a thread finding every pooled connection busy opens one more (kept if there is room),
        # so a streamed response the caller never closes cannot starve later calls.
        options: Dict[str, Any] = {"num_pools": _MAX_POOLS, "maxsize": self._pool_maxsize, "block": False,
                                   "cert_reqs": "CERT_REQUIRED" if verify is not False else "CERT_NONE"}
        if isinstance(verify, str):
            options["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
        if cert:
            options["cert_file"], options["key_file"] = (cert, None) if isinstance(cert, str) else cert
        if proxy is None:
            return urllib3.PoolManager(**options)
        # TLS to an https:// proxy uses the same CA settings as the service (urllib3 applies them to both).
        proxy_url, authorization = split_proxy_url(proxy)
        return urllib3.ProxyManager(proxy_url, proxy_headers={"Proxy-Authorization": authorization} if authorization
                                    else None, **options)


def _check_head(response: Urllib3TransportResponse) -> None:
    status, headers = response.status_code, response.headers
    length = headers.get("content-length")
    if 100 <= status < 200:  # http.client skips "100 Continue" only: the final answer is still to come
        problem = f"an interim {status} response where the final response was due"
    elif length is not None and ("," in length or "transfer-encoding" in headers):
        # aiohttp refuses these; urllib3 accepts them, and they are known request smuggling vectors.
        problem = "a response with ambiguous framing (repeated Content-Length, or Content-Length beside " \
                  "Transfer-Encoding)"
    else:
        return
    response.close()
    raise ServiceResponseError(f"the server sent {problem}: refused")


def _azure_error(error: BaseException, url: str, proxy: Optional[str]) -> AzureError:
    """The azure-core error for a urllib3 failure: ``ServiceRequestError`` when the request cannot have
    reached the service, ``ServiceResponseError`` when it may have (never re-sent here: azure-core's
    ``RetryPolicy`` decides, and resends only idempotent methods)."""
    cause = error.original_error if isinstance(error, ProxyError) else error
    where = _address(url, proxy) if isinstance(error, ProxyError) or proxy is None else _address(url, None)
    if isinstance(cause, NewConnectionError):  # before ConnectTimeoutError: urllib3 derives it from that
        return ServiceRequestError(f"could not connect to {where}: {str(cause).split(': ', 1)[-1]}", error=error)
    if isinstance(cause, ConnectTimeoutError):
        return ServiceRequestTimeoutError(f"could not connect to {where} within the connection timeout", error=error)
    if isinstance(cause, SSLError):
        return ServiceRequestError(f"TLS with {where} failed: {cause}", error=error)
    if isinstance(error, ProxyError) or _tunnel_refused(error):
        return ServiceRequestError(f"the proxy {_address(url, proxy)} refused the connection: {cause}", error=error)
    if isinstance(error, ValueError):  # e.g. a line break in a header value, refused before anything is sent
        return ServiceRequestError(f"invalid request: {error}", error=error)
    if isinstance(error, ReadTimeoutError):
        return ServiceResponseTimeoutError(f"no response from {where} within the read timeout", error=error)
    return ServiceResponseError(f"the response from {where} failed: {_detail(error)}", error=error)


def _body_error(error: BaseException) -> AzureError:
    return body_failure(error, _detail(error), timed_out=isinstance(error, ReadTimeoutError))


def _detail(error: BaseException) -> str:
    inner = error.args[1] if isinstance(error, HTTPError) and len(error.args) > 1 else None
    return f"{error.args[0]} {inner!r}" if isinstance(inner, BaseException) else str(error) or type(error).__name__


def _tunnel_refused(error: BaseException) -> bool:
    """http.client reports a proxy that answers ``CONNECT`` with an error status as a bare ``OSError``."""
    inner = error.args[1] if isinstance(error, HTTPError) and len(error.args) > 1 else error
    return isinstance(inner, OSError) and str(inner).startswith("Tunnel connection failed")


def _address(url: str, proxy: Optional[str]) -> str:
    """``host:port`` of the service, or ``proxy host:port`` of the proxy in front of it."""
    return f"proxy {authority(split_proxy_url(proxy)[0])}" if proxy else authority(url)
