"""Endpoints, hub names and connection strings: checked once, before anything touches the network."""

from __future__ import annotations

import re
from typing import Dict, NamedTuple, Optional
from urllib.parse import urlsplit

HUB_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_`,.\[\]]{0,127}$")


def validate_hub(hub: str) -> str:
    if not isinstance(hub, str) or not HUB_PATTERN.match(hub):
        raise ValueError(
            f"invalid hub name {hub!r}: a hub name starts with a letter and has at most 128 characters "
            "made of letters, digits, '_', '`', ',', '.', '[' and ']'"
        )
    return hub


def validate_endpoint(endpoint: str) -> str:
    """Return ``endpoint`` without trailing slashes, or raise ``ValueError`` saying what is wrong."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise ValueError("endpoint is required, e.g. 'https://<resource>.webpubsub.azure.com'")
    parts = urlsplit(endpoint.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"invalid endpoint {endpoint!r}: it must be an absolute http:// or https:// URL, "
            "e.g. 'https://<resource>.webpubsub.azure.com'"
        )
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as error:
        raise ValueError(f"invalid endpoint {endpoint!r}: {error}") from None
    return endpoint.strip().rstrip("/")


class ConnectionString(NamedTuple):
    endpoint: str
    access_key: str


def parse_connection_string(connection_string: str) -> ConnectionString:
    """Parse ``Endpoint=...;AccessKey=...;Version=1.0;[Port=...]`` (keys are case-insensitive)."""
    if not isinstance(connection_string, str):
        raise TypeError("connection_string must be a str")
    fields: Dict[str, str] = {}
    for segment in connection_string.split(";"):
        if not segment.strip():
            continue
        name, sep, value = segment.partition("=")  # values such as base64 keys may contain '='
        if not sep:
            raise ValueError(f"invalid connection string segment {segment.strip()!r}: expected 'Name=value'")
        name = name.strip().lower()
        if name in fields:
            raise ValueError(f"connection string has '{name}' more than once")
        fields[name] = value.strip()
    missing = [label for label in ("Endpoint", "AccessKey") if not fields.get(label.lower())]
    if missing:
        raise ValueError(
            "connection string is missing " + " and ".join(missing)
            + "; expected 'Endpoint=https://<resource>.webpubsub.azure.com;AccessKey=<key>;Version=1.0;'"
        )
    endpoint = validate_endpoint(fields["endpoint"])
    port = fields.get("port")
    if port is not None:
        endpoint = _with_port(endpoint, port)
    return ConnectionString(endpoint, fields["accesskey"])


def _with_port(endpoint: str, port: str) -> str:
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"invalid Port {port!r} in connection string: expected a number from 1 to 65535")
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return parts._replace(netloc=f"{host}:{int(port)}").geturl()


def websocket_base(endpoint: str) -> str:
    """``http(s)://host`` -> ``ws(s)://host``."""
    scheme, sep, rest = endpoint.partition("://")
    return ("wss" if scheme.lower() == "https" else "ws") + sep + rest


def require_text(name: str, value: Optional[str]) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string, got {value!r}")
    return value
