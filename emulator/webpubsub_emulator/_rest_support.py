"""REST plumbing: request authentication and parameter validation (error answers: _service_errors)."""
from __future__ import annotations

import logging
import re
from typing import Any, FrozenSet, List, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

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

_INTEGER = re.compile(r"[+-]?[0-9]{1,10}")  # ASCII digits only: int() would also take "\u0665" (Arabic five)
# The REST API's query parameters that are not arrays (`excluded`, `role` and `group` are), lower-cased.
REST_SINGLE_VALUED = frozenset({"api-version", "filter", "messagettlseconds", "reason", "targetname", "maxpagesize",
                                "top", "continuationtoken", "userid", "minutestoexpire", "clienttype"})


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


_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_CanonicalUrl = Tuple[str, str, Tuple[str, ...], Optional[Tuple[Tuple[str, str], ...]]]


def _canonical_url(url: str) -> Optional[_CanonicalUrl]:
    """What two URLs must share to address the same thing, with only the service's normalisations.

    Scheme and host are case-insensitive, a default port may be left out, a trailing slash does not
    count, and each path segment is compared percent-decoded, so `%C3%A9` equals `\u00e9` and `%2f`
    equals `%2F` -- but `a%2Fb` stays one segment and never equals `a/b`, and ids keep their case
    (see `_fold_case`). The query, when present, is compared parameter by parameter after decoding.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    segments = [unquote(segment) for segment in parts.path.rstrip("/").split("/")]
    query = tuple(parse_qsl(parts.query, keep_blank_values=True)) if parts.query else None
    return scheme, host, _fold_case(segments), query


def _fold_case(segments: List[str]) -> Tuple[str, ...]:
    """Lower-case what the service matches case-insensitively -- the route's fixed words (ASP.NET
    routing ignores case) and the hub name -- but never an id or a group name: in
    `['', 'api', 'hubs', hub, 'users', id, ':send']` every other segment after the hub is an id."""
    has_ids = len(segments) > 3 and segments[2].lower() == "hubs"
    return tuple(segment if has_ids and index > 4 and index % 2 == 1 and not segment.startswith(":")
                 else segment.lower() for index, segment in enumerate(segments))


def audience_matches(audience: Any, candidates: List[str]) -> bool:
    """True if a token's `aud` names one of the candidate URLs (the request as sent). An audience
    without a query matches whatever query the request has; one with a query must match it."""
    if not isinstance(audience, str):
        return False
    if audience in candidates:  # what SDKs sign: the URL exactly as sent
        return True
    wanted = _canonical_url(audience)
    if wanted is None:
        return False
    for candidate in candidates:
        actual = _canonical_url(candidate)
        if actual is not None and wanted[:3] == actual[:3] and wanted[3] in (None, actual[3]):
            return True
    return False


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
    return audience_matches(claims.get("aud"), [request_base_url(request) + request.raw_path])


# -- validation --------------------------------------------------------------------------------------
def validate_hub(hub: str) -> str:
    if not HUB_NAME_PATTERN.fullmatch(hub):  # not match(): `$` would let "chat\n" through
        raise invalid_hub_name(hub)
    return hub


def is_valid_group(group: Any) -> bool:
    # A lone surrogate (JSON "\ud800") would break every later frame that names the group.
    return is_valid_group_name(group) and _is_unicode_text(group)


def _is_unicode_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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


def parse_integer(text: str) -> Optional[int]:
    """An optionally signed decimal of at most 10 ASCII digits, nothing around it; None otherwise."""
    return int(text) if _INTEGER.fullmatch(text) else None


def int_query(request: web.Request, name: str, minimum: int, maximum: int) -> Optional[int]:
    raw = optional_query(request, name)
    if raw is None:
        return None
    value = parse_integer(raw)
    if value is None or not minimum <= value <= maximum:
        raise invalid_integer(name, raw, minimum, maximum)
    return value


def repeated_parameter(request: web.BaseRequest, single_valued: FrozenSet[str]) -> Optional[str]:
    """The first of the `single_valued` (lower-case) query parameters that the request repeats, names
    compared case-insensitively as ASP.NET binds them. Taking one of the values silently (we took the
    last, ASP.NET binding takes the first) would hide the caller's bug; unknown parameters are ignored."""
    seen = set()
    for name, _value in request.query.items():  # keys() lists each name once (multidict 7)
        key = name.lower()
        if key in single_valued:
            if key in seen:
                return name
            seen.add(key)
    return None


def optional_query(request: web.Request, name: str) -> Optional[str]:
    values = request.query.getall(name, [])
    return values[-1] if values else None


def excluded_ids(request: web.Request) -> frozenset[str]:
    return frozenset(request.query.getall("excluded", []))
