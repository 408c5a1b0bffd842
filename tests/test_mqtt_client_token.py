"""``get_client_access_token(client_protocol="mqtt")`` end to end: a paho-mqtt device connects to the emulator
with the URL the SDK mints, and the SDK's operations reach it."""

from __future__ import annotations

import asyncio
import queue
from typing import Any, Dict, Iterator, Tuple
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import pytest

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

webpubsub_emulator = pytest.importorskip("webpubsub_emulator")

WAIT = 10.0
VERSIONS = pytest.mark.parametrize("version", [paho.MQTTv311, paho.MQTTv5], ids=["3.1.1", "5.0"])


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with webpubsub_emulator.Emulator() as emu:
        yield emu


class Device:
    """paho over WebSocket, pointed at exactly the URL the SDK returned."""

    def __init__(self, token: Dict[str, str], client_id: str, version: int) -> None:
        url = urlsplit(token["url"])
        assert url.scheme == "ws" and url.path.startswith("/clients/mqtt/hubs/")
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version,
                                  transport="websockets")
        self.client.ws_set_options(path=f"{url.path}?{url.query}")
        self.messages: "queue.Queue[paho.MQTTMessage]" = queue.Queue()
        self.events: "queue.Queue[Tuple[str, Any]]" = queue.Queue()
        self.client.on_connect = lambda c, u, flags, code, props: self.events.put(("connack", code))
        self.client.on_message = lambda c, u, message: self.messages.put(message)
        self.client.on_publish = lambda c, u, mid, code, props: self.events.put(("puback", code))
        self.client.on_disconnect = self._on_disconnect
        self.client.connect(url.hostname or "127.0.0.1", url.port or 80)
        self.client.loop_start()
        assert self.next_event() == ("connack", 0)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, code: Any, props: Any) -> None:
        client.loop_stop()
        self.events.put(("disconnect", code))

    def next_event(self) -> Tuple[str, Any]:
        return self.events.get(timeout=WAIT)

    def message(self) -> paho.MQTTMessage:
        return self.messages.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@VERSIONS
def test_a_device_connects_with_the_minted_url_and_gets_its_groups_and_roles(emulator: Any, version: int) -> None:
    with WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub="devices") as service:
        token = service.get_client_access_token(client_protocol="mqtt", user_id="owner", groups=["commands"],
                                                roles=["webpubsub.sendToGroup.readings"])
        device = Device(token, f"sdk{version}", version)
        service.send_to_group("commands", "open the valve", content_type="text/plain")
        assert (device.message().topic, device.messages.qsize()) == ("commands", 0)
        service.send_to_user("owner", {"firmware": "2.1"})
        update = device.message()
        assert (update.topic, update.payload) == ("$webpubsub/server/messages", b'{"firmware":"2.1"}')
        device.client.publish("readings", b"21.5", qos=1)
        assert device.next_event() == ("puback", 0)
        assert service.connection_exists(f"sdk{version}")
        service.close_connection(f"sdk{version}", reason="done")
        kind, code = device.next_event()
        assert kind == "disconnect" and (code == 0x98 if version == paho.MQTTv5 else code.is_failure)
        assert not service.connection_exists(f"sdk{version}")


def test_the_async_client_mints_mqtt_urls_and_manages_mqtt_sessions(emulator: Any) -> None:
    async def scenario() -> Dict[str, str]:
        async with AsyncWebPubSubServiceClient.from_connection_string(emulator.connection_string,
                                                                      hub="devices") as service:
            return await service.get_client_access_token(client_protocol="MQTT", groups=["alerts"])

    device = Device(asyncio.run(scenario()), "asyncdevice", paho.MQTTv5)

    async def manage() -> None:
        async with AsyncWebPubSubServiceClient.from_connection_string(emulator.connection_string,
                                                                      hub="devices") as service:
            await service.send_to_group("alerts", b"\x01", content_type="application/octet-stream")
            await service.grant_permission("sendToGroup", "asyncdevice", target_name="readings")
            assert await service.has_permission("sendToGroup", "asyncdevice", target_name="readings")

    asyncio.run(manage())
    alert = device.message()
    assert (alert.topic, alert.payload, alert.properties.ContentType) == ("alerts", b"\x01",
                                                                          "application/octet-stream")
    device.client.publish("readings", b"ok", qos=1)
    assert device.next_event() == ("puback", 0)
    device.close()
