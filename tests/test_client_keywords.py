"""Keywords of both clients: a misspelt one raises ``TypeError`` naming it and the closest valid name (nothing
is sent), while azure-core's per-call keywords, and those of generated SDK code, reach the pipeline."""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Dict, List, Optional, Tuple

import pytest
from azure.core.async_paging import AsyncItemPaged
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.paging import ItemPaged
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.core.rest import HttpRequest
from conftest import ACCESS_KEY, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice._keywords import CALL_KEYWORDS, PIPELINE_KEYWORDS
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncWebPubSubServiceClient

# Every public method: (name, positional arguments, keywords, a misspelling of one of its own keywords -> the name
# the error must suggest). ``test_the_table_names_every_public_method`` keeps the table complete.
METHODS: List[Tuple[str, Tuple[Any, ...], Dict[str, Any], Optional[Tuple[str, str]]]] = [
    ("send_to_all", ("hi",), {}, ("exclude", "excluded")),
    ("send_to_group", ("g", "hi"), {}, ("filters", "filter")),
    ("send_to_user", ("u", "hi"), {}, ("message_ttl", "message_ttl_seconds")),
    ("send_to_connection", ("c", "hi"), {}, ("contenttype", "content_type")),
    ("add_connection_to_group", ("g", "c"), {}, None),
    ("remove_connection_from_group", ("g", "c"), {}, None),
    ("remove_connection_from_all_groups", ("c",), {}, None),
    ("add_user_to_group", ("g", "u"), {}, None),
    ("remove_user_from_group", ("g", "u"), {}, None),
    ("remove_user_from_all_groups", ("u",), {}, None),
    ("add_connections_to_groups", (), {"groups": ["g"]}, ("group", "groups")),
    ("remove_connections_from_groups", (), {"groups": ["g"]}, ("filer", "filter")),
    ("close_connection", ("c",), {}, ("reasons", "reason")),
    ("close_all_connections", (), {}, ("excludes", "excluded")),
    ("close_group_connections", ("g",), {}, ("exclude", "excluded")),
    ("close_user_connections", ("u",), {}, ("excluded_ids", "excluded")),
    ("connection_exists", ("c",), {}, None),
    ("group_exists", ("g",), {}, None),
    ("user_exists", ("u",), {}, None),
    ("grant_permission", ("sendToGroup", "c"), {"target_name": "g"}, ("target", "target_name")),
    ("revoke_permission", ("sendToGroup", "c"), {"target_name": "g"}, ("targetName", "target_name")),
    ("has_permission", ("joinLeaveGroup", "c"), {"target_name": "g"}, ("target", "target_name")),
    ("check_permission", ("joinLeaveGroup", "c"), {"target_name": "g"}, ("target_names", "target_name")),
    ("get_service_status", (), {}, None),
    ("get_client_access_token", (), {}, ("role", "roles")),
    ("generate_client_token", (), {}, ("roles", "role")),
    ("list_connections", (), {"group": "g"}, ("topp", "top")),
    ("list_connections_in_group", ("g",), {}, ("max_page_size", "maxpagesize")),
    ("send_request", (HttpRequest("HEAD", "/api/health"),), {}, ("streaming", "stream")),
]
METHOD_IDS = [name for name, *_ in METHODS]
NOT_STRICT = {"close", "from_connection_string"}  # no keywords at all / the constructor's keywords


def public_methods(client_type: type) -> List[str]:
    return sorted(name for name, member in inspect.getmembers(client_type)
                  if not name.startswith("_") and callable(member) and name not in NOT_STRICT)


def answer_everything(server: RecordingServer) -> None:
    server.handler = lambda request: Reply(200, body={"value": [], "token": "minted"})


def call_sync(client: WebPubSubServiceClient, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
    if name == "send_request":
        args = (HttpRequest("HEAD", "/api/health"),)
    result = getattr(client, name)(*args, **kwargs)
    return list(result) if isinstance(result, ItemPaged) else result


def call_async(server: RecordingServer, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
               **client_options: Any) -> Any:
    async def main() -> Any:
        async with AsyncWebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=0,
                                               **client_options) as client:
            result = getattr(client, name)(*args, **kwargs)
            if isinstance(result, AsyncItemPaged):
                return [item async for item in result]
            return await result

    return asyncio.run(asyncio.wait_for(main(), 10))


@pytest.mark.parametrize("client_type", [WebPubSubServiceClient, AsyncWebPubSubServiceClient],
                         ids=["sync", "async"])
def test_the_table_names_every_public_method(client_type: type) -> None:
    assert public_methods(client_type) == sorted(METHOD_IDS)


