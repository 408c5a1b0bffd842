"""MQTT sessions where the emulator's other rules meet them: hubs that are forgotten once empty, two access
keys, Entra ID tokens, the connection limit and the handshake rules every WebSocket endpoint applies."""
from __future__ import annotations

import asyncio

import pytest
from emulator_core_helpers import handshake_status, rest, wait_until
from mqtt_helpers import V311, Device, device, mqtt_token, properties, raw_client
from paho.mqtt.packettypes import PacketTypes
from test_emulator_access_keys import signature
from test_emulator_entra_and_tls import entra_token
from test_emulator_upstream_support import running_handler
from test_mqtt_cross_protocol import emu, versions  # noqa: F401 - emu is the shared fixture

from webpubsub_emulator import Emulator, MqttOptions
from webpubsub_emulator._mqtt_codec import MQTT_5, Ack, ConnAck, Connect, Publish

pytestmark = pytest.mark.asyncio


# -- hubs are forgotten once empty, and an MQTT session is state ---------------------------------------------
@versions
async def test_a_clean_start_reconnect_of_the_hubs_only_session_stays_reachable(emu: Emulator, version: int) -> None:
    # Discarding the old session empties the hub, which is forgotten; the new session must be in the hub that
    # REST and the other clients see, not in the forgotten one.
    first = await device(emu, "dev1", version=version, groups=["commands"])
    second = await device(emu, "dev1", version=version, groups=["commands"])
    await first.disconnected()
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 200
    await rest(emu, "POST", "/api/hubs/chat/groups/commands/:send", body="to the group", content_type="text/plain")
    assert (await second.message()).payload == b"to the group"
    await rest(emu, "POST", "/api/hubs/chat/connections/dev1/:send", body="to the device", content_type="text/plain")
    assert (await second.message()).payload == b"to the device"
    await second.subscribe("room1")
    listener = await device(emu, "dev2")
    await listener.subscribe("room1")
    await listener.publish("room1", b"from dev2", qos=1)
    assert (await second.message()).payload == b"from dev2"
    await listener.disconnect()
    await second.disconnect()
    first.client.loop_stop()


@versions
async def test_the_hub_is_kept_while_an_offline_session_lives_and_forgotten_when_it_expires(version: int) -> None:
    async with Emulator(mqtt=MqttOptions(session_expiry_max_seconds=1)) as emu:
        client = Device(emu, "dev1", version=version, clean_start=False, groups=["commands"])
        await client.connect(None if version == V311 else properties(PacketTypes.CONNECT, SessionExpiryInterval=30))
        await client.drop()
        await wait_until(lambda: not emu.core.find_hub("chat").connections["dev1"].attached)  # type: ignore
        assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/commands")).status == 200
        await wait_until(lambda: emu.core.find_hub("chat") is None)
        assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/dev1")).status == 404


# -- the handshake rules of every WebSocket endpoint ----------------------------------------------------------
@pytest.mark.parametrize("path", ["/clients/mqtt/hubs/chat%0A", "/clients/mqtt/hubs/chat%0A/"])
async def test_a_hub_name_with_a_trailing_newline_is_400(emu: Emulator, path: str) -> None:
    token = mqtt_token(emu, "chat\n")
    assert await handshake_status(emu, f"{path}?access_token={token}") == 400
    assert emu.core.find_hub("chat\n") is None


async def test_a_repeated_access_token_is_400_not_the_last_one_wins(emu: Emulator) -> None:
    token = mqtt_token(emu)
    assert await handshake_status(emu, f"/clients/mqtt/hubs/chat?access_token={token}&access_token={token}") == 400
    client = Device(emu, "dev1", token=None)
    client.client.ws_set_options(path=f"/clients/mqtt/hubs/chat?access_token={token}&app=1&app=2")
    assert (await client.connect())[0] == 0  # the app's own parameters may repeat
    await client.disconnect()


