"""The async client's default transport: one aiohttp session shared by concurrent calls, cancellation,
close, event loops, and the ``[aio]`` extra it needs."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import AsyncIterator, List

import pytest
from azure.core.exceptions import ServiceRequestTimeoutError
from azure.core.rest import HttpRequest
from hostile_servers import Exchange, FaultServer, answer, response
from transport_driver import KEY

from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio._transport import AiohttpSessionTransport

BOUNDED = {"retry_total": 0, "read_timeout": 10, "connection_timeout": 10}


def slow_ack(exchange: Exchange) -> None:
    exchange.wait(0.01)
    exchange.send(response(202))


@pytest.mark.asyncio
async def test_two_hundred_concurrent_sends_share_at_most_connection_limit_connections() -> None:
    with FaultServer(slow_ack) as server:
        async with WebPubSubServiceClient(server.url, "hub", KEY, connection_limit=16, **BOUNDED) as client:
            results = await asyncio.wait_for(
                asyncio.gather(*(client.send_to_user(f"user{i}", f"message {i}") for i in range(200))), 30)
    assert results == [None] * 200
    assert sorted(r.body for r in server.requests) == sorted(f"message {i}".encode() for i in range(200))
    assert 1 < len(server.connections) <= 16


@pytest.mark.asyncio
async def test_a_cancelled_call_closes_its_connection_instead_of_reusing_it_half_read() -> None:
    answers = iter([lambda exchange: exchange.wait(10), answer(response(204))])
    with FaultServer(lambda exchange: next(answers)(exchange)) as server:
        async with WebPubSubServiceClient(server.url, "hub", KEY, **BOUNDED) as client:
            pending = asyncio.ensure_future(client.send_to_all("first"))
            while not server.requests:
                await asyncio.sleep(0.01)
            pending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await pending
            await asyncio.wait_for(client.send_to_all("second"), 10)
    assert [r.body for r in server.requests] == [b"first", b"second"]
    assert server.requests[0].peer != server.requests[1].peer


@pytest.mark.asyncio
async def test_close_hangs_up_every_pooled_connection() -> None:
    with FaultServer(slow_ack) as server:
        client = WebPubSubServiceClient(server.url, "hub", KEY, **BOUNDED)
        await asyncio.gather(*(client.send_to_all("hi") for _ in range(8)))
        transport: AiohttpSessionTransport = client._pipeline._transport  # type: ignore[attr-defined]
        session = transport._session  # pylint: disable=protected-access
        assert session is not None and len(server.connections) > 1
        await client.close()
        assert session.closed and transport._session is None  # pylint: disable=protected-access


async def _pieces(items: List[bytes]) -> AsyncIterator[bytes]:
    for item in items:
        yield item


@pytest.mark.asyncio
async def test_async_iterable_request_content_is_sent_whole() -> None:
    with FaultServer(answer(response(204))) as server:
        async with WebPubSubServiceClient(server.url, "hub", KEY, **BOUNDED) as client:
            await client.send_request(HttpRequest("POST", "/x", content=_pieces([b"ab", b"cd"])))
    assert server.requests[0].body == b"abcd"


@pytest.mark.asyncio
async def test_the_default_transport_can_be_given_explicitly() -> None:
    with FaultServer(slow_ack) as server:
        async with WebPubSubServiceClient(server.url, "hub", KEY,
                                          transport=AiohttpSessionTransport(connection_limit=1)) as client:
            await asyncio.gather(*(client.send_to_all("hi") for _ in range(5)))
    assert len(server.connections) == 1


@pytest.mark.asyncio
async def test_an_unanswered_connect_is_a_request_timeout(unanswered_port: int) -> None:
    async with WebPubSubServiceClient(f"http://127.0.0.1:{unanswered_port}", "hub", KEY,
                                      **{**BOUNDED, "connection_timeout": 0.2}) as client:
        with pytest.raises(ServiceRequestTimeoutError, match=f"127.0.0.1:{unanswered_port}"):
            await asyncio.wait_for(client.send_to_all("hi"), 10)


@pytest.mark.asyncio
async def test_a_per_call_read_timeout_is_retried_by_the_retry_policy_for_an_idempotent_call() -> None:
    answers = iter([lambda exchange: exchange.wait(10), answer(response(204))])
    with FaultServer(lambda exchange: next(answers)(exchange)) as server:
        async with WebPubSubServiceClient(server.url, "hub", KEY, **{**BOUNDED, "retry_total": 1},
                                          retry_backoff_factor=0.01) as client:
            await asyncio.wait_for(client.add_connection_to_group("g", "c", read_timeout=0.2), 10)
    assert [r.method for r in server.requests] == ["PUT", "PUT"]


def test_one_client_serves_successive_event_loops() -> None:
    with FaultServer(answer(response(202))) as server:
        client = WebPubSubServiceClient(server.url, "hub", KEY, **BOUNDED)
        asyncio.run(client.send_to_all("first loop"))
        asyncio.run(client.send_to_all("second loop"))  # the first loop's session is left behind, not reused
        asyncio.run(client.close())
    assert [r.body for r in server.requests] == [b"first loop", b"second loop"]
    assert len(server.connections) == 2


def test_importing_the_async_client_without_aiohttp_says_which_extra_to_install() -> None:
    script = ("import sys; sys.modules['aiohttp'] = None\n"
              "try:\n    import azure.messaging.webpubsubservice.aio\n"
              "except ImportError as error:\n    print(error)\n")
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
    assert 'pip install aiohttp' in printed
    assert 'pip install ".[aio]"' in printed


def test_the_sync_client_imports_without_aiohttp() -> None:
    script = ("import sys; sys.modules['aiohttp'] = None\n"
              "from azure.messaging.webpubsubservice import WebPubSubServiceClient\nprint('ok')\n")
    printed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60).stdout
    assert printed.strip() == "ok"
