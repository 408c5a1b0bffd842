"""Constructor keywords of both clients: a misspelt one raises ``TypeError`` naming it and the closest valid name,
as the methods' keywords do; every keyword azure-core's policies and transports read when they are built is
accepted, and the ones the list adds over the old constructor are honoured."""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from typing import Any, Dict, List, Set

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline import policies as core_policies
from azure.core.pipeline.policies import RetryMode, SansIOHTTPPolicy
from azure.core.pipeline.transport import RequestsTransport
from conftest import ACCESS_KEY, RecordingServer

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice._keywords import ASYNC_CLIENT_KEYWORDS, CLIENT_KEYWORDS
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

KEY = AzureKeyCredential(ACCESS_KEY)
CONNECTION_STRING = f"Endpoint=http://localhost:8080;AccessKey={ACCESS_KEY};Version=1.0;"
FLAVOURS = pytest.mark.parametrize("client_type", [WebPubSubServiceClient, AsyncWebPubSubServiceClient],
                                   ids=["sync", "async"])
MISSPELT = [("retry_totl", "retry_total"), ("loging_enable", "logging_enable"), ("api_versoin", "api_version"),
            ("conection_verify", "connection_verify"), ("transprt", "transport"), ("retry_backof_max",
                                                                                   "retry_backoff_max"),
            ("user_agnt", "user_agent"), ("reverse_proxy", "reverse_proxy_endpoint")]


class Spy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    def __init__(self) -> None:
        self.seen: List[str] = []

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        self.seen.append(request.http_request.url)


# A value for every constructor keyword; ``test_the_sample_values_name_every_keyword`` keeps the table complete.
SAMPLE_VALUES: Dict[str, Any] = {
    "api_version": "2024-01-01", "reverse_proxy_endpoint": "https://apim.example", "credential_scopes": ["s/.default"],
    "transport": None, "logging_enable": True, "request_id": "r-1", "auto_request_id": False,
    "request_id_header_name": "x-request-id", "headers": {"x-a": "1"}, "user_agent": "app/1",
    "user_agent_overwrite": True, "user_agent_use_env": False, "permit_redirects": False, "redirect_max": 2,
    "redirect_on_status_codes": {307}, "redirect_remove_headers": ["x-a"], "timeout": 30, "retry_total": 1,
    "retry_connect": 1, "retry_read": 1, "retry_status": 1, "retry_backoff_factor": 0.1, "retry_backoff_max": 2,
    "retry_mode": RetryMode.Fixed, "retry_on_status_codes": [429], "enable_cae": True,
    "blocked_redirect_headers": ["x-a"], "disable_redirect_cleanup": True, "raw_request_hook": lambda request: None,
    "raw_response_hook": lambda response: None, "network_span_namer": lambda request: "span",
    "tracing_attributes": {"a": "b"}, "additional_allowed_query_params": ["x"], "instrumentation_config": {},
    "connection_timeout": 5, "read_timeout": 5, "connection_verify": False, "connection_cert": None, "proxies": {},
    "use_env_settings": False, "connection_data_block_size": 1024, "request_id_policy": None, "headers_policy": None,
    "user_agent_policy": None, "proxy_policy": None, "redirect_policy": None, "retry_policy": None,
    "authentication_policy": None, "custom_hook_policy": None, "logging_policy": None, "http_logging_policy": None,
    "per_call_policies": [], "per_retry_policies": [], "connection_limit": 8,
}


def _close(client: Any) -> None:
    outcome = client.close()
    if inspect.iscoroutine(outcome):
        asyncio.run(outcome)


# --- misspelt and misplaced keywords -----------------------------------------------------------------------------


@FLAVOURS
@pytest.mark.parametrize("misspelt, meant", MISSPELT, ids=[m for m, _ in MISSPELT])
def test_a_misspelt_constructor_keyword_raises_and_suggests_the_right_one(client_type: type, misspelt: str,
                                                                          meant: str) -> None:
    message = f"WebPubSubServiceClient() got an unexpected keyword argument '{misspelt}'; did you mean '{meant}'?"
    with pytest.raises(TypeError, match=re.escape(message)):
        client_type("http://localhost:8080", "hub", KEY, **{misspelt: 5})


@FLAVOURS
@pytest.mark.parametrize("misspelt, meant", MISSPELT, ids=[m for m, _ in MISSPELT])
def test_a_misspelt_from_connection_string_keyword_raises_and_suggests_the_right_one(client_type: type,
                                                                                     misspelt: str, meant: str) -> None:
    message = (f"WebPubSubServiceClient.from_connection_string() got an unexpected keyword argument '{misspelt}'; "
               f"did you mean '{meant}'?")
    with pytest.raises(TypeError, match=re.escape(message)):
        client_type.from_connection_string(CONNECTION_STRING, "hub", **{misspelt: 5})  # type: ignore[attr-defined]


@FLAVOURS
@pytest.mark.parametrize("per_call_only", ["retry_on_methods", "stream", "cls", "error_map", "params", "parent_span"])
def test_keywords_read_only_per_call_are_refused_by_the_constructor(client_type: type, per_call_only: str) -> None:
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{per_call_only}'"):
        client_type("http://localhost:8080", "hub", KEY, **{per_call_only: None})


