"""An MQTT device and its backend on Azure Web PubSub, in one command:

    python samples/mqtt_device.py [--port PORT]

The device is a simulated thermostat: paho-mqtt over WebSocket, with the URL that the backend mints with
``get_client_access_token(client_protocol="mqtt")``. It publishes its readings to the topic (= group)
``readings`` and, as events for the backend, to ``$webpubsub/server/events/reading``.

The backend is two things: an event handler (``WebPubSubEventHandler`` on a WSGI server) that admits the
device by its MQTT password, hears its readings and knows when it comes and goes; and the service client,
which pushes commands to the device: to this one device (topic ``$webpubsub/server/messages``) and to every
device in the group ``commands`` (topic ``commands``). It prints what each side sees.

By default it starts the local emulator in-process, with the backend (on a free port, or ``--port``) as
the hub's event handler. With a real Web PubSub resource, set WEBPUBSUB_CONNECTION_STRING to its
connection string; the service must then reach the backend: expose 127.0.0.1:PORT at a public URL (for
example through a tunnel), set the hub ``devices``' event handler URL to ``<public URL>/eventhandler``
with the system events ``connect``, ``connected`` and ``disconnected`` and the user events ``*``, and
run the sample with that ``--port``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import threading
from socketserver import ThreadingMixIn
from typing import Any, Iterator
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from webpubsub_emulator import Emulator

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

HUB = "devices"
DEVICE_ID = "thermostat1"  # the MQTT client id is the device's connection id
DEVICE_PASSWORD = b"let-me-in"
TOO_WARM = 23.0
WAIT = 10.0


def create_backend(connection_string: str, service: WebPubSubServiceClient,
                   device_left: threading.Event) -> WebPubSubEventHandler:
    def on_connect(request: ConnectRequest) -> ConnectResponse:
        if request.mqtt is None or request.mqtt.password != DEVICE_PASSWORD:
            raise EventHandlerError(401, "unknown device", mqtt_code=0x86 if request.mqtt and
                                    request.mqtt.protocol_version == 5 else None)
        # Devices may publish readings and hear fleet-wide commands; nothing else.
        return ConnectResponse(user_id=request.mqtt.username, groups=["commands"],
                               roles=["webpubsub.sendToGroup.readings"])

    def on_connected(request: ConnectedRequest) -> None:
        print(f"backend: {request.context.connection_id} connected as {request.context.user_id}")

    def on_user_event(request: UserEventRequest) -> UserEventResponse:
        reading = request.data
        print(f"backend: reading {reading['celsius']} from {request.context.connection_id}")
        if reading["celsius"] > TOO_WARM:  # too warm: tell this device to turn its fan up
            service.send_to_connection(request.context.connection_id, {"command": "fan", "speed": 2})
        return UserEventResponse({"stored": True})

    def on_disconnected(request: DisconnectedRequest) -> None:
        by_client = request.mqtt.initiated_by_client if request.mqtt else None
        print(f"backend: {request.context.connection_id} left (initiated by client: {by_client})")
        device_left.set()

    return WebPubSubEventHandler(HUB, access_keys=connection_string, on_connect=on_connect,
                                 on_connected=on_connected, on_user_event=on_user_event,
                                 on_disconnected=on_disconnected)


class Thermostat:
    """The simulated device: an MQTT 5.0 client over WebSocket."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=DEVICE_ID, protocol=paho.MQTTv5,
                                  transport="websockets")
        self.client.ws_set_options(path=f"{parts.path}?{parts.query}")  # the path carries the access token
        if parts.scheme == "wss":  # a real Web PubSub resource: TLS on port 443
            self.client.tls_set()
        self.client.username_pw_set("kitchen", DEVICE_PASSWORD)
        self.inbox: "queue.Queue[paho.MQTTMessage]" = queue.Queue()
        self.connected = threading.Event()
        self.client.on_connect = lambda client, userdata, flags, code, props: self.connected.set()
        self.client.on_message = lambda client, userdata, message: self.inbox.put(message)
        self.client.on_disconnect = lambda client, userdata, flags, code, props: client.loop_stop()
        self.client.connect(parts.hostname or "localhost", parts.port or 443, keepalive=30)
        self.client.loop_start()
        if not self.connected.wait(WAIT):
            raise RuntimeError("the thermostat could not connect")

    def report(self, celsius: float) -> None:
        reading = json.dumps({"celsius": celsius}).encode()
        as_json = Properties(PacketTypes.PUBLISH)
        as_json.ContentType = "application/json"
        self.client.publish("readings", reading, qos=1, properties=as_json)  # for anyone subscribed
        self.client.publish("$webpubsub/server/events/reading", reading, qos=1, properties=as_json)

    def next_message(self) -> paho.MQTTMessage:
        return self.inbox.get(timeout=WAIT)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - name fixed by the base class
        pass


@contextlib.contextmanager
def web_pubsub_connection_string(handler_url: str) -> Iterator[str]:
    """WEBPUBSUB_CONNECTION_STRING (a real resource), or else an emulator that sends events to ``handler_url``."""
    configured = os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    if configured:
        yield configured
        return
    with Emulator(event_handlers={HUB: handler_url}) as emulator:
        yield emulator.connection_string


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port of the backend's event handler (default: a free one)")
    server = make_server("127.0.0.1", parser.parse_args().port, lambda environ, start: [], _ThreadingServer, _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    handler_url = f"http://127.0.0.1:{server.server_address[1]}/eventhandler"
    try:
        with web_pubsub_connection_string(handler_url) as connection_string, \
                WebPubSubServiceClient.from_connection_string(connection_string, hub=HUB) as service:
            device_left = threading.Event()
            server.set_app(create_backend(connection_string, service, device_left).as_wsgi_app())
            token = service.get_client_access_token(client_protocol="mqtt")
            print("device URL:", token["baseUrl"])
            thermostat = Thermostat(token["url"])
            thermostat.report(21.5)  # answered on .../reading/succeeded
            thermostat.report(23.5)  # answered too, and the backend pushes a fan command: too warm
            for _ in range(3):
                message = thermostat.next_message()
                print(f"device: {message.topic} <- {message.payload.decode()}")
            service.send_to_group("commands", {"command": "update", "firmware": "2.1"})  # to the whole fleet
            message = thermostat.next_message()
            print(f"device: {message.topic} <- {message.payload.decode()}")
            thermostat.close()
            device_left.wait(WAIT)
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
