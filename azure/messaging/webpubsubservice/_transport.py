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
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple
from urllib.parse import unquote

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
from urllib3.util import make_headers

from ._network import (
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
)
from ._policies import redact_url

# What urllib3 (and http.client under it) raise for a bad body: a negative chunk size is a ValueError,
# a huge one an OverflowError.
_BODY_ERRORS = (HTTPError, OSError, ValueError, OverflowError)
_MAX_POOLS = 64  # hosts (per proxy and TLS setting) with connections kept open


class _RedactedRequestLines(logging.Filter):
    """urllib3 logs every request line at DEBUG (``"GET /path?query HTTP/1.1" 200``): query values that
    carry secrets (``access_token=``) are redacted there as in the SDK's own log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactedRequestLines())


class Urllib3TransportResponse(ThinResponse, HttpResponseImpl):
    """An ``azure.core.rest.HttpResponse`` over a ``urllib3.BaseHTTPResponse``."""

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

    @staticmethod
    def stream_body(pipeline: Any, response: Any, *, decompress: bool = True, **kwargs: Any) -> Iterator[bytes]:
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


class Urllib3Transport(TransportOptions, HttpTransport):  # type: ignore[type-arg]
    """The sync transport used by default by :class:`WebPubSubServiceClient`.

    Connections are pooled per scheme, host, port, proxy and TLS settings (``connection_verify`` and
    ``connection_cert``, on the client or per call: urllib3 keys its pools by them), so a per-call opt-out
    never touches another call's connections.

    :keyword float connection_timeout: seconds to wait for a connection (default 300).
    :keyword float read_timeout: seconds to wait for response data (default 300).
    :keyword connection_verify: ``True`` (default), ``False``, or a CA bundle file or directory.
    :keyword connection_cert: a client certificate file, or ``(certfile, keyfile)``.
    :keyword proxies: ``{"http": url, "https": url}``; by default the ``*_PROXY``/``NO_PROXY`` environment
        variables, read once here. ``https://`` proxies are spoken to over TLS; ``user:password@`` in a proxy
        URL is sent as ``Proxy-Authorization``.
    :keyword int pool_maxsize: idle connections kept per host (default 32).
    """

    def __init__(self, *, pool_maxsize: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.connection_config
        self._timeout = urllib3.Timeout(connect=config.timeout, read=config.read_timeout)
        # block=False: a thread finding every pooled connection busy opens one more (kept if there is room),
        # so a streamed response the caller never closes cannot starve later calls.
        self._pool_options: Dict[str, Any] = {"num_pools": _MAX_POOLS, "maxsize": pool_maxsize, "block": False}
        self._managers: Dict[Optional[str], urllib3.PoolManager] = {None: urllib3.PoolManager(**self._pool_options)}
        # The pool for each (origin, proxy, verify, cert), as a manager would pick it minus its per-call parsing,
        # and the headers an http:// call through a proxy adds (None: a direct or tunnelled call).
        self._pools: Dict[Tuple[str, Optional[str], Verify, Cert], Tuple[Any, Optional[Dict[str, str]]]] = {}

    def open(self) -> None:
        pass

    def close(self) -> None:
        self._pools.clear()
        for manager in list(self._managers.values()):
            manager.clear()

    def __enter__(self) -> "Urllib3Transport":
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def send(self, request: HttpRequest, *, stream: bool = False, proxies: Optional[Mapping[str, str]] = None,
             **kwargs: Any) -> HttpResponse:
        config = self.connection_config
        url = request.url
        proxy = self.route(url, proxies)
        timeouts = self.timeouts(kwargs)
        timeout = self._timeout if timeouts is None else urllib3.Timeout(connect=timeouts[0], read=timeouts[1])
        path_start = url.find("/", url.find("://") + 3)
        origin, target = (url, "/") if path_start < 0 else (url[:path_start], url[path_start:])
        headers = request_headers(request)
        try:
            pool, forwarded = self._pool(origin, proxy, kwargs.get("connection_verify", config.verify),
                                         kwargs.get("connection_cert", config.cert))
            if forwarded is not None:  # an http:// call through a proxy: the proxy is given the whole URL
                target = url
                headers.update(forwarded)
            raw = pool.urlopen(request.method, target, body=request_body(request), headers=headers, retries=False,
                               redirect=False, assert_same_host=False, timeout=timeout, preload_content=False,
                               decode_content=False, enforce_content_length=True)  # urllib3 1.26 does not by default
        except (HTTPError, OSError, ValueError) as error:
            raise _azure_error(error, url, proxy) from error
        response = Urllib3TransportResponse(request, raw, config.data_block_size)
        _check_head(response)
        if not stream:
            response.load()
        return response

    def _pool(self, origin: str, proxy: Optional[str], verify: Verify,
              cert: Cert) -> Tuple[Any, Optional[Dict[str, str]]]:
        key = (origin, proxy, verify, cert)
        found = self._pools.get(key)
        if found is None:
            manager = self._managers.get(proxy)
            if manager is None and proxy is not None:
                # TLS to an https:// proxy uses the same CA settings as the service (urllib3 applies them to both).
                parsed = urllib3.util.parse_url(proxy)
                credentials = make_headers(proxy_basic_auth=unquote(parsed.auth)) if parsed.auth else None
                manager = self._managers.setdefault(proxy, urllib3.ProxyManager(
                    parsed._replace(auth=None).url, proxy_headers=credentials, **self._pool_options))
            assert manager is not None
            pool = manager.connection_from_url(origin, pool_kwargs=_tls_options(verify, cert))
            forwarded = proxy is not None and origin[:5].lower() == "http:"
            found = (pool, dict(getattr(manager, "proxy_headers")) if forwarded else None)
            if len(self._pools) >= _MAX_POOLS // 2:  # so a manager never evicts (closes) a pool kept here
                self._pools.clear()
            self._pools[key] = found
        return found


def _tls_options(verify: Verify, cert: Cert) -> Dict[str, Any]:
    """``connection_verify``/``connection_cert`` as urllib3's pool settings, which are part of its pool keys."""
    options: Dict[str, Any] = {"cert_reqs": "CERT_REQUIRED" if verify is not False else "CERT_NONE"}
    if isinstance(verify, str):
        options["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
    if cert:
        options["cert_file"], options["key_file"] = (cert, None) if isinstance(cert, str) else cert
    return options


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


def _wrapped(error: BaseException) -> Optional[BaseException]:
    """The library error a urllib3 ``HTTPError`` carries as its second argument, if any."""
    inner = error.args[1] if isinstance(error, HTTPError) and len(error.args) > 1 else None
    return inner if isinstance(inner, BaseException) else None


def _detail(error: BaseException) -> str:
    inner = _wrapped(error)
    return f"{error.args[0]} {inner!r}" if inner is not None else str(error) or type(error).__name__


def _tunnel_refused(error: BaseException) -> bool:
    """http.client reports a proxy that answers ``CONNECT`` with an error status as a bare ``OSError``."""
    inner = _wrapped(error) or error
    return isinstance(inner, OSError) and str(inner).startswith("Tunnel connection failed")


def _address(url: str, proxy: Optional[str]) -> str:
    """``host:port`` of the service, or ``proxy host:port`` of the proxy in front of it."""
    return f"proxy {authority(proxy)}" if proxy else authority(url)
