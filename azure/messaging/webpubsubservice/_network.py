"""What the two default transports share, free of I/O: proxy routes, TLS choices, request bodies and
bounded decoding of compressed response bodies.

The HTTP work itself (parsing, pooling, proxy tunnels, TLS) is urllib3's and aiohttp's; this module only
turns azure-core's options into theirs, so that both transports make the same choices.
"""

from __future__ import annotations

import os
import ssl
import urllib.request
import zlib
from typing import Any, Dict, Mapping, Optional, Tuple, Union, cast
from urllib.parse import urlsplit

from azure.core.configuration import ConnectionConfiguration
from azure.core.exceptions import (
    AzureError,
    DecodeError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest

Verify = Union[bool, str]
Cert = Union[None, str, Tuple[str, str]]

# Web PubSub answers with small JSON: the largest response, a page of 200 group members, is well under
# 1 MiB (the service's own limit for request bodies). 16 MiB leaves room for a reverse proxy's error
# pages while a "gzip bomb" (1,000:1 and more) stops after a few KiB of input instead of filling memory.
MAX_DECODED_BODY_BYTES = 16 * 1024 * 1024
# The official SDK (through requests) advertises these; both transports decode exactly these, bounded.
ACCEPT_ENCODING = "gzip, deflate"
# The service answers with about ten header fields. http.client (under urllib3) refuses more than 100;
# aiohttp only counts them from 3.14 (Python 3.10+), so the async transport checks the same limit itself.
MAX_RESPONSE_HEADERS = 100


class TransportOptions:
    """The azure-core options both default transports take, read once when the client is built.

    ``connection_config`` is where azure-core keeps them (its ``RetryPolicy`` reads the timeout there).
    Proxies: ``proxies=`` (``{"http": url, "https": url, "all": url}``) wins; without it the
    ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and ``NO_PROXY`` environment variables apply
    (``use_env_settings=False`` ignores them), read here and not per request.
    """

    def __init__(self, *, connection_timeout: float = 300, read_timeout: float = 300,
                 connection_verify: Verify = True, connection_cert: Cert = None,
                 proxies: Optional[Mapping[str, str]] = None, use_env_settings: bool = True,
                 connection_data_block_size: int = 65536, **kwargs: Any) -> None:
        self.connection_config = ConnectionConfiguration(
            connection_timeout=connection_timeout, read_timeout=read_timeout, connection_verify=connection_verify,
            connection_cert=cast(Any, connection_cert), connection_data_block_size=connection_data_block_size)
        self._bypass: Dict[str, bool] = {}
        self._no_proxy: Optional[str] = None
        if proxies is not None:
            self._proxies = dict(proxies)
        elif use_env_settings:
            self._proxies = urllib.request.getproxies()
            self._no_proxy = self._proxies.pop("no", None)
        else:
            self._proxies = {}

    def timeouts(self, options: Mapping[str, Any]) -> Optional[Tuple[float, float]]:
        """Per-call ``(connection_timeout, read_timeout)``, or None when the call keeps the client's."""
        if "connection_timeout" not in options and "read_timeout" not in options:
            return None
        config = self.connection_config
        return options.get("connection_timeout", config.timeout), options.get("read_timeout", config.read_timeout)

    def route(self, url: str, per_call: Optional[Mapping[str, str]] = None) -> Optional[str]:
        """The proxy URL (always with a scheme) for ``url``, or None to connect directly."""
        proxies = per_call or self._proxies
        if not proxies:
            return None
        scheme = url.partition(":")[0].lower()
        proxy = proxies.get(scheme) or proxies.get("all")
        if not proxy or self._no_proxy and not per_call and self._bypasses(urlsplit(url).hostname or ""):
            return None
        return proxy if "://" in proxy else "http://" + proxy

    def _bypasses(self, host: str) -> bool:
        bypass = self._bypass.get(host)
        if bypass is None:
            check: Any = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]  # not in typeshed
            bypass = bool(check(host, {"no": self._no_proxy}))
            if len(self._bypass) < 1024:
                self._bypass[host] = bypass
        return bypass


