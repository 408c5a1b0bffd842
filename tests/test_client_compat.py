"""The official SDK's surface on our clients: ``generate_client_token``, ``check_permission``, the read-only
``endpoint``/``hub``/``api_version`` properties and ``_config``, on the wire of the recording server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError
from conftest import ACCESS_KEY, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

KEY = AzureKeyCredential(ACCESS_KEY)


class FakeTokenCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("entra-token", int(time.time()) + 3600)


@pytest.mark.parametrize("client_type", [WebPubSubServiceClient, AsyncWebPubSubServiceClient], ids=["sync", "async"])
def test_endpoint_hub_and_api_version_are_read_only_properties(client_type: Any) -> None:
    client = client_type("https://contoso.webpubsub.azure.com/", "chat", KEY, api_version="2024-01-01")
    assert (client.endpoint, client.hub, client.api_version) == (
        "https://contoso.webpubsub.azure.com", "chat", "2024-01-01")
    for name in ("endpoint", "hub", "api_version"):
        with pytest.raises(AttributeError):
            setattr(client, name, "other")


@pytest.mark.parametrize("client_type", [WebPubSubServiceClient, AsyncWebPubSubServiceClient], ids=["sync", "async"])
def test_config_carries_endpoint_hub_and_credential_like_the_official_client(client_type: Any) -> None:
    client = client_type.from_connection_string(
        "Endpoint=https://contoso.webpubsub.azure.com;AccessKey=abc;Version=1.0;", hub="chat")
    assert (client._config.endpoint, client._config.hub, client._config.api_version) == (
        "https://contoso.webpubsub.azure.com", "chat", "2024-12-01")
    assert isinstance(client._config.credential, AzureKeyCredential) and client._config.credential.key == "abc"


def test_a_client_without_hub_has_hub_none() -> None:
    assert WebPubSubServiceClient("https://contoso.webpubsub.azure.com", credential=KEY).hub is None


def test_generate_client_token_always_asks_the_service(client: WebPubSubServiceClient,
                                                       server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "minted"}))
    assert client.generate_client_token(user_id="alice", role=["r1", "r2"], group=["g1"], minutes_to_expire=5,
                                        client_type="MQTT") == {"token": "minted"}
    assert (server.only.method, server.only.path) == ("POST", "/api/hubs/hub/:generateToken")
    assert server.only.query_pairs == [("userId", "alice"), ("minutesToExpire", "5"), ("role", "r1"), ("role", "r2"),
                                       ("group", "g1"), ("clientType", "MQTT"), ("api-version", "2024-12-01")]


def test_generate_client_token_sends_only_what_is_given(client: WebPubSubServiceClient,
                                                        server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "minted"}))
    client.generate_client_token()
    assert server.only.query == {"minutesToExpire": ["60"], "api-version": ["2024-12-01"]}


def test_generate_client_token_with_an_entra_credential_sends_its_bearer_token(server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "minted"}))
    with WebPubSubServiceClient(server.url, "hub", FakeTokenCredential(), retry_total=0) as client:  # type: ignore[arg-type]
        assert client.generate_client_token(user_id="u", enforce_https=False)["token"] == "minted"
    assert server.only.headers["Authorization"] == "Bearer entra-token"


def test_generate_client_token_raises_the_service_error(client: WebPubSubServiceClient,
                                                        server: RecordingServer) -> None:
    server.reply(Reply(401))
    with pytest.raises(ClientAuthenticationError):
        client.generate_client_token()


def test_generate_client_token_checks_minutes_before_sending(client: WebPubSubServiceClient,
                                                             server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="minutes_to_expire"):
        client.generate_client_token(minutes_to_expire=0)
    assert server.requests == []


def test_async_generate_client_token(server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "minted"}))

    async def main() -> Any:
        async with AsyncWebPubSubServiceClient(server.url, "hub", KEY) as client:
            return await client.generate_client_token(group=["g"])

    assert asyncio.run(main()) == {"token": "minted"}
    assert server.only.query["group"] == ["g"]


@pytest.mark.parametrize("status, expected", [(200, True), (404, False)])
def test_check_permission_is_has_permission(client: WebPubSubServiceClient, server: RecordingServer,
                                            status: int, expected: bool) -> None:
    server.reply(Reply(status), Reply(status))
    assert client.check_permission("sendToGroup", "c1", target_name="room") is expected
    assert client.has_permission("sendToGroup", "c1", target_name="room") is expected
    first, second = server.requests
    assert first.method == second.method == "HEAD"
    assert first.target == second.target == (
        "/api/hubs/hub/permissions/sendToGroup/connections/c1?targetName=room&api-version=2024-12-01")


def test_official_keyword_names_work(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(200, body={"value": [{"connectionId": "c1", "userId": "u1"}]}))
    members = list(client.list_connections(group="g", top=5, maxpagesize=2, continuation_token_parameter="t"))
    assert [(m.connection_id, m.user_id) for m in members] == [("c1", "u1")]
    assert server.only.query == {"maxpagesize": ["2"], "top": ["5"], "continuationToken": ["t"],
                                 "api-version": ["2024-12-01"]}
