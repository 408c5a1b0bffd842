"""The async client's operations on the wire: method, path, query, headers, body, JWT, results and errors.

Every test talks to the recording loopback server of ``conftest.py`` through real sockets.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import jwt
import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from azure.messaging.webpubsubservice import WebPubSubPermission
from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from conftest import ACCESS_KEY, RecordingServer, Reply

API = "2024-12-01"
Operation = Callable[[WebPubSubServiceClient], Awaitable[Any]]


def async_client(server: RecordingServer, **kwargs: Any) -> WebPubSubServiceClient:
    kwargs.setdefault("retry_total", 0)
    kwargs.setdefault("read_timeout", 10)  # a hung call fails the test instead of stalling it
    return WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), **kwargs)


async def run(server: RecordingServer, operation: Operation, **kwargs: Any) -> Any:
    async with async_client(server, **kwargs) as client:
        return await asyncio.wait_for(operation(client), 10)


# (operation, method, path, query pairs besides api-version)
WIRE_CASES: List[Tuple[str, Operation, str, str, List[Tuple[str, str]]]] = [
    ("send_to_all", lambda c: c.send_to_all("hi", excluded=["c1", "c2"], filter="userId ne 'bot'",
                                           message_ttl_seconds=30),
     "POST", "/api/hubs/hub/:send",
     [("excluded", "c1"), ("excluded", "c2"), ("filter", "userId ne 'bot'"), ("messageTtlSeconds", "30")]),
    ("send_to_group", lambda c: c.send_to_group("a b/c", "hi", excluded=["c1"]),
     "POST", "/api/hubs/hub/groups/a%20b%2Fc/:send", [("excluded", "c1")]),
    ("send_to_user", lambda c: c.send_to_user("x@y", "hi", filter="f"),
     "POST", "/api/hubs/hub/users/x%40y/:send", [("filter", "f")]),
    ("send_to_connection", lambda c: c.send_to_connection("conn1", "hi", message_ttl_seconds=0),
     "POST", "/api/hubs/hub/connections/conn1/:send", [("messageTtlSeconds", "0")]),
    ("add_connection_to_group", lambda c: c.add_connection_to_group("g1", "conn1"),
     "PUT", "/api/hubs/hub/groups/g1/connections/conn1", []),
    ("remove_connection_from_group", lambda c: c.remove_connection_from_group("g1", "conn1"),
     "DELETE", "/api/hubs/hub/groups/g1/connections/conn1", []),
    ("remove_connection_from_all_groups", lambda c: c.remove_connection_from_all_groups("conn1"),
     "DELETE", "/api/hubs/hub/connections/conn1/groups", []),
    ("add_user_to_group", lambda c: c.add_user_to_group("g1", "u1"),
     "PUT", "/api/hubs/hub/users/u1/groups/g1", []),
    ("remove_user_from_group", lambda c: c.remove_user_from_group("g1", "u1"),
     "DELETE", "/api/hubs/hub/users/u1/groups/g1", []),
    ("remove_user_from_all_groups", lambda c: c.remove_user_from_all_groups("u1"),
     "DELETE", "/api/hubs/hub/users/u1/groups", []),
    ("add_connections_to_groups", lambda c: c.add_connections_to_groups(groups=["g1", "g2"], filter="userId eq 'u'"),
     "POST", "/api/hubs/hub/:addToGroups", []),
    ("remove_connections_from_groups", lambda c: c.remove_connections_from_groups(groups=["g1"]),
     "POST", "/api/hubs/hub/:removeFromGroups", []),
    ("close_connection", lambda c: c.close_connection("conn1", reason="bye"),
     "DELETE", "/api/hubs/hub/connections/conn1", [("reason", "bye")]),
    ("close_all_connections", lambda c: c.close_all_connections(excluded=["c1"], reason="maintenance"),
     "POST", "/api/hubs/hub/:closeConnections", [("excluded", "c1"), ("reason", "maintenance")]),
    ("close_group_connections", lambda c: c.close_group_connections("g1", reason="r"),
     "POST", "/api/hubs/hub/groups/g1/:closeConnections", [("reason", "r")]),
    ("close_user_connections", lambda c: c.close_user_connections("u1", excluded=["c9"]),
     "POST", "/api/hubs/hub/users/u1/:closeConnections", [("excluded", "c9")]),
    ("connection_exists", lambda c: c.connection_exists("conn1"),
     "HEAD", "/api/hubs/hub/connections/conn1", []),
    ("group_exists", lambda c: c.group_exists("g1"), "HEAD", "/api/hubs/hub/groups/g1", []),
    ("user_exists", lambda c: c.user_exists("u1"), "HEAD", "/api/hubs/hub/users/u1", []),
    ("grant_permission", lambda c: c.grant_permission(WebPubSubPermission.SEND_TO_GROUP, "conn1", target_name="g1"),
     "PUT", "/api/hubs/hub/permissions/sendToGroup/connections/conn1", [("targetName", "g1")]),
    ("revoke_permission", lambda c: c.revoke_permission("joinLeaveGroup", "conn1"),
     "DELETE", "/api/hubs/hub/permissions/joinLeaveGroup/connections/conn1", []),
    ("has_permission", lambda c: c.has_permission("sendToGroup", "conn1", target_name="g1"),
     "HEAD", "/api/hubs/hub/permissions/sendToGroup/connections/conn1", [("targetName", "g1")]),
    ("get_service_status", lambda c: c.get_service_status(), "HEAD", "/api/health", []),
]


@pytest.mark.asyncio
@pytest.mark.parametrize("name, operation, method, path, query", WIRE_CASES, ids=[case[0] for case in WIRE_CASES])
async def test_each_operation_sends_its_rest_request(
    server: RecordingServer, name: str, operation: Operation, method: str, path: str, query: List[Tuple[str, str]]
) -> None:
    server.default = Reply(204)
    await run(server, operation)
    request = server.only
    assert (request.method, request.path) == (method, path)
    assert sorted(request.query_pairs) == sorted(query + [("api-version", API)])


@pytest.mark.asyncio
@pytest.mark.parametrize("name, operation, method, path, query", WIRE_CASES, ids=[case[0] for case in WIRE_CASES])
async def test_each_operation_is_signed_with_a_jwt_for_its_full_url(
    server: RecordingServer, name: str, operation: Operation, method: str, path: str, query: List[Tuple[str, str]]
) -> None:
    server.default = Reply(204)
    await run(server, operation)
    scheme, token = server.only.headers["Authorization"].split(" ", 1)
    claims = jwt.decode(token, ACCESS_KEY, algorithms=["HS256"], audience=server.url + server.only.target)
    assert scheme == "Bearer"
    assert 0 < claims["exp"] - time.time() <= 300


@pytest.mark.asyncio
async def test_requests_carry_the_sdk_user_agent(server: RecordingServer) -> None:
    await run(server, lambda c: c.send_to_all("hi"))
    assert "messaging-webpubsubservice/" in server.only.headers["User-Agent"]


@pytest.mark.asyncio
@pytest.mark.parametrize("message, content_type, body, sent_type", [
    ("héllo", None, "héllo".encode("utf-8"), "text/plain"),
    ({"greeting": "hi"}, None, b'{"greeting":"hi"}', "application/json"),
    (["a", 1], None, b'["a",1]', "application/json"),
    (b"\x00\x01", None, b"\x00\x01", "application/octet-stream"),
    (io.BytesIO(b"file"), None, b"file", "application/octet-stream"),
    ('{"raw": true}', "application/json", b'{"raw": true}', "application/json"),
], ids=["str", "dict", "list", "bytes", "file", "str-as-json"])
async def test_messages_are_encoded_by_type(
    server: RecordingServer, message: Any, content_type: Optional[str], body: bytes, sent_type: str
) -> None:
    await run(server, lambda c: c.send_to_group("g", message, content_type=content_type))
    assert server.only.body == body
    assert server.only.headers["Content-Type"].split(";")[0] == sent_type
    assert server.only.headers["Content-Length"] == str(len(body))


@pytest.mark.asyncio
async def test_groups_operations_send_groups_and_filter_as_json(server: RecordingServer) -> None:
    await run(server, lambda c: c.add_connections_to_groups(groups=["g1", "g2"], filter="userId eq 'u'"))
    assert server.only.json() == {"groups": ["g1", "g2"], "filter": "userId eq 'u'"}
    assert server.only.headers["Content-Type"].startswith("application/json")


@pytest.mark.asyncio
async def test_groups_operations_accept_the_service_body_as_the_official_sdk(server: RecordingServer) -> None:
    await run(server, lambda c: c.remove_connections_from_groups({"groups": ["g1"], "filter": "f"}))
    assert server.only.json() == {"groups": ["g1"], "filter": "f"}


@pytest.mark.asyncio
async def test_bodiless_put_announces_an_empty_body(server: RecordingServer) -> None:
    await run(server, lambda c: c.add_connection_to_group("g1", "conn1"))
    assert server.only.headers["Content-Length"] == "0"
    assert server.only.body == b""


@pytest.mark.asyncio
@pytest.mark.parametrize("check", ["connection_exists", "group_exists", "user_exists", "has_permission"])
@pytest.mark.parametrize("status, expected", [(200, True), (204, True), (404, False)])
async def test_existence_checks_return_a_bool(server: RecordingServer, check: str, status: int, expected: bool) -> None:
    server.default = Reply(status)
    arguments = ("sendToGroup", "conn1") if check == "has_permission" else ("x",)
    result = await run(server, lambda c: getattr(c, check)(*arguments))
    assert result is expected


@pytest.mark.asyncio
async def test_existence_checks_raise_for_other_errors(server: RecordingServer) -> None:
    server.default = Reply(500, headers={"x-ms-error-code": "InternalError"})
    with pytest.raises(HttpResponseError) as raised:
        await run(server, lambda c: c.group_exists("g1"))
    assert raised.value.status_code == 500
    assert raised.value.error is not None and raised.value.error.code == "InternalError"


@pytest.mark.asyncio
@pytest.mark.parametrize("status, error_type", [
    (400, HttpResponseError), (401, ClientAuthenticationError), (403, ClientAuthenticationError),
    (404, ResourceNotFoundError), (409, ResourceExistsError), (500, HttpResponseError),
])
async def test_error_statuses_raise_the_azure_core_error_with_the_service_code_and_message(
    server: RecordingServer, status: int, error_type: type
) -> None:
    server.default = Reply(status, body={"code": "SomeCode", "message": "what went wrong"})
    with pytest.raises(error_type) as raised:
        await run(server, lambda c: c.send_to_user("u1", "hi"))
    error: HttpResponseError = raised.value  # type: ignore[assignment]
    assert error.status_code == status
    assert error.error is not None and error.error.code == "SomeCode"
    assert "what went wrong" in str(error)


@pytest.mark.asyncio
@pytest.mark.parametrize("status, healthy", [(204, True), (200, True), (503, False)])
async def test_get_service_status_is_true_only_for_2xx(server: RecordingServer, status: int, healthy: bool) -> None:
    server.default = Reply(status)
    assert await run(server, lambda c: c.get_service_status()) is healthy


@pytest.mark.asyncio
async def test_operations_need_a_hub(server: RecordingServer) -> None:
    async with WebPubSubServiceClient(server.url, credential=AzureKeyCredential(ACCESS_KEY), read_timeout=10) as client:
        with pytest.raises(ValueError, match="no hub"):
            await client.send_to_all("hi")
    assert server.requests == []


@pytest.mark.asyncio
async def test_per_call_headers_reach_the_wire(server: RecordingServer) -> None:
    await run(server, lambda c: c.send_to_all("hi", headers={"x-trace": "abc"}))
    assert server.only.headers["x-trace"] == "abc"


@pytest.mark.asyncio
async def test_key_rotation_applies_to_the_next_call(server: RecordingServer) -> None:
    credential = AzureKeyCredential(ACCESS_KEY)
    async with WebPubSubServiceClient(server.url, "hub", credential, read_timeout=10) as client:
        await client.send_to_all("one")
        credential.update("N" * 44)
        await client.send_to_all("two")
    first, second = (request.headers["Authorization"].split(" ", 1)[1] for request in server.requests)
    jwt.decode(first, ACCESS_KEY, algorithms=["HS256"], options={"verify_aud": False})
    jwt.decode(second, "N" * 44, algorithms=["HS256"], options={"verify_aud": False})


@pytest.mark.asyncio
async def test_reverse_proxy_receives_requests_signed_for_the_service(
    server: RecordingServer, make_server: Callable[[], RecordingServer]
) -> None:
    proxy = make_server()
    service_url = "https://contoso.webpubsub.azure.com"
    async with WebPubSubServiceClient(service_url, "hub", AzureKeyCredential(ACCESS_KEY),
                                      reverse_proxy_endpoint=proxy.url, retry_total=0, read_timeout=10) as client:
        await client.send_to_all("hi")
    token = proxy.only.headers["Authorization"].split(" ", 1)[1]
    jwt.decode(token, ACCESS_KEY, algorithms=["HS256"], audience=service_url + proxy.only.target)


@pytest.mark.asyncio
async def test_client_access_token_with_an_access_key_is_signed_locally(server: RecordingServer) -> None:
    token = await run(server, lambda c: c.get_client_access_token(
        user_id="u1", roles=["webpubsub.joinLeaveGroup"], groups=["g1"], minutes_to_expire=5))
    claims: Dict[str, Any] = jwt.decode(token["token"], ACCESS_KEY, algorithms=["HS256"],
                                        audience=server.url + "/client/hubs/hub")
    assert server.requests == []
    assert token["baseUrl"] == server.url.replace("http://", "ws://") + "/client/hubs/hub"
    assert token["url"] == f"{token['baseUrl']}?access_token={token['token']}"
    assert (claims["sub"], claims["role"], claims["webpubsub.group"]) == ("u1", ["webpubsub.joinLeaveGroup"], ["g1"])
    assert claims["exp"] - claims["iat"] == 300


@pytest.mark.asyncio
async def test_json_error_body_of_a_failed_send_is_kept_on_the_response(server: RecordingServer) -> None:
    server.default = Reply(400, body={"code": "InvalidFilter", "message": "bad filter"})
    with pytest.raises(HttpResponseError) as raised:
        await run(server, lambda c: c.send_to_all("hi", filter="nonsense"))
    assert raised.value.response is not None
    assert json.loads(raised.value.response.content)["code"] == "InvalidFilter"
