"""The keywords every call accepts besides its own parameters, listed once.

``PipelineOptions`` names the per-call keywords azure-core's pipeline reads (its policies, tracing
decorators and transports); ``CallOptions`` adds the ones generated Azure SDK code honours. The
runtime check derives its sets from these TypedDicts, and type checkers read the same TypedDicts from the
methods' ``**kwargs``, so a misspelt keyword fails in ``mypy`` and at run time alike, never silently.

Client-wide settings (``retry_mode``, ``transport``, ``api_version``, policies ...) belong to the
constructor: azure-core does not read them per call. ``ClientOptions`` lists those the constructors honour,
checked the same way.
"""

from __future__ import annotations

import difflib
import logging
from typing import Any, Callable, Collection, FrozenSet, Mapping, Optional, Sequence, Tuple, Type, Union

from azure.core.exceptions import HttpResponseError
from typing_extensions import TypedDict


class _Options(TypedDict, total=False):
    """Keywords azure-core reads both per call and when a client is built."""

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
    permit_redirects: bool  # RedirectPolicy
    redirect_max: int
    logging_enable: bool  # log the request and response at DEBUG
    raw_request_hook: Callable[..., Any]  # CustomHookPolicy: called with the PipelineRequest
    raw_response_hook: Callable[..., Any]  # ... and with the PipelineResponse
    tracing_attributes: Mapping[str, Any]  # tracing decorators and DistributedTracingPolicy
    connection_timeout: float  # transport
    read_timeout: float
    connection_verify: Union[bool, str]
    connection_cert: Union[str, Tuple[str, str]]
    proxies: Mapping[str, str]


class PipelineOptions(_Options, total=False):
    """Per-call keywords of the azure-core pipeline."""

    retry_on_methods: Collection[str]
    enforce_https: bool  # bearer-token policy (Microsoft Entra ID credentials)
    logger: logging.Logger  # HttpLoggingPolicy
    tracing_options: Mapping[str, Any]
    parent_span: Any
    merge_span: bool


class CallOptions(PipelineOptions, total=False):
    """Per-call keywords of the convenience operations: the pipeline's and those of generated SDK code."""

    params: Mapping[str, Any]  # extra query parameters
    cls: Callable[..., Any]  # its cls(pipeline_response, result, {}) is returned; listings: cls(items) per page
    error_map: Mapping[int, Type[HttpResponseError]]  # status code -> exception type to raise


class ClientOptions(_Options, total=False):
    """Constructor keywords of both clients (and of ``from_connection_string``): besides the options azure-core
    also reads per call, ours, the other options its policies and transports read when they are built, and the
    policies themselves."""

    api_version: str
    reverse_proxy_endpoint: str  # e.g. API Management in front of the service; tokens keep the service URL
    credential_scopes: Sequence[str]  # Microsoft Entra ID credentials
    transport: Any  # an azure-core HttpTransport (sync client) or AsyncHttpTransport (async client)
    auto_request_id: bool  # RequestIdPolicy
    request_id_header_name: str
    user_agent_use_env: bool  # UserAgentPolicy
    redirect_on_status_codes: Collection[int]  # RedirectPolicy
    redirect_remove_headers: Collection[str]
    retry_mode: Any  # RetryPolicy: azure.core.pipeline.policies.RetryMode
    retry_on_status_codes: Collection[int]
    enable_cae: bool  # bearer-token policy
    blocked_redirect_headers: Collection[str]  # SensitiveHeaderCleanupPolicy
    disable_redirect_cleanup: bool
    network_span_namer: Callable[..., str]  # DistributedTracingPolicy
    additional_allowed_query_params: Collection[str]
    instrumentation_config: Mapping[str, Any]
    use_env_settings: bool  # the default transport
    connection_data_block_size: int
    request_id_policy: Any  # policies replacing the defaults ...
    headers_policy: Any
    user_agent_policy: Any
    proxy_policy: Any
    redirect_policy: Any
    retry_policy: Any
    authentication_policy: Any
    custom_hook_policy: Any
    logging_policy: Any
    http_logging_policy: Any
    per_call_policies: Sequence[Any]  # ... and joining them
    per_retry_policies: Sequence[Any]


class AsyncClientOptions(ClientOptions, total=False):
    connection_limit: int  # connections in use at once by the default async transport


PIPELINE_KEYWORDS: FrozenSet[str] = frozenset(PipelineOptions.__annotations__)
CALL_KEYWORDS: FrozenSet[str] = PIPELINE_KEYWORDS | frozenset(CallOptions.__annotations__)
SEND_REQUEST_KEYWORDS: FrozenSet[str] = PIPELINE_KEYWORDS | {"stream"}
CLIENT_KEYWORDS: FrozenSet[str] = frozenset(ClientOptions.__annotations__)
ASYNC_CLIENT_KEYWORDS: FrozenSet[str] = frozenset(AsyncClientOptions.__annotations__)


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
