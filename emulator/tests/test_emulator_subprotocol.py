"""The json.webpubsub.azure.v1 subprotocol: requests, acks, permissions and group delivery."""
from __future__ import annotations

import base64
from typing import Any, AsyncIterator, Dict

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import Client, connect, handshake_status, hub_connections, rest, wait_until

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

JOIN = "webpubsub.joinLeaveGroup"
SEND = "webpubsub.sendToGroup"


async def error_name(client: Client, request: Dict[str, Any]) -> str:
    ack = await client.request(request)
    assert ack["success"] is False, ack
    name: str = ack["error"]["name"]
    return name


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


async def test_join_group_with_role_is_acked_and_receives_group_messages(emu: Emulator) -> None:
    client = await connect(emu, roles=[JOIN])
    ack = await client.request({"type": "joinGroup", "group": "g", "ackId": 1})
    assert ack == {"type": "ack", "ackId": 1, "success": True}
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="hi", content_type="text/plain")
    assert (await client.receive_data())["data"] == "hi"
    await client.close()


async def test_join_without_role_is_forbidden_and_connection_stays_open(emu: Emulator) -> None:
    client = await connect(emu)
    ack = await client.request({"type": "joinGroup", "group": "g", "ackId": 7})
    assert ack["success"] is False and ack["error"]["name"] == "Forbidden"
    assert await client.request({"type": "ping"}) == {"type": "pong"}
    await client.close()


async def test_forbidden_request_without_ack_id_is_silently_dropped(emu: Emulator) -> None:
    client = await connect(emu)
    await client.send({"type": "sendToGroup", "group": "g", "data": "x", "dataType": "text"})
    assert await client.request({"type": "ping"}) == {"type": "pong"}
    await client.close()


async def test_leave_group_stops_delivery(emu: Emulator) -> None:
    client = await connect(emu, roles=[JOIN], groups=["g"])
    assert (await client.request({"type": "leaveGroup", "group": "g", "ackId": 1}))["success"]
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="hi", content_type="text/plain")
    assert await client.nothing_within()
    await client.close()


async def test_send_to_group_delivers_with_from_user_id_in_each_data_type(emu: Emulator) -> None:
    sender = await connect(emu, user="alice", roles=[SEND])
    member = await connect(emu, groups=["g"])
    simple_member = await connect(emu, protocol=None, groups=["g"])
    cases = [("text", "hi", "hi"), ("json", {"a": [1, 2]}, '{"a":[1,2]}'),
             ("binary", base64.b64encode(b"\x01\x02").decode(), b"\x01\x02")]
    for ack_id, (data_type, data, simple_payload) in enumerate(cases, start=1):
        ack = await sender.request({"type": "sendToGroup", "group": "g", "dataType": data_type, "data": data,
                                    "ackId": ack_id})
        assert ack["success"], ack
        assert await member.receive_data() == {"type": "message", "from": "group", "group": "g",
                                               "fromUserId": "alice", "dataType": data_type, "data": data}
        assert (await simple_member.receive()).data == simple_payload
    for client in (sender, member, simple_member):
        await client.close()


async def test_data_type_defaults_to_json(emu: Emulator) -> None:
    sender = await connect(emu, roles=[SEND], groups=["g"])
    await sender.send({"type": "sendToGroup", "group": "g", "data": {"k": 1}})
    message = await sender.receive_data()
    assert (message["dataType"], message["data"]) == ("json", {"k": 1})
    assert "fromUserId" not in message
    await sender.close()


async def test_no_echo_excludes_only_the_sender(emu: Emulator) -> None:
    sender = await connect(emu, user="u", roles=[SEND], groups=["g"])
    same_user = await connect(emu, user="u", groups=["g"])
    await sender.send({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "x", "noEcho": True})
    assert (await same_user.receive_data())["data"] == "x"
    assert await sender.nothing_within()
    await sender.close()
    await same_user.close()


async def test_echo_is_the_default(emu: Emulator) -> None:
    sender = await connect(emu, roles=[SEND], groups=["g"])
    await sender.send({"type": "sendToGroup", "group": "g", "dataType": "text", "data": "x"})
    assert (await sender.receive_data())["data"] == "x"
    await sender.close()


async def test_duplicate_ack_id_is_not_executed_again(emu: Emulator) -> None:
    sender = await connect(emu, roles=[SEND])
    member = await connect(emu, groups=["g"])
    request = {"type": "sendToGroup", "group": "g", "dataType": "text", "data": "once", "ackId": 5}
    assert (await sender.request(request))["success"]
    duplicate = await sender.request(request)
    assert duplicate == {"type": "ack", "ackId": 5, "success": False,
                         "error": {"name": "Duplicate", "message": "Message with ack-id: 5 has been processed"}}
    assert (await member.receive_data())["data"] == "once"
    assert await member.nothing_within()
    await sender.close()
    await member.close()


