"""`Emulator`: the aiohttp server, startable in the running loop or in its own thread."""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType
from typing import Any, Iterable, Mapping, Optional, Type, Union

from aiohttp import web

from ._client import ClientEndpoint
from ._config import (DEFAULT_ACCESS_KEY, EmulatorSettings, EventHandlersArgument, add_event_handlers,
                      apply_config, load_config_file, validate_access_key)
from ._connection import ConnectionLimits
from ._core import EmulatorCore
from ._rest import RestApi

logger = logging.getLogger("webpubsub_emulator")

MAX_REST_BODY_BYTES = 1024 * 1024
DEV_WARNING = ("WARNING: this is a local development/test emulator of Azure Web PubSub, not the service: "
               "no TLS, no persistence, a public default key. Do not expose it or use it in production.")


class Emulator:
    """A local Web PubSub service on loopback.

    `with Emulator() as emu:` runs it in its own thread and event loop; `async with Emulator() as emu:`
    runs it in the current loop. `port=0` picks a free port.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, access_key: str = DEFAULT_ACCESS_KEY,
                 hubs: Iterable[str] = (), event_handlers: Optional[EventHandlersArgument] = None,
                 anonymous_connect: bool = False, config: Union[str, Mapping[str, Any], None] = None,
                 verbose: bool = False, limits: Optional[ConnectionLimits] = None,
                 strict_json_data_types: bool = False) -> None:
        settings = EmulatorSettings(access_key=access_key, anonymous_connect=anonymous_connect,
                                    strict_json_data_types=strict_json_data_types)
        if config is not None:
            if isinstance(config, str):
                load_config_file(config, settings)
            else:
                apply_config(dict(config), settings)
        if access_key != DEFAULT_ACCESS_KEY:
            settings.access_key = access_key
        validate_access_key(settings.access_key)
        for hub in hubs:
            settings.ensure_hub(hub)
        if event_handlers:
            add_event_handlers(settings, event_handlers)
        if anonymous_connect:
            for hub_settings in settings.hubs.values():
                hub_settings.anonymous_connect = True
        self.settings = settings
        self.host = host
        self.limits = limits or ConnectionLimits()
        self.verbose = verbose
        self._requested_port = port
        self._port: Optional[int] = None
        self._core: Optional[EmulatorCore] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None
        self._thread_loop: Optional[asyncio.AbstractEventLoop] = None

    # -- public facts ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def access_key(self) -> str:
        return self.settings.access_key

    @property
    def endpoint(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def connection_string(self) -> str:
        return f"Endpoint={self.endpoint};AccessKey={self.access_key};Version=1.0;"

    @property
    def core(self) -> EmulatorCore:
        if self._core is None:
            raise RuntimeError("the emulator is not running")
        return self._core

    # -- running in the current loop ------------------------------------------------------------
    async def start(self) -> None:
        core = EmulatorCore(self.settings, self.limits)
        app = web.Application(client_max_size=MAX_REST_BODY_BYTES)
        rest = RestApi(core)
        clients = ClientEndpoint(core)
        app.router.add_route("*", "/api/{tail:.*}", rest.handle)
        app.router.add_route("GET", "/client", clients.handle)
        app.router.add_route("GET", "/client/{tail:.*}", clients.handle)
        runner = web.AppRunner(app, access_log=logger if self.verbose else None, handle_signals=False,
                               shutdown_timeout=1.0)
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            await runner.cleanup()
            raise
        site = web.SockSite(runner, sock)
        await site.start()
        self._port = sock.getsockname()[1]
        self._core = core
        self._runner = runner
        logger.info("emulator listening on %s", self.endpoint)

    async def stop(self) -> None:
        core, runner = self._core, self._runner
        if core is not None:
            await core.shutdown()
        if runner is not None:
            await runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> "Emulator":
        await self.start()
        return self

    async def __aexit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                        traceback: Optional[TracebackType]) -> None:
        await self.stop()

    # -- running in a background thread ---------------------------------------------------------
    def __enter__(self) -> "Emulator":
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the caller of __enter__
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        thread = threading.Thread(target=run, name="webpubsub-emulator", daemon=True)
        thread.start()
        started.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._thread, self._thread_loop = thread, loop
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        loop, thread = self._thread_loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=15)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=15)
            self._thread, self._thread_loop = None, None
