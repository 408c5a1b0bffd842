"""Organise connections and users into groups; list a group's members.

    python samples/manage_groups.py

Connects ``alice`` and ``bob``, adds them to ``room1`` by connection and by user, adds connections to
``vip`` with an OData filter, lists members, and removes them again. Starts the local emulator
in-process, or uses the resource WEBPUBSUB_CONNECTION_STRING names.
"""

from _sample_support import Listener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata


def main() -> None:
    with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        alice = Listener(service.get_client_access_token(user_id="alice")["url"])
        bob = Listener(service.get_client_access_token(user_id="bob")["url"])
        alice.next(), bob.next()

        service.add_connection_to_group("room1", alice.connection_id)
        service.add_user_to_group("room1", "bob")
        print("room1 exists:", service.group_exists("room1"))
        print("room1 members:", sorted(m["userId"] for m in service.list_connections_in_group("room1")))

        service.add_connections_to_groups(groups=["vip"], filter=odata("userId eq {}", "alice"))
        print("vip members:", [m["userId"] for m in service.list_connections_in_group("vip")])

        service.remove_user_from_group("room1", "bob")
        service.remove_connection_from_all_groups(alice.connection_id)
        service.remove_connections_from_groups(groups=["vip"])
        print("room1 exists after removals:", service.group_exists("room1"))
        alice.close(), bob.close()


if __name__ == "__main__":
    main()
