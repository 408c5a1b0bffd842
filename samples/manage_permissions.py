"""Grant, check and revoke a connection's permission to join or publish to a group.

    python samples/manage_permissions.py

Connects ``carol`` without roles, grants her connection the right to join ``room1``, shows her join
acknowledged, then revokes it. Starts the local emulator in-process, or uses the resource
WEBPUBSUB_CONNECTION_STRING names.
"""

from _sample_support import Listener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubPermission, WebPubSubServiceClient


def main() -> None:
    with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        client = Listener(service.get_client_access_token(user_id="carol")["url"])
        client.next()
        connection = client.connection_id

        print("may join room1:", service.has_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, connection,
                                                       target_name="room1"))
        service.grant_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, connection, target_name="room1")
        print("may join room1 after grant:", service.has_permission("joinLeaveGroup", connection,
                                                                    target_name="room1"))
        client.send({"type": "joinGroup", "group": "room1", "ackId": 1})
        print("join acknowledged:", client.next())

        service.revoke_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, connection, target_name="room1")
        print("may join room1 after revoke:", service.has_permission("joinLeaveGroup", connection,
                                                                     target_name="room1"))
        client.close()


if __name__ == "__main__":
    main()
