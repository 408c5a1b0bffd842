"""The async client as a whole: construction, send_request, paging, Microsoft Entra ID credentials, context
management, and parity with the sync client."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import jwt
import pytest
from azure.core.async_paging import AsyncItemPaged
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError
from azure.core.rest import AsyncHttpResponse, HttpRequest

from azure.messaging.webpubsubservice import WebPubSubServiceClient as SyncClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient
from azure.messaging.webpubsubservice.rest import build_send_to_all_request

from conftest import ACCESS_KEY, RecordingServer, Reply

KEY = AzureKeyCredential(ACCESS_KEY)


class FakeAsyncTokenCredential:
    """An AsyncTokenCredential: hands out numbered tokens and records the scopes it is asked for."""

    def __init__(self) -> None:
        self.scopes: List[Tuple[str, ...]] = []
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(f"aad-token-{len(self.scopes)}", int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> "FakeAsyncTokenCredential":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


def aio_client(server: RecordingServer, hub: Optional[str] = "hub", **kwargs: Any) -> WebPubSubServiceClient:
    kwargs.setdefault("retry_total", 0)
    kwargs.setdefault("read_timeout", 10)  # a hung call fails the test instead of stalling it
    return WebPubSubServiceClient(server.url, hub, KEY, **kwargs)


# --- construction --------------------------------------------------------------------------------------------


def test_repr_shows_the_endpoint() -> None:
    client = WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", KEY)
    assert repr(client) == "<WebPubSubServiceClient endpoint:'https://contoso.webpubsub.azure.com'>"


@pytest.mark.asyncio
async def test_from_connection_string_honours_the_port(server: RecordingServer) -> None:
    connection_string = f"Endpoint=http://127.0.0.1;Port={server.port};AccessKey={ACCESS_KEY};Version=1.0;"
    async with WebPubSubServiceClient.from_connection_string(connection_string, hub="hub", retry_total=0,
                                                              read_timeout=10) as client:
        await client.send_to_all("hi")
    assert server.only.path == "/api/hubs/hub/:send"


@pytest.mark.asyncio
async def test_keyword_construction_without_a_hub_as_in_the_seed_readme(server: RecordingServer) -> None:
    async with WebPubSubServiceClient(endpoint=server.url, credential=KEY, read_timeout=10) as client:
        response = await client.send_request(build_send_to_all_request("hub", content="hi", content_type="text/plain"))
    assert response.status_code == 202
    assert server.only.body == b"hi"


def test_a_missing_credential_is_refused() -> None:
    with pytest.raises(ValueError, match="credential is required"):
        WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub")


# --- send_request ----------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_send_request_resolves_a_relative_url_and_leaves_the_callers_request_untouched(
    server: RecordingServer
) -> None:
    request = HttpRequest("GET", "/api/custom?x=1", headers={"x-mine": "1"})
    async with aio_client(server) as client:
        await client.send_request(request)
    assert (request.url, dict(request.headers)) == ("/api/custom?x=1", {"x-mine": "1"})
    assert server.only.target == "/api/custom?x=1"
    assert "Authorization" in server.only.headers


@pytest.mark.asyncio
async def test_send_request_returns_error_responses_instead_of_raising(server: RecordingServer) -> None:
    server.default = Reply(404, body={"code": "NotFound", "message": "no such thing"})
    async with aio_client(server) as client:
        response = await client.send_request(HttpRequest("GET", "/api/missing"))
    assert isinstance(response, AsyncHttpResponse)
    assert (response.status_code, response.json()["code"]) == (404, "NotFound")
    with pytest.raises(HttpResponseError):
        response.raise_for_status()


@pytest.mark.asyncio
async def test_send_request_with_stream_true_leaves_the_body_to_be_iterated(server: RecordingServer) -> None:
    server.default = Reply(200, body=b"0123456789" * 1000)
    async with aio_client(server) as client:
        response = await client.send_request(HttpRequest("GET", "/api/big"), stream=True)
        chunks = [chunk async for chunk in response.iter_bytes()]
    assert b"".join(chunks) == b"0123456789" * 1000


# --- paging ----------------------------------------------------------------------------------------------------


def page(start: int, count: int, next_link: Optional[str]) -> Reply:
    members = [{"connectionId": f"c{i}", "userId": f"u{i}"} for i in range(start, start + count)]
    body: Dict[str, Any] = {"value": members}
    if next_link:
        body["nextLink"] = next_link
    return Reply(200, body=body)


@pytest.mark.asyncio
async def test_list_connections_in_group_follows_next_links_across_pages(server: RecordingServer) -> None:
    server.reply(
        page(0, 2, "/api/hubs/hub/groups/g1/connections?continuationToken=t1&api-version=2024-12-01"),
        page(2, 2, "/api/hubs/hub/groups/g1/connections?continuationToken=t2&api-version=2024-12-01"),
        page(4, 1, None),
    )
    async with aio_client(server) as client:
        paged = client.list_connections_in_group("g1", maxpagesize=2)
        assert isinstance(paged, AsyncItemPaged)
        members = [member async for member in paged]
    assert [member["connectionId"] for member in members] == ["c0", "c1", "c2", "c3", "c4"]
    assert server.requests[0].query["maxpagesize"] == ["2"]
    assert [request.query.get("continuationToken") for request in server.requests] == [None, ["t1"], ["t2"]]
    for request in server.requests:  # every page is signed for its own URL
        token = request.headers["Authorization"].split(" ", 1)[1]
        jwt.decode(token, ACCESS_KEY, algorithms=["HS256"], audience=server.url + request.target)


@pytest.mark.asyncio
async def test_list_connections_in_group_by_page(server: RecordingServer) -> None:
    server.reply(page(0, 3, "/api/hubs/hub/groups/g1/connections?continuationToken=t1"), page(3, 1, None))
    async with aio_client(server) as client:
        sizes = [len([member async for member in one_page])
                 async for one_page in client.list_connections_in_group("g1").by_page()]
    assert sizes == [3, 1]


@pytest.mark.asyncio
async def test_list_connections_in_group_sends_top(server: RecordingServer) -> None:
    server.reply(page(0, 1, None))
    async with aio_client(server) as client:
        members = [member async for member in client.list_connections_in_group("g 1", top=1)]
    assert len(members) == 1
    assert server.only.path == "/api/hubs/hub/groups/g%201/connections"
    assert server.only.query["top"] == ["1"]


@pytest.mark.asyncio
async def test_a_failed_page_raises_the_service_error(server: RecordingServer) -> None:
    server.default = Reply(404, body={"code": "GroupNotFound", "message": "no group"})
    async with aio_client(server) as client:
        with pytest.raises(ResourceNotFoundError, match="no group"):
            [member async for member in client.list_connections_in_group("g1")]


# --- Microsoft Entra ID --------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_an_async_token_credential_sends_bearer_tokens_for_the_web_pubsub_scope(server: RecordingServer) -> None:
    credential = FakeAsyncTokenCredential()
    async with WebPubSubServiceClient(server.url, "hub", credential, retry_total=0, read_timeout=10) as client:
        await client.send_to_all("hi", enforce_https=False)
    assert server.only.headers["Authorization"] == "Bearer aad-token-1"
    assert credential.scopes == [("https://webpubsub.azure.com/.default",)]


@pytest.mark.asyncio
async def test_an_async_token_credential_is_refused_over_plain_http_by_default(server: RecordingServer) -> None:
    async with WebPubSubServiceClient(server.url, "hub", FakeAsyncTokenCredential(), retry_total=0,
                                      read_timeout=10) as client:
        with pytest.raises(ServiceRequestError):
            await client.send_to_all("hi")
    assert server.requests == []


@pytest.mark.asyncio
async def test_client_access_token_with_an_async_token_credential_is_minted_by_the_service(
    server: RecordingServer
) -> None:
    server.default = Reply(200, body={"token": "service-minted"})
    async with WebPubSubServiceClient(server.url, "hub", FakeAsyncTokenCredential(), retry_total=0,
                                      read_timeout=10) as client:
        token = await client.get_client_access_token(user_id="u1", roles=["r1", "r2"], groups=["g1"],
                                                     minutes_to_expire=5, client_protocol="MQTT", enforce_https=False)
    request = server.only
    assert (request.method, request.path) == ("POST", "/api/hubs/hub/:generateToken")
    assert request.query == {"userId": ["u1"], "role": ["r1", "r2"], "minutesToExpire": ["5"], "group": ["g1"],
                             "clientType": ["MQTT"], "api-version": ["2024-12-01"]}
    base = server.url.replace("http://", "ws://") + "/clients/mqtt/hubs/hub"
    assert token == {"baseUrl": base, "token": "service-minted", "url": f"{base}?access_token=service-minted"}


# --- context management ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_async_with_returns_the_client_and_close_can_be_repeated(server: RecordingServer) -> None:
    client = aio_client(server)
    async with client as entered:
        assert entered is client
        await entered.send_to_all("hi")
    await client.close()
    await client.close()
    assert server.wait_closed(server.only.client)


@pytest.mark.asyncio
async def test_close_hangs_up_the_pooled_connection(server: RecordingServer) -> None:
    client = aio_client(server)
    await client.send_to_all("hi")
    assert server.is_open(server.only.client)
    await client.close()
    assert server.wait_closed(server.only.client)


@pytest.mark.asyncio
async def test_many_concurrent_calls_from_one_client(server: RecordingServer) -> None:
    server.default = Reply(204)
    # A few connections: the threaded test server listens with a short backlog.
    async with aio_client(server, connection_limit=10) as client:
        found = await asyncio.wait_for(asyncio.gather(*(client.user_exists(f"u{i}") for i in range(200))), 20)
    assert found == [True] * 200
    expected_paths = sorted(f"/api/hubs/hub/users/u{i}" for i in range(200))
    assert sorted(request.path for request in server.requests) == expected_paths


# --- parity with the sync client -------------------------------------------------------------------------------------


def public_operations(client_type: type) -> Dict[str, Any]:
    return {name: getattr(client_type, name) for name in dir(client_type)
            if not name.startswith("_") and callable(getattr(client_type, name))}


def without_return(function: Any) -> inspect.Signature:
    return inspect.signature(function).replace(return_annotation=inspect.Signature.empty)


def test_the_async_client_has_the_same_public_operations_as_the_sync_client() -> None:
    assert sorted(public_operations(WebPubSubServiceClient)) == sorted(public_operations(SyncClient))


@pytest.mark.parametrize("name", sorted(public_operations(SyncClient)))
def test_each_operation_has_the_same_signature_in_both_clients(name: str) -> None:
    assert without_return(getattr(WebPubSubServiceClient, name)) == without_return(getattr(SyncClient, name))


PAGERS = {"list_connections_in_group", "list_connections"}  # return AsyncItemPaged without awaiting


@pytest.mark.parametrize("name", sorted(set(public_operations(SyncClient)) - PAGERS - {"from_connection_string"}))
def test_each_async_operation_is_a_coroutine_function(name: str) -> None:
    assert inspect.iscoroutinefunction(getattr(WebPubSubServiceClient, name))


def test_operations_are_documented_and_named_for_the_async_client() -> None:
    method = WebPubSubServiceClient.send_to_group
    assert method.__doc__ and "group" in method.__doc__
    assert method.__qualname__ == "WebPubSubServiceClient.send_to_group"
    assert method.__module__ == "azure.messaging.webpubsubservice.aio"


@pytest.mark.asyncio
async def test_json_messages_round_trip_through_the_emulator() -> None:
    webpubsub_emulator = pytest.importorskip("webpubsub_emulator")
    aiohttp = pytest.importorskip("aiohttp")
    async with webpubsub_emulator.Emulator() as emulator:
        async with WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub="chat",
                                                                  read_timeout=10) as client:
            token = await client.get_client_access_token(user_id="alice", groups=["room"])
            async with aiohttp.ClientSession() as session:
                async with session.ws_connect(token["url"], protocols=("json.webpubsub.azure.v1",)) as socket:
                    connected = json.loads((await asyncio.wait_for(socket.receive(), 5)).data)
                    assert await client.connection_exists(connected["connectionId"]) is True
                    assert await client.user_exists("alice") is True
                    await client.send_to_group("room", {"text": "hello"})
                    message = json.loads((await asyncio.wait_for(socket.receive(), 5)).data)
                    members = [member async for member in client.list_connections_in_group("room")]
    assert connected["event"] == "connected"
    assert (message["type"], message["group"], message["data"]) == ("message", "room", {"text": "hello"})
    assert members == [{"connectionId": connected["connectionId"], "userId": "alice"}]


# --- client request ids ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_every_request_gets_its_own_uuid_client_request_id(server: RecordingServer) -> None:
    async with aio_client(server) as client:
        await asyncio.gather(*(client.send_to_all("hi") for _ in range(3)))
    ids = [request.headers["x-ms-client-request-id"] for request in server.requests]
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(request_id)) == request_id for request_id in ids)


@pytest.mark.asyncio
@pytest.mark.parametrize("per_call, expected", [("my-request-1", "my-request-1"), (None, None)])
async def test_a_client_request_id_can_be_set_or_dropped_per_call(
    server: RecordingServer, per_call: Optional[str], expected: Optional[str]
) -> None:
    async with aio_client(server) as client:
        await client.send_to_all("hi", request_id=per_call)
    assert server.only.headers.get("x-ms-client-request-id") == expected


@pytest.mark.asyncio
@pytest.mark.parametrize("settings, expected", [({"auto_request_id": False}, None), ({"request_id": "fixed"}, "fixed")])
async def test_client_wide_request_id_settings_are_honoured(
    server: RecordingServer, settings: Dict[str, Any], expected: Optional[str]
) -> None:
    async with aio_client(server, **settings) as client:
        await client.send_to_all("hi")
    assert server.only.headers.get("x-ms-client-request-id") == expected


@pytest.mark.asyncio
async def test_azure_cores_aiohttp_transport_can_be_plugged_in(server: RecordingServer) -> None:
    pytest.importorskip("aiohttp")
    from azure.core.pipeline.transport import AioHttpTransport

    async with aio_client(server, transport=AioHttpTransport()) as client:
        await client.send_to_all("via aiohttp")
        assert await client.group_exists("g") is True
    assert [request.body for request in server.requests] == [b"via aiohttp", b""]
