"""Shared by the samples: where the service is, and a WebSocket client that shows what arrives.

Set WEBPUBSUB_CONNECTION_STRING to run a sample against a real Web PubSub resource; otherwise the
samples start the local emulator in-process (a development tool, not the service).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import threading
from typing import Any, Iterator, Optional, Sequence

import aiohttp


@contextlib.contextmanager
def web_pubsub_connection_string() -> Iterator[str]:
    configured = os.environ.get("WEBPUBSUB_CONNECTION_STRING")
    if configured:
        yield configured
        return
    from webpubsub_emulator import Emulator

    with Emulator() as emulator:
        yield emulator.connection_string


class Listener:
    """A WebSocket client running in a background thread; ``next()`` returns the next message received."""

    def __init__(self, url: str, protocols: Sequence[str] = ("json.webpubsub.azure.v1",)) -> None:
        self._messages: "queue.Queue[Any]" = queue.Queue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._run(self._open(url, list(protocols)))

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _open(self, url: str, protocols: Sequence[str]) -> None:
        self._session = aiohttp.ClientSession()
        self._socket = await self._session.ws_connect(url, protocols=protocols)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type == aiohttp.WSMsgType.TEXT:
                text = message.data
                self._messages.put(json.loads(text) if self._socket.protocol else text)
            elif message.type == aiohttp.WSMsgType.BINARY:
                self._messages.put(message.data)

    @property
    def connection_id(self) -> Optional[str]:
        return getattr(self, "_connection_id", None)

    def next(self, timeout: float = 5.0) -> Any:
        message = self._messages.get(timeout=timeout)
        if isinstance(message, dict) and message.get("event") == "connected":
            self._connection_id = message.get("connectionId")
        return message

    def send(self, message: Any) -> None:
        self._run(self._socket.send_json(message))

    def close(self) -> None:
        async def shutdown() -> None:
            await self._socket.close()
            await self._session.close()
            self._reader.cancel()

        self._run(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc_details: Any) -> None:
        self.close()
