"""The protobuf subprotocols over real sockets: system messages, requests and acks, reliability, hostile frames."""
from __future__ import annotations

import asyncio
from typing import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import client_token, hub_connections, rest, wait_until
from protobuf_test_helpers import (PING, PROTOBUF_PROTOCOL, RELIABLE_PROTOBUF_PROTOCOL, ProtobufClient, ack, binary,
                                   connect_protobuf, event, gather_close, join, json_data, leave, protobuf_data,
                                   send_to_group, sequence_ack, text)
from test_emulator_reliable import drop
from test_emulator_reliable import recover as recover_session

from webpubsub_emulator import ConnectionLimits, Emulator

pytestmark = pytest.mark.asyncio

JOIN = "webpubsub.joinLeaveGroup"
SEND = "webpubsub.sendToGroup"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(limits=ConnectionLimits(recovery_seconds=2.0, reliable_max_messages=20)) as emulator:
        yield emulator


async def send_text_to_all(emu: Emulator, body: str) -> None:
    assert (await rest(emu, "POST", "/api/hubs/chat/:send", body=body, content_type="text/plain")).status == 202


# -- system messages ------------------------------------------------------------------------------------------
async def test_connected_is_the_first_frame_with_id_and_user(emu: Emulator) -> None:
    client = await connect_protobuf(emu, user="alice")
    connected = client.connected_message
    assert len(connected.connection_id) == 32 and connected.user_id == "alice"
    assert not connected.HasField("reconnection_token")
    assert hub_connections(emu) == [connected.connection_id]
    await client.close()


async def test_connected_without_a_user_has_an_empty_user_id(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    assert client.connected_message.user_id == ""
    await client.close()


async def test_reliable_connected_has_a_reconnection_token(emu: Emulator) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL)
    assert client.connected_message.reconnection_token
    await client.close()


async def test_rest_close_sends_disconnected_with_the_reason_then_1000(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    await rest(emu, "DELETE", f"/api/hubs/chat/connections/{client.connection_id}", [("reason", "bye")])
    assert (await client.closing()).data == 1000 and client.disconnected_reason == "bye"
    await client.close()


async def test_ping_gets_a_pong(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    assert await client.pong()
    await client.close()


# -- requests and acks ----------------------------------------------------------------------------------------
async def test_join_with_role_is_acked_and_receives_group_messages(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=[JOIN])
    assert await client.request_ack(join("g", 1)) == ack(1)
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="hi", content_type="text/plain")
    data = await client.receive_data()
    assert (getattr(data, "from"), data.group, data.data.text_data) == ("group", "g", "hi")
    assert not data.HasField("sequence_id")
    await client.close()


async def test_leave_stops_delivery(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=[JOIN], groups=["g"])
    assert await client.request_ack(leave("g", 1)) == ack(1)
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="hi", content_type="text/plain")
    assert await client.nothing_within()
    await client.close()


