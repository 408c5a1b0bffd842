"""The default async transport over real loopback sockets: framing, pooling, errors, timeouts, cancellation
and release of every socket."""

from __future__ import annotations

import asyncio
import gzip
import socket
from typing import Any, AsyncIterator, List

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest

from azure.messaging.webpubsubservice.aio import AsyncioTransport, WebPubSubServiceClient

from conftest import RecordingServer
from aio_raw_server import HANG_UP, RawRequest, RawServer, ThenHangUp, Trickle, response

KEY = AzureKeyCredential("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH")


def client_for(server: RawServer, **kwargs: Any) -> WebPubSubServiceClient:
    kwargs.setdefault("retry_total", 0)
    kwargs.setdefault("read_timeout", 10)  # a hung call fails the test instead of stalling it
    return WebPubSubServiceClient(server.url, "hub", KEY, **kwargs)


async def get(client: WebPubSubServiceClient, path: str = "/x", **kwargs: Any) -> Any:
    return await asyncio.wait_for(client.send_request(HttpRequest("GET", path), **kwargs), 10)


def queued_calls(client: WebPubSubServiceClient) -> int:
    """Calls waiting for a free connection (transport internals: the wait is invisible from outside)."""
    pools = client._pipeline._transport._pools.values()  # type: ignore[attr-defined]  # pylint: disable=protected-access
    return sum(len(pool._queue) for pool in pools)  # pylint: disable=protected-access


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.001)


def always(answer: bytes) -> Any:
    return lambda request: answer


# --- framing -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_content_length_body_is_loaded() -> None:
    async with RawServer(always(response(200, b'{"a": 1}', {"Content-Type": "application/json"}))) as server:
        async with client_for(server) as client:
            result = await get(client)
    assert (result.status_code, result.json(), result.headers["content-type"]) == (200, {"a": 1}, "application/json")


@pytest.mark.asyncio
async def test_chunked_body_with_extensions_and_trailers_is_decoded() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: yes\r\n\r\n")
    async with RawServer(always(chunked)) as server:
        async with client_for(server) as client:
            first = await get(client)
            second = await get(client)
    assert first.content == second.content == b"hello world"
    assert len(server.opened) == 1  # the connection survived two chunked responses


@pytest.mark.asyncio
async def test_body_delimited_by_close_is_read_to_the_end_and_the_connection_not_reused() -> None:
    async with RawServer(always(ThenHangUp(b"HTTP/1.1 200 OK\r\n\r\nuntil close"))) as server:
        async with client_for(server) as client:
            assert (await get(client)).content == b"until close"
            assert (await get(client)).content == b"until close"
    assert len(server.opened) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("raw", [
    response(200, b'{"value": [1, 2, 3]}', {"X-Long-Header": "v" * 100}),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"val\r\nf\r\nue\": [1, 2, 3]}\r\n0\r\n\r\n",
], ids=["content-length", "chunked"])
async def test_a_response_arriving_a_few_bytes_at_a_time_is_assembled(raw: bytes) -> None:
    async with RawServer(always(Trickle(raw))) as server:
        async with client_for(server) as client:
            assert (await get(client)).json() == {"value": [1, 2, 3]}
            assert (await get(client)).json() == {"value": [1, 2, 3]}
    assert len(server.opened) == 1


