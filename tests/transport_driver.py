"""Runs one test body against both default transports: the sync client (urllib3) and the async client
(one aiohttp session), calling either synchronously. Every async call is bounded by ``CALL_BOUND``."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, List

from azure.core.credentials import AzureKeyCredential
from azure.core.rest import HttpRequest

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

KEY = AzureKeyCredential("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH")
CALL_BOUND = 30.0  # seconds: a hung call fails its test instead of stalling the suite


class Driver:
    """``driver.run(client.send_to_all("x"))`` works for both clients: it awaits what needs awaiting."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.loop = asyncio.new_event_loop() if kind == "async" else None
        self._clients: List[Any] = []

    @property
    def is_async(self) -> bool:
        return self.loop is not None

    def client(self, url: str, hub: str = "hub", **kwargs: Any) -> Any:
        """A client with no retries and 10-second timeouts unless the test says otherwise."""
        kwargs.setdefault("retry_total", 0)
        kwargs.setdefault("read_timeout", 10)
        kwargs.setdefault("connection_timeout", 10)
        kind = AsyncWebPubSubServiceClient if self.is_async else WebPubSubServiceClient
        client = kind(url, hub, KEY, **kwargs)
        self._clients.append(client)
        return client

    def run(self, value: Any, bound: float = CALL_BOUND) -> Any:
        if self.loop is not None and inspect.isawaitable(value):
            return self.loop.run_until_complete(asyncio.wait_for(value, bound))
        return value

    def get(self, client: Any, path: str = "/x", **kwargs: Any) -> Any:
        return self.run(client.send_request(HttpRequest("GET", path), **kwargs))

    def body(self, response: Any, raw: bool = False) -> bytes:
        """A streamed response's body through ``iter_bytes()`` (decoded) or ``iter_raw()``."""
        chunks = response.iter_raw() if raw else response.iter_bytes()
        if self.loop is None:
            return b"".join(chunks)

        async def collect() -> bytes:
            return b"".join([chunk async for chunk in chunks])

        return bytes(self.run(collect()))

    def close(self) -> None:
        for client in self._clients:
            self.run(client.close())
        if self.loop is not None:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
