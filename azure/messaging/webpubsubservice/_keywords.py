"""The keywords every call accepts besides its own parameters, listed once.

``PipelineOptions`` names the per-call keywords azure-core's pipeline reads (its policies, tracing
decorators and transports); ``CallOptions`` adds the ones generated Azure SDK code honours. The
runtime check derives its sets from these TypedDicts, and type checkers read the same TypedDicts from the
methods' ``**kwargs``, so a misspelt keyword fails in ``mypy`` and at run time alike, never silently.

Client-wide settings (``retry_mode``, ``transport``, ``api_version``, policies ...) belong to the
constructor: azure-core does not read them per call.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Callable, Collection, FrozenSet, Mapping, Optional, Tuple, Type, Union

from azure.core.exceptions import HttpResponseError
from typing_extensions import TypedDict


class PipelineOptions(TypedDict, total=False):
    """Per-call keywords of the azure-core pipeline."""

    headers: Mapping[str, str]  # HeadersPolicy: extra request headers
    request_id: Optional[str]  # RequestIdPolicy: x-ms-client-request-id (None: send none)
    user_agent: str  # UserAgentPolicy: prepended to the User-Agent
    user_agent_overwrite: bool
    timeout: float  # RetryPolicy: seconds for the whole call, retries included
    retry_total: int
    retry_connect: int
    retry_read: int
    retry_status: int
    retry_backoff_factor: float
    retry_backoff_max: float
    retry_on_methods: Collection[str]
    permit_redirects: bool  # RedirectPolicy
    redirect_max: int
    enforce_https: bool  # bearer-token policy (Microsoft Entra ID credentials)
    logging_enable: bool  # log the request and response at DEBUG
    logger: logging.Logger  # HttpLoggingPolicy
    raw_request_hook: Callable[..., Any]  # CustomHookPolicy: called with the PipelineRequest
    raw_response_hook: Callable[..., Any]  # ... and with the PipelineResponse
    tracing_options: Mapping[str, Any]  # tracing decorators and DistributedTracingPolicy
    tracing_attributes: Mapping[str, Any]
    parent_span: Any
    merge_span: bool
    connection_timeout: float  # transport
    read_timeout: float
    connection_verify: Union[bool, str]
    connection_cert: Union[str, Tuple[str, str]]
    proxies: Mapping[str, str]


class CallOptions(PipelineOptions, total=False):
    """Per-call keywords of the convenience operations: the pipeline's and those of generated SDK code."""

    params: Mapping[str, Any]  # extra query parameters
    cls: Callable[..., Any]  # its cls(pipeline_response, result, {}) is returned; listings: cls(items) per page
    error_map: Mapping[int, Type[HttpResponseError]]  # status code -> exception type to raise


PIPELINE_KEYWORDS: FrozenSet[str] = frozenset(PipelineOptions.__annotations__)
CALL_KEYWORDS: FrozenSet[str] = PIPELINE_KEYWORDS | frozenset(CallOptions.__annotations__)
SEND_REQUEST_KEYWORDS: FrozenSet[str] = PIPELINE_KEYWORDS | {"stream"}


def unexpected_keyword(qualname: str, given: Collection[str], accepted: Collection[str]) -> TypeError:
    """The TypeError Python raises for a misspelt keyword, with the closest accepted name suggested."""
    name = next(name for name in given if name not in accepted)
    message = f"{qualname}() got an unexpected keyword argument {name!r}"
    # A name cut short (``message_ttl``) means the longer one; otherwise the most similar, if any is.
    close = sorted((a for a in accepted if a.startswith(name)), key=len)[:1] or difflib.get_close_matches(
        name, sorted(accepted), n=1)
    return TypeError(message + (f"; did you mean {close[0]!r}?" if close else ""))


def check_keywords(qualname: str, given: Mapping[str, Any], accepted: FrozenSet[str]) -> None:
    if not accepted.issuperset(given):
        raise unexpected_keyword(qualname, given, accepted)
