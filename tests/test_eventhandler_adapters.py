"""The ASGI and WSGI adapters on real loopback servers (uvicorn, wsgiref), alone and as middleware."""

from __future__ import annotations

import http.client
import io
import socket
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Tuple
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from azure.messaging.webpubsubservice.eventhandler import (
    ConnectResponse,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
)
from azure.messaging.webpubsubservice.eventhandler._keys import expected_signature
from eventhandler_test_servers import serve_asgi, serve_wsgi

KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
TIMEOUT_SECONDS = 5

Reply = Tuple[int, List[Tuple[str, str]], bytes]


def request(base_url: str, method: str, path: str, headers: Dict[str, str], body: bytes = b"") -> Reply:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=TIMEOUT_SECONDS)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def event(event_type: str, content_type: str = "application/json", connection_id: str = "conn1") -> Dict[str, str]:
    return {
        "Content-Type": content_type,
        "ce-specversion": "1.0",
        "ce-awpsversion": "1.0",
        "ce-type": event_type,
        "ce-hub": "chat",
        "ce-connectionId": connection_id,
        "ce-eventName": event_type.rsplit(".", 1)[-1],
        "ce-signature": expected_signature(KEY, connection_id),
        "WebHook-Request-Origin": "localhost",
    }


def header_values(headers: List[Tuple[str, str]], name: str) -> List[str]:
    return [value for header_name, value in headers if header_name.lower() == name.lower()]


def echo(request: UserEventRequest) -> UserEventResponse:
    return UserEventResponse({"echo": request.data})


async def echo_async(request: UserEventRequest) -> UserEventResponse:
    return UserEventResponse({"echo": request.data})


def make_handler(**options: Any) -> WebPubSubEventHandler:
    options.setdefault("on_user_event", echo)
    return WebPubSubEventHandler(
        "chat",
        allowed_origins=["localhost", "127.0.0.1"],
        access_keys=[KEY],
        on_connect=lambda request: ConnectResponse(user_id=request.claims.get("sub", ["anonymous"])[0]),
        **options,
    )


def wrapped_starlette() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("home page"))])


def wrapped_flask() -> Flask:
    flask_app = Flask(__name__)
    flask_app.add_url_rule("/", "home", lambda: "home page")
    return flask_app


Server = Callable[[WebPubSubEventHandler], ContextManager[str]]


@contextmanager
def asgi_alone(handler: WebPubSubEventHandler) -> Iterator[str]:
    with serve_asgi(handler.as_asgi_app()) as base_url:
        yield base_url


@contextmanager
def wsgi_alone(handler: WebPubSubEventHandler) -> Iterator[str]:
    with serve_wsgi(handler.as_wsgi_app()) as base_url:
        yield base_url


SERVERS = pytest.mark.parametrize("serve", [asgi_alone, wsgi_alone], ids=["asgi", "wsgi"])


@SERVERS
def test_handshake_over_http(serve: Server) -> None:
    with serve(make_handler()) as base_url:
        status, headers, _ = request(
            base_url, "OPTIONS", "/eventhandler", {"WebHook-Request-Origin": "localhost, 127.0.0.1"}
        )
    assert status == 200
    assert header_values(headers, "WebHook-Allowed-Origin") == ["localhost", "127.0.0.1"]


@SERVERS
def test_connect_over_http(serve: Server) -> None:
    with serve(make_handler()) as base_url:
        reply = request(
            base_url, "POST", "/eventhandler", event("azure.webpubsub.sys.connect"), b'{"claims":{"sub":["alice"]}}'
        )
    status, headers, body = reply
    assert (status, body) == (200, b'{"userId":"alice"}')
    assert header_values(headers, "Content-Type") == ["application/json; charset=utf-8"]


@SERVERS
def test_user_event_reply_over_http(serve: Server) -> None:
    with serve(make_handler()) as base_url:
        status, _, body = request(
            base_url, "POST", "/eventhandler", event("azure.webpubsub.user.message", "text/plain"), b"hi"
        )
    assert (status, body) == (200, b'{"echo":"hi"}')


@SERVERS
def test_coroutine_callback_over_http(serve: Server) -> None:
    with serve(make_handler(on_user_event=echo_async)) as base_url:
        status, _, body = request(
            base_url, "POST", "/eventhandler", event("azure.webpubsub.user.message", "text/plain"), b"hi"
        )
    assert (status, body) == (200, b'{"echo":"hi"}')


