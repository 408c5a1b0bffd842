"""Emulator settings: access keys, limits and per-hub settings, from code, CLI flags or a JSON file.

Two file shapes are accepted, with keys matched case-insensitively:
ours      {"accessKeys": ["primary", "secondary"], "maxConnections": 20, "webSocketKeepAliveIntervalInSeconds": 20,
           "pingTimeoutSeconds": 60, "allowUnvalidatedEntraTokens": false,
           "hubs": {"chat": {"eventHandlers": [...], "anonymousConnectPolicy": "deny",
                             "webSocketKeepAliveIntervalInSeconds": 5, "pingTimeoutSeconds": 15}}}
           ("accessKey": "..." for a single key)
Microsoft {"WebPubSub": {"AccessKey": "...", "AllowUnvalidatedEntraTokens": true, "Hubs": {"chat": {
           "EventHandlers": [{"UrlTemplate": ..., "SystemEvents": [...], "EventPattern": "*"}]}}}}
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._cloudevents import DEFAULT_HUB, SYSTEM_EVENTS, check_url_template
from ._limits import DEFAULT_KEEP_ALIVE_SECONDS, MAX_KEEP_ALIVE_SECONDS, PING_TIMEOUT_INTERVALS
from ._upstream import EventHandlerSettings

DEFAULT_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
MAX_ACCESS_KEYS = 2  # a resource has a primary and a secondary key
HUB_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$")

HandlerSpec = Union[str, EventHandlerSettings]
EventHandlersArgument = Mapping[str, Union[HandlerSpec, Sequence[HandlerSpec]]]


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting is wrong."""


@dataclass
class HubSettings:
    name: str
    event_handlers: List[EventHandlerSettings] = field(default_factory=list)
    anonymous_connect: bool = False
    keep_alive_seconds: Optional[float] = None  # None: the emulator-wide setting
    ping_timeout_seconds: Optional[float] = None


@dataclass
class EmulatorSettings:
    access_keys: List[str] = field(default_factory=lambda: [DEFAULT_ACCESS_KEY])  # primary first
    hubs: Dict[str, HubSettings] = field(default_factory=dict)  # keyed by lower-cased hub name
    anonymous_connect: bool = False
    strict_json_data_types: bool = False  # refuse dataType "protobuf" from JSON clients (protocol_choices)
    allow_unvalidated_entra_tokens: bool = False
    max_connections: Optional[int] = None  # None: unlimited
    keep_alive_seconds: float = DEFAULT_KEEP_ALIVE_SECONDS
    ping_timeout_seconds: Optional[float] = None  # None: PING_TIMEOUT_INTERVALS keep-alive intervals

    @property
    def access_key(self) -> str:
        """The primary key: it signs what the emulator mints (tokens from `:generateToken`)."""
        return self.access_keys[0]

    def keep_alive(self, hub: str) -> Tuple[float, float]:
        """(ping interval, ping timeout) in seconds for a hub's connections."""
        settings = self.hub(hub)
        interval = settings.keep_alive_seconds or self.keep_alive_seconds
        timeout = settings.ping_timeout_seconds or self.ping_timeout_seconds
        return interval, timeout or interval * PING_TIMEOUT_INTERVALS

    def hub(self, name: str) -> HubSettings:
        """A hub's settings; hubs without their own entry use the `_default` entry, if any."""
        settings = self.hubs.get(name.lower()) or self.hubs.get(DEFAULT_HUB)
        return settings or HubSettings(name, [], self.anonymous_connect)

    def ensure_hub(self, name: str) -> HubSettings:
        if not HUB_NAME_PATTERN.fullmatch(name) and name.lower() != DEFAULT_HUB:
            raise ConfigError(f"invalid hub name {name!r}")
        return self.hubs.setdefault(name.lower(), HubSettings(name, [], self.anonymous_connect))


def validate_access_key(key: str) -> None:
    if len(key.encode("utf-8")) < 32:
        raise ConfigError("access key must be at least 32 bytes long")
    if key != key.strip() or ";" in key or any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise ConfigError("access key must not contain ';', control characters or surrounding spaces")


def validate_access_keys(keys: Sequence[str]) -> List[str]:
    """One or two keys (primary, then secondary), each a valid key."""
    if isinstance(keys, str) or not 1 <= len(keys) <= MAX_ACCESS_KEYS:
        raise ConfigError("give one or two access keys (primary and secondary)")
    for key in keys:
        if not isinstance(key, str):
            raise ConfigError("access keys must be strings")
        validate_access_key(key)
    return list(keys)