async def test_failed_ack_id_can_be_retried(emu: Emulator) -> None:
    client = await connect(emu)
    path = f"/api/hubs/chat/permissions/joinLeaveGroup/connections/{client.connection_id}"
    assert await error_name(client, {"type": "joinGroup", "group": "g", "ackId": 1}) == "Forbidden"
    await rest(emu, "PUT", path, [("targetName", "g")])
    assert (await client.request({"type": "joinGroup", "group": "g", "ackId": 1}))["success"]
    await client.close()


async def test_per_group_role_allows_only_that_group(emu: Emulator) -> None:
    client = await connect(emu, roles=["webpubsub.sendToGroup.room1", "webpubsub.joinLeaveGroup.room1"])
    assert (await client.request({"type": "sendToGroup", "group": "room1", "data": 1, "ackId": 1}))["success"]
    assert await error_name(client, {"type": "sendToGroup", "group": "room2", "data": 1, "ackId": 2}) == "Forbidden"
    assert (await client.request({"type": "joinGroup", "group": "room1", "ackId": 3}))["success"]
    assert not (await client.request({"type": "joinGroup", "group": "room2", "ackId": 4}))["success"]
    await client.close()


@pytest.mark.parametrize("pattern,group,allowed", [
    ("chat-*", "chat-1", True), ("chat-*", "chat.1", False), ("clientA.*", "clientA.x", True),
    ("clientA.*", "clientA.x.y", False), ("clientA.**", "clientA.x.y", True), ("room?", "room1", True),
    ("room?", "room12", False), ("a\\*b", "a*b", True), ("a\\*b", "axb", False),
])
async def test_wildcard_join_roles(emu: Emulator, pattern: str, group: str, allowed: bool) -> None:
    client = await connect(emu, roles=[f"webpubsub.joinLeaveGroups.{pattern}"])
    assert (await client.request({"type": "joinGroup", "group": group, "ackId": 1}))["success"] is allowed
    await client.close()


async def test_wildcard_send_role(emu: Emulator) -> None:
    client = await connect(emu, roles=["webpubsub.sendToGroups.team.*"])
    assert (await client.request({"type": "sendToGroup", "group": "team.a", "data": 1, "ackId": 1}))["success"]
    assert not (await client.request({"type": "sendToGroup", "group": "other", "data": 1, "ackId": 2}))["success"]
    await client.close()


async def test_revoke_beats_a_general_role_until_granted_again(emu: Emulator) -> None:
    client = await connect(emu, roles=[SEND])
    path = f"/api/hubs/chat/permissions/sendToGroup/connections/{client.connection_id}"
    await rest(emu, "DELETE", path, [("targetName", "g")])
    assert await error_name(client, {"type": "sendToGroup", "group": "g", "data": 1, "ackId": 1}) == "Forbidden"
    assert (await client.request({"type": "sendToGroup", "group": "h", "data": 1, "ackId": 2}))["success"]
    assert (await rest(emu, "HEAD", path, [("targetName", "g")])).status == 404
    await rest(emu, "PUT", path, [("targetName", "g")])
    assert (await client.request({"type": "sendToGroup", "group": "g", "data": 1, "ackId": 3}))["success"]
    await client.close()


async def test_check_permission_reflects_token_roles(emu: Emulator) -> None:
    client = await connect(emu, roles=["webpubsub.joinLeaveGroup.room1"])
    path = f"/api/hubs/chat/permissions/joinLeaveGroup/connections/{client.connection_id}"
    assert (await rest(emu, "HEAD", path, [("targetName", "room1")])).status == 200
    assert (await rest(emu, "HEAD", path, [("targetName", "room2")])).status == 404
    await client.close()


async def test_membership_does_not_grant_send(emu: Emulator) -> None:
    client = await connect(emu, groups=["g"])
    assert await error_name(client, {"type": "sendToGroup", "group": "g", "data": 1, "ackId": 1}) == "Forbidden"
    await client.close()


async def test_invalid_group_name_is_bad_request_ack(emu: Emulator) -> None:
    client = await connect(emu, roles=[JOIN])
    ack = await client.request({"type": "joinGroup", "group": " ", "ackId": 1})
    assert ack["error"]["name"] == "BadRequest"
    await client.close()


async def test_event_without_handler_is_internal_server_error_ack_and_connection_stays(emu: Emulator) -> None:
    client = await connect(emu)
    ack = await client.request({"type": "event", "event": "chat", "dataType": "text", "data": "x", "ackId": 1})
    assert ack["error"]["name"] == "InternalServerError"
    assert await client.request({"type": "ping"}) == {"type": "pong"}
    await client.close()


async def test_type_matching_is_case_insensitive(emu: Emulator) -> None:
    client = await connect(emu)
    assert await client.request({"type": "PING"}) == {"type": "pong"}
    await client.close()


@pytest.mark.parametrize("frame", ["not json", "[1]", '{"type":"dance"}', '{"type":"joinGroup","group":"g","ackId":-1}',
                                   '{"type":"sendToGroup","group":"g","dataType":"binary","data":"***"}',
                                   '{"type":"sendToGroup","group":"g","dataType":"json","data":null}',
                                   '{"type":"sendToGroup","group":"g","dataType":"text","data":1}',
                                   '{"type":"sendToGroup","group":"g","data":1,"noEcho":"yes"}',
                                   '{"type":"sendToGroup","group":"g","data":NaN}'])