@SERVERS
def test_forged_event_over_http_is_refused(serve: Server) -> None:
    headers = event("azure.webpubsub.user.message", "text/plain")
    headers["ce-signature"] = expected_signature("not-the-key", "conn1")
    with serve(make_handler()) as base_url:
        status, _, body = request(base_url, "POST", "/eventhandler", headers, b"hi")
    assert (status, body) == (401, b"ce-signature is missing or does not match any access key")


@SERVERS
def test_declared_oversized_body_is_refused_before_reading(serve: Server) -> None:
    # Only the headers are sent: the answer must come without waiting for (or reading) the body.
    headers = "".join(f"{name}: {value}\r\n" for name, value in event("azure.webpubsub.user.message").items())
    with serve(make_handler(max_body_size=10)) as base_url:
        address = urlsplit(base_url)
        with socket.create_connection((address.hostname, address.port), timeout=TIMEOUT_SECONDS) as client:
            client.sendall(f"POST /eventhandler HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n{headers}\r\n".encode())
            status_line = client.makefile("rb").readline()
    assert status_line.startswith(b"HTTP/1.1 413 ") or status_line.startswith(b"HTTP/1.0 413 ")


@SERVERS
def test_no_content_reply_over_http(serve: Server) -> None:
    with serve(make_handler(on_user_event=lambda request: None)) as base_url:
        status, _, body = request(
            base_url, "POST", "/eventhandler", event("azure.webpubsub.user.message", "text/plain"), b"hi"
        )
    assert (status, body) == (204, b"")


@SERVERS
def test_other_paths_are_404_without_a_wrapped_app(serve: Server) -> None:
    with serve(make_handler()) as base_url:
        status, _, _ = request(base_url, "GET", "/", {})
    assert status == 404


def test_asgi_middleware_passes_other_paths_to_the_wrapped_app() -> None:
    handler = make_handler()
    with serve_asgi(handler.as_asgi_app(wrapped_starlette())) as base_url:
        assert request(base_url, "GET", "/", {})[2] == b"home page"
        assert (
            request(base_url, "POST", "/eventhandler", event("azure.webpubsub.user.message", "text/plain"), b"hi")[0]
            == 200
        )


def test_asgi_app_can_be_mounted_in_fastapi() -> None:
    fastapi_app = FastAPI()
    fastapi_app.mount("/webpubsub", make_handler().as_asgi_app())
    with serve_asgi(fastapi_app) as base_url:
        status, _, body = request(
            base_url, "POST", "/webpubsub/eventhandler", event("azure.webpubsub.user.message", "text/plain"), b"hi"
        )
    assert (status, body) == (200, b'{"echo":"hi"}')


def test_wsgi_middleware_passes_other_paths_to_flask() -> None:
    flask_app = wrapped_flask()
    flask_app.wsgi_app = make_handler().as_wsgi_app(flask_app.wsgi_app)  # type: ignore[method-assign]
    with serve_wsgi(flask_app) as base_url:
        assert request(base_url, "GET", "/", {})[2] == b"home page"
        assert (
            request(base_url, "POST", "/eventhandler", event("azure.webpubsub.user.message", "text/plain"), b"hi")[0]
            == 200
        )


def chunked_request(base_url: str, headers: Dict[str, str], body: bytes) -> Tuple[int, bytes]:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=TIMEOUT_SECONDS)
    try:
        connection.request("POST", "/eventhandler", body=iter([body]), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_asgi_reads_chunked_bodies_up_to_the_limit() -> None:
    headers = event("azure.webpubsub.user.message", "text/plain")
    with asgi_alone(make_handler(max_body_size=10)) as base_url:
        assert chunked_request(base_url, headers, b"hi") == (200, b'{"echo":"hi"}')
        assert chunked_request(base_url, headers, b"x" * 11)[0] == 413


def test_wsgi_refuses_chunked_bodies_it_cannot_read() -> None:
    # Called directly: over a socket, closing with the chunks unread races the client with a reset.
    statuses: List[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/eventhandler",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(b"2\r\nhi\r\n0\r\n\r\n"),
    }
    body = make_handler().as_wsgi_app()(environ, lambda status, headers: statuses.append(status))
    assert statuses == ["411 Length Required"]
    assert b"".join(body) == b"send Content-Length: this WSGI server cannot read chunked bodies"