async def test_a_token_with_a_too_long_user_id_is_refused_before_the_upgrade(emu: Emulator) -> None:
    assert await handshake_status(emu, f"/clients/mqtt/hubs/chat?access_token={mqtt_token(emu, user='u' * 1025)}") \
        == 400
    client = await device(emu, "dev1", user="u" * 1024)
    assert (await rest(emu, "HEAD", "/api/hubs/chat/users/" + "u" * 1024)).status == 200
    await client.disconnect()


@versions
@pytest.mark.parametrize("event", ["chat\n", "9lives", "e" * 129])
async def test_an_event_topic_with_an_invalid_event_name_is_refused(emu: Emulator, version: int, event: str) -> None:
    client = await raw_client(emu, version)
    await client.send(Connect("dev1", protocol_level=version))
    assert isinstance(await client.receive(), ConnAck)
    await client.send(Publish(f"$webpubsub/server/events/{event}", b"x", qos=1, packet_id=1))
    answer = await client.receive()
    assert isinstance(answer, Ack) and answer.packet_id == 1
    assert answer.code == (0x90 if version == MQTT_5 else 0)
    with pytest.raises(asyncio.TimeoutError):
        await client.receive(0.3)  # and no reply on the event's `failed` topic: no event was raised
    await client.close()


# -- two access keys and Entra ID tokens -----------------------------------------------------------------------
PRIMARY, SECONDARY = "P" * 43 + "1", "S" * 43 + "2"


async def test_mqtt_tokens_signed_with_either_key_connect_and_events_carry_both_signatures() -> None:
    async with running_handler() as handler:
        async with Emulator(access_keys=[PRIMARY, SECONDARY], event_handlers={"chat": handler.url_template}) as emu:
            client = await device(emu, "dev1", token=mqtt_token(emu, key=SECONDARY))
            request = (await handler.wait_for(1, event="connected"))[0]
            assert request.headers["ce-signature"] == f"{signature(PRIMARY, 'dev1')},{signature(SECONDARY, 'dev1')}"
            await client.disconnect()


async def test_a_session_outlives_the_rotation_of_the_key_its_token_was_signed_with() -> None:
    async with Emulator(access_keys=[PRIMARY, SECONDARY]) as emu:
        client = await device(emu, "dev1", token=mqtt_token(emu, key=PRIMARY, groups=["commands"]))
        emu.regenerate_key("primary")
        assert await handshake_status(emu, f"/clients/mqtt/hubs/chat?access_token={mqtt_token(emu, key=PRIMARY)}") \
            == 401
        await rest(emu, "POST", "/api/hubs/chat/groups/commands/:send", body="still here", content_type="text/plain")
        assert (await client.message()).payload == b"still here"
        await client.disconnect()


async def test_an_entra_token_does_not_open_an_mqtt_connection() -> None:
    async with Emulator(allow_unvalidated_entra_tokens=True) as emu:
        assert await handshake_status(emu, f"/clients/mqtt/hubs/chat?access_token={entra_token()}") == 401
        token = (await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("clientType", "MQTT")],
                            token=entra_token())).json()["token"]
        client = await device(emu, "dev1", token=token)  # what a backend with Entra ID mints works
        await client.disconnect()


# -- the connection limit --------------------------------------------------------------------------------------
@versions
async def test_at_the_connection_limit_a_device_resumes_its_own_session_but_no_new_one_starts(version: int) -> None:
    async with Emulator(max_connections=1) as emu:
        client = Device(emu, "dev1", version=version, clean_start=False, groups=["commands"])
        await client.connect(None if version == V311 else properties(PacketTypes.CONNECT, SessionExpiryInterval=30))
        await client.drop()
        await wait_until(lambda: not emu.core.find_hub("chat").connections["dev1"].attached)  # type: ignore
        level = MQTT_5 if version != V311 else 4
        stranger = await raw_client(emu, level)  # upgraded: the hub has a session it might resume
        await stranger.send(Connect("dev2", protocol_level=level))
        refused = await stranger.receive()
        assert isinstance(refused, ConnAck) and refused.code == (0x97 if level == MQTT_5 else 3)
        await stranger.close()
        back = Device(emu, "dev1", version=version, clean_start=False)
        code, flags, _ = await back.connect()
        assert code == 0 and flags.session_present
        await back.disconnect()
        client.client.loop_stop()
