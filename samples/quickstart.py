"""Quickstart: send text, JSON and binary messages to a WebSocket client.

    pip install -r dev_requirements.txt && python samples/quickstart.py

Starts the local Web PubSub emulator in-process (or uses the resource WEBPUBSUB_CONNECTION_STRING
names), connects a WebSocket client with the json.webpubsub.azure.v1 subprotocol, sends three messages
with the SDK and prints what the client received.
"""

from _sample_support import Listener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubServiceClient


def main() -> None:
    with web_pubsub_connection_string() as connection_string:
        service = WebPubSubServiceClient.from_connection_string(connection_string, hub="quickstart")
        token = service.get_client_access_token(user_id="alice")
        print("client URL:", token["baseUrl"])

        with Listener(token["url"]) as client:
            print("client received:", client.next())  # the "connected" system message

            service.send_to_all("Hello, text!")
            service.send_to_all({"hello": "JSON"})
            service.send_to_all(b"\x00\x01 binary")
            for _ in range(3):
                print("client received:", client.next())
        service.close()


if __name__ == "__main__":
    main()
