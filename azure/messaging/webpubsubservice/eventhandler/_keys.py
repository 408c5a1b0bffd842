"""Access keys for signature checks, from a list, a connection string or AzureKeyCredential."""

from __future__ import annotations

import hashlib
import hmac
from typing import Dict, Iterable, List, Optional, Sequence, Union

from azure.core.credentials import AzureKeyCredential

AccessKeySource = Union[str, AzureKeyCredential]
AccessKeys = Union[str, AzureKeyCredential, Iterable[AccessKeySource], None]


def parse_connection_string(connection_string: str) -> Dict[str, str]:
    """``Name=value;...`` into a dict with lower-cased names; values keep any ``=`` (base64 padding)."""
    settings: Dict[str, str] = {}
    for part in connection_string.split(";"):
        name, separator, value = part.partition("=")
        if separator and name.strip():
            settings[name.strip().lower()] = value.strip()
    return settings


class AccessKeyRing:
    """The keys the handler trusts. Credentials are read on every check so ``update()`` rotates keys."""

    def __init__(self, access_keys: AccessKeys) -> None:
        self.endpoint: Optional[str] = None
        self._sources: List[AccessKeySource] = []
        if access_keys is None:
            return
        if isinstance(access_keys, AzureKeyCredential):
            self._sources = [access_keys]
        elif isinstance(access_keys, str):
            settings = parse_connection_string(access_keys)
            if not settings.get("accesskey"):
                raise ValueError(
                    "access_keys as a string must be a connection string with AccessKey=...; "
                    "pass raw keys as a list, e.g. access_keys=[key]"
                )
            self._sources = [settings["accesskey"]]
            self.endpoint = settings.get("endpoint")
        else:
            for source in access_keys:
                if not isinstance(source, (str, AzureKeyCredential)):
                    raise TypeError(f"access keys must be str or AzureKeyCredential, not {type(source).__name__}")
                if isinstance(source, str) and not source:
                    raise ValueError("an access key must not be empty")
                self._sources.append(source)

    def __bool__(self) -> bool:
        return bool(self._sources)

    def current_keys(self) -> List[str]:
        return [source if isinstance(source, str) else source.key for source in self._sources]


def expected_signature(access_key: str, connection_id: str) -> str:
    digest = hmac.new(access_key.encode("utf-8"), connection_id.encode("utf-8"), hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def signature_matches(header: Optional[str], connection_id: str, keys: Sequence[str]) -> bool:
    """True when any offered ``sha256=`` value matches any key, compared in constant time.

    Every pair is compared (no early exit) so timing does not reveal which key or value matched.
    """
    offered = [part.strip().lower() for part in (header or "").split(",") if part.strip()]
    wanted = [expected_signature(key, connection_id) for key in keys]
    matched = False
    for offered_value in offered:
        for wanted_value in wanted:
            matched |= hmac.compare_digest(offered_value.encode("utf-8"), wanted_value.encode("utf-8"))
    return matched