def validate_keep_alive(value: Any, what: str) -> float:
    """Seconds between pings (the service takes 1-120 whole seconds; fractions speed up tests)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_KEEP_ALIVE_SECONDS:
        raise ConfigError(f"{what} must be a number of seconds above 0 and at most {MAX_KEEP_ALIVE_SECONDS:g}")
    return float(value)


def validate_ping_timeout(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise ConfigError(f"{what} must be a number of seconds above 0 and at most 3600")
    return float(value)


def validate_max_connections(value: Any) -> Optional[int]:
    if value is None:
        return None
    # The int case returns from inside the isinstance() check: mypy narrows Any there on every version.
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ConfigError("maxConnections must be a whole number of at least 1 (or absent for no limit)")


def handler_from_spec(spec: HandlerSpec) -> EventHandlerSettings:
    handler = spec if isinstance(spec, EventHandlerSettings) else EventHandlerSettings(url_template=str(spec))
    try:
        check_url_template(handler.url_template)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return handler


def add_event_handlers(settings: EmulatorSettings, handlers: EventHandlersArgument) -> None:
    for hub, specs in handlers.items():
        items: Sequence[HandlerSpec] = [specs] if isinstance(specs, (str, EventHandlerSettings)) else specs
        settings.ensure_hub(hub).event_handlers.extend(handler_from_spec(spec) for spec in items)


def parse_event_handler_flag(value: str) -> Tuple[str, str]:
    """`HUB=URL_TEMPLATE` from the command line."""
    hub, sep, url = value.partition("=")
    if not sep or not hub or not url:
        raise ConfigError(f"--event-handler expects HUB=URL_TEMPLATE, got {value!r}")
    handler_from_spec(url)
    return hub, url


def _lower_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key).lower(): item for key, item in value.items()}
    return value


def _string_list(value: Any, what: str) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise ConfigError(f"{what} must be a list of strings")


def _handler_from_json(raw: Any, hub: str) -> EventHandlerSettings:
    entry = _lower_keys(raw)
    if not isinstance(entry, dict):
        raise ConfigError(f"hub {hub!r}: each event handler must be an object")
    url = entry.get("urltemplate")
    if not isinstance(url, str):
        raise ConfigError(f"hub {hub!r}: event handler needs a urlTemplate")
    if entry.get("auth") not in (None, {}) and _lower_keys(entry.get("auth")).get("type", "None") != "None":
        raise ConfigError(f"hub {hub!r}: event handler auth is not supported by the emulator")
    pattern = entry.get("usereventpattern", entry.get("eventpattern", ""))
    if pattern is None:
        pattern = ""
    if not isinstance(pattern, str):
        raise ConfigError(f"hub {hub!r}: userEventPattern must be a string")
    system_events = tuple(name.lower() for name in _string_list(entry.get("systemevents"), "systemEvents"))
    unknown = [name for name in system_events if name not in SYSTEM_EVENTS]
    if unknown:
        raise ConfigError(f"hub {hub!r}: unknown system events {unknown}")
    handler = handler_from_spec(url)
    return EventHandlerSettings(url_template=handler.url_template, user_event_pattern=pattern,
                                system_events=system_events)


def load_config_file(path: str, settings: EmulatorSettings) -> None:
    """Merge a JSON config file into `settings` (file values win over defaults)."""
    try:
        with open(path, encoding="utf-8-sig") as stream:
            document = json.load(stream)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path!r}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"config file {path!r} is not valid JSON: {exc}") from exc
    apply_config(document, settings)


def apply_config(document: Any, settings: EmulatorSettings) -> None:
    root = _lower_keys(document)
    if not isinstance(root, dict):
        raise ConfigError("config must be a JSON object")
    if isinstance(root.get("webpubsub"), dict):
        root = _lower_keys(root["webpubsub"])
    key = root.get("accesskey")
    keys = root.get("accesskeys")
    if key is not None and keys is not None:
        raise ConfigError("give accessKey or accessKeys, not both")
    if key is not None:
        if not isinstance(key, str):
            raise ConfigError("accessKey must be a string")
        validate_access_key(key)
        settings.access_keys = [key]
    if keys is not None:
        if not isinstance(keys, list):
            raise ConfigError("accessKeys must be a list of one or two keys (primary, secondary)")
        settings.access_keys = validate_access_keys(keys)
    entra = root.get("allowunvalidatedentratokens")
    if entra is not None:
        if not isinstance(entra, bool):
            raise ConfigError("allowUnvalidatedEntraTokens must be true or false")
        settings.allow_unvalidated_entra_tokens = entra
    if "maxconnections" in root:
        settings.max_connections = validate_max_connections(root["maxconnections"])
    interval, timeout = _keep_alive_entries(root, "")
    settings.keep_alive_seconds = interval or settings.keep_alive_seconds
    settings.ping_timeout_seconds = timeout or settings.ping_timeout_seconds
    hubs = root.get("hubs") or {}
    if not isinstance(hubs, dict):
        raise ConfigError("hubs must be an object keyed by hub name")
    for hub_name, raw_hub in hubs.items():
        hub_entry = _lower_keys(raw_hub) or {}
        if not isinstance(hub_entry, dict):
            raise ConfigError(f"hub {hub_name!r} must be an object")
        hub = settings.ensure_hub(hub_name)
        handlers = hub_entry.get("eventhandlers") or []
        if not isinstance(handlers, list):
            raise ConfigError(f"hub {hub_name!r}: eventHandlers must be a list")
        hub.event_handlers.extend(_handler_from_json(item, hub_name) for item in handlers)
        policy: Optional[Any] = hub_entry.get("anonymousconnectpolicy")
        if policy is not None:
            if not isinstance(policy, str) or policy.lower() not in ("allow", "deny"):
                raise ConfigError(f"hub {hub_name!r}: anonymousConnectPolicy must be 'allow' or 'deny'")
            hub.anonymous_connect = policy.lower() == "allow"
        interval, timeout = _keep_alive_entries(hub_entry, f"hub {hub_name!r}: ")
        hub.keep_alive_seconds = interval or hub.keep_alive_seconds
        hub.ping_timeout_seconds = timeout or hub.ping_timeout_seconds


def _keep_alive_entries(entry: Dict[str, Any], where: str) -> Tuple[Optional[float], Optional[float]]:
    interval = entry.get("websocketkeepaliveintervalinseconds")
    timeout = entry.get("pingtimeoutseconds")
    return (None if interval is None else validate_keep_alive(interval, f"{where}webSocketKeepAliveIntervalInSeconds"),
            None if timeout is None else validate_ping_timeout(timeout, f"{where}pingTimeoutSeconds"))
