"""`Emulator`: the aiohttp server, startable in the running loop or in its own thread."""
from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import threading
from types import TracebackType
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Type, Union

from aiohttp import web

from ._client import ClientEndpoint
from ._config import (DEFAULT_ACCESS_KEY, ConfigError, EmulatorSettings, EventHandlersArgument,
                      add_event_handlers, apply_config, load_config_file, validate_access_key, validate_access_keys,
                      validate_keep_alive, validate_max_connections, validate_ping_timeout)
from ._connection import ConnectionLimits
from ._core import EmulatorCore
from ._http import HttpServer, Route
from ._limits import DEFAULT_READ_TIMEOUT_SECONDS, MAX_REST_BODY_BYTES
from ._mqtt_endpoint import MqttEndpoint
from ._mqtt_rules import DEFAULT_OPTIONS, MqttOptions
from ._rest import RestApi

logger = logging.getLogger("webpubsub_emulator")

DEV_WARNING = ("WARNING: this is a local development/test emulator of Azure Web PubSub, not the service: "
               "no persistence, a public default key. Do not expose it or use it in production.")
ENTRA_WARNING = ("WARNING: --allow-unvalidated-entra-tokens is on: any bearer token whose audience is "
                 "https://webpubsub.azure.com is accepted WITHOUT checking its signature, issuer or roles. "
                 "For local tests only.")


class Emulator:
    """A local Web PubSub service on loopback.

    `with Emulator() as emu:` runs it in its own thread and event loop; `async with Emulator() as emu:`
    runs it in the current loop. `port=0` picks a free port. Arguments given here win over `config`.
    `read_timeout`: seconds a client has to send a request's head, and then its body, before the
    connection is dropped (see `_limits`).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, access_key: str = DEFAULT_ACCESS_KEY,
                 hubs: Iterable[str] = (), event_handlers: Optional[EventHandlersArgument] = None,
                 anonymous_connect: bool = False, config: Union[str, Mapping[str, Any], None] = None,
                 verbose: bool = False, limits: Optional[ConnectionLimits] = None, *,
                 access_keys: Optional[Sequence[str]] = None, allow_unvalidated_entra_tokens: bool = False,
                 max_connections: Optional[int] = None, keep_alive_interval: Optional[float] = None,
                 ping_timeout: Optional[float] = None, tls_cert: Optional[str] = None,
                 tls_key: Optional[str] = None, strict_json_data_types: bool = False,
                 mqtt: MqttOptions = DEFAULT_OPTIONS, read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS) -> None:
        if not read_timeout > 0:  # also refuses NaN
            raise ValueError(f"read_timeout must be a positive number of seconds, got {read_timeout!r}")
        settings = EmulatorSettings(anonymous_connect=anonymous_connect,
                                    strict_json_data_types=strict_json_data_types)
        if config is not None:
            if isinstance(config, str):
                load_config_file(config, settings)
            else:
                apply_config(dict(config), settings)
        if access_keys is not None:
            if access_key != DEFAULT_ACCESS_KEY:
                raise ConfigError("give access_key or access_keys, not both")
            settings.access_keys = validate_access_keys(list(access_keys))
        elif access_key != DEFAULT_ACCESS_KEY:
            validate_access_key(access_key)
            settings.access_keys = [access_key]
        validate_access_keys(settings.access_keys)
        if allow_unvalidated_entra_tokens:
            settings.allow_unvalidated_entra_tokens = True
        if max_connections is not None:
            settings.max_connections = validate_max_connections(max_connections)
        if keep_alive_interval is not None:
            settings.keep_alive_seconds = validate_keep_alive(keep_alive_interval, "keep_alive_interval")
        if ping_timeout is not None:
            settings.ping_timeout_seconds = validate_ping_timeout(ping_timeout, "ping_timeout")
        if (tls_cert is None) != (tls_key is None):
            raise ConfigError("give both tls_cert and tls_key for HTTPS, or neither")
        self._ssl_context: Optional[ssl.SSLContext] = None
        if tls_cert is not None and tls_key is not None:
            self._ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                self._ssl_context.load_cert_chain(tls_cert, tls_key)
            except (OSError, ssl.SSLError) as error:
                raise ConfigError(f"cannot load the TLS certificate {tls_cert!r} and key {tls_key!r}: "
                                  f"{getattr(error, 'strerror', None) or error}") from None
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
        self.mqtt_options = mqtt
        self.verbose = verbose
        self.read_timeout = read_timeout
        self._requested_port = port
        self._port: Optional[int] = None
        self._core: Optional[EmulatorCore] = None
        self._runner: Optional[web.ServerRunner] = None
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
        """The primary access key (the one in `connection_string`)."""
        return self.settings.access_key

    @property
    def access_keys(self) -> List[str]:
        """Primary and (if set) secondary key: tokens signed with either are accepted."""
        return list(self.settings.access_keys)

    def regenerate_key(self, key_type: str = "primary", value: Optional[str] = None) -> str:
        """Replace the primary or secondary key, as Azure's "regenerate key" does, and return the new key.

        Tokens signed with the old key stop working at once; open connections stay open. `value` sets the
        new key (at least 32 bytes); without it a random one is made.
        """
        index = {"primary": 0, "secondary": 1}.get(key_type.lower())
        if index is None:
            raise ValueError(f"key_type must be 'primary' or 'secondary', got {key_type!r}")
        new_key = secrets.token_urlsafe(33) if value is None else value
        validate_access_key(new_key)
        keys = list(self.settings.access_keys)
        if index < len(keys):
            keys[index] = new_key
        else:
            keys.append(new_key)
        self.settings.access_keys = keys
        if self._core is not None:
            self._core.set_access_keys(keys)
        return new_key

    @property
    def endpoint(self) -> str:
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if self._ssl_context is not None else "http"
        return f"{scheme}://{host}:{self.port}"

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
        rest = RestApi(core)
        clients = ClientEndpoint(core)
        get = frozenset({"GET"})
        routes = [Route("/api", rest.handle), Route("/client", clients.handle, get),
                  Route("/clients/mqtt", MqttEndpoint(core, self.mqtt_options).handle, get)]
        server = HttpServer(routes, read_timeout=self.read_timeout, max_body_bytes=MAX_REST_BODY_BYTES,
                            access_log=logger if self.verbose else None)
        runner = web.ServerRunner(server, handle_signals=False, shutdown_timeout=1.0)
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
        site = web.SockSite(runner, sock, ssl_context=self._ssl_context)
        await site.start()
        self._port = sock.getsockname()[1]
        self._core = core
        self._runner = runner
        logger.info("emulator listening on %s", self.endpoint)
        if self.settings.allow_unvalidated_entra_tokens:
            logger.warning(ENTRA_WARNING)

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
