"""The HTTP layer under the REST API and the client endpoint: aiohttp's low-level server, hardened.

It is aiohttp's `web.Server` rather than a `web.Application` because of what the application layer
does with hostile requests: its router matches the *decoded* path, so an id holding `%0A` missed
every route and got a bare text 404 before authentication, and the errors aiohttp answers by itself
(HTTP parser errors, router 404/405, uncaught exceptions) were plain text. Here:

* Routing is by prefix on the raw path; the handlers route the rest on raw segments themselves.
* Every error gets the service's JSON error body and `x-ms-error-code`, including the HTTP parser's
  own errors (through `RequestHandler.handle_error`, the hook aiohttp offers for them) and uncaught
  exceptions (500, logged). 405 answers carry `Allow`.
* A request must arrive in time: its head within the read timeout of the connection opening (later
  heads on a kept-alive connection: aiohttp's keep-alive timeout, set to the same value), its body
  within the read timeout of its head. The body is read (and its Content-Encoding undone) here,
  before any handler runs, so handlers never wait on a slow client and a too-large, undecodable or
  late body is answered in one place.
  Upgraded WebSocket connections are not affected.
"""
from __future__ import annotations

import asyncio
import logging
import re
import zlib
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, FrozenSet, Optional, Sequence

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger, AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader

from ._service_errors import RestError, error_response, method_not_allowed, no_operation, payload_too_large

logger = logging.getLogger("webpubsub_emulator")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_ERROR_CODES = {400: "Error.BadRequest", 404: "Error.NotFound", 405: "Error.MethodNotAllowed",
                408: "Error.RequestTimeout", 413: "Error.PayloadTooLarge", 415: "Error.UnsupportedMediaType",
                417: "Error.ExpectationFailed", 500: "Error.InternalServerError", 501: "Error.NotImplemented",
                504: "Error.Timeout"}

# Content-Encoding -> zlib wbits. Decoding here rather than in aiohttp because aiohttp passes a truncated
# gzip stream on as a shorter body, and decodes br/zstd only when optional packages happen to be installed.
_ZLIB_ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# Where the body waits for the handler (aiohttp 3.13 wants a typed key; older versions take a string).
_BODY: Any = (web.RequestKey("webpubsub_emulator.body", bytes) if hasattr(web, "RequestKey")
              else "webpubsub_emulator.body")
_SINGLE_HEADERS = ("Content-Type", "Content-Encoding")


def request_body(request: web.Request) -> bytes:
    """The request body, complete and decoded: the HTTP layer read it before calling the handler."""
    body: bytes = request.get(_BODY, b"")
    return body


def _decode(body: bytes, encoding: str, max_bytes: int) -> bytes:
    if encoding in ("", "identity"):
        return body
    wbits = _ZLIB_ENCODINGS.get(encoding)
    if wbits is None:
        raise _status_error(415, f"Content-Encoding '{encoding[:100]}' is not supported: send the body as is, "
                                 "or compressed with gzip or deflate.")
    decompressor = zlib.decompressobj(wbits)
    try:
        decoded = decompressor.decompress(body, max_bytes + 1)  # never more than one byte over the bound
    except zlib.error:
        raise _status_error(400, f"The request body is not valid {encoding} data.") from None
    if len(decoded) > max_bytes:
        raise payload_too_large(max_bytes)
    if not decompressor.eof or decompressor.unused_data:
        raise _status_error(400, f"The request body is not one complete {encoding} stream.")
    return decoded


