"""Pipeline policies specific to Web PubSub: access-key JWT signing, reverse proxies, redacted tracing."""

from __future__ import annotations

import json
import logging
import random
import re
import time
from typing import Any, Dict, Tuple

from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import RequestIdPolicy, SansIOHTTPPolicy

from . import _jwt

LOGGER = logging.getLogger("azure.messaging.webpubsubservice")

TOKEN_LIFETIME_SECONDS = 300
_TOKEN_REUSE_SECONDS = 60  # a token is reused for the same URL while it has >= 4 minutes to live


class AccessKeyJwtPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Signs each request with an HS256 JWT whose ``aud`` is the full request URL.

    The key is read from the credential on every request, so ``credential.update()`` applies at once.
    Runs before any URL rewriting (reverse proxy), so the audience is always the service URL.
    """

    def __init__(self, credential: AzureKeyCredential) -> None:
        self._credential = credential
        self._recent: Dict[Tuple[str, str], Tuple[float, str]] = {}

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        request.http_request.headers["Authorization"] = "Bearer " + self.token_for(request.http_request.url)

    def token_for(self, url: str) -> str:
        key = self._credential.key
        now = time.time()
        cached = self._recent.get((key, url))
        if cached is not None and now - cached[0] < _TOKEN_REUSE_SECONDS:
            return cached[1]
        issued = int(now)
        token = _jwt.encode({"aud": url, "iat": issued, "exp": issued + TOKEN_LIFETIME_SECONDS}, key)
        if len(self._recent) > 256:
            self._recent.clear()
        self._recent[(key, url)] = (now, token)
        return token


def random_request_id() -> str:
    """A random (version 4) UUID from the ``random`` module, which reseeds in forked children.

    ``uuid.uuid1()``, azure-core's choice, asks libuuid for a time-based id, which on Linux tries the
    ``uuidd`` socket on every call (three system calls, about 9 microseconds); ``uuid.uuid4()`` reads
    ``os.urandom``, a system call too. A request id has to be unique, not unpredictable.
    """
    bits = random.getrandbits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
    digits = "%032x" % bits
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class RandomRequestIdPolicy(RequestIdPolicy):
    """azure-core's ``RequestIdPolicy`` with random ids (:func:`random_request_id`) instead of time-based ones.

    Per-call ``request_id=`` and the ``request_id``/``auto_request_id`` settings behave as in azure-core.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._header = kwargs.get("request_id_header_name", "x-ms-client-request-id")
        self._random_ids = kwargs.get("auto_request_id", True) and "request_id" not in kwargs

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        headers = request.http_request.headers
        if self._random_ids and "request_id" not in request.context.options and self._header not in headers:
            headers[self._header] = random_request_id()
        super().on_request(request)


class ReverseProxyPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Sends requests to a reverse proxy (e.g. API Management) in front of the service."""

    def __init__(self, endpoint: str, proxy_endpoint: str) -> None:
        self._endpoint = endpoint
        self._proxy = proxy_endpoint

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        url: str = request.http_request.url
        if url.startswith(self._endpoint):
            request.context["webpubsub_service_url"] = url
            request.http_request.url = self._proxy + url[len(self._endpoint):]

    # The rewrite is undone once the attempt is over: a retry must be signed for the service URL again.
    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:  # type: ignore[type-arg]
        self._restore(request)

    def on_exception(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        self._restore(request)

    @staticmethod
    def _restore(request: PipelineRequest) -> None:  # type: ignore[type-arg]
        url = request.context.get("webpubsub_service_url")
        if url is not None:
            request.http_request.url = url


_SECRET_QUERY = re.compile(r"((?:access_token|sig|code)=)[^&]+", re.IGNORECASE)
_REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "ocp-apim-subscription-key"})
_REDACTED = "REDACTED"


def redact_url(url: str) -> str:
    return _SECRET_QUERY.sub(r"\1" + _REDACTED, url)


def _redact_body(body: Any) -> str:
    if body is None or body == b"" or body == "":
        return "(no body)"
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return f"({len(body)} bytes of binary data)"
    if not isinstance(body, str):
        return f"({type(body).__name__} body)"
    try:
        loaded = json.loads(body)
    except ValueError:
        return body
    if isinstance(loaded, dict) and "token" in loaded:
        loaded["token"] = _REDACTED
        return json.dumps(loaded)
    return body


class RedactedTraceLoggingPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """With ``logging_enable=True`` (client-wide or per call), logs requests and responses at DEBUG.

    Secrets never reach the log: ``Authorization`` and cookie headers, ``access_token`` query values and
    tokens in response bodies are replaced by ``REDACTED``.
    """

    def __init__(self, logging_enable: bool = False) -> None:
        self._enabled = logging_enable

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        enabled = request.context.options.pop("logging_enable", self._enabled)
        request.context["logging_enable"] = enabled
        if not (enabled and LOGGER.isEnabledFor(logging.DEBUG)):
            return
        http_request = request.http_request
        LOGGER.debug("Request: %s %s", http_request.method, redact_url(http_request.url))
        _log_headers("Request", http_request.headers)
        LOGGER.debug("Request body: %s", _redact_body(getattr(http_request, "content", None)))

    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:  # type: ignore[type-arg]
        if not (request.context.get("logging_enable") and LOGGER.isEnabledFor(logging.DEBUG)):
            return
        http_response = response.http_response
        LOGGER.debug("Response: %s %s", http_response.status_code, http_response.reason)
        _log_headers("Response", http_response.headers)
        if request.context.options.get("stream"):
            LOGGER.debug("Response body: (streamed)")
        else:
            try:
                LOGGER.debug("Response body: %s", _redact_body(http_response.content))
            except Exception:  # pylint: disable=broad-except
                LOGGER.debug("Response body: (not read)")


def _log_headers(prefix: str, headers: Any) -> None:
    for name, value in headers.items():
        LOGGER.debug("%s header %s: %s", prefix, name, _REDACTED if name.lower() in _REDACTED_HEADERS else value)

