"""Mint the URL a WebSocket client connects with: user, roles, initial groups, lifetime, protocol.

    python samples/client_access_token.py

Mints a token for ``dave`` (roles, the group ``room1``, 30 minutes), connects a WebSocket client with it
and shows that the roles let it publish to ``room1``; then mints an MQTT URL and connects paho-mqtt with
it. Starts the local emulator in-process, or uses the resource WEBPUBSUB_CONNECTION_STRING names.
"""

import queue
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from _sample_support import Listener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubServiceClient


def main() -> None:
    with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        token = service.get_client_access_token(
            user_id="dave",
            roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup.room1"],
            groups=["room1"],
            minutes_to_expire=30,
        )
        print("baseUrl:", token["baseUrl"])
        print("url starts with:", token["url"][:60], "...")

        with Listener(token["url"]) as client:
            print("connected:", client.next())
            client.send({"type": "sendToGroup", "group": "room1", "dataType": "text", "data": "hi", "ackId": 1})
            print("received:", client.next())
            print("received:", client.next())

        mqtt = service.get_client_access_token(client_protocol="MQTT", groups=["room1"])
        print("MQTT clients connect to:", mqtt["baseUrl"])
        print("an MQTT client connects with it:", connect_mqtt(mqtt["url"]))


def connect_mqtt(url: str) -> str:
    """Connect paho-mqtt (MQTT 5.0 over WebSocket) with the URL and return what the CONNACK said."""
    parts = urlsplit(url)
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="sampledevice", protocol=paho.MQTTv5,
                         transport="websockets")
    client.ws_set_options(path=f"{parts.path}?{parts.query}")
    if parts.scheme == "wss":  # a real Web PubSub resource: TLS on port 443
        client.tls_set()
    answers: "queue.Queue[str]" = queue.Queue()
    client.on_connect = lambda c, userdata, flags, code, props: answers.put(str(code))
    client.connect(parts.hostname or "localhost", parts.port or 443)
    client.loop_start()
    try:
        return answers.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


if __name__ == "__main__":
    main()
