"""CloudEvents binary-mode building blocks for event-handler (upstream) requests.

Pure functions only: URL templates, event routing patterns, signatures and request headers.
The HTTP side lives in ``_upstream.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime, timezone
from typing import Dict, Iterable, Optional, Sequence
from urllib.parse import quote, urlsplit

SPEC_VERSION = "1.0"
AWPS_VERSION = "1.0"
SYSTEM_EVENT_CONTENT_TYPE = "application/json; charset=utf-8"
SYSTEM_EVENT_TYPE_PREFIX = "azure.webpubsub.sys."
USER_EVENT_TYPE_PREFIX = "azure.webpubsub.user."
VALIDATE_EVENT = "validate"
SYSTEM_EVENTS = ("connect", "connected", "disconnected")
DEFAULT_HUB = "_default"  # catch-all hub entry for hubs without their own, as in Microsoft's emulator

_PLACEHOLDER = re.compile(r"\{(hub|event)\}", re.IGNORECASE)


def check_url_template(url_template: str) -> None:
    """Raise ValueError unless the template is an absolute http(s) URL with placeholders only in the path."""
    parts = urlsplit(url_template)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"Event handler URL template must be an absolute http or https URL: {url_template!r}"
        )
    if "{" in parts.netloc or "}" in parts.netloc:
        raise ValueError(f"Placeholders are not allowed in the host of an event handler URL: {url_template!r}")


def expand_url_template(url_template: str, hub: str, event: str) -> str:
    """Substitute {hub} and {event}; values are percent-encoded so they stay one path segment."""
    values = {"hub": hub, "event": event}
    return _PLACEHOLDER.sub(lambda match: quote(values[match.group(1).lower()], safe=""), url_template)


def user_event_pattern_matches(pattern: str, event: str) -> bool:
    """``*`` matches everything, ``a,b`` any listed name (trimmed, case-insensitive), ``""`` nothing."""
    wanted = event.strip().lower()
    for item in pattern.split(","):
        name = item.strip().lower()
        if name == "*" or (name and name == wanted):
            return True
    return False


def system_events_contain(system_events: Iterable[str], event: str) -> bool:
    wanted = event.lower()
    return any(name.strip().lower() == wanted for name in system_events)


def signature(access_keys: Sequence[str], connection_id: str) -> Optional[str]:
    """``sha256=<hex>`` per key, joined by ``,`` so handlers accept either key during key rotation."""
    if not access_keys:
        return None
    message = connection_id.encode("utf-8")
    return ",".join(
        "sha256=" + hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest() for key in access_keys
    )


def rfc3339_utc_now() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def event_headers(
    *,
    hub: str,
    connection_id: str,
    event: str,
    system: bool,
    event_id: int,
    origin: str,
    content_type: str,
    access_keys: Sequence[str],
    user_id: Optional[str] = None,
    subprotocol: Optional[str] = None,
    connection_state: Optional[str] = None,
    physical_connection_id: Optional[str] = None,
    session_id: Optional[str] = None,
) -> Dict[str, str]:
    """All headers of one event request. Empty optional values are left out rather than sent blank.

    MQTT connections add ``physical_connection_id`` (every event) and ``session_id`` (all but connect).
    """
    type_prefix = SYSTEM_EVENT_TYPE_PREFIX if system else USER_EVENT_TYPE_PREFIX
    headers = {
        "Content-Type": content_type,
        "ce-specversion": SPEC_VERSION,
        "ce-awpsversion": AWPS_VERSION,
        "ce-type": type_prefix + event,
        "ce-source": f"/hubs/{hub}/client/{connection_id}"
                     + (f"/{physical_connection_id}" if physical_connection_id else ""),
        "ce-id": str(event_id),
        "ce-time": rfc3339_utc_now(),
        "ce-hub": hub,
        "ce-connectionId": connection_id,
        "ce-eventName": event,
        "WebHook-Request-Origin": origin,
    }
    if user_id:
        headers["ce-userId"] = user_id
    if subprotocol:
        headers["ce-subprotocol"] = subprotocol
    if connection_state:
        headers["ce-connectionState"] = connection_state
    if physical_connection_id:
        headers["ce-physicalConnectionId"] = physical_connection_id
    if session_id:
        headers["ce-sessionId"] = session_id
    signed = signature(access_keys, connection_id)
    if signed is not None:
        headers["ce-signature"] = signed
    return headers


def validation_headers(origin: str) -> Dict[str, str]:
    return {"WebHook-Request-Origin": origin, "ce-awpsversion": AWPS_VERSION}
