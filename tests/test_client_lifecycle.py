"""A client's life: calls after close() (or after the with / async with block) raise ClientClosedError
instead of reopening connections, and an async client dropped unclosed warns with a ResourceWarning."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any, Callable

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import AzureError
from azure.core.rest import HttpRequest
from conftest import ACCESS_KEY, RecordingServer

from azure.messaging.webpubsubservice import ClientClosedError, WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

KEY = AzureKeyCredential(ACCESS_KEY)

SYNC_CALLS = {
    "send_to_all": lambda client: client.send_to_all("late"),
    "user_exists": lambda client: client.user_exists("u"),
    "send_request": lambda client: client.send_request(HttpRequest("GET", "/api/health")),
    "list_connections_in_group": lambda client: list(client.list_connections_in_group("g")),
}


@pytest.mark.parametrize("call", list(SYNC_CALLS.values()), ids=list(SYNC_CALLS))
def test_a_call_after_close_raises_client_closed_error_and_sends_nothing(
    server: RecordingServer, call: Callable[[WebPubSubServiceClient], Any]
) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.send_to_all("before")
    client.close()
    with pytest.raises(ClientClosedError, match="is closed: create a new client"):
        call(client)
    assert [r.body for r in server.requests] == [b"before"]


def test_a_call_after_the_with_block_raises_client_closed_error(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY) as client:
        client.send_to_all("inside")
    with pytest.raises(ClientClosedError):
        client.send_to_all("after")
    assert len(server.requests) == 1


def test_a_closed_client_cannot_be_entered_again(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.close()
    with pytest.raises(ClientClosedError):
        with client:
            pass


def test_client_closed_error_is_an_azure_error_and_a_runtime_error(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.close()
    with pytest.raises(AzureError):
        client.send_to_all("x")
    with pytest.raises(RuntimeError, match=r"WebPubSubServiceClient endpoint:'http://127\.0\.0\.1:\d+'"):
        client.send_to_all("x")


def test_a_closed_client_still_mints_tokens_locally_with_its_key(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.close()
    assert client.get_client_access_token(user_id="u")["token"]  # no connection involved
    assert server.requests == []


@pytest.mark.asyncio
async def test_an_async_call_after_close_raises_client_closed_error(server: RecordingServer) -> None:
    client = AsyncClient(server.url, "hub", KEY)
    await client.send_to_all("before")
    await client.close()
    with pytest.raises(ClientClosedError, match="is closed"):
        await client.send_to_all("late")
    with pytest.raises(ClientClosedError):
        await client.send_request(HttpRequest("GET", "/api/health"))
    with pytest.raises(ClientClosedError):
        [member async for member in client.list_connections_in_group("g")]
    assert [r.body for r in server.requests] == [b"before"]


@pytest.mark.asyncio
async def test_an_async_call_after_the_async_with_block_raises_client_closed_error(server: RecordingServer) -> None:
    async with AsyncClient(server.url, "hub", KEY) as client:
        await client.send_to_all("inside")
    with pytest.raises(ClientClosedError):
        await client.user_exists("u")
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert len(server.requests) == 1


@pytest.mark.asyncio
async def test_calls_waiting_for_a_connection_when_the_client_closes_fail_with_a_request_error(
    server: RecordingServer
) -> None:
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from conftest import Reply

    server.reply(Reply(202, delay=10))
    client = AsyncClient(server.url, "hub", KEY, connection_limit=1, retry_total=0)
    in_flight = asyncio.ensure_future(client.send_to_all("first"))
    queued = asyncio.ensure_future(client.send_to_all("second"))
    await asyncio.sleep(0.2)
    await client.close()
    with pytest.raises(ServiceResponseError):
        await asyncio.wait_for(in_flight, 5)
    with pytest.raises(ServiceRequestError, match="closed"):
        await asyncio.wait_for(queued, 5)
    assert [r.body for r in server.requests] == [b"first"]


def _drop_an_unclosed_async_client(url: str) -> str:
    async def use() -> str:
        client = AsyncClient(url, "hub", KEY)
        await client.send_to_all("never closed")
        return repr(client)

    return asyncio.run(use())


def test_an_async_client_dropped_unclosed_warns_with_a_resource_warning_naming_it(server: RecordingServer) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        name = _drop_an_unclosed_async_client(server.url)
        gc.collect()
    ours = [w for w in caught if issubclass(w.category, ResourceWarning) and "WebPubSubServiceClient" in str(w.message)]
    assert len(ours) == 1
    assert str(ours[0].message).startswith(f"unclosed {name}")


def test_a_closed_or_unused_async_client_does_not_warn(server: RecordingServer) -> None:
    async def use() -> None:
        async with AsyncClient(server.url, "hub", KEY) as client:
            await client.send_to_all("closed properly")
        AsyncClient(server.url, "hub", KEY)  # never sent anything: nothing to release

    gc.collect()  # what earlier tests left behind warns now, not below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(use())
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
