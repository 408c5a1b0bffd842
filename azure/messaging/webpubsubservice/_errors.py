"""Service error responses -> the azure-core ``HttpResponseError`` family, carrying ``code`` and ``message``."""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Type, Union

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ODataV4Format,
    ResourceExistsError,
    ResourceNotFoundError,
    ResourceNotModifiedError,
)
from azure.core.rest import AsyncHttpResponse, HttpResponse


# What interpreting a response reads (status_code, headers, reason, content): both kinds of azure-core response.
Response = Union[HttpResponse, AsyncHttpResponse]


_ERRORS_BY_STATUS: Dict[int, Type[HttpResponseError]] = {
    401: ClientAuthenticationError,
    403: ClientAuthenticationError,
    404: ResourceNotFoundError,
    409: ResourceExistsError,
    304: ResourceNotModifiedError,
}


# What to do about the statuses whose cause is on the caller's side (limits: service-limits-and-errors.md).
_ADVICE = {
    401: "The service rejected the token: check the access key or connection string (the key must belong to "
         "this endpoint's resource); with a Microsoft Entra ID credential, check the tenant and the identity's "
         "role assignment (e.g. 'Web PubSub Service Owner').",
    403: "The service refused this identity the operation: with a Microsoft Entra ID credential, check the "
         "identity's role assignment on the resource (e.g. 'Web PubSub Service Owner').",
    413: "The request body{size} is larger than the service accepts: a message is delivered in one WebSocket "
         "frame of at most 1 MB, so keep messages under 1 MB (split larger data, or send a link to it).",
}


class ServiceErrorFormat(ODataV4Format):
    """The service sends a flat ``{"code", "message", ...}`` object; older specs wrap it in ``error`` or
    name the nested field ``inner``. All three are accepted."""

    def __init__(self, json_object: Mapping[str, Any]) -> None:
        super().__init__(json_object)
        if not self.innererror:
            body = json_object.get("error", json_object)
            self.innererror = body.get("inner") or {}


def _service_error(response: Response) -> Optional[ServiceErrorFormat]:
    header_code = response.headers.get("x-ms-error-code")
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        try:
            return ServiceErrorFormat(body)
        except ValueError:
            pass
    if header_code:  # HEAD responses carry the code in a header only
        return ServiceErrorFormat({"code": header_code, "message": response.reason or ""})
    return None


def _request_size(response: Response) -> str:
    body = getattr(getattr(response, "request", None), "content", None)
    return f" ({len(body)} bytes)" if isinstance(body, bytes) else ""


def raise_for_status(response: Response) -> None:
    """Any 2xx is success; anything else raises the matching ``HttpResponseError`` subclass."""
    status = response.status_code
    if 200 <= status < 300:
        return
    error_type = _ERRORS_BY_STATUS.get(status, HttpResponseError)
    error = _service_error(response)
    message = str(error) if error else f"Operation returned status {status} {response.reason or ''}".rstrip()
    exception = error_type(message=message, response=response, error_format=ServiceErrorFormat)
    if exception.error is None and error is not None:
        exception.error = error
        exception.message = message
    if status in _ADVICE:  # after the service's own words, which azure-core puts first
        exception.message += "\n" + _ADVICE[status].format(size=_request_size(response))
        exception.args = (exception.message,)
    raise exception
