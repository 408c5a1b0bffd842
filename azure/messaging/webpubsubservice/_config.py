"""Client settings and pipeline assembly shared by the sync and async clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import AzureError
from azure.core.pipeline import policies

from ._endpoint import parse_connection_string, validate_endpoint, validate_hub
from ._operations import Target
from ._policies import (
    AccessKeyJwtPolicy,
    RandomRequestIdPolicy,
    RedactedTraceLoggingPolicy,
    ReverseProxyPolicy,
)
from ._version import VERSION
from .rest import DEFAULT_API_VERSION

SDK_MONIKER = f"messaging-webpubsubservice/{VERSION}"
BEARER_SCOPE = "https://webpubsub.azure.com/.default"


class ClientClosedError(AzureError, RuntimeError):
    """A call on a client after ``close()``, or after its ``with``/``async with`` block.

    A closed client does not silently reopen connections: create a new one (or keep one open for the life
    of the application). Both an ``AzureError``, so handlers for the SDK's errors see it, and a
    ``RuntimeError``, as a programming error like using a closed file; not a ``ServiceRequestError``,
    which retry logic would take for a passing network fault and try again.
    """

    def __init__(self, client: object) -> None:
        super().__init__(f"{client!r} is closed: create a new client (a closed client does not reopen connections)")


@dataclass
class Settings:
    endpoint: str  # as given, for repr
    target: Target
    credential: Any

    @classmethod
    def create(cls, endpoint: str, hub: Optional[str], credential: Any, kwargs: Dict[str, Any]) -> "Settings":
        if credential is None:
            raise ValueError("credential is required: an AzureKeyCredential or a Microsoft Entra ID token credential")
        if isinstance(credential, str):
            raise TypeError("credential must be AzureKeyCredential(key) or a token credential, not a str")
        base = validate_endpoint(endpoint)
        if hub is not None:
            validate_hub(hub)
        api_version = kwargs.pop("api_version", DEFAULT_API_VERSION)
        key_of: Callable[[], Optional[str]]
        if isinstance(credential, AzureKeyCredential):
            key_of = lambda: credential.key  # noqa: E731
        elif hasattr(credential, "get_token"):
            key_of = lambda: None  # noqa: E731
        else:
            raise TypeError(f"unsupported credential type {type(credential).__name__}: "
                            "use AzureKeyCredential or an azure-identity credential")
        return cls(endpoint, Target(base, hub, api_version, key_of), credential)

    @property
    def hub(self) -> Optional[str]:
        return self.target.hub

    @property
    def api_version(self) -> str:
        return self.target.api_version

    @staticmethod
    def from_connection_string(connection_string: str) -> Tuple[str, AzureKeyCredential]:
        parsed = parse_connection_string(connection_string)
        return parsed.endpoint, AzureKeyCredential(parsed.access_key)


def build_policies(settings: Settings, kwargs: Dict[str, Any], *, bearer_policy: type, retry_policy: type,
                   redirect_policy: type) -> List[Any]:
    """The azure-core pipeline users expect (retry, user agent, logging, tracing...), in one place."""
    credential = settings.credential
    auth: Any
    if isinstance(credential, AzureKeyCredential):
        auth = AccessKeyJwtPolicy(credential)
    else:
        scopes = kwargs.pop("credential_scopes", None) or [BEARER_SCOPE]
        auth = bearer_policy(credential, *scopes)
    proxy_endpoint = kwargs.pop("reverse_proxy_endpoint", None)
    chain: List[Any] = [
        kwargs.pop("request_id_policy", None) or RandomRequestIdPolicy(**kwargs),
        kwargs.pop("headers_policy", None) or policies.HeadersPolicy(**kwargs),
        kwargs.pop("user_agent_policy", None) or policies.UserAgentPolicy(sdk_moniker=SDK_MONIKER, **kwargs),
        kwargs.pop("proxy_policy", None) or policies.ProxyPolicy(**kwargs),
        *(kwargs.pop("per_call_policies", None) or []),
        kwargs.pop("redirect_policy", None) or redirect_policy(**kwargs),
        kwargs.pop("retry_policy", None) or retry_policy(**kwargs),
        kwargs.pop("authentication_policy", None) or auth,
    ]
    if proxy_endpoint:  # after signing: the JWT audience stays the service URL
        chain.append(ReverseProxyPolicy(settings.target.endpoint, validate_endpoint(proxy_endpoint)))
    chain += kwargs.pop("per_retry_policies", None) or []
    chain += [
        policies.SensitiveHeaderCleanupPolicy(**kwargs),  # no Authorization to another host after a redirect
        kwargs.pop("custom_hook_policy", None) or policies.CustomHookPolicy(**kwargs),
        kwargs.pop("logging_policy", None) or RedactedTraceLoggingPolicy(kwargs.pop("logging_enable", False)),
        policies.DistributedTracingPolicy(**kwargs),
    ]
    # Each request is logged once, by RedactedTraceLoggingPolicy (DEBUG, with logging_enable=True, secrets
    # redacted); azure-core's HttpLoggingPolicy would log every request again at INFO. One passed as
    # http_logging_policy= still runs: the caller asked for it.
    user_logging_policy = kwargs.pop("http_logging_policy", None)
    if user_logging_policy is not None:
        chain.append(user_logging_policy)
    return chain


def transport_options(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    names = ("connection_timeout", "read_timeout", "connection_verify", "connection_cert", "proxies", "use_env_settings",
             "connection_data_block_size")
    return {name: kwargs[name] for name in names if name in kwargs}

