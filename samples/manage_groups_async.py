"""The asyncio client: groups, existence checks, permissions and paging through a group's members.

    python samples/manage_groups_async.py

Connects three users, manages their groups and permissions with the async client, pages through a
group one member per page, closes a connection and shows the error for a user with no connection.
Starts the local emulator in-process, or uses the resource WEBPUBSUB_CONNECTION_STRING names.
"""

import asyncio

from _async_sample_support import AsyncListener, web_pubsub_connection_string

from azure.core.exceptions import ResourceNotFoundError

from azure.messaging.webpubsubservice import WebPubSubPermission, odata
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient


async def main() -> None:
    async with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        tokens = [await service.get_client_access_token(user_id=user) for user in ("alice", "bob", "carol")]
        async with AsyncListener(tokens[0]["url"]) as alice, AsyncListener(tokens[1]["url"]) as bob, \
                AsyncListener(tokens[2]["url"]) as carol:
            for listener in (alice, bob, carol):
                await listener.next()  # connected

            await service.add_user_to_group("room1", "alice")
            await service.add_connection_to_group("room1", bob.connection_id)
            await service.add_connections_to_groups(groups=["vip"], filter=odata("userId eq {}", "carol"))
            members = [member async for member in service.list_connections_in_group("room1", maxpagesize=1)]
            print("room1 members:", sorted(member["userId"] for member in members))
            print("vip exists:", await service.group_exists("vip"))

            await service.grant_permission(WebPubSubPermission.SEND_TO_GROUP, carol.connection_id,
                                           target_name="room1")
            print("carol may send to room1:",
                  await service.has_permission("sendToGroup", carol.connection_id, target_name="room1"))

            await service.remove_user_from_all_groups("alice")
            await service.remove_connection_from_group("room1", bob.connection_id)
            print("room1 exists after removals:", await service.group_exists("room1"))

            await service.close_user_connections("carol", reason="bye")
            print("carol's close reason:", (await carol.next()).get("message"))
            try:
                await service.add_user_to_group("room1", "nobody")
            except ResourceNotFoundError as error:
                print("adding a user with no connection:", error.status_code)


if __name__ == "__main__":
    asyncio.run(main())
