"""Shared by the async samples: where the service is, and an asyncio WebSocket client that shows what arrives.

Set WEBPUBSUB_CONNECTION_STRING to run a sample against a real Web PubSub resource; otherwise the
samples start the local emulator in-process (a development tool, not the service).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import Any, AsyncIterator, Optional, Sequence

import aiohttp


@contextlib.asynccontextmanager
async def web_pubsub_connection_string() -> AsyncIterator[str]:
    configured = os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    if configured:
        yield configured
        return
    from webpubsub_emulator import Emulator

    async with Emulator() as emulator:
        yield emulator.connection_string


class AsyncListener:
    """A WebSocket client of the service; ``await next()`` returns the next message it received."""

    def __init__(self, url: str, protocols: Sequence[str] = ("json.webpubsub.azure.v1",)) -> None:
        self._url = url
        self._protocols = list(protocols)
        self.connection_id: Optional[str] = None

    async def __aenter__(self) -> "AsyncListener":
        self._session = aiohttp.ClientSession()
        self._socket = await self._session.ws_connect(self._url, protocols=self._protocols)
        return self

    async def __aexit__(self, *exc_details: Any) -> None:
        await self._socket.close()
        await self._session.close()

    async def next(self, timeout: float = 5.0) -> Any:
        message = await asyncio.wait_for(self._socket.receive(), timeout)
        if message.type == aiohttp.WSMsgType.BINARY:
            return message.data
        data = json.loads(message.data)
        if isinstance(data, dict) and data.get("event") == "connected":
            self.connection_id = data.get("connectionId")
        return data
