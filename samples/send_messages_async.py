"""The asyncio client: send to everyone, a group, a user or one connection, many sends at once.

    python samples/send_messages_async.py

Connects ``alice`` and ``bob`` and prints what each receives, including five sends made concurrently
with ``asyncio.gather``. Starts the local emulator in-process, or uses the resource
WEBPUBSUB_CONNECTION_STRING names.
"""

import asyncio

from _async_sample_support import AsyncListener, web_pubsub_connection_string

from azure.messaging.webpubsubservice import odata
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient


async def main() -> None:
    async with web_pubsub_connection_string() as connection_string, \
            WebPubSubServiceClient.from_connection_string(connection_string, hub="samples") as service:
        alice_token = await service.get_client_access_token(user_id="alice", groups=["room1"])
        bob_token = await service.get_client_access_token(user_id="bob")
        async with AsyncListener(alice_token["url"]) as alice, AsyncListener(bob_token["url"]) as bob:
            await alice.next(), await bob.next()  # connected

            await service.send_to_all("to everyone", excluded=[bob.connection_id])
            print("alice got:", (await alice.next())["data"])

            await service.send_to_all({"only": "bob"}, filter=odata("userId eq {}", "bob"), message_ttl_seconds=60)
            print("bob got:", (await bob.next())["data"])

            await service.send_to_group("room1", "to room1")
            print("alice got:", (await alice.next())["data"])

            await service.send_to_user("bob", b"\x01\x02")
            print("bob got:", (await bob.next())["dataType"])

            # One client serves many concurrent calls over its pooled connections.
            await asyncio.gather(*(service.send_to_connection(alice.connection_id, {"n": n}) for n in range(5)))
            numbers = sorted([(await alice.next())["data"]["n"] for _ in range(5)])
            print("alice got numbers:", numbers)


if __name__ == "__main__":
    asyncio.run(main())
