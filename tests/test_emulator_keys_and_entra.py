"""The SDK's key rotation and its Microsoft Entra ID path, against the local emulator on a laptop.

Entra ID: azure-core's BearerTokenCredentialPolicy sends bearer tokens over HTTPS only, and this SDK does
not weaken that (no ``enforce_https=False`` anywhere). So these tests start the emulator with an HTTPS
listener and a self-signed certificate made for the test (the ``tls_files`` fixture, openssl), and the
clients trust it with ``connection_verify=<cert>``. A fake credential mints a JWT for the Web PubSub
resource audience (``https://webpubsub.azure.com``); the emulator accepts it without checking its
signature only because it was started with ``allow_unvalidated_entra_tokens=True`` (local tests only).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from typing import Any, AsyncIterator, Iterator, List, Tuple

import aiohttp
import pytest
import pytest_asyncio
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError
from webpubsub_emulator import Emulator

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice import aio

HUB = "chat"
SCOPE = "https://webpubsub.azure.com/.default"
PRIMARY = "P" * 43 + "1"
SECONDARY = "S" * 43 + "2"
WAIT = 10.0


def unsigned_entra_jwt(lifetime: int = 3600) -> Tuple[str, int]:
    """What Microsoft Entra ID would issue for the Web PubSub scope, with a made-up RS256 signature."""

    def segment(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    expires_on = int(time.time()) + lifetime
    claims = {"aud": "https://webpubsub.azure.com", "iss": "https://sts.windows.net/tenant/", "exp": expires_on,
              "nbf": int(time.time()), "oid": "object-id", "tid": "tenant"}
    return f"{segment({'alg': 'RS256', 'typ': 'JWT'})}.{segment(claims)}.bm90LWNoZWNrZWQ", expires_on


class FakeCredential:
    """A TokenCredential as DefaultAzureCredential would be, without Azure."""

    def __init__(self) -> None:
        self.scopes: List[Tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(*unsigned_entra_jwt())


class FakeAsyncCredential:
    def __init__(self) -> None:
        self.scopes: List[Tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken(*unsigned_entra_jwt())

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def https_emulator(tls_files: Tuple[str, str]) -> Iterator[Emulator]:
    cert, key = tls_files
    with Emulator(tls_cert=cert, tls_key=key, allow_unvalidated_entra_tokens=True) as running:
        yield running


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


async def open_client(session: aiohttp.ClientSession, url: str, cafile: str = "") -> aiohttp.ClientWebSocketResponse:
    trust: "ssl.SSLContext | bool"
    trust = ssl.create_default_context(cafile=cafile) if cafile else True
    ws = await asyncio.wait_for(session.ws_connect(url, protocols=["json.webpubsub.azure.v1"], ssl=trust), WAIT)
    assert (await ws.receive_json(timeout=WAIT))["event"] == "connected"
    return ws


async def next_data(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await ws.receive_json(timeout=WAIT)
    assert message["type"] == "message", message
    return message["data"]


# -- Microsoft Entra ID ---------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_sync_client_with_a_token_credential(https_emulator: Emulator, tls_files: Tuple[str, str],
                                                   session: aiohttp.ClientSession) -> None:
    credential = FakeCredential()
    with WebPubSubServiceClient(https_emulator.endpoint, HUB, credential, connection_verify=tls_files[0]) as client:
        access = client.get_client_access_token(user_id="alice", roles=["webpubsub.joinLeaveGroup"])  # :generateToken
        assert access["url"].startswith("wss://127.0.0.1:")
        ws = await open_client(session, access["url"], tls_files[0])
        client.send_to_user("alice", "hello over Entra ID", content_type="text/plain")
        assert await next_data(ws) == "hello over Entra ID"
        assert client.user_exists("alice") is True
        client.add_user_to_group("room", "alice")
        assert client.group_exists("room") is True
        await ws.close()
    assert set(credential.scopes) == {(SCOPE,)}


@pytest.mark.asyncio
async def test_async_client_with_an_async_token_credential(https_emulator: Emulator, tls_files: Tuple[str, str],
                                                           session: aiohttp.ClientSession) -> None:
    credential = FakeAsyncCredential()
    async with aio.WebPubSubServiceClient(https_emulator.endpoint, HUB, credential,
                                          connection_verify=tls_files[0]) as client:
        access = await client.get_client_access_token(user_id="bob", groups=["lobby"])  # :generateToken
        ws = await open_client(session, access["url"], tls_files[0])
        await client.send_to_group("lobby", {"hi": "bob"})
        assert await next_data(ws) == {"hi": "bob"}
        assert await client.group_exists("lobby") is True
        await ws.close()
    assert set(credential.scopes) == {(SCOPE,)}


def test_without_the_opt_in_an_entra_token_is_refused(tls_files: Tuple[str, str]) -> None:
    cert, key = tls_files
    with Emulator(tls_cert=cert, tls_key=key) as strict:
        with WebPubSubServiceClient(strict.endpoint, HUB, FakeCredential(), connection_verify=cert,
                                    retry_total=0) as client:
            with pytest.raises(ClientAuthenticationError):
                client.send_to_all("nope", content_type="text/plain")


# -- key rotation with AzureKeyCredential.update() -------------------------------------------------------
@pytest.mark.asyncio
async def test_rotating_keys_with_credential_update_keeps_clients_connected(session: aiohttp.ClientSession) -> None:
    with Emulator(access_keys=[PRIMARY, SECONDARY]) as emu:
        credential = AzureKeyCredential(PRIMARY)
        with WebPubSubServiceClient(emu.endpoint, HUB, credential, retry_total=0) as client:
            ws = await open_client(session, client.get_client_access_token(user_id="carol")["url"])
            client.send_to_all("signed with the primary", content_type="text/plain")
            assert await next_data(ws) == "signed with the primary"

            # Step 1: move the app to the secondary key, then regenerate the primary.
            credential.update(SECONDARY)
            new_primary = emu.regenerate_key("primary")
            client.send_to_all("signed with the secondary", content_type="text/plain")
            assert await next_data(ws) == "signed with the secondary"
            with WebPubSubServiceClient(emu.endpoint, HUB, AzureKeyCredential(PRIMARY), retry_total=0) as stale:
                with pytest.raises(ClientAuthenticationError):
                    stale.send_to_all("old key", content_type="text/plain")
            late = await open_client(session, client.get_client_access_token(user_id="dave")["url"])

            # Step 2: back to the new primary, then regenerate the secondary.
            credential.update(new_primary)
            emu.regenerate_key("secondary")
            client.send_to_all("signed with the new primary", content_type="text/plain")
            assert await next_data(ws) == "signed with the new primary"  # connected since before the rotation
            assert await next_data(late) == "signed with the new primary"
            assert client.user_exists("carol") and client.user_exists("dave")
            await ws.close()
            await late.close()
