"""Abuse protection: which ``WebHook-Request-Origin`` values the OPTIONS handshake may allow."""

from __future__ import annotations

from typing import Iterable, List, Optional, Union
from urllib.parse import urlsplit

AllowedOrigins = Union[str, Iterable[str], None]


def normalise_origin(origin: str) -> str:
    """``https://Contoso.webpubsub.azure.com:443/`` and ``contoso.webpubsub.azure.com`` both become
    ``contoso.webpubsub.azure.com``: the service sends its host name, without scheme or port."""
    text = origin.strip()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    return text.rstrip("/").lower()


class OriginPolicy:
    """Exact, case-insensitive host matching; ``*`` allows everything and must be asked for."""

    def __init__(self, allowed_origins: AllowedOrigins, endpoint: Optional[str]) -> None:
        self.allow_any = allowed_origins == "*"
        self.allowed: List[str] = []
        if self.allow_any:
            return
        if allowed_origins is None:
            if not endpoint:
                raise ValueError(
                    "allowed_origins is required (the Web PubSub host names, or '*') unless access_keys "
                    "is a connection string whose Endpoint gives the host"
                )
            self.allowed = [normalise_origin(endpoint)]
            return
        if isinstance(allowed_origins, str):
            allowed_origins = [allowed_origins]
        for origin in allowed_origins:
            if origin.strip() == "*":
                raise ValueError("'*' must be passed alone: allowed_origins='*'")
            if not normalise_origin(origin):
                raise ValueError("an allowed origin must not be empty")
            self.allowed.append(normalise_origin(origin))

    def refused_origins(self, requested: List[str]) -> List[str]:
        """The requested origins that are not allowed; empty means the handshake succeeds."""
        if self.allow_any:
            return []
        return [origin for origin in requested if normalise_origin(origin) not in self.allowed]


def split_origin_header(header: Optional[str]) -> List[str]:
    return [origin.strip() for origin in (header or "").split(",") if origin.strip()]
