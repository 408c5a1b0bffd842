"""The HTTP layer under hostile requests: every malformed request gets the service's JSON error body
(never a 500, never aiohttp's plain text), slow requests are dropped, and the emulator keeps serving."""
from __future__ import annotations

import gzip
import socket
import time
import zlib
from typing import Callable, Iterator, List

import pytest
from emulator_core_helpers import client_token, rest
from emulator_core_helpers import connect as connect_client
from emulator_hostile_helpers import (assert_service_error, assert_still_serving, call, closed_within, connect,
                                      exchange, read_response, request_bytes)

from webpubsub_emulator import Emulator

SEND = "/api/hubs/chat/:send?api-version=2024-12-01"


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


# -- errors aiohttp's HTTP parser raises ---------------------------------------------------------------
@pytest.mark.parametrize("raw, detail", [
    (b"FOO /api/hubs/chat/:send HTTP/1.1\r\nHost: x\r\n\r\n", "Invalid method encountered"),
    (b"POST /api/hubs/chat/:send HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: text/plain\r\n"
     b"Content-Length: 2\r\n\r\nhi", "Duplicate 'Content-Type' header found"),
    ("GET /api/hubs/chat/users/\u00e9 HTTP/1.1\r\nHost: x\r\n\r\n".encode("utf-8"), "Invalid char in url path"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 9000 + b"\r\n\r\n", None),
    (b"POST /api/hubs/chat/:send HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", None),
    (b"POST /api/hubs/chat/:send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", None),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", None),  # a TLS ClientHello on the plain-HTTP port
], ids=["unknown method", "duplicate content-type", "raw utf-8 in path", "header too long",
        "conflicting content-length", "bad chunk size", "tls handshake"])
def test_parser_errors_get_the_service_error_body_and_the_emulator_keeps_serving(
        emu: Emulator, raw: bytes, detail: str) -> None:
    body = assert_service_error(exchange(emu, raw), 400, "Error.BadRequest")
    assert body["message"].startswith("The request is not valid HTTP")
    if detail:
        assert body["message"] == f"The request is not valid HTTP: {detail}."
    assert_still_serving(emu)


# -- routing on the raw path ---------------------------------------------------------------------------
def test_encoded_newline_in_an_id_is_routed_and_authenticated_like_any_id(emu: Emulator) -> None:
    target = "/api/hubs/chat/users/a%0Ab/:send?api-version=2024-12-01"
    assert call(emu, "POST", target, b"hi", ["Content-Type: text/plain"]).status == 202
    assert call(emu, "POST", target, b"hi", ["Content-Type: text/plain"], token=None).status == 401


def test_unknown_path_is_404_with_the_error_body(emu: Emulator) -> None:
    body = assert_service_error(call(emu, "GET", "/nothing%0Ahere", token=None), 404, "Error.NotFound")
    assert body["message"] == "No operation at '/nothing%0Ahere'."


def test_head_of_unknown_path_is_404_with_error_code_and_no_body(emu: Emulator) -> None:
    response = call(emu, "HEAD", "/nothing", token=None)
    assert (response.status, response.body, response.headers["x-ms-error-code"]) == (404, b"", "Error.NotFound")


@pytest.mark.parametrize("method, target, allowed", [
    ("GET", SEND, "POST"),
    ("POST", "/api/hubs/chat/groups/g/connections/c?api-version=2024-12-01", "DELETE, PUT"),
    ("PATCH", "/api/hubs/chat/permissions/sendToGroup/connections/c?targetName=g", "DELETE, HEAD, PUT"),
])
def test_405_names_the_allowed_methods(emu: Emulator, method: str, target: str, allowed: str) -> None:
    response = call(emu, method, target)
    assert_service_error(response, 405, "Error.MethodNotAllowed")
    assert response.headers["Allow"] == allowed


def test_client_endpoint_answers_other_methods_with_405_and_allow_get(emu: Emulator) -> None:
    response = call(emu, "POST", "/client/hubs/chat", token=None)
    assert_service_error(response, 405, "Error.MethodNotAllowed")
    assert response.headers["Allow"] == "GET"


def test_broken_websocket_handshake_gets_the_error_body(emu: Emulator) -> None:
    response = call(emu, "GET", f"/client/hubs/chat?access_token={client_token(emu)}",
                    headers=["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"], token=None)
    assert_service_error(response, 400, "Error.BadRequest")  # no Sec-WebSocket-Key
    assert_still_serving(emu)


# -- bodies ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding, body, message", [
    ("gzip", b"plain text, not compressed", "The request body is not valid gzip data."),
    ("deflate", b"plain text, not compressed", "The request body is not valid deflate data."),
    ("gzip", b"x", "The request body is not one complete gzip stream."),  # too short to fail on its own
    ("gzip", gzip.compress(b"a long enough message")[:-8], "The request body is not one complete gzip stream."),
    ("gzip", gzip.compress(b"message") + b"trailing", "The request body is not one complete gzip stream."),
], ids=["gzip", "deflate", "one byte", "truncated", "trailing bytes"])
def test_body_that_is_not_what_its_content_encoding_says_is_400(emu: Emulator, encoding: str, body: bytes,
                                                                 message: str) -> None:
    response = call(emu, "POST", SEND, body, ["Content-Type: text/plain", f"Content-Encoding: {encoding}"])
    assert assert_service_error(response, 400, "Error.BadRequest")["message"] == message
    assert_still_serving(emu)