# --- misspelt keywords ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, args, kwargs, misspelt", METHODS, ids=METHOD_IDS)
def test_a_misspelt_pipeline_keyword_raises_in_the_sync_client(
        client: WebPubSubServiceClient, server: RecordingServer, name: str, args: Tuple[Any, ...],
        kwargs: Dict[str, Any], misspelt: Optional[Tuple[str, str]]) -> None:
    with pytest.raises(TypeError) as raised:
        call_sync(client, name, args, {**kwargs, "timout": 5})
    assert str(raised.value) == (f"WebPubSubServiceClient.{name}() got an unexpected keyword argument 'timout'; "
                                 "did you mean 'timeout'?")
    assert server.requests == []


@pytest.mark.parametrize("name, args, kwargs, misspelt", [m for m in METHODS if m[3]],
                         ids=[m[0] for m in METHODS if m[3]])
def test_a_misspelt_own_keyword_raises_in_the_sync_client_and_suggests_the_right_one(
        client: WebPubSubServiceClient, server: RecordingServer, name: str, args: Tuple[Any, ...],
        kwargs: Dict[str, Any], misspelt: Tuple[str, str]) -> None:
    wrong, right = misspelt
    with pytest.raises(TypeError, match=f"got an unexpected keyword argument '{wrong}'; did you mean '{right}'\\?$"):
        call_sync(client, name, args, {**kwargs, wrong: None})
    assert server.requests == []


@pytest.mark.parametrize("name, args, kwargs, misspelt", METHODS, ids=METHOD_IDS)
def test_a_misspelt_keyword_raises_in_the_async_client(
        server: RecordingServer, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
        misspelt: Optional[Tuple[str, str]]) -> None:
    wrong, right = misspelt or ("retry_totl", "retry_total")
    with pytest.raises(TypeError) as raised:
        call_async(server, name, args, {**kwargs, wrong: None})
    assert str(raised.value) == (f"WebPubSubServiceClient.{name}() got an unexpected keyword argument '{wrong}'; "
                                 f"did you mean '{right}'?")
    assert server.requests == []


