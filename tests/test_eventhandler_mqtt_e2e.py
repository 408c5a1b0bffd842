"""End to end with MQTT: a paho-mqtt device connects to the emulator, which calls our event handler (ASGI on
uvicorn, WSGI on wsgiref): the handler checks the device's credentials, shapes its session, answers its
events and hears how it left."""

from __future__ import annotations

import queue
from contextlib import contextmanager
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from test_eventhandler_e2e import SERVERS, Recorder, Serve

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import (
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
)

webpubsub_emulator = pytest.importorskip("webpubsub_emulator")

KEY = "e2eKeyABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc"
WAIT = 10.0


def device_handler(recorder: Recorder) -> WebPubSubEventHandler:
    """Admits devices whose MQTT password is "s3cret", names their user after the MQTT user name."""

    def on_connect(request: ConnectRequest) -> ConnectResponse:
        assert request.mqtt is not None
        if request.mqtt.password != b"s3cret":
            raise EventHandlerError(401, "wrong password", mqtt_code=0x86 if request.mqtt.protocol_version == 5
                                    else None)
        request.context.set_state("model", dict(request.mqtt.user_properties).get("model", "?"))
        return ConnectResponse(user_id=request.mqtt.username, groups=["commands"],
                               roles=["webpubsub.sendToGroup.readings"], mqtt_user_properties=[("welcome", "yes")])

    def on_connected(request: ConnectedRequest) -> None:
        recorder.add("connected", (request.context.user_id, request.context.session_id))

    def on_user_event(request: UserEventRequest) -> UserEventResponse:
        return UserEventResponse({"got": request.data, "model": request.context.states["model"]},
                                 mqtt_user_properties=[("unit", dict(request.mqtt_user_properties)["unit"])])

    def on_disconnected(request: DisconnectedRequest) -> None:
        recorder.add("disconnected", request.mqtt)

    return WebPubSubEventHandler("devices", allowed_origins=["127.0.0.1"], access_keys=[KEY], on_connect=on_connect,
                                 on_connected=on_connected, on_user_event=on_user_event,
                                 on_disconnected=on_disconnected)


@contextmanager
def emulator_calling(handler: WebPubSubEventHandler, serve: Serve) -> Iterator[Any]:
    with serve(handler) as base_url:
        with webpubsub_emulator.Emulator(access_key=KEY,
                                         event_handlers={"devices": f"{base_url}/eventhandler"}) as emu:
            yield emu


class Device:
    def __init__(self, url: str, version: int, password: bytes) -> None:
        parts = urlsplit(url)  # what get_client_access_token gives: ws://host:port/clients/mqtt/hubs/devices?...
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="thermostat1", protocol=version,
                                  transport="websockets")
        self.client.ws_set_options(path=f"{parts.path}?{parts.query}")
        self.client.username_pw_set("thermostat-owner", password)
        self.port = parts.port or 80
        self.version = version
        self.connacks: "queue.Queue[Any]" = queue.Queue()
        self.messages: "queue.Queue[paho.MQTTMessage]" = queue.Queue()
        self.client.on_connect = lambda c, u, flags, code, props: self.connacks.put((code, props))
        self.client.on_message = lambda c, u, message: self.messages.put(message)
        self.client.on_disconnect = lambda c, u, flags, code, props: c.loop_stop()

    def connect(self) -> Any:
        props: Optional[Properties] = None
        if self.version == paho.MQTTv5:
            props = Properties(PacketTypes.CONNECT)
            props.UserProperty = [("model", "T-1000")]
        self.client.connect("127.0.0.1", self.port, properties=props)
        self.client.loop_start()
        return self.connacks.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@SERVERS
@pytest.mark.parametrize("version", [paho.MQTTv311, paho.MQTTv5], ids=["3.1.1", "5.0"])
def test_a_device_is_admitted_shaped_answered_and_seen_leaving(serve: Serve, version: int) -> None:
    recorder = Recorder()
    with emulator_calling(device_handler(recorder), serve) as emu:
        service = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub="devices")
        url = service.get_client_access_token(client_protocol="mqtt")["url"]
        device = Device(url, version, b"s3cret")
        code, props = device.connect()
        assert code == 0
        if version == paho.MQTTv5:
            assert props.UserProperty == [("welcome", "yes")]
        user, session_id = recorder.wait_for("connected")
        assert user == "thermostat-owner" and session_id
        service.send_to_group("commands", {"set": 21})  # the connect answer subscribed it to "commands"
        command = device.messages.get(timeout=WAIT)
        assert (command.topic, command.payload) == ("commands", b'{"set":21}')
        publish_props = None
        if version == paho.MQTTv5:
            publish_props = Properties(PacketTypes.PUBLISH)
            publish_props.ContentType = "application/json"
            publish_props.UserProperty = [("unit", "C")]
            device.client.publish("$webpubsub/server/events/reading", b'{"t":20.5}', 1, properties=publish_props)
            reply = device.messages.get(timeout=WAIT)
            assert reply.topic == "$webpubsub/server/events/reading/succeeded"
            assert reply.payload == b'{"got":{"t":20.5},"model":"T-1000"}'
            assert ("unit", "C") in reply.properties.UserProperty
        device.close()
        left = recorder.wait_for("disconnected")
        assert left is not None and left.initiated_by_client
        assert left.disconnect_packet is not None and left.disconnect_packet.code == 0


@SERVERS
@pytest.mark.parametrize("version, code", [(paho.MQTTv311, 5), (paho.MQTTv5, 0x86)], ids=["3.1.1", "5.0"])
def test_a_device_with_the_wrong_password_is_refused_with_an_mqtt_code(serve: Serve, version: int,
                                                                       code: int) -> None:
    with emulator_calling(device_handler(Recorder()), serve) as emu:
        service = WebPubSubServiceClient.from_connection_string(emu.connection_string, hub="devices")
        device = Device(service.get_client_access_token(client_protocol="mqtt")["url"], version, b"guess")
        answer, _ = device.connect()
        # paho reports 3.1.1 return codes as the matching 5.0 reason codes: 5 -> 0x87 "Not authorized"
        assert answer.value == (0x87 if code == 5 else code)
        device.client.loop_stop()