async def test_join_without_role_is_forbidden_and_the_connection_stays(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    assert await client.request_ack(join("g", 7)) == ack(7, "Forbidden")
    assert await client.pong()
    await client.close()


async def test_wildcard_roles_decide_what_a_protobuf_client_may_join_and_send_to(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=["webpubsub.joinLeaveGroups.chat-*",
                                                "webpubsub.sendToGroups.clientA.**"])
    assert await client.request_ack(join("chat-1", 1)) == ack(1)
    assert await client.request_ack(join("chat.1", 2)) == ack(2, "Forbidden")
    assert await client.request_ack(send_to_group("clientA.x.y", text("hi"), 3)) == ack(3)
    assert await client.request_ack(send_to_group("clientB.x", text("hi"), 4)) == ack(4, "Forbidden")
    await client.close()


async def test_forbidden_request_without_ack_id_is_silently_dropped(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    await client.send_message(send_to_group("g", text("x")))
    assert await client.pong()
    await client.close()


async def test_an_ack_id_of_zero_is_acked(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=[JOIN])
    assert await client.request_ack(join("g", 0)) == ack(0)
    await client.close()


async def test_duplicate_ack_id_is_not_executed_again(emu: Emulator) -> None:
    sender = await connect_protobuf(emu, roles=[SEND])
    member = await connect_protobuf(emu, groups=["g"])
    assert await sender.request_ack(send_to_group("g", text("once"), 5)) == ack(5)
    duplicate = await sender.request_ack(send_to_group("g", text("twice"), 5))
    assert duplicate == ack(5, "Duplicate")
    assert (await member.receive_data()).data.text_data == "once"
    assert await member.nothing_within()
    await gather_close(sender, member)


async def test_a_failed_ack_id_can_be_retried(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    assert await client.request_ack(join("g", 1)) == ack(1, "Forbidden")
    await rest(emu, "PUT", f"/api/hubs/chat/permissions/joinLeaveGroup/connections/{client.connection_id}",
               [("targetName", "g")])
    assert await client.request_ack(join("g", 1)) == ack(1)
    await client.close()


async def test_duplicate_ack_text_names_the_ack_id(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=[JOIN])
    await client.request_ack(join("g", 9))
    await client.send_message(join("g", 9))
    answer = await client.receive_case("ack_message")
    assert answer.error.message == "Message with ack-id: 9 has been processed"
    await client.close()


@pytest.mark.parametrize("request_", [join(" ", 1), join("", 1), leave("x" * 1025, 1), event("9bad", text("x"), 1),
                                      send_to_group("g", text("x"), 1, ttl_seconds=301)],
                         ids=["blank group", "empty group", "long group", "bad event name", "ttl over 300"])
async def test_invalid_names_and_ttl_get_a_bad_request_ack_and_the_connection_stays(emu: Emulator,
                                                                                   request_: object) -> None:
    client = await connect_protobuf(emu, roles=[JOIN, SEND])
    assert await client.request_ack(request_) == ack(1, "BadRequest")
    assert await client.pong()
    await client.close()


async def test_event_without_a_handler_is_an_internal_server_error_ack(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    assert await client.request_ack(event("chat", text("x"), 1)) == ack(1, "InternalServerError")
    assert await client.pong()
    await client.close()


async def test_no_echo_excludes_only_the_sender(emu: Emulator) -> None:
    sender = await connect_protobuf(emu, roles=[SEND], groups=["g"], user="alice")
    twin = await connect_protobuf(emu, groups=["g"], user="alice")
    assert await sender.request_ack(send_to_group("g", text("quiet"), 1, no_echo=True)) == ack(1)
    assert (await twin.receive_data()).data.text_data == "quiet"
    assert await sender.nothing_within()
    await gather_close(sender, twin)


async def test_echo_is_the_default(emu: Emulator) -> None:
    sender = await connect_protobuf(emu, roles=[SEND], groups=["g"])
    await sender.send_message(send_to_group("g", binary(b"\x00\x01")))
    assert (await sender.receive_data()).data.binary_data == b"\x00\x01"
    await sender.close()


async def test_each_data_case_reaches_protobuf_members_unchanged(emu: Emulator) -> None:
    sender = await connect_protobuf(emu, roles=[SEND])
    member = await connect_protobuf(emu, groups=["g"])
    for ack_id, data in enumerate([text("t"), binary(b"\x01"), json_data('{"a":[1,2]}'), protobuf_data()], start=1):
        assert await sender.request_ack(send_to_group("g", data, ack_id)) == ack(ack_id)
        assert (await member.receive_data()).data == data
    await gather_close(sender, member)


async def test_client_ttl_within_range_is_delivered(emu: Emulator) -> None:
    sender = await connect_protobuf(emu, roles=[SEND])
    member = await connect_protobuf(emu, groups=["g"])
    assert await sender.request_ack(send_to_group("g", text("soon"), 1, ttl_seconds=300)) == ack(1)
    assert (await member.receive_data()).data.text_data == "soon"
    await gather_close(sender, member)


async def test_sequence_ack_on_the_plain_protocol_is_ignored(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    await client.send_message(sequence_ack(3))
    assert await client.pong()
    await client.close()


# -- reliable: sequence ids and recovery ----------------------------------------------------------------------
async def recover(emu: Emulator, connection_id: str, token: str,
                  protocol: str = RELIABLE_PROTOBUF_PROTOCOL) -> ProtobufClient:
    client = await recover_session(emu, connection_id, token, protocol, ProtobufClient)
    assert isinstance(client, ProtobufClient)
    return client


async def test_data_messages_carry_increasing_sequence_ids_but_acks_do_not(emu: Emulator) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL, roles=[JOIN])
    await send_text_to_all(emu, "a")
    await send_text_to_all(emu, "b")
    assert [(await client.receive_data()).sequence_id for _ in range(2)] == [1, 2]
    await client.send_message(join("g", 1))
    assert (await client.receive_message()).WhichOneof("message") == "ack_message"  # acks have no sequence id field
    await client.close()


async def test_recovery_keeps_id_and_groups_and_replays_unacked_in_order(emu: Emulator) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL, groups=["g"])
    connection_id, token = client.connection_id or "", client.connected_message.reconnection_token
    await send_text_to_all(emu, "one")
    await send_text_to_all(emu, "two")
    assert [(await client.receive_data()).data.text_data for _ in range(2)] == ["one", "two"]
    await client.send_message(sequence_ack(1))
    await asyncio.sleep(0.1)
    await drop(client)
    await wait_until(lambda: not emu.core.hub("chat").connections[connection_id].attached)
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="three", content_type="text/plain")
    recovered = await recover(emu, connection_id, token)
    assert recovered.ws.protocol == RELIABLE_PROTOBUF_PROTOCOL
    connected = (await recovered.receive_case("system_message")).connected_message
    assert connected.connection_id == connection_id
    replayed = [await recovered.receive_data() for _ in range(2)]
    assert [(item.sequence_id, item.data.text_data) for item in replayed] == [(2, "two"), (3, "three")]
    await send_text_to_all(emu, "four")
    assert (await recovered.receive_data()).sequence_id == 4
    await recovered.close()


async def test_processed_ack_ids_survive_recovery(emu: Emulator) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL, roles=[JOIN])
    assert await client.request_ack(join("g", 9)) == ack(9)
    await drop(client)
    recovered = await recover(emu, client.connection_id or "", client.connected_message.reconnection_token)
    await recovered.receive_case("system_message")
    assert await recovered.request_ack(join("g", 9)) == ack(9, "Duplicate")
    await recovered.close()


async def test_recovery_offering_another_subprotocol_is_refused_with_1008(emu: Emulator) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL)
    await drop(client)
    refused = await recover(emu, client.connection_id or "", client.connected_message.reconnection_token,
                            protocol="json.reliable.webpubsub.azure.v1")
    assert (await refused.receive()).data == 1008
    await refused.close()


