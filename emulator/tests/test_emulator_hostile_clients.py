"""The WebSocket client endpoint under hostile input: frames and handshakes that are malformed,
nested too deeply or hold what JSON text cannot carry. Each is refused on its own, nothing reaches
other clients, and the emulator keeps serving."""
from __future__ import annotations

from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import Client, client_token, connect, handshake_status, hub_connections, rest, wait_until

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

ROLES = ["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup"]
DEEP = "[" * 100_000 + "]" * 100_000


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


async def closed_with_1007(client: Client) -> None:
    assert (await client.receive_json())["event"] == "disconnected"
    await closed_after_disconnected(client)


async def closed_after_disconnected(client: Client) -> None:
    closing = await client.receive()
    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1007)
    await client.close()


@pytest.mark.parametrize("frame", [
    DEEP,
    '{"type":"sendToGroup","group":"g","dataType":"json","data":' + DEEP + "}",
    '{"type":"sendToGroup","group":"g","dataType":"json","data":1e400}',
    '{"type":"sendToGroup","group":"g","dataType":"json","data":"\\ud800"}',
    '{"type":"sendToGroup","group":"g","dataType":"text","data":"\\udfff"}',
    '{"type":"event","event":"e","dataType":"json","data":[1e400]}',
    '{"type":"sendToGroup","group":"g","dataType":' + DEEP + ',"data":"x"}',
], ids=["deep frame", "deep data", "1e400", "lone surrogate in json", "lone surrogate in text", "1e400 event",
        "deep dataType"])
async def test_frame_json_text_cannot_carry_closes_that_client_with_1007_only(emu: Emulator, frame: str) -> None:
    member = await connect(emu, groups=["g"])
    client = await connect(emu, roles=ROLES)
    await client.ws.send_str(frame)
    await closed_with_1007(client)
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="next", content_type="text/plain")
    assert (await member.receive_data())["data"] == "next"  # and nothing before it
    await member.close()


async def test_group_name_with_a_lone_surrogate_is_refused_like_any_invalid_group(emu: Emulator) -> None:
    client = await connect(emu, roles=ROLES)
    await client.ws.send_str('{"type":"joinGroup","group":"a\\ud800","ackId":1}')
    ack = await client.receive_json()
    assert (ack["success"], ack["error"]["name"]) == (False, "BadRequest")
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body='{"groups":["a\\ud800"]}',
                        content_type="application/json")
    assert result.status == 400
    assert await client.request({"type": "ping"}) == {"type": "pong"}
    await client.close()


async def test_unknown_type_with_a_lone_surrogate_still_gets_its_close_reason(emu: Emulator) -> None:
    client = await connect(emu)
    await client.ws.send_str('{"type":"\\ud800"}')
    disconnected = await client.receive_json()
    assert disconnected["message"] == "Unknown message type '?'."
    await closed_after_disconnected(client)


async def test_event_name_with_a_trailing_newline_is_bad_request(emu: Emulator) -> None:
    client = await connect(emu)
    ack = await client.request({"type": "event", "event": "name\n", "data": "x", "dataType": "text", "ackId": 1})
    assert (ack["success"], ack["error"]["name"]) == (False, "BadRequest")
    await client.close()


@pytest.mark.parametrize("path", ["/client/hubs/chat%0A", "/client/hubs/chat%0A/", "/client?hub=chat%0A"])
async def test_hub_name_with_a_trailing_newline_is_400(emu: Emulator, path: str) -> None:
    separator = "&" if "?" in path else "?"
    assert await handshake_status(emu, f"{path}{separator}access_token={client_token(emu)}") == 400


@pytest.mark.parametrize("query", ["access_token=%ZZ&&==&", "access_token=&access_token", "%00=%00",
                                   "access_token=" + "a" * 7000])
async def test_malformed_query_strings_are_refused_not_crashed(emu: Emulator, query: str) -> None:
    status = await handshake_status(emu, f"/client/hubs/chat?{query}")
    assert status in (400, 401)
    (await connect(emu)).ws  # still serving
    await wait_until(lambda: len(hub_connections(emu)) == 1)


async def test_sec_websocket_protocol_header_over_the_field_limit_is_400(emu: Emulator) -> None:
    offered = ",".join(f"p{n}" for n in range(3000))  # ~17 KB, over aiohttp's 8 KiB field limit
    headers = {"Sec-WebSocket-Protocol": offered}
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={client_token(emu)}", headers) == 400
    client = await connect(emu)
    await client.close()


async def test_many_offered_subprotocols_within_the_limit_still_pick_the_known_one(emu: Emulator) -> None:
    offered = [f"x{n}" for n in range(1000)] + ["json.webpubsub.azure.v1"]  # one 7 KB header
    session = aiohttp.ClientSession()
    try:
        ws = await session.ws_connect(f"{emu.endpoint}/client/hubs/chat?access_token={client_token(emu)}",
                                      protocols=offered)
        assert ws.protocol == "json.webpubsub.azure.v1"
        await ws.close()
    finally:
        await session.close()
