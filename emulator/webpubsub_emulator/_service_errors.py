"""The service's error answers in one place: REST codes, texts and targets, and how they are written.

Everything a refused request gets back is built here, so a text that turns out to differ from the service
is corrected once. Provenance of each text (see service-limits-and-errors.md section 9):

* [obs] recorded from the production service (SDK test recordings): exact bytes;
* [emu] Microsoft's emulator, the only other source;
* [ours] the service is undocumented here; our choice, listed in the README's emulator section.

Two body formats exist at the service, both compact JSON (no spaces; byte counts match the recordings):

* Format A, ``application/json; charset=utf-8``: ``{"code","message","target","details":null,
  "innererror":null}`` with ``x-ms-error-code`` and ``api-supported-versions`` headers.
* Format B, ``application/problem+json; charset=utf-8``: the ASP.NET validation problem the service
  answers for an invalid OData ``filter``; ``x-ms-error-code`` but no ``api-supported-versions``.

HEAD answers carry the headers and the ``Content-Length`` of the body a GET would have had, and no body.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, Mapping, NoReturn, Optional

from aiohttp import web

SUPPORTED_API_VERSIONS = ("2021-10-01", "2022-11-01", "2023-07-01", "2024-01-01", "2024-12-01")
API_SUPPORTED_VERSIONS_HEADER = ", ".join(SUPPORTED_API_VERSIONS)

BAD_REQUEST = "Error.BadRequest"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8"
VALIDATION_TITLE = "One or more validation errors occurred."  # [obs]


class RestError(Exception):
    """A refused REST request: status, `x-ms-error-code`, message and target (Format A)."""

    def __init__(self, status: int, code: str, message: str, target: Optional[str] = None,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = headers  # e.g. `Allow` on a 405

    def body(self) -> Dict[str, Any]:
        return {"code": self.code, "message": self.message, "target": self.target, "details": None,
                "innererror": None}


class ValidationProblem(RestError):
    """A request-validation failure answered in Format B (ASP.NET's problem details), e.g. a bad filter."""

    def body(self) -> Dict[str, Any]:
        return {"code": self.code, "message": self.message, "target": self.target,
                "errors": {self.target or "": [self.message]}, "type": None, "title": VALIDATION_TITLE,
                "status": self.status, "detail": None, "instance": None, "extensions": {}}


def compact_json(value: Any) -> bytes:
    """JSON as the service writes it: no spaces, non-ASCII characters as UTF-8."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def base_headers() -> Dict[str, str]:
    return {"api-supported-versions": API_SUPPORTED_VERSIONS_HEADER}


def error_response(error: RestError, *, head: bool = False) -> web.Response:
    """The service's answer to `error`. For HEAD requests aiohttp sends the headers, including the
    body's `Content-Length`, and leaves the body out (`head` is kept for callers that say so)."""
    problem = isinstance(error, ValidationProblem)
    headers = {} if problem else base_headers()
    headers.update(error.headers or {})
    headers["x-ms-error-code"] = error.code
    headers["Content-Type"] = PROBLEM_CONTENT_TYPE if problem else JSON_CONTENT_TYPE
    return web.Response(status=error.status, headers=headers, body=compact_json(error.body()))


def bad_request(message: str, target: str = "Request") -> NoReturn:
    raise RestError(400, BAD_REQUEST, message, target)


# -- recorded from the service [obs] ------------------------------------------------------------------
def user_not_found(user: str) -> RestError:
    """UserExists (HEAD) and AddUserToGroup for a user without connections."""
    return RestError(404, "Warning.User.NotExisted", f"User `{user}` is not found.", "User")


def group_not_found(group: str) -> RestError:
    """GroupExists (HEAD). Only the code and the Content-Length are recorded (119 bytes for `foo`, 126
    for `fake group`); this text is our guess of the same length [ours]."""
    return RestError(404, "Warning.Group.NotExisted", f"Group `{group}` is empty.", "Group")


def connection_not_found(connection_id: str) -> RestError:
    """ConnectionExists (HEAD)."""
    return RestError(404, "Warning.Connection.NotExisted", f"Connection `{connection_id}` is not found.",
                     "Connection")


def connection_not_found_for_group(connection_id: str) -> RestError:
    """AddConnectionToGroup on a missing connection."""
    return RestError(404, "Error.Connection.NotExisted", f"Connection `{connection_id}` is not found.",
                     "Connection")


def connection_not_found_for_permission(connection_id: str) -> RestError:
    """GrantPermission and CheckPermission on a missing connection."""
    return RestError(404, "Info.Connection.NotExisted", f"Connection `{connection_id}` is not found.",
                     "Connection")


def invalid_group_name() -> RestError:
    """Any invalid group name, including a permission call without `targetName`."""
    return RestError(400, BAD_REQUEST, "Invalid group name. Valid group name should be in between 1 and 1024 "
                     "characters long.", "Request")


def invalid_filter(message: str, target: str = "filter") -> ValidationProblem:
    """An invalid OData filter: `target` is `filter` for the query parameter and `Filter` for the
    `:addToGroups`/`:removeFromGroups` body property."""
    return ValidationProblem(400, BAD_REQUEST, message, target)


# -- Microsoft's emulator [emu] and our own choices [ours] ---------------------------------------------
def permission_not_granted(permission: str, group: str) -> RestError:
    """CheckPermission for a connection that lacks it: HEAD, so only the code shows [ours]."""
    return RestError(404, "Warning.Permission.NotExisted",
                     f"Permission `{permission}` to group `{group}` is not granted.", "Permission")


def too_many_permission_rules() -> RestError:
    """A grant or revoke past 1000 literal rules per permission on one connection: 409 [emu], text [ours]."""
    return RestError(409, "Error.Conflict", "Too many permission rules on this connection: at most 1000 "
                     "grants and revokes per permission.", "Permission")


def payload_too_large(limit: int) -> RestError:
    """A REST body over the limit: status and text [ours] (the service documents no REST body limit)."""
    return RestError(413, "Error.PayloadTooLarge", f"The request body is larger than {limit} bytes.", "Request")


def unsupported_media_type(content_type: str, expected: str) -> RestError:
    return RestError(415, "Error.UnsupportedMediaType",
                     f"Unsupported content type '{content_type}': use {expected}.", "Content-Type")


def no_operation(path: str) -> RestError:
    return RestError(404, "Error.NotFound", f"No operation at '{path}'.", "Request")


def method_not_allowed(method: str, path: str, allowed: Iterable[str]) -> RestError:
    return RestError(405, "Error.MethodNotAllowed", f"{method} is not supported at '{path}'.", "Request",
                     headers={"Allow": ", ".join(sorted(allowed))})


def invalid_hub_name(hub: str) -> RestError:
    return RestError(400, BAD_REQUEST, f"Invalid hub name '{hub}': it must start with a letter, contain only "
                     "letters, digits, '_', '`', ',', '.', '[' or ']' and be at most 128 characters long.", "hub")


def invalid_id(target: str, limit: Optional[int]) -> RestError:
    """An empty connection or user id, or a user id over `limit` characters [ours]."""
    if limit is None:
        return RestError(400, BAD_REQUEST, f"Invalid {target}. It must not be empty.", target)
    return RestError(400, BAD_REQUEST, f"Invalid {target}. Valid {target} should be in between 1 and {limit} "
                     "characters long.", target)


def invalid_permission(permission: str) -> RestError:
    return RestError(400, BAD_REQUEST, f"Invalid permission '{permission}': expected 'sendToGroup' or "
                     "'joinLeaveGroup'.", "permission")


def invalid_integer(name: str, raw: str, minimum: int, maximum: int) -> RestError:
    return RestError(400, BAD_REQUEST, f"Invalid value '{raw}' for '{name}': expected an integer between "
                     f"{minimum} and {maximum}.", name)


BODY_NOT_UTF8 = "The request body is not valid UTF-8."
BODY_NOT_JSON = "The request body is not valid JSON."
BODY_NOT_OBJECT = "The request body must be a JSON object."
GROUPS_NOT_LIST = "'groups' must be a non-empty array of group names."
FILTER_NOT_STRING = "'filter' must be a string."
BAD_CONTINUATION_TOKEN = "Invalid continuation token."


def invalid_client_type(client_type: str) -> RestError:
    return RestError(400, BAD_REQUEST, f"Invalid clientType '{client_type}': expected 'Default' or 'MQTT'.",
                     "clientType")


# -- the WebSocket handshake: refused before the upgrade, plain text [ours] ----------------------------
INVALID_USER_ID_CLAIM = "The token's sub claim is not a valid user id: 1 to 1024 characters."
CONNECTION_LIMIT_STATUS = 429  # the sister service's answer (service-limits-and-errors.md section 1)
CONNECTION_LIMIT_TEXT = ("ConnectionCountLimitReached: the emulator's maximum of {limit} concurrent "
                         "connections is reached.")

# -- why the service closes a connection (close frame reason, `disconnected` message, upstream reason) ---
PING_TIMEOUT_REASON = "PingTimeout"  # the documented drop reason [doc]; close code 1000 [ours]
