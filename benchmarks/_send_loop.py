"""N calls of one kind and nothing else, against the loopback 202 server: run under
``valgrind --tool=callgrind`` by the send benchmarks' ``--instructions``, once with N=0 and once with N>0,
so the difference is the instructions of N calls alone (start-up, imports and warm-up cancel out).

    python _send_loop.py {sync_sdk|sync_raw|async_sdk|async_raw} PORT N
"""
from __future__ import annotations

import asyncio
import sys

from _common import HUB, connection_string
from _worker import MESSAGE, RAW_HEADERS, SEND_PATH

WARMUP = 64
CONCURRENCY = 32


def sync_calls(kind: str, port: int, calls: int) -> None:
    if kind == "sync_raw":
        import urllib3

        pool = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)
        body = MESSAGE.encode()

        def call() -> None:
            pool.urlopen("POST", SEND_PATH, body=body, headers=RAW_HEADERS, retries=False)
    else:
        from azure.messaging.webpubsubservice import WebPubSubServiceClient

        client = WebPubSubServiceClient.from_connection_string(connection_string(port), hub=HUB)

        def call() -> None:
            client.send_to_all(MESSAGE)
    for _ in range(WARMUP + calls):
        call()


async def async_calls(kind: str, port: int, calls: int) -> None:
    if kind == "async_raw":
        import aiohttp

        session = aiohttp.ClientSession()
        url, body = f"http://127.0.0.1:{port}{SEND_PATH}", MESSAGE.encode()

        async def call() -> None:
            async with session.post(url, data=body, headers=RAW_HEADERS) as response:
                await response.read()
    elif kind == "async_transport":  # our transport alone, the request as the SDK would send it
        from azure.core.rest import HttpRequest

        from azure.messaging.webpubsubservice.aio._transport import AiohttpSessionTransport

        session = AiohttpSessionTransport()
        request = HttpRequest("POST", f"http://127.0.0.1:{port}{SEND_PATH}", content=MESSAGE.encode(),
                              headers=RAW_HEADERS)

        async def call() -> None:
            await session.send(request)
    else:
        from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

        session = WebPubSubServiceClient.from_connection_string(connection_string(port), hub=HUB)

        async def call() -> None:
            await session.send_to_all(MESSAGE)

    async def lane(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(lane(WARMUP // CONCURRENCY) for _ in range(CONCURRENCY)))
    await asyncio.gather(*(lane(calls // CONCURRENCY) for _ in range(CONCURRENCY)))
    await session.close()


if __name__ == "__main__":
    kind, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    if kind.startswith("async"):
        asyncio.run(async_calls(kind, port, count))
    else:
        sync_calls(kind, port, count)
