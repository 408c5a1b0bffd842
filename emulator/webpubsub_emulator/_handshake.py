"""What both WebSocket endpoints (``/client`` and ``/clients/mqtt``) check before the upgrade, written once.

The hub name, single-valued query parameters, the ``Upgrade`` header, the access token (query
``access_token`` or ``Authorization: Bearer``; signed with either access key; audience = the URL as sent),
anonymous access, the user-id and group claims, and the connection limit. A refusal raises
``HandshakeRefused``: an HTTP status with a plain-text body, since no WebSocket exists yet.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, FrozenSet, List, Optional, Sequence

from aiohttp import web

from . import _jwt
from . import _service_errors as errors
from ._config import HUB_NAME_PATTERN
from ._core import EmulatorCore
from ._limits import is_valid_user_id
from ._rest_support import (audience_matches, bearer_token, is_valid_group, optional_query, repeated_parameter,
                            request_base_url)
from ._upstream import ConnectResult

logger = logging.getLogger("webpubsub_emulator")

SHUTTING_DOWN = "The emulator is shutting down."


class HandshakeRefused(Exception):
    """The upgrade is refused with this status (and text)."""

    def __init__(self, status: int, text: str = "") -> None:
        super().__init__(text)
        self.status = status
        self.text = text

    def response(self) -> web.Response:
        return web.Response(status=self.status, text=self.text) if self.text else web.Response(status=self.status)


def claim_list(value: Any) -> List[str]:
    """A claim that may hold one value or an array, as strings."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, str) else json.dumps(item) for item in items]


def check_request(core: EmulatorCore, request: web.Request, hub_name: Optional[str],
                  single_valued: FrozenSet[str]) -> str:
    """The hub name, once the request is one the endpoint can serve at all (raises HandshakeRefused)."""
    if core.shutting_down:
        raise HandshakeRefused(503, SHUTTING_DOWN)
    if hub_name is None:
        raise HandshakeRefused(404, "Not found.")
    if not HUB_NAME_PATTERN.fullmatch(hub_name):  # not match(): `$` would let "chat\n" through
        raise HandshakeRefused(400, f"Invalid hub name '{hub_name}'.")
    repeated = repeated_parameter(request, single_valued)
    if repeated is not None:
        raise HandshakeRefused(400, f"The query parameter '{repeated}' must not be repeated.")
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise HandshakeRefused(400, "A WebSocket upgrade request is expected here.")
    return hub_name


def client_claims(core: EmulatorCore, request: web.Request, hub_name: str, audience_prefix: str) -> Dict[str, Any]:
    """The token's claims; ``{}`` for a client without a token where the hub allows anonymous clients.
    `audience_prefix` is the endpoint's path before the hub name (``/client/hubs/``)."""
    token = optional_query(request, "access_token") or bearer_token(request)
    if not token:
        if core.settings.hub(hub_name).anonymous_connect:
            return {}
        raise HandshakeRefused(401)
    try:
        claims = _jwt.decode(token, core.access_keys)
    except _jwt.TokenError as error:
        logger.info("client token refused: %s", error)
        raise HandshakeRefused(401) from None
    base = request_base_url(request)
    candidates = [f"{base}{audience_prefix}{hub_name}", base + request.raw_path.split("?", 1)[0]]
    if not audience_matches(claims.get("aud"), candidates):
        logger.info("client token refused: audience %r does not match %s", claims.get("aud"), candidates[0])
        raise HandshakeRefused(401)
    return claims


def user_id_claim(claims: Dict[str, Any]) -> Optional[str]:
    sub = claims.get("sub")
    if sub is None:
        return None
    user_id = sub if isinstance(sub, str) else str(sub)
    if not is_valid_user_id(user_id):
        raise HandshakeRefused(400, errors.INVALID_USER_ID_CLAIM)
    return user_id


def group_claims(claims: Dict[str, Any], names: Sequence[str]) -> List[str]:
    """The groups named by these claims, in order, each once."""
    groups: Dict[str, None] = {}
    for name in names:
        for group in claim_list(claims.get(name)):
            if not is_valid_group(group):
                raise HandshakeRefused(400, f"The token's {name} claim holds an invalid group name.")
            groups[group] = None
    return list(groups)


def connect_answer_is_valid(result: ConnectResult) -> bool:
    """False if the connect event handler's answer names an invalid user id or group."""
    if result.user_id_set and result.user_id is not None and not is_valid_user_id(result.user_id):
        return False
    return all(is_valid_group(group) for group in result.groups or [])


def connect_event_body(request: web.Request, claims: Dict[str, Any], offered: List[str]) -> Dict[str, Any]:
    """The `connect` event body: every claim and query value as string arrays, minus the secrets."""
    return {
        "claims": {name: claim_list(value) for name, value in claims.items()},
        "query": {name: request.query.getall(name) for name in request.query.keys()
                  if name.lower() != "access_token"},
        "headers": {name: request.headers.getall(name) for name in request.headers.keys()
                    if name.lower() != "authorization"},
        "subprotocols": offered,
        "clientCertificates": [],
    }


def at_connection_limit(core: EmulatorCore) -> bool:
    limit = core.settings.max_connections
    return limit is not None and core.connection_count() >= limit


def connection_limit_refusal(core: EmulatorCore) -> HandshakeRefused:
    limit = core.settings.max_connections
    logger.warning("connection refused: the limit of %s concurrent connections is reached", limit)
    return HandshakeRefused(errors.CONNECTION_LIMIT_STATUS, errors.CONNECTION_LIMIT_TEXT.format(limit=limit))


class ConnectionSlot:
    """A place under the connection limit, held from the handshake until the connection is in its hub."""

    def __init__(self, core: EmulatorCore) -> None:
        self._core = core
        self._held = True
        core.handshakes_in_progress += 1

    def release(self) -> None:
        if self._held:
            self._held = False
            self._core.handshakes_in_progress -= 1
