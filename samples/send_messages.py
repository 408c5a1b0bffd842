"""Send to everyone, a group, a user or one connection; with filters, exclusions and a TTL.

    python samples/send_messages.py

Connects ``alice`` and ``bob`` and prints what each receives of text, JSON and binary messages. Starts
the local emulator in-process, or uses the resource WEBPUBSUB_CONNECTION_STRING names.
"""

from _sample_support import Listener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata


def main() -> None:
    with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        alice = Listener(service.get_client_access_token(user_id="alice", groups=["room1"])["url"])
        bob = Listener(service.get_client_access_token(user_id="bob")["url"])
        alice.next(), bob.next()  # connected

        service.send_to_all("to everyone", excluded=[bob.connection_id])
        print("alice got:", alice.next()["data"])

        service.send_to_all({"only": "bob"}, filter=odata("userId eq {}", "bob"), message_ttl_seconds=60)
        print("bob got:", bob.next()["data"])

        service.send_to_group("room1", "to room1")
        print("alice got:", alice.next()["data"])

        service.send_to_user("bob", b"\x01\x02")
        print("bob got:", bob.next()["dataType"])

        service.send_to_connection(alice.connection_id, '{"pre": "serialized"}', content_type="application/json")
        print("alice got:", alice.next()["data"])
        alice.close(), bob.close()


if __name__ == "__main__":
    main()
