"""`python -m webpubsub_emulator` / `webpubsub-emulator`: run the emulator in the foreground."""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Dict, List, NoReturn, Optional, Sequence

from ._config import ConfigError, parse_event_handler_flag
from ._limits import DEFAULT_READ_TIMEOUT_SECONDS
from ._mqtt_rules import MqttOptions
from ._server import DEV_WARNING, ENTRA_WARNING, Emulator

PROGRAM = "webpubsub-emulator"
# Where the SDK's event handler answers with its defaults: path /eventhandler, served by uvicorn or gunicorn
# on their default port 8000. README.md, emulator/README.md and a test use this same URL.
EXAMPLE_EVENT_HANDLER = "chat=http://127.0.0.1:8000/eventhandler"


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROGRAM}: error: {message} (see --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROGRAM, description="Local Azure Web PubSub emulator for development and "
                                                      "tests (not the service).",
                            epilog="The emulator's README (emulator/README.md in the repository) explains each "
                                   "flag and the config file.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080, 0 = any free)")
    parser.add_argument("--access-key", action="append", default=None, metavar="KEY",
                        help="access key clients and servers sign tokens with; give it twice for a primary and a "
                             "secondary key (default: the public dev key)")
    parser.add_argument("--hub", action="extend", nargs="+", default=[], metavar="NAME",
                        help="declare a hub (any valid hub name works without it)")
    parser.add_argument("--event-handler", action="extend", nargs="+", default=[], metavar="HUB=URL_TEMPLATE",
                        help=f"event handler URL template for a hub, e.g. {EXAMPLE_EVENT_HANDLER}")
    parser.add_argument("--anonymous", action="store_true", help="let clients connect without an access token")
    parser.add_argument("--allow-unvalidated-entra-tokens", action="store_true",
                        help="accept Microsoft Entra ID bearer tokens for https://webpubsub.azure.com WITHOUT "
                             "checking their signature (local tests only)")
    parser.add_argument("--max-connections", type=int, default=None, metavar="N",
                        help="refuse connections beyond N at once with 429 (default: no limit; a Free unit "
                             "allows 20, a Standard unit 1000)")
    parser.add_argument("--keep-alive-interval", type=float, default=None, metavar="SECONDS",
                        help="seconds between pings to each client (default 20; per hub in --config)")
    parser.add_argument("--ping-timeout", type=float, default=None, metavar="SECONDS",
                        help="close a client that sent nothing for this long with reason PingTimeout "
                             "(default: 3 keep-alive intervals)")
    parser.add_argument("--tls-cert", metavar="FILE", help="serve HTTPS and WSS with this PEM certificate (chain)")
    parser.add_argument("--tls-key", metavar="FILE", help="the PEM private key of --tls-cert")
    parser.add_argument("--config", metavar="FILE", help="JSON settings file (ours or Microsoft's appsettings.json)")
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT_SECONDS, metavar="SECONDS",
                        help="drop a connection whose request head or body takes longer than this "
                             f"(default {DEFAULT_READ_TIMEOUT_SECONDS:g}; WebSockets are not affected)")
    parser.add_argument("--verbose", action="store_true", help="log every connection and request")
    parser.add_argument("--mqtt-allow-underscore", action="store_true",
                        help="also accept '_' in MQTT client ids (tools such as MQTTX use it; the service documents "
                             "letters and digits only)")
    parser.add_argument("--strict-json-data-types", action="store_true",
                        help="close JSON-subprotocol clients that send dataType protobuf, as Microsoft's emulator does")
    return parser


def _configure_logging(verbose: bool) -> None:
    """Warnings from anyone; with ``verbose``, every line of the emulator's own loggers too.

    Only the ``webpubsub_emulator`` logger tree is lowered: a DEBUG root would also print asyncio's and
    aiohttp's internal debug lines.
    """
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose:
        logging.getLogger("webpubsub_emulator").setLevel(logging.DEBUG)


def _fail(message: str) -> int:
    print(f"{PROGRAM}: error: {message}", file=sys.stderr, flush=True)
    return 1


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C arrives as KeyboardInterrupt
            pass
    await emulator.start()
    # Signal handlers are in place before the line is printed: whoever waits for it may stop us at once.
    print(f"Web PubSub emulator listening. Connection string: {emulator.connection_string}", flush=True)
    print(DEV_WARNING, flush=True)
    if emulator.settings.allow_unvalidated_entra_tokens:
        print(ENTRA_WARNING, flush=True)
    try:
        await stop.wait()
    finally:
        print("Shutting down: closing every client connection.", flush=True)
        await emulator.stop()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be between 0 and 65535, got {args.port}")
    handlers: Dict[str, List[str]] = {}
    try:
        for flag in args.event_handler:
            hub, url = parse_event_handler_flag(flag)
            handlers.setdefault(hub, []).append(url)
        emulator = Emulator(host=args.host, port=args.port, access_keys=args.access_key, hubs=args.hub,
                            event_handlers=handlers, anonymous_connect=args.anonymous, config=args.config,
                            verbose=args.verbose, allow_unvalidated_entra_tokens=args.allow_unvalidated_entra_tokens,
                            max_connections=args.max_connections, keep_alive_interval=args.keep_alive_interval,
                            ping_timeout=args.ping_timeout, tls_cert=args.tls_cert, tls_key=args.tls_key,
                            strict_json_data_types=args.strict_json_data_types, read_timeout=args.read_timeout,
                            mqtt=MqttOptions(allow_underscore_in_client_id=args.mqtt_allow_underscore))
    except (ConfigError, ValueError) as error:
        return _fail(str(error))
    try:
        asyncio.run(_serve(emulator))
    except OSError as error:
        return _fail(f"cannot listen on {args.host}:{args.port}: {error.strerror or error}")
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
