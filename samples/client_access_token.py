"""Mint the URL a WebSocket client connects with: user, roles, initial groups, lifetime, protocol."""

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

        mqtt = service.get_client_access_token(client_protocol="MQTT")
        print("MQTT clients connect to:", mqtt["baseUrl"])


if __name__ == "__main__":
    main()