@pytest.mark.parametrize("encoding", ["br", "zstd", "x-unknown", "gzip, deflate", "compress"])
def test_content_encoding_the_emulator_cannot_undo_is_415(emu: Emulator, encoding: str) -> None:
    response = call(emu, "POST", SEND, b"hi", ["Content-Type: text/plain", f"Content-Encoding: {encoding}"])
    assert_service_error(response, 415, "Error.UnsupportedMediaType")


@pytest.mark.asyncio
@pytest.mark.parametrize("encoding, compress", [("gzip", gzip.compress), ("deflate", zlib.compress)])
async def test_compressed_bodies_are_decoded(emu: Emulator, encoding: str, compress: Callable[[bytes], bytes]) -> None:
    client = await connect_client(emu)  # the emulator runs in its own thread: blocking calls are fine here
    response = call(emu, "POST", SEND, compress(b"zipped"), ["Content-Type: text/plain",
                                                              f"Content-Encoding: {encoding}"])
    assert response.status == 202
    assert (await client.receive_data())["data"] == "zipped"
    await client.close()


def test_body_over_one_mebibyte_after_decompression_is_413(emu: Emulator) -> None:
    bomb = gzip.compress(b"a" * (1024 * 1024 + 1))
    response = call(emu, "POST", SEND, bomb, ["Content-Type: text/plain", "Content-Encoding: gzip"])
    assert_service_error(response, 413, "Error.PayloadTooLarge")
    assert_still_serving(emu)


def test_body_shorter_than_its_content_length_is_dropped_after_the_read_timeout() -> None:
    with Emulator(read_timeout=0.5) as emu:
        with connect(emu) as sock:
            sock.sendall(request_bytes(emu, "POST", SEND, body=b"only", headers=[
                "Content-Type: text/plain", "Content-Length: 100"]))
            response = read_response(sock, "POST")
            assert_service_error(response, 408, "Error.RequestTimeout")
            assert closed_within(sock, 2)
        assert_still_serving(emu)


# -- requests that never finish ---------------------------------------------------------------------
def test_connections_whose_heads_or_bodies_never_finish_are_dropped_after_the_read_timeout() -> None:
    with Emulator(read_timeout=0.5) as emu:
        silent = [connect(emu) for _ in range(20)]
        half_head: List[socket.socket] = []
        half_body: List[socket.socket] = []
        for _ in range(20):
            sock = connect(emu)
            sock.sendall(b"POST /api/hubs/chat/:send HTTP/1.1\r\nHost: x\r\nContent-Type: text/pl")
            half_head.append(sock)
            sock = connect(emu)
            sock.sendall(request_bytes(emu, "POST", SEND, body=b"x", headers=[
                "Content-Type: text/plain", "Content-Length: 1000"]))
            half_body.append(sock)
        assert_still_serving(emu)  # meanwhile, ordinary requests are answered at once
        for sock in silent + half_head + half_body:
            assert closed_within(sock, 5), "connection still open"
            sock.close()
        assert_still_serving(emu)


def test_idle_keep_alive_connection_and_a_late_second_head_are_dropped() -> None:
    with Emulator(read_timeout=0.5) as emu:
        with connect(emu) as idle, connect(emu) as late:
            for sock in (idle, late):
                sock.sendall(request_bytes(emu, "POST", SEND, body=b"1", headers=["Content-Type: text/plain"],
                                           close=False))
                assert read_response(sock, "POST").status == 202
            late.sendall(b"POST /api/hubs/chat/:send HTTP/1.1\r\nHost: x\r\n")
            assert closed_within(idle, 5)
            assert closed_within(late, 5)


def test_keep_alive_connection_serves_requests_while_they_come_in_time() -> None:
    with Emulator(read_timeout=2) as emu, connect(emu) as sock:
        for _ in range(3):
            sock.sendall(request_bytes(emu, "POST", SEND, body=b"1", headers=["Content-Type: text/plain"], close=False))
            assert read_response(sock, "POST").status == 202
            time.sleep(0.2)


@pytest.mark.asyncio
async def test_websocket_connections_outlive_the_read_timeout() -> None:
    async with Emulator(read_timeout=0.3) as emu:
        client = await connect_client(emu)
        await client.nothing_within(1.0)  # three read timeouts without a frame either way
        assert (await rest(emu, "POST", "/api/hubs/chat/:send", body="late", content_type="text/plain")).status == 202
        assert (await client.receive_data())["data"] == "late"
        await client.close()


def test_read_timeout_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError, match="read_timeout"):
            Emulator(read_timeout=bad)
