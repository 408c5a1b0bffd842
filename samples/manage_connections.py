"""Check and close connections: one, a user's, a group's, or all of them.

    python samples/manage_connections.py

Connects ``alice``, checks that her connection and user exist, closes her connection with a reason (which
her client receives), then closes by user, by group and everything. Starts the local emulator in-process,
or uses the resource WEBPUBSUB_CONNECTION_STRING names.
"""

from _sample_support import Listener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubServiceClient


def main() -> None:
    with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        alice = Listener(service.get_client_access_token(user_id="alice", groups=["room1"])["url"])
        alice.next()
        print("connection exists:", service.connection_exists(alice.connection_id))
        print("user alice exists:", service.user_exists("alice"))

        service.close_connection(alice.connection_id, reason="maintenance")
        print("alice was told:", alice.next())  # the disconnected system message carries the reason
        print("user alice exists after close:", service.user_exists("alice"))

        service.close_user_connections("bob", reason="not here anyway")
        service.close_group_connections("room1", excluded=["some-connection"])
        service.close_all_connections(reason="shutting down")
        alice.close()


if __name__ == "__main__":
    main()