@dataclass(frozen=True)
class Route:
    """`prefix` matches itself and every path below it (`/client` matches `/client/hubs/chat`)."""

    prefix: str
    handler: Handler
    methods: Optional[FrozenSet[str]] = None  # None: every method; the handler answers 405 itself

    def matches(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


def _status_error(status: int, message: str) -> RestError:
    code = _ERROR_CODES.get(status, "Error.BadRequest" if status < 500 else "Error.InternalServerError")
    return RestError(status, code, message, "Request")


def _detail(error: Optional[BaseException], message: Optional[str] = None) -> str:
    """The first line of aiohttp's explanation (the rest quotes the raw bytes), without end punctuation."""
    cause = getattr(error, "__cause__", None)  # RequestPayloadError wraps the parser's error
    text = message or getattr(error, "message", None) or getattr(cause, "message", None) or str(error or "")
    text = str(text).strip()
    return text.splitlines()[0].rstrip(":.") if text else ""


class _Protocol(web.RequestHandler):
    """aiohttp's per-connection protocol with the service's error body and a deadline for the first head."""

    def __init__(self, manager: "HttpServer", **options: Any) -> None:
        super().__init__(manager, **options)
        self._read_timeout = manager.read_timeout
        self._first_head_timer: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # Later heads are bounded by the keep-alive timeout; aiohttp before 3.14 does not bound the first.
        self._first_head_timer = asyncio.get_running_loop().call_later(self._read_timeout, self.force_close)

    def request_started(self) -> None:
        if self._first_head_timer is not None:
            self._first_head_timer.cancel()
            self._first_head_timer = None

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self.request_started()
        super().connection_lost(exc)

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # aiohttp reads what is left of a refused body before closing; a body we already refused as
        # unreadable fails again there. That is the client's fault, already answered: no traceback.
        if isinstance(kwargs.get("exc_info"), web.RequestPayloadError):
            logger.debug("dropped a connection whose request body cannot be read")
            return
        super().log_exception(*args, **kwargs)

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        """aiohttp calls this for requests its parser refused and for exceptions no handler caught."""
        if request.writer.output_size > 0:
            raise ConnectionError("the response has started; the connection is dropped instead")
        if status >= 500:
            self.log_exception("Error handling request", exc_info=exc)
            error = _status_error(status, "The emulator failed to handle the request.")
        else:
            logger.debug("refused a malformed request: %s", message or exc)
            detail = _detail(exc, message)
            error = _status_error(status, f"The request is not valid HTTP: {detail}." if detail
                                  else "The request is not valid HTTP.")
        response = error_response(error, head=request.method == "HEAD")
        response.force_close()
        return response


_TOKEN_IN_QUERY = re.compile(r"(?i)((?:^|[?&])(?:access_token|awps_reconnection_token)=)[^&#]*")


class RedactingAccessLogger(AbstractAccessLogger):
    """`--verbose`'s line per request, with the tokens clients pass in the query replaced: a log is no
    place for credentials (aiohttp's own access log prints the query as it came)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        target = _TOKEN_IN_QUERY.sub(r"\1REDACTED", request.raw_path)
        self.logger.info('%s "%s %s" %d %.3fs', request.remote, request.method, target, response.status, time)


class HttpServer(web.Server):
    """Dispatches to `routes` by raw-path prefix, after the whole request has arrived."""

    def __init__(self, routes: Sequence[Route], *, read_timeout: float, max_body_bytes: int,
                 access_log: Optional[logging.Logger]) -> None:
        self.read_timeout = read_timeout
        self._routes = tuple(routes)
        self._max_body_bytes = max_body_bytes
        self._protocol_options = {"keepalive_timeout": read_timeout, "access_log": access_log,
                                  "access_log_class": RedactingAccessLogger, "auto_decompress": False}
        super().__init__(self._handle, request_factory=self._make_web_request)

    def __call__(self) -> web.RequestHandler:
        return _Protocol(self, loop=asyncio.get_running_loop(), **self._protocol_options)

    def _make_web_request(self, message: RawRequestMessage, payload: StreamReader, protocol: web.RequestHandler,
                          writer: AbstractStreamWriter, task: "asyncio.Task[None]") -> web.BaseRequest:
        return web.Request(message, payload, protocol, writer, task, asyncio.get_running_loop(),
                           client_max_size=self._max_body_bytes)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if isinstance(request.protocol, _Protocol):
            request.protocol.request_started()
        assert isinstance(request, web.Request)
        head = request.method == "HEAD"
        try:
            route = self._route(request)
            for name in _SINGLE_HEADERS:  # aiohttp refuses these duplicates itself only since 3.10
                if len(request.headers.getall(name, ())) > 1:
                    raise _status_error(400, f"The request is not valid HTTP: Duplicate '{name}' header found.")
            if not await self._read_body(request):
                return await self._answer_then_close(request, _status_error(
                    408, f"The request body did not arrive within {self.read_timeout:g} seconds."))
            return await route.handler(request)
        except RestError as error:
            response = error_response(error, head=head)
        except web.HTTPException as exception:  # raised by aiohttp inside a handler, e.g. a bad handshake
            response = error_response(_status_error(exception.status, exception.text or exception.reason), head=head)
        if not request.content.is_eof():
            response.force_close()  # what is left of the body cannot be told apart from a next request
        return response

    def _route(self, request: web.Request) -> Route:
        path = request.raw_path.split("?", 1)[0]
        for route in self._routes:
            if route.matches(path):
                if route.methods is not None and request.method not in route.methods:
                    raise method_not_allowed(request.method, path, route.methods)
                return route
        raise no_operation(path)

    async def _read_body(self, request: web.Request) -> bool:
        """Read and decode the whole body now, for `request_body`; False if it is late."""
        if not request.body_exists:
            return True
        try:
            if request.content.is_eof():
                raw = await request.read()  # already here: no timer needed
            else:
                raw = await asyncio.wait_for(request.read(), self.read_timeout)
        except asyncio.TimeoutError:
            return False
        except web.HTTPRequestEntityTooLarge:
            raise payload_too_large(self._max_body_bytes) from None
        except web.RequestPayloadError as error:  # e.g. a broken chunked encoding
            raise _status_error(400, f"The request body cannot be read: {_detail(error)}.") from None
        encoding = request.headers.get("Content-Encoding", "").strip().lower()
        request[_BODY] = _decode(raw, encoding, self._max_body_bytes)
        return True

    @staticmethod
    async def _answer_then_close(request: web.Request, error: RestError) -> web.StreamResponse:
        """Answer a client that stopped sending, then close at once: aiohttp would otherwise linger,
        waiting for the rest of its body."""
        response = error_response(error, head=request.method == "HEAD")
        await response.prepare(request)
        await response.write_eof()
        request.protocol.force_close()
        return response
