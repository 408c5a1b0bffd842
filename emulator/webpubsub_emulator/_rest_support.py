"""REST plumbing: the service's error bodies, request authentication and parameter validation."""
from __future__ import annotations

import json
import re
from typing import Any, Dict, List, NoReturn, Optional
from urllib.parse import unquote

from aiohttp import web

from . import _jwt
from ._config import HUB_NAME_PATTERN

SUPPORTED_API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")
API_SUPPORTED_VERSIONS_HEADER = ", ".join(SUPPORTED_API_VERSIONS)
_GROUP_PATTERN = re.compile(r"^(?!\s+$).{1,1024}$", re.DOTALL)
_DIGITS = re.compile(r"^[+]?\d{1,10}$")


class RestError(Exception):
    def __init__(self, status: int, code: str, message: str, target: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target


def bad_request(message: str, target: str = "Request") -> NoReturn:
    raise RestError(400, "Error.BadRequest", message, target)


def base_headers() -> Dict[str, str]:
    return {"api-supported-versions": API_SUPPORTED_VERSIONS_HEADER}


def error_response(error: RestError, *, head: bool) -> web.Response:
    headers = base_headers()
    headers["x-ms-error-code"] = error.code
    headers["Content-Type"] = "application/json; charset=utf-8"
    if head:
        return web.Response(status=error.status, headers=headers)
    body = {"code": error.code, "message": error.message, "target": error.target, "details": None,
            "innererror": None}
    return web.Response(status=error.status, headers=headers, body=json.dumps(body).encode("utf-8"))


def unauthorized_response() -> web.Response:
    return web.Response(status=401, headers=base_headers())


def empty_response(status: int) -> web.Response:
    return web.Response(status=status, headers=base_headers())


def json_response(value: Any, status: int = 200) -> web.Response:
    headers = base_headers()
    headers["Content-Type"] = "application/json; charset=utf-8"
    return web.Response(status=status, headers=headers, body=json.dumps(value).encode("utf-8"))


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


def authenticate_rest(request: web.Request, access_keys: List[str]) -> bool:
    token = bearer_token(request)
    if token is None:
        return False
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
        bad_request(f"Invalid hub name '{hub}': it must start with a letter, contain only letters, digits, "
                    "'_', '`', ',', '.', '[' or ']' and be at most 128 characters long.", "hub")
    return hub


def is_valid_group(group: Any) -> bool:
    return isinstance(group, str) and bool(_GROUP_PATTERN.match(group))


def validate_group(group: str, target: str = "group") -> str:
    if not is_valid_group(group):
        bad_request(f"Invalid group name '{group}': it must be 1-1024 characters long and not only "
                    "whitespace.", target)
    return group


def validate_id(value: str, target: str) -> str:
    if not value:
        bad_request(f"'{target}' must not be empty.", target)
    return value


def int_query(request: web.Request, name: str, minimum: int, maximum: int) -> Optional[int]:
    values = request.query.getall(name, [])
    if not values:
        return None
    raw = values[-1]
    if not _DIGITS.match(raw.strip()) or not minimum <= int(raw) <= maximum:
        bad_request(f"Invalid value '{raw}' for '{name}': expected an integer between {minimum} and "
                    f"{maximum}.", name)
    return int(raw)


def optional_query(request: web.Request, name: str) -> Optional[str]:
    values = request.query.getall(name, [])
    return values[-1] if values else None


def excluded_ids(request: web.Request) -> frozenset[str]:
    return frozenset(request.query.getall("excluded", []))