async def test_reliable_buffer_overflow_closes_with_1008(emu: Emulator) -> None:
    client = await connect_protobuf(emu, protocol=RELIABLE_PROTOBUF_PROTOCOL)
    for index in range(21):
        await send_text_to_all(emu, str(index))
    assert await client.close_code() == 1008
    await client.close()
    await wait_until(lambda: not hub_connections(emu))


# -- hostile input --------------------------------------------------------------------------------------------
HOSTILE_FRAMES = [
    (b"\xff\xff\xff", "Error reading protobuf."),
    (bytes.fromhex("32090a05"), "Error reading protobuf."),
    (bytes.fromhex("32030a01ff"), "Error reading protobuf."),
    (b"", "Unsupported request message type."),
    (bytes.fromhex("1a00"), "Unsupported request message type."),
    (bytes.fromhex("3001"), "Unsupported request message type."),
    (bytes.fromhex("0a070a05726f6f6d31"), "Missing MessageData: text_data, binary_data, protobuf_data or "
                                           "json_data is required."),
    (send_to_group("g", json_data("[1,")).SerializeToString(), "'json_data' is not valid JSON."),
    (bytes.fromhex("0a0d0a01671a040a0268693a020a00"), "Streaming requests are not supported."),
]


@pytest.mark.parametrize("frame, reason", HOSTILE_FRAMES,
                         ids=["garbage", "cut off", "bad utf-8", "empty", "unknown case", "wrong wire type",
                              "missing data", "bad json", "stream"])
async def test_malformed_frame_gets_disconnected_then_1007_and_others_are_unaffected(
        emu: Emulator, frame: bytes, reason: str) -> None:
    bystander = await connect_protobuf(emu, groups=["g"])
    client = await connect_protobuf(emu, roles=[SEND, JOIN])
    await client.ws.send_bytes(frame)
    closing = await client.closing()
    assert (closing.data, closing.extra, client.disconnected_reason) == (1007, reason, reason)
    await client.close()
    await wait_until(lambda: hub_connections(emu) == [bystander.connection_id])
    assert await bystander.pong()
    await bystander.close()


async def test_a_text_frame_gets_disconnected_then_1003(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    await client.ws.send_str("SgA=")
    assert (await client.closing()).data == 1003
    await client.close()


async def test_a_frame_over_one_mebibyte_is_closed_with_1009(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=[SEND])
    await client.send_message(send_to_group("g", binary(b"x" * (1024 * 1024))))
    assert await client.close_code() == 1009
    await client.close()
    await wait_until(lambda: not hub_connections(emu))


@pytest.mark.parametrize("frame", [
    bytes.fromhex("3202 1001"),  # join with an ack id and no group
    bytes.fromhex("3204 0805 1001"),  # join whose group is a varint: skipped, so no group
    bytes.fromhex("2a08 1204 0a02 6869 1801"),  # event with data and an ack id but no name
], ids=["join without group", "group of the wrong wire type", "event without name"])
async def test_a_missing_name_reads_as_empty_and_gets_a_bad_request_ack(emu: Emulator, frame: bytes) -> None:
    client = await connect_protobuf(emu, roles=[JOIN])
    await client.ws.send_bytes(frame)
    assert (await client.receive_case("ack_message")).error.name == "BadRequest"
    assert await client.pong()
    await client.close()


async def test_a_refused_request_does_not_disturb_the_next_one(emu: Emulator) -> None:
    client = await connect_protobuf(emu, roles=[JOIN])
    assert await client.request_ack(join("", 1)) == ack(1, "BadRequest")
    assert await client.request_ack(join("g", 2)) == ack(2)
    await client.close()


async def test_a_token_for_another_hub_is_refused_before_the_upgrade(emu: Emulator) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{emu.endpoint}/client/hubs/chat?access_token={client_token(emu, 'other')}",
                                     protocols=[PROTOBUF_PROTOCOL])
    assert refused.value.status == 401


async def test_many_pings_are_each_answered(emu: Emulator) -> None:
    client = await connect_protobuf(emu)
    for _ in range(50):
        await client.send_message(PING)
    answers = [(await client.receive_message()).WhichOneof("message") for _ in range(50)]
    assert answers == ["pong_message"] * 50
    await client.close()
