"""Emulator settings: the access key and per-hub event handlers, from code, CLI flags or a JSON file.

Two file shapes are accepted, with keys matched case-insensitively:
ours      {"accessKey": "...", "hubs": {"chat": {"eventHandlers": [...], "anonymousConnectPolicy": "deny"}}}
Microsoft {"WebPubSub": {"AccessKey": "...", "Hubs": {"chat": {"EventHandlers": [{"UrlTemplate": ...,
           "SystemEvents": [...], "EventPattern": "*"}]}}}}
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._cloudevents import check_url_template
from ._upstream import EventHandlerSettings

DEFAULT_ACCESS_KEY = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH"
DEFAULT_HUB = "_default"  # catch-all entry for hubs that have none of their own (as Microsoft's emulator)
HUB_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$")
_SYSTEM_EVENTS = ("connect", "connected", "disconnected")

HandlerSpec = Union[str, EventHandlerSettings]
EventHandlersArgument = Mapping[str, Union[HandlerSpec, Sequence[HandlerSpec]]]


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting is wrong."""


@dataclass
class HubSettings:
    name: str
    event_handlers: List[EventHandlerSettings] = field(default_factory=list)
    anonymous_connect: bool = False


@dataclass
class EmulatorSettings:
    access_key: str = DEFAULT_ACCESS_KEY
    hubs: Dict[str, HubSettings] = field(default_factory=dict)  # keyed by lower-cased hub name
    anonymous_connect: bool = False
    strict_json_data_types: bool = False  # refuse dataType "protobuf" from JSON clients (protocol_choices)

    def hub(self, name: str) -> HubSettings:
        """A hub's settings; hubs without their own entry use the `_default` entry, if any."""
        settings = self.hubs.get(name.lower()) or self.hubs.get(DEFAULT_HUB)
        return settings or HubSettings(name, [], self.anonymous_connect)

    def ensure_hub(self, name: str) -> HubSettings:
        if not HUB_NAME_PATTERN.match(name) and name.lower() != DEFAULT_HUB:
            raise ConfigError(f"invalid hub name {name!r}")
        return self.hubs.setdefault(name.lower(), HubSettings(name, [], self.anonymous_connect))


def validate_access_key(key: str) -> None:
    if len(key.encode("utf-8")) < 32:
        raise ConfigError("access key must be at least 32 bytes long")
    if key != key.strip() or ";" in key or any(ord(ch) < 32 or ord(ch) == 127 for ch in key):
        raise ConfigError("access key must not contain ';', control characters or surrounding spaces")


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
    unknown = [name for name in system_events if name not in _SYSTEM_EVENTS]
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
    if key is not None:
        if not isinstance(key, str):
            raise ConfigError("accessKey must be a string")
        validate_access_key(key)
        settings.access_key = key
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
