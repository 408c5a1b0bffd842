"""Authentication of REST calls and of the client WebSocket handshake."""
from __future__ import annotations

import time
from typing import AsyncIterator

import aiohttp
import jwt
import pytest
import pytest_asyncio
from emulator_core_helpers import (client_token, connect, handshake_status, rest, rest_token, rest_url)

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

SEND_PATH = "/api/hubs/chat/:send"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(config={"hubs": {"open": {"anonymousConnectPolicy": "allow"}}}) as emulator:
        yield emulator


async def send_with(emu: Emulator, token: str) -> int:
    return (await rest(emu, "POST", SEND_PATH, body="x", content_type="text/plain", token=token)).status


async def test_reference_test_vector_signature_is_accepted() -> None:
    from webpubsub_emulator import _jwt
    vector = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
              "eyJhdWQiOiJodHRwOi8vbG9jYWxob3N0OjgwODAvYXBpL2h1YnMvY2hhdC86c2VuZD9h"
              "cGktdmVyc2lvbj0yMDI0LTAxLTAxIiwiZXhwIjo0MTAyNDQ0ODAwfQ.kWC3EcADfacCOjhIGyEmo3FddVw-5IeIWjr_bNNQLts")
    claims = _jwt.decode(vector, ["ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"])
    assert claims["aud"] == "http://localhost:8080/api/hubs/chat/:send?api-version=2024-01-01"


async def test_missing_token_is_401_with_empty_body(emu: Emulator) -> None:
    result = await rest(emu, "POST", SEND_PATH, body="x", content_type="text/plain", token=None)
    assert (result.status, result.body) == (401, b"")


async def test_wrong_key_is_401(emu: Emulator) -> None:
    url = rest_url(emu, SEND_PATH)
    assert await send_with(emu, jwt.encode({"aud": url, "exp": time.time() + 60}, "x" * 44, algorithm="HS256")) == 401


async def test_expired_token_beyond_skew_is_401_but_within_skew_is_accepted(emu: Emulator) -> None:
    url = rest_url(emu, SEND_PATH)
    assert await send_with(emu, rest_token(url, emu.access_key, lifetime=-400)) == 401
    assert await send_with(emu, rest_token(url, emu.access_key, lifetime=-60)) == 202


async def test_token_without_exp_is_401(emu: Emulator) -> None:
    url = rest_url(emu, SEND_PATH)
    assert await send_with(emu, jwt.encode({"aud": url}, emu.access_key, algorithm="HS256")) == 401


async def test_wrong_audience_is_401(emu: Emulator) -> None:
    assert await send_with(emu, rest_token(f"{emu.endpoint}/api/hubs/other/:send", emu.access_key)) == 401


async def test_audience_without_query_and_in_other_case_is_accepted(emu: Emulator) -> None:
    assert await send_with(emu, rest_token(f"{emu.endpoint}/API/hubs/CHAT/:send", emu.access_key)) == 202


@pytest.mark.filterwarnings("ignore")
async def test_other_algorithm_is_401(emu: Emulator) -> None:
    url = rest_url(emu, SEND_PATH)
    assert await send_with(emu, jwt.encode({"aud": url, "exp": time.time() + 60}, emu.access_key,
                                           algorithm="HS512")) == 401


async def test_future_nbf_is_401(emu: Emulator) -> None:
    url = rest_url(emu, SEND_PATH)
    assert await send_with(emu, rest_token(url, emu.access_key, nbf=int(time.time()) + 3600)) == 401


async def test_client_with_valid_token_gets_connected_message_with_user(emu: Emulator) -> None:
    client = await connect(emu, user="alice")
    assert client.connected is not None
    assert client.connected["userId"] == "alice" and len(client.connected["connectionId"]) == 32
    await client.close()


async def test_client_without_user_gets_null_user_id(emu: Emulator) -> None:
    client = await connect(emu)
    assert client.connected is not None and client.connected["userId"] is None
    await client.close()


async def test_client_token_in_authorization_header_is_accepted(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{emu.endpoint}/client/hubs/chat", protocols=["json.webpubsub.azure.v1"],
                                      headers={"Authorization": f"Bearer {client_token(emu, user='h')}"})
        assert (await ws.receive_json())["userId"] == "h"
        await ws.close()


async def test_client_query_hub_form_is_accepted(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{emu.endpoint}/client/?hub=chat&access_token={client_token(emu)}",
                                      protocols=["json.webpubsub.azure.v1"])
        assert (await ws.receive_json())["event"] == "connected"
        await ws.close()


@pytest.mark.parametrize("bad", ["no token", "wrong aud", "expired", "wrong key", "ws scheme aud"])
async def test_client_handshake_refused_with_401(emu: Emulator, bad: str) -> None:
    tokens = {
        "wrong aud": client_token(emu, audience=f"{emu.endpoint}/client/hubs/other"),
        "expired": client_token(emu, lifetime=-1000),
        "wrong key": client_token(emu, key="k" * 44),
        "ws scheme aud": client_token(emu, audience=emu.endpoint.replace("http", "ws") + "/client/hubs/chat"),
    }
    query = "" if bad == "no token" else f"?access_token={tokens[bad]}"
    assert await handshake_status(emu, f"/client/hubs/chat{query}") == 401


async def test_client_audience_is_case_insensitive(emu: Emulator) -> None:
    client = await connect(emu, audience=f"{emu.endpoint}/CLIENT/hubs/Chat")
    await client.close()


async def test_invalid_hub_in_client_url_is_400(emu: Emulator) -> None:
    assert await handshake_status(emu, "/client/hubs/9bad") == 400


async def test_invalid_group_claim_is_400(emu: Emulator) -> None:
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={client_token(emu, groups=['  '])}") == 400


async def test_invalid_simple_mode_is_400(emu: Emulator) -> None:
    token = client_token(emu)
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={token}&webpubsub_mode=shout") == 400
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={token}&webpubsub_mode=sendToGroup") == 400


async def test_anonymous_clients_only_where_allowed(emu: Emulator) -> None:
    assert await handshake_status(emu, "/client/hubs/chat") == 401
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{emu.endpoint}/client/hubs/open", protocols=["json.webpubsub.azure.v1"])
        assert (await ws.receive_json())["userId"] is None
        await ws.close()


async def test_token_role_claim_may_be_a_single_string(emu: Emulator) -> None:
    token = jwt.encode({"aud": f"{emu.endpoint}/client/hubs/chat", "exp": time.time() + 60,
                        "role": "webpubsub.joinLeaveGroup"}, emu.access_key, algorithm="HS256")
    client = await connect(emu, token=token)
    assert (await client.request({"type": "joinGroup", "group": "g", "ackId": 1}))["success"] is True
    await client.close()
