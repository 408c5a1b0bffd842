"""REST plumbing: request authentication and parameter validation (error answers: _service_errors)."""
from __future__ import annotations

import logging
import re
from typing import Any, List, Optional
from urllib.parse import unquote

from aiohttp import web

from . import _jwt
from ._config import HUB_NAME_PATTERN
from ._limits import MAX_USER_ID_LENGTH, is_valid_group_name, is_valid_user_id
from ._service_errors import (API_SUPPORTED_VERSIONS_HEADER, JSON_CONTENT_TYPE, SUPPORTED_API_VERSIONS,
                              RestError, bad_request, base_headers, compact_json, error_response,
                              invalid_client_type, invalid_group_name, invalid_hub_name, invalid_id,
                              invalid_integer)

__all__ = ["API_SUPPORTED_VERSIONS_HEADER", "SUPPORTED_API_VERSIONS", "RestError", "bad_request", "base_headers",
           "error_response", "invalid_client_type"]

logger = logging.getLogger("webpubsub_emulator")

_DIGITS = re.compile(r"^[+]?\d{1,10}$")


def unauthorized_response() -> web.Response:
    return web.Response(status=401, headers=base_headers())


def empty_response(status: int) -> web.Response:
    return web.Response(status=status, headers=base_headers())


def json_response(value: Any, status: int = 200) -> web.Response:
    headers = base_headers()
    headers["Content-Type"] = JSON_CONTENT_TYPE
    return web.Response(status=status, headers=headers, body=compact_json(value))


# -- authentication ----------------------------------------------------------------------------------
def bearer_token(request: web.Request) -> Optional[str]:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def audience_matches(audience: Any, candidates: List[str]) -> bool:
    if not isinstance(audience, str):
        return False
    wanted = {candidate.lower() for candidate in candidates}
    wanted |= {unquote(candidate).lower() for candidate in candidates}
    return audience.lower() in wanted or unquote(audience).lower() in wanted


def request_base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


ENTRA_AUDIENCES = ("https://webpubsub.azure.com", "https://webpubsub.azure.com/")  # scope .../.default


def is_unvalidated_entra_token(token: str) -> bool:
    """A current token for the Web PubSub resource audience, signature NOT checked (opt-in, local tests)."""
    try:
        claims = _jwt.decode_unverified(token)
    except _jwt.TokenError as error:
        logger.info("Entra ID token refused: %s", error)
        return False
    return claims.get("aud") in ENTRA_AUDIENCES


def authenticate_rest(request: web.Request, access_keys: List[str], *, allow_entra: bool = False) -> bool:
    token = bearer_token(request)
    if token is None:
        return False
    if allow_entra and is_unvalidated_entra_token(token):
        return True
    try:
        claims = _jwt.decode(token, access_keys)
    except _jwt.TokenError:
        return False
    full_url = request_base_url(request) + request.raw_path
    candidates = [full_url, full_url.split("?", 1)[0]]
    return audience_matches(claims.get("aud"), candidates)


# -- validation --------------------------------------------------------------------------------------
def validate_hub(hub: str) -> str:
    if not HUB_NAME_PATTERN.match(hub):
        raise invalid_hub_name(hub)
    return hub


def is_valid_group(group: Any) -> bool:
    return is_valid_group_name(group)


def validate_group(group: Optional[str], target: str = "group") -> str:
    """A group name from a path, query or body; a missing one (e.g. no `targetName`) is invalid too."""
    if group is None or not is_valid_group(group):
        raise invalid_group_name()
    return group


def validate_id(value: str, target: str) -> str:
    if target == "userId" and not is_valid_user_id(value):
        raise invalid_id(target, MAX_USER_ID_LENGTH)
    if not value:
        raise invalid_id(target, None)
    return value


def int_query(request: web.Request, name: str, minimum: int, maximum: int) -> Optional[int]:
    values = request.query.getall(name, [])
    if not values:
        return None
    raw = values[-1]
    if not _DIGITS.match(raw.strip()) or not minimum <= int(raw) <= maximum:
        raise invalid_integer(name, raw, minimum, maximum)
    return int(raw)


def optional_query(request: web.Request, name: str) -> Optional[str]:
    values = request.query.getall(name, [])
    return values[-1] if values else None


def excluded_ids(request: web.Request) -> frozenset[str]:
    return frozenset(request.query.getall("excluded", []))