async def test_invalid_message_closes_with_1007_after_disconnected(emu: Emulator, frame: str) -> None:
    client = await connect(emu, roles=[SEND, JOIN])
    await client.ws.send_str(frame)
    disconnected = await client.receive_json()
    assert disconnected["type"] == "system" and disconnected["event"] == "disconnected"
    closing = await client.receive()
    assert (closing.type.name, closing.data) == ("CLOSE", 1007)
    await client.close()
    await wait_until(lambda: not hub_connections(emu))


async def test_binary_frame_closes_json_client_with_1003(emu: Emulator) -> None:
    client = await connect(emu)
    await client.ws.send_bytes(b'{"type":"ping"}')
    assert (await client.receive_json())["event"] == "disconnected"
    assert (await client.receive()).data == 1003
    await client.close()


async def test_simple_send_to_group_mode_publishes_with_permission(emu: Emulator) -> None:
    member = await connect(emu, groups=["g"])
    publisher = await connect(emu, protocol=None, roles=[SEND], groups=["g"],
                              query="webpubsub_mode=sendToGroup&group=g&noEcho=true")
    await publisher.ws.send_str("hello")
    await publisher.ws.send_bytes(b"\x09")
    first = await member.receive_data()
    second = await member.receive_data()
    assert (first["dataType"], first["data"]) == ("text", "hello")
    assert (second["dataType"], second["data"]) == ("binary", base64.b64encode(b"\x09").decode())
    assert await publisher.nothing_within()
    await member.close()
    await publisher.close()


async def test_simple_send_to_group_mode_without_permission_drops_frames(emu: Emulator) -> None:
    member = await connect(emu, groups=["g"])
    publisher = await connect(emu, protocol=None, query="webpubsub_mode=sendToGroup&group=g")
    await publisher.ws.send_str("hello")
    assert await member.nothing_within()
    await member.close()
    await publisher.close()


async def test_simple_client_message_without_handler_is_closed_with_1011(emu: Emulator) -> None:
    client = await connect(emu, protocol=None)
    await client.ws.send_str("hi")
    closing = await client.receive()
    assert (closing.type.name, closing.data) == ("CLOSE", 1011)
    await client.close()


async def test_group_claims_join_without_any_role(emu: Emulator) -> None:
    client = await connect(emu, groups=["a", "b"])
    assert set(emu.core.hub("chat").connections[client.connection_id or ""].groups) == {"a", "b"}
    await client.close()


async def test_client_close_removes_the_connection(emu: Emulator) -> None:
    client = await connect(emu, user="gone")
    await client.close()
    await wait_until(lambda: not hub_connections(emu))
    assert (await rest(emu, "HEAD", "/api/hubs/chat/users/gone")).status == 404


async def test_frame_over_one_mebibyte_is_closed_with_1009(emu: Emulator) -> None:
    client = await connect(emu)
    await client.ws.send_str('{"type":"event","event":"e","dataType":"text","data":"' + "x" * (1024 * 1024) + '"}')
    while True:
        message = await client.receive()
        if message.type == aiohttp.WSMsgType.CLOSE:
            break
    assert message.data == 1009
    await client.close()


async def test_simple_client_receives_no_system_messages(emu: Emulator) -> None:
    client = await connect(emu, protocol=None)
    assert await client.nothing_within()
    await client.close()


async def test_stopping_the_emulator_sends_disconnected_and_closes_every_client() -> None:
    async with Emulator() as emulator:
        client = await connect(emulator)
        simple = await connect(emulator, protocol=None)
    disconnected = await client.receive_json()
    assert disconnected["event"] == "disconnected" and disconnected["message"]
    assert (await client.receive()).type == aiohttp.WSMsgType.CLOSE
    assert (await simple.receive()).type == aiohttp.WSMsgType.CLOSE
    await client.close()
    await simple.close()


async def test_revoke_does_not_remove_existing_membership(emu: Emulator) -> None:
    client = await connect(emu, roles=[JOIN], groups=["g"])
    await rest(emu, "DELETE", f"/api/hubs/chat/permissions/joinLeaveGroup/connections/{client.connection_id}",
               [("targetName", "g")])
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="still", content_type="text/plain")
    assert (await client.receive_data())["data"] == "still"
    assert await error_name(client, {"type": "leaveGroup", "group": "g", "ackId": 1}) == "Forbidden"
    await client.close()


async def test_sequence_ack_on_the_plain_json_protocol_is_ignored(emu: Emulator) -> None:
    client = await connect(emu)
    await client.send({"type": "sequenceAck", "sequenceId": 3})
    assert await client.request({"type": "ping"}) == {"type": "pong"}
    await client.close()


async def test_client_query_form_without_hub_is_400(emu: Emulator) -> None:
    assert await handshake_status(emu, "/client/") == 400