def test_the_issue_examples_close_and_send_nothing(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    with pytest.raises(TypeError, match="'excludes'; did you mean 'excluded'"):
        client.close_all_connections(excludes=["me"])
    with pytest.raises(TypeError, match="'exclude'; did you mean 'excluded'"):
        client.send_to_all("x", exclude=["c1"])
    assert server.requests == []


def test_a_keyword_nothing_resembles_gets_no_suggestion(client: WebPubSubServiceClient) -> None:
    with pytest.raises(TypeError) as raised:
        client.send_to_all("x", zzz=1)
    assert str(raised.value) == "WebPubSubServiceClient.send_to_all() got an unexpected keyword argument 'zzz'"


def test_client_settings_are_not_per_call_keywords(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    # azure-core reads these when the client is built and never per call: accepting them would ignore them.
    for setting in ("retry_mode", "transport", "api_version", "per_call_policies"):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{setting}'"):
            client.send_to_all("x", **{setting: None})
    assert server.requests == []


def test_generated_code_keywords_are_not_send_request_keywords(client: WebPubSubServiceClient) -> None:
    for keyword in ("params", "cls", "error_map"):
        with pytest.raises(TypeError, match=f"send_request\\(\\) got an unexpected keyword argument '{keyword}'"):
            client.send_request(HttpRequest("GET", "/api/health"), **{keyword: None})


def test_stream_is_a_send_request_keyword_only(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'stream'"):
        client.send_to_all("x", stream=True)
    server.reply(Reply(200, body=b"streamed"))
    response = client.send_request(HttpRequest("GET", "/api/anything"), stream=True)
    assert b"".join(response.iter_bytes()) == b"streamed"


# --- per-call keywords reach the pipeline -------------------------------------------------------------------


@pytest.mark.parametrize("name, args, kwargs, misspelt", METHODS, ids=METHOD_IDS)
def test_per_call_headers_arrive_from_every_sync_method(
        client: WebPubSubServiceClient, server: RecordingServer, name: str, args: Tuple[Any, ...],
        kwargs: Dict[str, Any], misspelt: Optional[Tuple[str, str]]) -> None:
    answer_everything(server)
    call_sync(client, name, args, {**kwargs, "headers": {"x-per-call": name}})
    if name == "get_client_access_token":  # signed with the access key: nothing to send
        assert server.requests == []
    else:
        assert server.only.headers["x-per-call"] == name


@pytest.mark.parametrize("name, args, kwargs, misspelt", METHODS, ids=METHOD_IDS)
def test_per_call_headers_arrive_from_every_async_method(
        server: RecordingServer, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
        misspelt: Optional[Tuple[str, str]]) -> None:
    answer_everything(server)
    call_async(server, name, args, {**kwargs, "headers": {"x-per-call": name}})
    assert [request.headers["x-per-call"] for request in server.requests] == (
        [] if name == "get_client_access_token" else [name])


class OptionsSpy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Records the per-call options as the pipeline carries them, just after the header policies."""

    def __init__(self) -> None:
        self.seen: List[Dict[str, Any]] = []

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        self.seen.append(dict(request.context.options))


# A harmless value for each keyword read by a policy after the spy (or by the transport).
SPIED_VALUES: Dict[str, Any] = {
    "timeout": 30, "retry_total": 0, "retry_connect": 0, "retry_read": 0, "retry_status": 0,
    "retry_backoff_factor": 0.1, "retry_backoff_max": 1, "retry_on_methods": ["GET"], "permit_redirects": False,
    "redirect_max": 2, "enforce_https": False, "logging_enable": False, "logger": logging.getLogger("spied"),
    "raw_request_hook": lambda request: None, "raw_response_hook": lambda response: None,
    "tracing_options": {"enabled": False}, "tracing_attributes": {"a": "b"}, "connection_timeout": 20,
    "read_timeout": 20, "connection_verify": True, "connection_cert": None, "proxies": {},
}
# Read (and removed) before the spy: seen on the wire instead (test below), or by the tracing decorator.
BEFORE_THE_SPY = {"headers", "request_id", "user_agent", "user_agent_overwrite", "parent_span", "merge_span"}


def test_every_pipeline_keyword_is_either_spied_or_read_before_the_spy() -> None:
    assert set(SPIED_VALUES) | BEFORE_THE_SPY == PIPELINE_KEYWORDS
    assert CALL_KEYWORDS - PIPELINE_KEYWORDS == {"params", "cls", "error_map"}


@pytest.mark.parametrize("keyword", sorted(SPIED_VALUES))
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_each_pipeline_keyword_reaches_the_pipeline(server: RecordingServer, keyword: str, flavour: str) -> None:
    spy = OptionsSpy()
    value = SPIED_VALUES[keyword]
    if flavour == "sync":
        with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), per_call_policies=[spy]) as c:
            c.send_to_all("x", **{keyword: value})
    else:
        call_async(server, "send_to_all", ("x",), {keyword: value}, per_call_policies=[spy])
    assert len(server.requests) == 1
    assert spy.seen[0][keyword] is value


def test_header_keywords_reach_the_wire(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("x", headers={"x-a": "1"}, request_id="rid-1", user_agent="my-app/2")
    client.send_to_all("x", user_agent="only-me", user_agent_overwrite=True, request_id=None)
    first, second = server.requests
    assert (first.headers["x-a"], first.headers["x-ms-client-request-id"]) == ("1", "rid-1")
    assert first.headers["User-Agent"].startswith("my-app/2 azsdk-python-messaging-webpubsubservice/")
    assert second.headers["User-Agent"] == "only-me"
    assert "x-ms-client-request-id" not in second.headers


def test_tracing_keywords_of_the_span_are_accepted(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("x", parent_span=None, merge_span=False, tracing_attributes={"k": "v"})
    assert len(server.requests) == 1


def test_retry_total_per_call_takes_effect(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=0,
                                retry_backoff_factor=0) as client:
        client.send_to_all("x", retry_total=2)
        with pytest.raises(HttpResponseError):
            server.reply(Reply(503))
            client.send_to_all("x")  # the client's retry_total=0 again
    assert len(server.requests) == 4


def test_a_response_hook_per_call_sees_the_response(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    statuses: List[int] = []
    client.user_exists("u", raw_response_hook=lambda response: statuses.append(response.http_response.status_code))
    assert statuses == [202]

# --- keywords of generated SDK code ---------------------------------------------------------------------------


def test_params_extend_the_query(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("x", params={"extra": "a b", "many": ["1", "2"]})
    assert server.only.query_pairs == [("api-version", "2024-12-01"), ("extra", "a b"), ("many", "1"), ("many", "2")]


def test_cls_receives_the_pipeline_response_and_its_result_is_returned(client: WebPubSubServiceClient,
                                                                       server: RecordingServer) -> None:
    server.reply(Reply(200))
    result = client.user_exists("u", cls=lambda pipeline_response, deserialized, headers: (
        pipeline_response.http_response.status_code, pipeline_response.http_request.method, deserialized, headers))
    assert result == (200, "HEAD", True, {})


def test_cls_of_a_locally_signed_token_gets_no_pipeline_response(client: WebPubSubServiceClient) -> None:
    result = client.get_client_access_token(cls=lambda pipeline_response, token, headers: (pipeline_response, token))
    assert result[0] is None and set(result[1]) == {"baseUrl", "token", "url"}


def test_cls_of_a_listing_maps_each_page(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(200, body={"value": [{"connectionId": "c1"}, {"connectionId": "c2"}]}))
    ids = list(client.list_connections(group="g", cls=lambda members: [m.connection_id for m in members]))
    assert ids == ["c1", "c2"]


def test_error_map_picks_the_exception(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    class Gone(HttpResponseError):
        pass

    server.reply(Reply(404), Reply(410))
    with pytest.raises(ResourceNotFoundError):
        client.add_user_to_group("g", "u", error_map={410: Gone})
    with pytest.raises(Gone) as raised:
        client.add_user_to_group("g", "u", error_map={410: Gone})
    assert raised.value.status_code == 410
