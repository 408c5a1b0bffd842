"""MQTT sessions where the emulator's other rules meet them: hubs that are forgotten once empty, two access
keys, Entra ID tokens, the connection limit and the handshake rules every WebSocket endpoint applies."""
from __future__ import annotations

from typing import AsyncIterator

import pytest
import pytest_asyncio
from emulator_core_helpers import rest, wait_until
from mqtt_helpers import V311, VERSION_IDS, VERSIONS, Device, device, properties
from paho.mqtt.packettypes import PacketTypes

from webpubsub_emulator import Emulator, MqttOptions

pytestmark = pytest.mark.asyncio
versions = pytest.mark.parametrize("version", VERSIONS, ids=VERSION_IDS)


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


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