def test_connection_limit_belongs_to_the_async_client_only() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'connection_limit'"):
        WebPubSubServiceClient("http://localhost:8080", "hub", KEY, connection_limit=8)  # type: ignore[call-arg]
    _close(AsyncWebPubSubServiceClient("http://localhost:8080", "hub", KEY, connection_limit=8))


# --- the list is complete and every keyword in it is taken ------------------------------------------------------


def _read_when_built(policy_type: type) -> Set[str]:
    """The keywords an azure-core policy's constructors take or read from their ``**kwargs``."""
    names: Set[str] = set()
    for klass in policy_type.__mro__:
        init = vars(klass).get("__init__")
        if inspect.isfunction(init):
            names |= set(re.findall(r"kwargs\.(?:get|pop)\(\s*[\"'](\w+)[\"']", inspect.getsource(init)))
            names |= {name for name, parameter in inspect.signature(init).parameters.items()
                      if parameter.kind is parameter.KEYWORD_ONLY}
    return names


@pytest.mark.parametrize("policy_type", [
    core_policies.RequestIdPolicy, core_policies.HeadersPolicy, core_policies.UserAgentPolicy,
    core_policies.RedirectPolicy, core_policies.AsyncRedirectPolicy, core_policies.RetryPolicy,
    core_policies.AsyncRetryPolicy, core_policies.BearerTokenCredentialPolicy,
    core_policies.AsyncBearerTokenCredentialPolicy, core_policies.SensitiveHeaderCleanupPolicy,
    core_policies.CustomHookPolicy, core_policies.DistributedTracingPolicy,
], ids=lambda policy_type: policy_type.__name__)
def test_every_keyword_an_azure_core_policy_reads_when_built_is_a_constructor_keyword(policy_type: type) -> None:
    read = _read_when_built(policy_type) - {"sdk_moniker"}  # the SDK's own, not the caller's
    assert read and read <= CLIENT_KEYWORDS, read - CLIENT_KEYWORDS


def test_the_sample_values_name_every_keyword() -> None:
    assert set(SAMPLE_VALUES) == ASYNC_CLIENT_KEYWORDS and CLIENT_KEYWORDS == ASYNC_CLIENT_KEYWORDS - {"connection_limit"}


@pytest.mark.parametrize("client_type, keyword", [
    *((WebPubSubServiceClient, keyword) for keyword in sorted(CLIENT_KEYWORDS)),
    *((AsyncWebPubSubServiceClient, keyword) for keyword in sorted(ASYNC_CLIENT_KEYWORDS)),
], ids=lambda value: value if isinstance(value, str) else ("sync" if value is WebPubSubServiceClient else "async"))
def test_each_constructor_keyword_is_accepted_by_both_forms(client_type: type, keyword: str) -> None:
    options = {keyword: SAMPLE_VALUES[keyword]}
    _close(client_type("http://localhost:8080", "hub", KEY, **options))
    _close(client_type.from_connection_string(CONNECTION_STRING, "hub", **options))  # type: ignore[attr-defined]


# --- keywords the constructors used to ignore silently ------------------------------------------------------------


@FLAVOURS
def test_use_env_settings_false_ignores_the_proxy_of_the_environment(client_type: type, server: RecordingServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # the discard port: nothing answers there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)

    async def send_async() -> None:
        async with client_type(server.url, "hub", KEY, use_env_settings=False, retry_total=0) as client:
            await client.send_to_all("direct")

    if client_type is WebPubSubServiceClient:
        with client_type(server.url, "hub", KEY, use_env_settings=False, retry_total=0) as client:
            client.send_to_all("direct")
    else:
        asyncio.run(asyncio.wait_for(send_async(), 10))
    assert server.only.body == b"direct"


@FLAVOURS
def test_a_logging_policy_replaces_the_redacting_one(client_type: type, server: RecordingServer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    spy = Spy()

    async def send_async() -> None:
        async with client_type(server.url, "hub", KEY, logging_policy=spy, logging_enable=True) as client:
            await client.send_to_all("x")

    with caplog.at_level(logging.DEBUG, logger="azure.messaging.webpubsubservice"):
        if client_type is WebPubSubServiceClient:
            with client_type(server.url, "hub", KEY, logging_policy=spy, logging_enable=True) as client:
                client.send_to_all("x")
        else:
            asyncio.run(asyncio.wait_for(send_async(), 10))
    assert len(spy.seen) == 1 and spy.seen[0].startswith(server.url)
    assert not [r for r in caplog.records if r.name == "azure.messaging.webpubsubservice"]


def test_connection_data_block_size_reaches_the_default_transport(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY, connection_data_block_size=1024) as client:
        transport: Any = client._pipeline._transport  # pylint: disable=protected-access
        assert transport.connection_config.data_block_size == 1024


def test_a_transport_of_the_callers_choice_is_still_taken(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY, transport=RequestsTransport()) as client:
        client.send_to_all("via requests")
    assert server.only.body == b"via requests"