class ThinResponse:
    """What both transports' responses share: azure-core's ``HttpResponseImpl`` (or its async twin) over the
    library's response object, whose ``status``, ``reason`` and case-insensitive ``headers`` read alike.

    azure-core's responses send every attribute assignment through a back-compat hook that maps legacy
    public names (``internal_response``) onto private fields: a dozen Python calls per response. Ours are
    assigned directly; azure-core never assigns those names (``HttpResponse`` has them as read-only
    properties).
    """

    __setattr__ = object.__setattr__

    def __init__(self, request: HttpRequest, raw: Any, block_size: int) -> None:
        super().__init__(  # type: ignore[call-arg]
            request=request, internal_response=raw, status_code=raw.status, reason=raw.reason or "",
            content_type=raw.headers.get("content-type"), headers=raw.headers, block_size=block_size,
            stream_download_generator=self.stream_body)

    @staticmethod
    def stream_body(pipeline: Any, response: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


def authority(url: str) -> str:
    """``host:port`` of an http(s) URL, for error messages (IPv6 hosts in brackets)."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        port = "?"  # type: ignore[assignment]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def tls_context(verify: Verify, cert: Cert) -> ssl.SSLContext:
    """An ``SSLContext`` for azure-core's ``connection_verify`` (True, False or a CA bundle file or
    directory) and ``connection_cert`` (a file with certificate and key, or ``(certfile, keyfile)``)."""
    if isinstance(verify, str):
        is_folder = os.path.isdir(verify)
        context = ssl.create_default_context(cafile=None if is_folder else verify, capath=verify if is_folder else None)
    else:
        context = ssl.create_default_context()
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


def request_body(request: HttpRequest) -> Optional[bytes]:
    """The body as bytes: the service's bodies are small (at most 1 MiB), so streams are read whole."""
    content: Any = getattr(request, "content", None)
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
    if isinstance(content, dict) or getattr(request, "files", None):
        raise ServiceRequestError("multipart and form bodies are not supported by the default transport; "
                                  "pass transport=RequestsTransport() to send them")
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk) for chunk in content)


def request_headers(request: HttpRequest) -> Dict[str, str]:
    """The headers to send, names lower-cased (HTTP field names are case-insensitive; HTTP/2 requires it).

    Content-Length is left to the library, which frames the body itself: azure-core's counts the characters
    of a str body, which is short for non-ASCII text.
    """
    headers: Any = request.headers
    # azure-core's CaseInsensitiveDict keeps the lower-cased names: reading them is 5x cheaper than items()
    pairs = headers.lowerkey_items() if hasattr(headers, "lowerkey_items") else (
        (name.lower(), value) for name, value in headers.items())
    result = {name: value for name, value in pairs if name != "content-length"}
    if "accept-encoding" not in result:
        result["accept-encoding"] = ACCEPT_ENCODING
    return result


class BodyDecoder:
    """Decodes a ``gzip`` or ``deflate`` response body chunk by chunk, refusing to produce more than
    ``MAX_DECODED_BODY_BYTES``. Other codings pass through undecoded, as urllib3 and aiohttp leave them.

    Corrupt, truncated or oversized bodies raise azure-core's ``DecodeError``, never ``zlib.error``.
    """

    def __init__(self, content_encoding: Optional[str], limit: int = MAX_DECODED_BODY_BYTES) -> None:
        coding = (content_encoding or "").strip().lower()
        gzip = 16 + zlib.MAX_WBITS
        self._wbits = {"gzip": gzip, "x-gzip": gzip, "deflate": zlib.MAX_WBITS}.get(coding)
        self._coding = coding
        self._remaining = limit
        self._limit = limit
        self._inflate = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False

    def decode(self, data: bytes) -> bytes:
        if self._inflate is None or not data:
            return data
        if not self._started and self._wbits == zlib.MAX_WBITS and data[:1] and (data[0] & 0x0F) != 8:
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent raw, without the zlib header
        self._started = True
        output = bytearray()
        while data:
            try:
                piece = self._inflate.decompress(data, self._remaining + 1)
            except zlib.error as error:
                raise DecodeError(f"the {self._coding} response body is corrupt: {error}", error=error) from error
            self._take(len(piece))
            output += piece
            data = self._inflate.unused_data
            if data and self._wbits == 16 + zlib.MAX_WBITS:  # the next member of a multi-member gzip body
                self._inflate = zlib.decompressobj(self._wbits)
            elif data:
                raise DecodeError(f"the {self._coding} response body has data after its end")
        return bytes(output)

    def finish(self) -> bytes:
        if self._inflate is None or not self._started:
            return b""
        tail = self._inflate.flush()
        self._take(len(tail))
        if not self._inflate.eof:
            raise DecodeError(f"the {self._coding} response body is truncated or corrupt")
        return tail

    def _take(self, produced: int) -> None:
        self._remaining -= produced
        if self._remaining < 0:
            raise DecodeError(f"the {self._coding} response body decodes to more than {self._limit} bytes "
                              "(MAX_DECODED_BODY_BYTES): refused as a likely decompression bomb")


def decoded(headers: Mapping[str, str], body: bytes) -> bytes:
    """A whole body, decoded as ``BodyDecoder`` decodes a stream."""
    coding = headers.get("content-encoding")
    if not coding:
        return body
    decoder = BodyDecoder(coding)
    return decoder.decode(body) + decoder.finish()


def body_failure(error: BaseException, detail: str, timed_out: bool) -> AzureError:
    """The error for a response body that stopped arriving or broke off: the request has reached the service."""
    if timed_out:
        return ServiceResponseTimeoutError("the response body stalled beyond the read timeout", error=error)
    return ServiceResponseError(f"the response body failed: {detail}", error=error)