@pytest.mark.asyncio
async def test_http_1_0_response_without_keep_alive_is_not_reused() -> None:
    async with RawServer(always(ThenHangUp(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"))) as server:
        async with client_for(server) as client:
            assert (await get(client)).text() == "ok"
            assert (await get(client)).text() == "ok"
    assert len(server.opened) == 2


@pytest.mark.asyncio
async def test_a_large_streamed_body_read_slowly_arrives_whole() -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB: the connection pauses reading while chunks wait unread
    async with RawServer(always(response(200, body))) as server:
        async with client_for(server) as client:
            streamed = await get(client, stream=True)
            received = bytearray()
            async for chunk in streamed.iter_bytes():
                received += chunk
                await asyncio.sleep(0.001)
            assert bytes(received) == body
            assert (await get(client)).status_code == 200
    assert len(server.opened) == 1


@pytest.mark.asyncio
async def test_head_response_has_no_body_even_with_a_content_length() -> None:
    async with RawServer(always(b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n")) as server:
        async with client_for(server) as client:
            assert await client.group_exists("g") is True
            assert await client.group_exists("g") is True
    assert len(server.opened) == 1


@pytest.mark.asyncio
async def test_interim_100_continue_is_skipped() -> None:
    async with RawServer(always(b"HTTP/1.1 100 Continue\r\n\r\n" + response(204))) as server:
        async with client_for(server) as client:
            assert (await get(client)).status_code == 204


@pytest.mark.asyncio
async def test_gzip_content_encoding_is_decoded() -> None:
    payload = gzip.compress(b'{"value": []}')
    async with RawServer(always(response(200, payload, {"Content-Encoding": "gzip"}))) as server:
        async with client_for(server) as client:
            assert (await get(client)).json() == {"value": []}


@pytest.mark.asyncio
async def test_streamed_gzip_body_is_decoded_while_iter_raw_keeps_it_compressed() -> None:
    text = b"0123456789" * 10_000
    payload = gzip.compress(text)
    async with RawServer(always(response(200, payload, {"Content-Encoding": "gzip"}))) as server:
        async with client_for(server) as client:
            decoded = b"".join([chunk async for chunk in (await get(client, stream=True)).iter_bytes()])
            raw = b"".join([chunk async for chunk in (await get(client, stream=True)).iter_raw()])
    assert (decoded, raw) == (text, payload)


@pytest.mark.asyncio
async def test_malformed_status_line_is_a_service_response_error() -> None:
    async with RawServer(always(b"SMTP ready\r\n\r\n")) as server:
        async with client_for(server) as client:
            with pytest.raises(ServiceResponseError, match="not an HTTP/1.x response"):
                await get(client)


@pytest.mark.asyncio
async def test_header_values_with_line_breaks_are_refused_before_sending() -> None:
    async with RawServer(always(response())) as server:
        async with client_for(server) as client:
            with pytest.raises(ServiceRequestError, match="line break"):
                await get(client, headers={"x-evil": "a\r\nInjected: 1"})
    assert server.requests == []


# --- pooling -----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_sequential_calls_reuse_one_keep_alive_connection() -> None:
    async with RawServer(always(response(204))) as server:
        async with client_for(server) as client:
            for _ in range(5):
                await client.send_to_all("hi")
    assert len(server.opened) == 1 and len(server.requests) == 5


@pytest.mark.asyncio
async def test_connection_close_from_the_server_makes_the_next_call_reconnect() -> None:
    async with RawServer(always(response(204, headers={"Connection": "close"}))) as server:
        async with client_for(server) as client:
            await client.send_to_all("one")
            await client.send_to_all("two")
    assert len(server.opened) == 2


@pytest.mark.asyncio
async def test_a_send_is_never_written_twice_when_the_server_hangs_up_after_reading_it() -> None:
    answers = iter([response(204), HANG_UP, response(204)])
    async with RawServer(lambda request: next(answers)) as server:
        async with client_for(server) as client:
            await client.send_to_all("one")
            with pytest.raises(ServiceResponseError):
                await client.send_to_all("two")  # the server may have acted on it: not sent again
    assert [request.body for request in server.requests] == [b"one", b"two"]


@pytest.mark.asyncio
async def test_an_idempotent_check_is_resent_when_the_reused_connection_is_hung_up_on() -> None:
    answers = iter([response(200), HANG_UP, response(200)])
    async with RawServer(lambda request: next(answers)) as server:
        async with client_for(server) as client:
            assert await client.connection_exists("c1")
            assert await client.connection_exists("c1")  # resent on a new connection
    assert [request.method for request in server.requests] == ["HEAD", "HEAD", "HEAD"]
    assert len(server.opened) == 2


@pytest.mark.asyncio
async def test_a_connection_with_unexpected_bytes_after_the_response_is_not_reused() -> None:
    extra = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"
    async with RawServer(always(response(204) + extra)) as server:
        async with client_for(server) as client:
            await client.send_to_all("one")
            await client.send_to_all("two")
    assert len(server.opened) == 2


@pytest.mark.asyncio
async def test_two_hundred_concurrent_sends_all_succeed_within_the_connection_limit() -> None:
    async def slow_ack(request: RawRequest) -> bytes:
        await asyncio.sleep(0.001)
        return response(202)

    async with RawServer(slow_ack) as server:
        async with client_for(server, connection_limit=16) as client:
            results = await asyncio.wait_for(
                asyncio.gather(*(client.send_to_user(f"user{i}", f"message {i}") for i in range(200))), 20)
    assert results == [None] * 200
    assert sorted(request.body for request in server.requests) == sorted(f"message {i}".encode() for i in range(200))
    assert len(server.opened) <= 16


# --- errors and timeouts -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_refused_connection_is_a_service_request_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with WebPubSubServiceClient(f"http://127.0.0.1:{port}", "hub", KEY, retry_total=0, read_timeout=10) as client:
        with pytest.raises(ServiceRequestError):
            await asyncio.wait_for(client.send_to_all("hi"), 10)


@pytest.mark.asyncio
async def test_silent_server_is_a_read_timeout() -> None:
    async with RawServer(always(b"")) as server:
        async with client_for(server, read_timeout=0.2) as client:
            with pytest.raises(ServiceResponseTimeoutError):
                await asyncio.wait_for(client.send_to_all("hi"), 10)


@pytest.mark.asyncio
async def test_per_call_read_timeout_overrides_the_client_default() -> None:
    async with RawServer(always(b"")) as server:
        async with client_for(server) as client:
            with pytest.raises(ServiceResponseTimeoutError):
                await asyncio.wait_for(client.send_to_all("hi", read_timeout=0.2), 10)


@pytest.mark.asyncio
async def test_retry_policy_resends_an_idempotent_request_after_a_read_timeout() -> None:
    answers = iter([b"", response(204)])
    async with RawServer(lambda request: next(answers)) as server:
        async with client_for(server, read_timeout=0.2, retry_total=1, retry_backoff_factor=0.01) as client:
            await asyncio.wait_for(client.add_connection_to_group("g", "c"), 10)
    assert len(server.requests) == 2


@pytest.mark.asyncio
async def test_connection_dropped_mid_response_is_a_service_response_error() -> None:
    async with RawServer(always(ThenHangUp(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))) as server:
        async with client_for(server) as client:
            with pytest.raises(ServiceResponseError, match="middle of the response"):
                await get(client)


# --- cancellation and close ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_cancelled_call_closes_its_connection_instead_of_reusing_it_half_read() -> None:
    answers = iter([None, response(204)])  # the first request is never answered
    async with RawServer(lambda request: next(answers)) as server:
        async with client_for(server) as client:
            pending = asyncio.ensure_future(client.send_to_all("first"))
            await server.wait_until(lambda: len(server.requests) == 1)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await server.wait_until(lambda: len(server.closed_by_client) == 1)
            await client.send_to_all("second")
    assert len(server.opened) == 2
    assert server.requests[1].peer != server.requests[0].peer


@pytest.mark.asyncio
async def test_close_releases_every_pooled_connection() -> None:
    async def slow_ack(request: RawRequest) -> bytes:
        await asyncio.sleep(0.01)
        return response(204)

    async with RawServer(slow_ack) as server:
        client = client_for(server)
        await asyncio.gather(*(client.send_to_all("hi") for _ in range(8)))
        assert len(server.opened) > 1
        await client.close()
        await server.wait_until(lambda: len(server.closed_by_client) == len(server.opened))


@pytest.mark.asyncio
async def test_close_during_a_call_fails_the_call_and_closes_its_socket() -> None:
    async with RawServer(always(b"")) as server:
        client = client_for(server)
        pending = asyncio.ensure_future(client.send_to_all("hi"))
        await server.wait_until(lambda: len(server.requests) == 1)
        await client.close()
        with pytest.raises(ServiceResponseError):
            await asyncio.wait_for(pending, 5)
        await server.wait_until(lambda: len(server.closed_by_client) == 1)


@pytest.mark.asyncio
async def test_close_fails_calls_queued_for_a_connection_with_a_request_error() -> None:
    async with RawServer(always(b"")) as server:
        client = client_for(server, connection_limit=1)
        in_flight = asyncio.ensure_future(client.send_to_all("first"))
        queued = asyncio.ensure_future(client.send_to_all("second"))
        await server.wait_until(lambda: len(server.requests) == 1)
        await client.close()
        with pytest.raises(ServiceResponseError):
            await asyncio.wait_for(in_flight, 5)
        with pytest.raises(ServiceRequestError, match="client was closed"):
            await asyncio.wait_for(queued, 5)
        await server.wait_until(lambda: len(server.closed_by_client) == 1)
    assert [request.body for request in server.requests] == [b"first"]


@pytest.mark.asyncio
async def test_a_cancelled_call_waiting_for_a_connection_gives_its_turn_to_the_next() -> None:
    answers = iter([None, response(204)])
    async with RawServer(lambda request: next(answers)) as server:
        async with client_for(server, connection_limit=1, read_timeout=0.3) as client:
            hanging = asyncio.ensure_future(client.add_connection_to_group("g", "first"))
            await server.wait_until(lambda: len(server.requests) == 1)
            cancelled = asyncio.ensure_future(client.send_to_all("never sent"))
            waiting = asyncio.ensure_future(client.send_to_all("third"))
            await asyncio.wait_for(_until(lambda: queued_calls(client) == 2), 5)
            cancelled.cancel()
            with pytest.raises(ServiceResponseTimeoutError):
                await asyncio.wait_for(hanging, 5)
            await asyncio.wait_for(waiting, 5)
    assert [request.body for request in server.requests] == [b"", b"third"]


@pytest.mark.asyncio
async def test_a_failed_call_leaves_no_connection_behind() -> None:
    async with RawServer(always(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")) as server:
        async with client_for(server) as client:
            with pytest.raises(ServiceResponseError):
                await get(client)
            await server.wait_until(lambda: len(server.closed_by_client) == 1)
            transport = client._pipeline._transport  # pylint: disable=protected-access
            assert all(not pool._open for pool in transport._pools.values())  # pylint: disable=protected-access


@pytest.mark.asyncio
async def test_the_client_can_be_used_again_after_close() -> None:
    async with RawServer(always(response(204))) as server:
        client = client_for(server)
        await client.send_to_all("hi")
        await client.close()
        await client.send_to_all("again")  # close() forgets connections; a new one is opened on demand
        await client.close()
    assert len(server.opened) == 2


# --- streaming ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_streamed_body_arrives_in_chunks_and_the_connection_is_reused_afterwards() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
    async with RawServer(always(chunked)) as server:
        async with client_for(server) as client:
            streamed = await get(client, stream=True)
            received: List[bytes] = [chunk async for chunk in streamed.iter_bytes()]
            await get(client)
    assert b"".join(received) == b"abcdef"
    assert len(server.opened) == 1


@pytest.mark.asyncio
async def test_a_stream_closed_before_its_end_is_not_reused() -> None:
    async with RawServer(always(response(200, b"x" * 100_000))) as server:
        async with client_for(server) as client:
            streamed = await get(client, stream=True)
            await streamed.close()
            await get(client)
    assert len(server.opened) == 2


@pytest.mark.asyncio
async def test_streamed_response_read_loads_the_content() -> None:
    async with RawServer(always(response(200, b"body"))) as server:
        async with client_for(server) as client:
            streamed = await get(client, stream=True)
            assert await streamed.read() == b"body"
            assert streamed.content == b"body"


@pytest.mark.asyncio
async def test_transport_can_be_given_explicitly() -> None:
    async with RawServer(always(response(204))) as server:
        transport = AsyncioTransport(connection_limit=1)
        async with client_for(server, transport=transport) as client:
            await asyncio.gather(*(client.send_to_all("hi") for _ in range(5)))
    assert len(server.opened) == 1


async def _aiter(items: List[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


@pytest.mark.asyncio
async def test_async_iterable_request_content_is_sent_whole() -> None:
    async with RawServer(always(response(204))) as server:
        async with client_for(server) as client:
            await client.send_request(HttpRequest("POST", "/x", content=_aiter([b"ab", b"cd"])))
    assert server.requests[0].body == b"abcd"


def test_one_client_serves_successive_event_loops(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY, retry_total=0, read_timeout=10)
    asyncio.run(client.send_to_all("first loop"))
    asyncio.run(client.send_to_all("second loop"))  # connections of the first loop are not carried over
    asyncio.run(client.close())
    assert [request.body for request in server.requests] == [b"first loop", b"second loop"]
    assert len({request.client for request in server.requests}) == 2
