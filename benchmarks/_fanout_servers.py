"""The two servers of the fan-out benchmark, each run in a process of its own.

``emulator``: our Web PubSub emulator (``webpubsub_emulator.Emulator``) on loopback, hub ``bench``.

``bare``: the yardstick, a bare aiohttp server with the same two doors: WebSocket clients connect at
``/client/hubs/bench`` and are kept in a set; ``POST /api/hubs/bench/:send`` sends the body to every one
of them in a plain ``for`` loop (``await ws.send_str``) and answers 202. No auth, no queues, no
per-connection state: what an aiohttp broadcast costs, and nothing else.

Protocol with the parent: prints ``{"port": N}`` once listening; answers ``{"op": "cpu"}`` with the
process's CPU seconds so far; exits when stdin closes.
"""
from __future__ import annotations

import asyncio
import json
import resource
import sys
from typing import Set

from _common import ACCESS_KEY, HUB
from _ws_swarm import raise_fd_limit
from aiohttp import web


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def answer_parent(port: int) -> None:
    """Greet the parent, then answer its CPU queries until it closes stdin."""
    loop = asyncio.get_running_loop()
    print(json.dumps({"port": port}), flush=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        print(json.dumps({"cpu_seconds": cpu_seconds()}), flush=True)


async def run_emulator() -> None:
    from webpubsub_emulator import Emulator  # type: ignore[import-not-found,unused-ignore]

    async with Emulator(access_key=ACCESS_KEY, hubs=[HUB]) as emulator:
        await answer_parent(emulator.port)


async def run_bare() -> None:
    clients: Set[web.WebSocketResponse] = set()

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        # Same framing settings as the emulator's sockets: no compression, pings every 20 s.
        ws = web.WebSocketResponse(compress=False, heartbeat=20.0)
        await ws.prepare(request)
        clients.add(ws)
        try:
            async for _message in ws:
                pass
        finally:
            clients.discard(ws)
        return ws

    async def send(request: web.Request) -> web.Response:
        text = await request.text()
        for ws in list(clients):
            await ws.send_str(text)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_get(f"/client/hubs/{HUB}", websocket)
    app.router.add_post(f"/api/hubs/{HUB}/:send", send)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    try:
        await answer_parent(runner.addresses[0][1])
    finally:
        for ws in list(clients):
            await ws.close()
        await runner.cleanup()


if __name__ == "__main__":
    raise_fd_limit()
    asyncio.run(run_emulator() if sys.argv[1:] == ["emulator"] else run_bare())
