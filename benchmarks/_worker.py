"""The measured side of the benchmarks: one process per client implementation.

The same script measures our SDK and the official one; which one ``import azure.messaging.webpubsubservice``
finds is decided by the parent through ``PYTHONPATH`` (``benchmarks/.official`` first for the official
package). The greeting names the file actually imported, so a mix-up cannot go unnoticed.

Every command runs for a fixed wall-clock duration and replies with the number of completed calls, so a
slow implementation cannot stretch the run. Clients are created once per process and warmed up before
the first timed round (pooled connections open, lazy imports done), as a long-lived backend would be.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Callable, Dict, Optional

from _common import HUB, connection_string

import azure.messaging.webpubsubservice as sdk_package
from azure.messaging.webpubsubservice import WebPubSubServiceClient

MESSAGE = "hello"
SEND_PATH = f"/api/hubs/{HUB}/:send?api-version=2024-12-01"
TOKEN_ARGS: Dict[str, Any] = {"user_id": "user-1", "roles": ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"],
                              "groups": ["group-1", "group-2"]}
# The raw reference lines send what a signed SDK request carries, with a fixed token: they measure the
# transport and the server, nothing else.
RAW_HEADERS = {"Content-Type": "text/plain", "Authorization": "Bearer " + "x" * 180, "Accept": "application/json"}


def timed_loop(call: Callable[[], Any], seconds: float) -> Dict[str, Any]:
    """Call ``call`` back to back for ``seconds``; the clock is read after every call.

    ``cpu`` is the process's CPU time over the loop: what the client itself spent, as opposed to waiting
    for the server.
    """
    clock = time.perf_counter
    count = 0
    cpu_start = time.process_time()
    start = clock()
    deadline = start + seconds
    now = start
    while now < deadline:
        call()
        count += 1
        now = clock()
    return {"count": count, "elapsed": now - start, "cpu": time.process_time() - cpu_start}


class SyncRunner:
    def __init__(self) -> None:
        self.sdk_clients: Dict[int, WebPubSubServiceClient] = {}
        self.raw_pools: Dict[int, Any] = {}
        self.token_client: Optional[WebPubSubServiceClient] = None

    def sync_sdk(self, port: int, seconds: float, warmup: int = 50) -> Dict[str, Any]:
        client = self.sdk_clients.get(port)
        if client is None:
            client = WebPubSubServiceClient.from_connection_string(connection_string(port), hub=HUB)
            for _ in range(warmup):
                client.send_to_all(MESSAGE)
            self.sdk_clients[port] = client
        # send_to_all raises for any non-2xx status, so every counted call was accepted.
        return timed_loop(lambda: client.send_to_all(MESSAGE), seconds)

    def sync_raw(self, port: int, seconds: float, warmup: int = 50) -> Dict[str, Any]:
        """urllib3 with no SDK on top: the ceiling of the sync client's transport."""
        import urllib3

        pool = self.raw_pools.get(port)
        if pool is None:
            pool = self.raw_pools[port] = urllib3.HTTPConnectionPool("127.0.0.1", port, maxsize=1, retries=False)
        body = MESSAGE.encode()

        def post() -> None:
            response = pool.urlopen("POST", SEND_PATH, body=body, headers=RAW_HEADERS, retries=False)
            if response.status != 202:
                raise RuntimeError(f"raw urllib3 got {response.status}")

        for _ in range(warmup):
            post()
        return timed_loop(post, seconds)

    def token(self, seconds: float, warmup: int = 200) -> Dict[str, Any]:
        if self.token_client is None:
            # No request leaves the process: an access key signs the token locally.
            self.token_client = WebPubSubServiceClient.from_connection_string(connection_string(1), hub=HUB)
        client = self.token_client
        sample = client.get_client_access_token(**TOKEN_ARGS)
        if not sample.get("token") or not sample.get("url", "").startswith("ws://"):
            raise RuntimeError(f"unexpected token result {sample!r}")
        for _ in range(warmup):
            client.get_client_access_token(**TOKEN_ARGS)
        return timed_loop(lambda: client.get_client_access_token(**TOKEN_ARGS), seconds)


class AsyncRunner:
    """Keeps one event loop, and one client per kind, alive across rounds."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clients: Dict[Any, Any] = {}

    def run(self, coroutine: Any) -> Dict[str, Any]:
        result: Dict[str, Any] = self.loop.run_until_complete(coroutine)
        return result

    @staticmethod
    async def _concurrent(call: Callable[[], Any], seconds: float, concurrency: int) -> Dict[str, Any]:
        """``concurrency`` tasks each awaiting ``call()`` back to back until the deadline."""
        clock = time.perf_counter
        counts = [0] * concurrency
        cpu_start = time.process_time()
        start = clock()
        deadline = start + seconds

        async def lane(index: int) -> None:
            while clock() < deadline:
                await call()
                counts[index] += 1

        await asyncio.gather(*(lane(i) for i in range(concurrency)))
        return {"count": sum(counts), "elapsed": clock() - start, "cpu": time.process_time() - cpu_start}

    async def async_sdk(self, port: int, seconds: float, concurrency: int, warmup: int = 64) -> Dict[str, Any]:
        key = ("sdk", port)
        client = self.clients.get(key)
        if client is None:
            from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient
            client = AsyncClient.from_connection_string(connection_string(port), hub=HUB)
            await client.__aenter__()
            # Warm up with the same concurrency so the pool holds its connections before timing.
            await asyncio.gather(*(client.send_to_all(MESSAGE) for _ in range(warmup)))
            self.clients[key] = client
        return await self._concurrent(lambda: client.send_to_all(MESSAGE), seconds, concurrency)

    async def async_aiohttp(self, port: int, seconds: float, concurrency: int, warmup: int = 64) -> Dict[str, Any]:
        import aiohttp
        key = ("aiohttp", port)
        first_use = key not in self.clients
        if first_use:
            self.clients[key] = aiohttp.ClientSession()
        session: aiohttp.ClientSession = self.clients[key]
        url = f"http://127.0.0.1:{port}{SEND_PATH}"
        body = MESSAGE.encode()

        async def post() -> None:
            async with session.post(url, data=body, headers=RAW_HEADERS) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"aiohttp got {response.status}")

        if first_use:
            await asyncio.gather(*(post() for _ in range(warmup)))
        return await self._concurrent(post, seconds, concurrency)

    def close(self) -> None:
        async def close_all() -> None:
            for client in self.clients.values():
                await client.close()

        self.loop.run_until_complete(close_all())
        self.loop.close()


def main() -> None:
    sync_runner = SyncRunner()
    async_runner: Optional[AsyncRunner] = None
    try:
        from azure.messaging.webpubsubservice import aio
        has_aio = hasattr(aio, "WebPubSubServiceClient")
    except ImportError:
        has_aio = False
    print(json.dumps({"module": sdk_package.__file__, "version": getattr(sdk_package, "__version__", "?"),
                      "aio": has_aio}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        op = command.pop("op")
        try:
            if op in ("async_sdk", "async_aiohttp"):
                if async_runner is None:
                    async_runner = AsyncRunner()
                result = async_runner.run(getattr(async_runner, op)(**command))
            else:
                result = getattr(sync_runner, op)(**command)
        except Exception as error:  # reported to the parent, which fails the benchmark with it
            result = {"error": f"{op}: {type(error).__name__}: {error}"}
        print(json.dumps(result), flush=True)
    if async_runner is not None:
        async_runner.close()


if __name__ == "__main__":
    main()
