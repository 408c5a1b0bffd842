"""Every convenience operation of the sync client: the exact request on the wire and what the call returns."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, cast

import jwt
import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.core.paging import ItemPaged
from conftest import ACCESS_KEY, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubPermission, WebPubSubServiceClient

V = "api-version=2024-12-01"
Op = Callable[[WebPubSubServiceClient], Any]


class FakeTokenCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("aad-token", int(time.time()) + 3600)


def sent(server: RecordingServer) -> Tuple[str, str, Optional[str], bytes]:
    """(method, target, content type, body) of the only request."""
    request = server.only
    return request.method, request.target, request.headers.get("Content-Type"), request.body


# --- sending: message kinds -----------------------------------------------------------------------------------


def test_send_to_all_with_a_str_sends_text_plain(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    assert client.send_to_all("Hello, wörld") is None
    assert sent(server) == ("POST", f"/api/hubs/hub/:send?{V}", "text/plain", "Hello, wörld".encode("utf-8"))


def test_send_to_all_with_a_dict_sends_compact_json(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all({"greeting": "héllo", "n": [1, 2]})
    assert sent(server) == ("POST", f"/api/hubs/hub/:send?{V}", "application/json",
                            '{"greeting":"héllo","n":[1,2]}'.encode("utf-8"))


def test_send_to_all_with_a_list_sends_json(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all([1, "two", None])
    assert sent(server)[2:] == ("application/json", b'[1,"two",null]')


def test_send_to_all_with_bytes_sends_octet_stream(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all(b"\x00\x01\xff")
    assert sent(server)[2:] == ("application/octet-stream", b"\x00\x01\xff")


def test_send_to_all_with_a_bytearray_sends_octet_stream(client: WebPubSubServiceClient,
                                                         server: RecordingServer) -> None:
    client.send_to_all(bytearray(b"ab"))
    assert sent(server)[2:] == ("application/octet-stream", b"ab")


def test_send_to_all_with_a_binary_file_sends_its_bytes(client: WebPubSubServiceClient, server: RecordingServer,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "image.bin"
    path.write_bytes(bytes(range(256)))
    with path.open("rb") as file:
        client.send_to_all(file)
    assert sent(server)[2:] == ("application/octet-stream", bytes(range(256)))


def test_send_to_all_with_a_text_file_sends_its_utf8_bytes(client: WebPubSubServiceClient, server: RecordingServer,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text("naïve", encoding="utf-8")
    with path.open("r", encoding="utf-8") as file:
        client.send_to_all(file, content_type="text/plain")
    assert sent(server)[2:] == ("text/plain", "naïve".encode("utf-8"))


def test_an_explicit_content_type_overrides_the_guess_for_bytes(client: WebPubSubServiceClient,
                                                                server: RecordingServer) -> None:
    client.send_to_all(b'{"a":1}', content_type="application/json")
    assert sent(server)[2:] == ("application/json", b'{"a":1}')


def test_a_str_with_an_explicit_content_type_is_sent_verbatim(client: WebPubSubServiceClient,
                                                              server: RecordingServer) -> None:
    client.send_to_all('{"already":"json"}', content_type="application/json")
    assert sent(server)[2:] == ("application/json", b'{"already":"json"}')


def test_a_dict_with_a_json_content_type_parameter_is_still_json(client: WebPubSubServiceClient,
                                                                 server: RecordingServer) -> None:
    client.send_to_all({"a": 1}, content_type="application/json; charset=utf-8")
    assert sent(server)[2:] == ("application/json; charset=utf-8", b'{"a":1}')


def test_a_json_scalar_is_sent_when_the_content_type_says_json(client: WebPubSubServiceClient,
                                                               server: RecordingServer) -> None:
    client.send_to_all(42, content_type="application/json")  # type: ignore[arg-type]
    assert sent(server)[2:] == ("application/json", b"42")


def test_an_object_that_is_not_json_serializable_is_a_type_error(client: WebPubSubServiceClient,
                                                                 server: RecordingServer) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        client.send_to_all({"when": object()})
    assert server.requests == []


def test_a_non_text_object_with_a_non_json_content_type_is_a_type_error(client: WebPubSubServiceClient,
                                                                        server: RecordingServer) -> None:
    with pytest.raises(TypeError, match="text/plain"):
        client.send_to_all(42, content_type="text/plain")  # type: ignore[arg-type]
    assert server.requests == []


def test_a_none_message_is_a_value_error(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="message is required"):
        client.send_to_all(None)  # type: ignore[arg-type]
    assert server.requests == []


# --- sending: targets and options -------------------------------------------------------------------------------


def test_send_to_all_with_excluded_filter_and_ttl(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("hi", excluded=["c1", "c2"], filter="userId ne 'bot'", message_ttl_seconds=60)
    assert server.only.target == (
        f"/api/hubs/hub/:send?excluded=c1&excluded=c2&filter=userId%20ne%20%27bot%27&messageTtlSeconds=60&{V}")
    assert server.only.query == {"excluded": ["c1", "c2"], "filter": ["userId ne 'bot'"],
                                 "messageTtlSeconds": ["60"], "api-version": ["2024-12-01"]}


def test_send_to_group_with_excluded_filter_and_ttl(client: WebPubSubServiceClient,
                                                    server: RecordingServer) -> None:
    assert client.send_to_group("a b/c", {"x": 1}, excluded=["c1"], filter="'vip' in groups",
                                message_ttl_seconds=0) is None
    assert sent(server) == (
        "POST",
        f"/api/hubs/hub/groups/a%20b%2Fc/:send?excluded=c1&filter=%27vip%27%20in%20groups&messageTtlSeconds=0&{V}",
        "application/json", b'{"x":1}')


def test_send_to_user_with_filter_and_ttl(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    assert client.send_to_user("x@y", b"bin", filter="connectionId ne 'c9'", message_ttl_seconds=300) is None
    assert sent(server) == (
        "POST", f"/api/hubs/hub/users/x%40y/:send?filter=connectionId%20ne%20%27c9%27&messageTtlSeconds=300&{V}",
        "application/octet-stream", b"bin")


def test_non_ascii_text_arrives_whole_and_keeps_the_connection_in_step(client: WebPubSubServiceClient,
                                                                        server: RecordingServer) -> None:
    client.send_to_user("u", "ünïcødé ✓")
    client.send_to_user("u", "next")
    assert [r.body for r in server.requests] == ["ünïcødé ✓".encode("utf-8"), b"next"]
    assert [r.target for r in server.requests] == [f"/api/hubs/hub/users/u/:send?{V}"] * 2


def test_send_to_connection_with_ttl(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    assert client.send_to_connection("conn/1", "hi", message_ttl_seconds=10) is None
    assert sent(server) == ("POST", f"/api/hubs/hub/connections/conn%2F1/:send?messageTtlSeconds=10&{V}",
                            "text/plain", b"hi")


def test_send_to_connection_with_explicit_content_type(client: WebPubSubServiceClient,
                                                       server: RecordingServer) -> None:
    client.send_to_connection("c1", io.BytesIO(b"<x/>"), content_type="application/xml")
    assert sent(server)[2:] == ("application/xml", b"<x/>")


@pytest.mark.parametrize("ttl", [-1, 301, True])
def test_a_bad_message_ttl_is_a_value_error_before_any_request(client: WebPubSubServiceClient,
                                                                server: RecordingServer, ttl: Any) -> None:
    with pytest.raises(ValueError, match="message_ttl_seconds"):
        client.send_to_group("g", "hi", message_ttl_seconds=ttl)
    assert server.requests == []


@pytest.mark.parametrize("status", [200, 202, 204])
def test_any_2xx_answer_to_a_send_is_success(client: WebPubSubServiceClient, server: RecordingServer,
                                             status: int) -> None:
    server.reply(Reply(status))
    assert client.send_to_all("hi") is None


def test_the_message_file_is_read_once_so_a_retry_resends_the_same_body(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=1) as client:
        client.send_to_all(io.BytesIO(b"once"))
    assert [r.body for r in server.requests] == [b"once", b"once"]


# --- groups -----------------------------------------------------------------------------------------------------


GROUP_OPERATIONS: List[Tuple[Any, ...]] = [
    ("add_connection_to_group", lambda c: c.add_connection_to_group("a b/c", "c1"),
     "PUT", "/api/hubs/hub/groups/a%20b%2Fc/connections/c1"),
    ("remove_connection_from_group", lambda c: c.remove_connection_from_group("g1", "c1"),
     "DELETE", "/api/hubs/hub/groups/g1/connections/c1"),
    ("remove_connection_from_all_groups", lambda c: c.remove_connection_from_all_groups("c1"),
     "DELETE", "/api/hubs/hub/connections/c1/groups"),
    ("add_user_to_group", lambda c: c.add_user_to_group("g1", "x@y"),
     "PUT", "/api/hubs/hub/users/x%40y/groups/g1"),
    ("remove_user_from_group", lambda c: c.remove_user_from_group("g1", "u1"),
     "DELETE", "/api/hubs/hub/users/u1/groups/g1"),
    ("remove_user_from_all_groups", lambda c: c.remove_user_from_all_groups("u1"),
     "DELETE", "/api/hubs/hub/users/u1/groups"),
]


@pytest.mark.parametrize("name, operation, method, path", GROUP_OPERATIONS, ids=[row[0] for row in GROUP_OPERATIONS])
def test_group_membership_operations_send_the_exact_request_and_return_none(
    client: WebPubSubServiceClient, server: RecordingServer, name: str, operation: Op, method: str, path: str
) -> None:
    server.reply(Reply(200))
    assert operation(client) is None
    assert (server.only.method, server.only.target, server.only.body) == (method, f"{path}?{V}", b"")
    assert "Content-Type" not in server.only.headers


def test_group_operations_take_group_and_ids_as_keywords(client: WebPubSubServiceClient,
                                                         server: RecordingServer) -> None:
    client.add_connection_to_group(group="g1", connection_id="c1")
    client.add_user_to_group(group="g1", user_id="u1")
    assert [r.path for r in server.requests] == ["/api/hubs/hub/groups/g1/connections/c1",
                                                 "/api/hubs/hub/users/u1/groups/g1"]


def test_add_user_to_group_for_a_user_without_connections_raises_not_found(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    server.reply(Reply(404, {"x-ms-error-code": "Warning.User.NotExisted"},
                       {"code": "Warning.User.NotExisted", "message": "User `u1` is not found.", "target": "User",
                        "details": None, "innererror": None}))
    with pytest.raises(ResourceNotFoundError) as raised:
        client.add_user_to_group("g1", "u1")
    assert raised.value.error.code == "Warning.User.NotExisted"  # type: ignore[union-attr]


def test_add_connections_to_groups_with_groups_and_filter_keywords(client: WebPubSubServiceClient,
                                                                   server: RecordingServer) -> None:
    server.reply(Reply(200))
    assert client.add_connections_to_groups(groups=["vip", "room3"], filter="userId eq 'alice'") is None
    method, target, content_type, _ = sent(server)
    assert (method, target, content_type) == ("POST", f"/api/hubs/hub/:addToGroups?{V}", "application/json")
    assert server.only.json() == {"groups": ["vip", "room3"], "filter": "userId eq 'alice'"}


def test_add_connections_to_groups_with_the_official_body_mapping(client: WebPubSubServiceClient,
                                                                  server: RecordingServer) -> None:
    client.add_connections_to_groups({"groups": ["g1"], "filter": "'room1' in groups"})
    assert server.only.json() == {"groups": ["g1"], "filter": "'room1' in groups"}


def test_add_connections_to_groups_without_filter_sends_only_groups(client: WebPubSubServiceClient,
                                                                    server: RecordingServer) -> None:
    client.add_connections_to_groups(groups=["g1"])
    assert server.only.json() == {"groups": ["g1"]}


def test_add_connections_to_groups_accepts_a_json_file_body(client: WebPubSubServiceClient,
                                                            server: RecordingServer) -> None:
    client.add_connections_to_groups(io.BytesIO(b'{"groups": ["g1"], "filter": "true"}'))
    assert server.only.json() == {"groups": ["g1"], "filter": "true"}


def test_a_bulk_group_file_body_that_is_not_a_json_object_is_a_value_error(client: WebPubSubServiceClient,
                                                                            server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="JSON object"):
        client.add_connections_to_groups(io.BytesIO(b'["g1"]'))
    assert server.requests == []


def test_remove_connections_from_groups_with_groups_and_filter_keywords(client: WebPubSubServiceClient,
                                                                        server: RecordingServer) -> None:
    server.reply(Reply(200))
    assert client.remove_connections_from_groups(groups=["g1"], filter="userId eq 'bob'") is None
    assert sent(server)[:3] == ("POST", f"/api/hubs/hub/:removeFromGroups?{V}", "application/json")
    assert server.only.json() == {"groups": ["g1"], "filter": "userId eq 'bob'"}


def test_remove_connections_from_groups_with_the_official_body_mapping(client: WebPubSubServiceClient,
                                                                       server: RecordingServer) -> None:
    client.remove_connections_from_groups({"groups": ["g1", "g2"]})
    assert server.only.json() == {"groups": ["g1", "g2"]}


def test_bulk_group_operations_refuse_both_a_body_and_keywords(client: WebPubSubServiceClient,
                                                               server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="not both"):
        client.add_connections_to_groups({"groups": ["g1"]}, groups=["g2"])
    assert server.requests == []


def test_bulk_group_operations_refuse_an_empty_group_list(client: WebPubSubServiceClient,
                                                          server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="groups"):
        client.remove_connections_from_groups(groups=[])
    assert server.requests == []


# --- closing connections --------------------------------------------------------------------------------------


CLOSE_OPERATIONS: List[Tuple[Any, ...]] = [
    ("close_connection", lambda c: c.close_connection("c1", reason="kicked out"),
     "DELETE", f"/api/hubs/hub/connections/c1?reason=kicked%20out&{V}"),
    ("close_all_connections", lambda c: c.close_all_connections(excluded=["c1", "c2"], reason="maintenance"),
     "POST", f"/api/hubs/hub/:closeConnections?excluded=c1&excluded=c2&reason=maintenance&{V}"),
    ("close_group_connections", lambda c: c.close_group_connections("g1", excluded=["c3"], reason="bye"),
     "POST", f"/api/hubs/hub/groups/g1/:closeConnections?excluded=c3&reason=bye&{V}"),
    ("close_user_connections", lambda c: c.close_user_connections("x@y", excluded=["c4"], reason="bye"),
     "POST", f"/api/hubs/hub/users/x%40y/:closeConnections?excluded=c4&reason=bye&{V}"),
]


@pytest.mark.parametrize("name, operation, method, target", CLOSE_OPERATIONS, ids=[row[0] for row in CLOSE_OPERATIONS])
def test_close_operations_send_reason_and_excluded_and_return_none(
    client: WebPubSubServiceClient, server: RecordingServer, name: str, operation: Op, method: str, target: str
) -> None:
    server.reply(Reply(204))
    assert operation(client) is None
    assert (server.only.method, server.only.target, server.only.body) == (method, target, b"")


@pytest.mark.parametrize(
    "operation, target",
    [
        (lambda c: c.close_connection("c1"), f"/api/hubs/hub/connections/c1?{V}"),
        (lambda c: c.close_all_connections(), f"/api/hubs/hub/:closeConnections?{V}"),
        (lambda c: c.close_group_connections("g1"), f"/api/hubs/hub/groups/g1/:closeConnections?{V}"),
        (lambda c: c.close_user_connections("u1"), f"/api/hubs/hub/users/u1/:closeConnections?{V}"),
    ],
    ids=["connection", "all", "group", "user"],
)
def test_close_operations_without_options_send_only_the_api_version(
    client: WebPubSubServiceClient, server: RecordingServer, operation: Op, target: str
) -> None:
    operation(client)
    assert server.only.target == target


# --- existence checks -------------------------------------------------------------------------------------------


CHECKS: List[Tuple[Any, ...]] = [
    ("connection_exists", lambda c: c.connection_exists("c1"), f"/api/hubs/hub/connections/c1?{V}"),
    ("group_exists", lambda c: c.group_exists("a b"), f"/api/hubs/hub/groups/a%20b?{V}"),
    ("user_exists", lambda c: c.user_exists("x@y"), f"/api/hubs/hub/users/x%40y?{V}"),
    ("has_permission", lambda c: c.has_permission(WebPubSubPermission.SEND_TO_GROUP, "c1", target_name="g1"),
     f"/api/hubs/hub/permissions/sendToGroup/connections/c1?targetName=g1&{V}"),
]
CHECK_IDS = [row[0] for row in CHECKS]


@pytest.mark.parametrize("name, check, target", CHECKS, ids=CHECK_IDS)
def test_checks_send_a_head_request(client: WebPubSubServiceClient, server: RecordingServer, name: str,
                                    check: Op, target: str) -> None:
    server.reply(Reply(200))
    check(client)
    assert (server.only.method, server.only.target, server.only.body) == ("HEAD", target, b"")


@pytest.mark.parametrize("status", [200, 204])
@pytest.mark.parametrize("name, check, target", CHECKS, ids=CHECK_IDS)
def test_checks_are_true_on_any_2xx(client: WebPubSubServiceClient, server: RecordingServer, name: str,
                                    check: Op, target: str, status: int) -> None:
    server.reply(Reply(status))
    assert check(client) is True


@pytest.mark.parametrize("name, check, target", CHECKS, ids=CHECK_IDS)
def test_checks_are_false_on_404(client: WebPubSubServiceClient, server: RecordingServer, name: str,
                                 check: Op, target: str) -> None:
    server.reply(Reply(404, {"x-ms-error-code": "Warning.User.NotExisted",
                             "Content-Type": "application/json; charset=utf-8"}))
    assert check(client) is False


@pytest.mark.parametrize("name, check, target", CHECKS, ids=CHECK_IDS)
def test_checks_raise_on_other_errors(client: WebPubSubServiceClient, server: RecordingServer, name: str,
                                     check: Op, target: str) -> None:
    server.reply(Reply(401))
    with pytest.raises(ClientAuthenticationError):
        check(client)


# --- permissions --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("permission", [WebPubSubPermission.SEND_TO_GROUP, "sendToGroup"])
def test_grant_permission_with_enum_or_string_and_target_name(client: WebPubSubServiceClient,
                                                              server: RecordingServer, permission: Any) -> None:
    server.reply(Reply(200))
    assert client.grant_permission(permission, "c1", target_name="room 1") is None
    assert (server.only.method, server.only.target) == (
        "PUT", f"/api/hubs/hub/permissions/sendToGroup/connections/c1?targetName=room%201&{V}")


@pytest.mark.parametrize("permission", [WebPubSubPermission.JOIN_LEAVE_GROUP, "joinLeaveGroup"])
def test_revoke_permission_with_enum_or_string_and_target_name(client: WebPubSubServiceClient,
                                                               server: RecordingServer, permission: Any) -> None:
    assert client.revoke_permission(permission, "c1", target_name="g1") is None
    assert (server.only.method, server.only.target) == (
        "DELETE", f"/api/hubs/hub/permissions/joinLeaveGroup/connections/c1?targetName=g1&{V}")


def test_grant_permission_without_target_name(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.grant_permission("joinLeaveGroup", "c1")
    assert server.only.target == f"/api/hubs/hub/permissions/joinLeaveGroup/connections/c1?{V}"


def test_has_permission_with_a_string_permission(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(404))
    assert client.has_permission("joinLeaveGroup", "c1", target_name="g1") is False
    assert server.only.path == "/api/hubs/hub/permissions/joinLeaveGroup/connections/c1"


def test_an_unknown_permission_is_a_value_error_before_any_request(client: WebPubSubServiceClient,
                                                                   server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="permission"):
        client.grant_permission("admin", "c1")
    assert server.requests == []


def test_webpubsub_permission_values_are_the_service_names() -> None:
    assert [p.value for p in WebPubSubPermission] == ["sendToGroup", "joinLeaveGroup"]
    assert cast(str, WebPubSubPermission.SEND_TO_GROUP) == "sendToGroup"


# --- listing group members --------------------------------------------------------------------------------------


def page(server: RecordingServer, members: List[Dict[str, Any]], next_query: Optional[str]) -> Reply:
    next_link = f"{server.url}/api/hubs/hub/groups/g1/connections?{next_query}" if next_query else None
    return Reply(200, body={"value": members, "nextLink": next_link})


def test_list_connections_in_group_follows_next_link_across_pages(client: WebPubSubServiceClient,
                                                                  server: RecordingServer) -> None:
    server.reply(
        page(server, [{"connectionId": "c1", "userId": "alice"}, {"connectionId": "c2", "userId": None}],
             f"continuationToken=t1&maxpagesize=2&{V}"),
        page(server, [{"connectionId": "c3", "userId": "bob"}], f"continuationToken=t2&maxpagesize=2&{V}"),
        page(server, [], None),
    )
    members = client.list_connections_in_group("g1", maxpagesize=2)
    assert isinstance(members, ItemPaged)
    assert [(m["connectionId"], m["userId"]) for m in members] == [("c1", "alice"), ("c2", None), ("c3", "bob")]
    assert [(r.method, r.target) for r in server.requests] == [
        ("GET", f"/api/hubs/hub/groups/g1/connections?maxpagesize=2&{V}"),
        ("GET", f"/api/hubs/hub/groups/g1/connections?continuationToken=t1&maxpagesize=2&{V}"),
        ("GET", f"/api/hubs/hub/groups/g1/connections?continuationToken=t2&maxpagesize=2&{V}"),
    ]


def test_list_connections_in_group_sends_top_and_maxpagesize(client: WebPubSubServiceClient,
                                                             server: RecordingServer) -> None:
    server.reply(page(server, [{"connectionId": "c1", "userId": None}], f"continuationToken=t&maxpagesize=1&top=1&{V}"),
                 page(server, [{"connectionId": "c2", "userId": None}], None))
    assert [m["connectionId"] for m in client.list_connections_in_group("a b", top=2, maxpagesize=1)] == ["c1", "c2"]
    assert server.requests[0].target == f"/api/hubs/hub/groups/a%20b/connections?maxpagesize=1&top=2&{V}"
    assert server.requests[1].query["top"] == ["1"]


def test_list_connections_in_group_is_lazy(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    members = client.list_connections_in_group("g1")
    assert server.requests == []
    server.reply(page(server, [], None))
    assert list(members) == []
    assert len(server.requests) == 1


def test_list_connections_in_group_signs_every_page(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(page(server, [{"connectionId": "c1"}], f"continuationToken=t1&{V}"), page(server, [], None))
    list(client.list_connections_in_group("g1"))
    for recorded in server.requests:
        jwt.decode(recorded.headers["Authorization"][7:], ACCESS_KEY, algorithms=["HS256"],
                   audience=server.url + recorded.target)


def test_list_connections_in_group_follows_a_relative_next_link(client: WebPubSubServiceClient,
                                                                server: RecordingServer) -> None:
    server.reply(Reply(200, body={"value": [{"connectionId": "c1"}],
                                  "nextLink": f"/api/hubs/hub/groups/g1/connections?continuationToken=x&{V}"}),
                 Reply(200, body={"value": [{"connectionId": "c2"}]}))
    assert [m["connectionId"] for m in client.list_connections_in_group("g1")] == ["c1", "c2"]
    assert server.requests[1].target == f"/api/hubs/hub/groups/g1/connections?continuationToken=x&{V}"


def test_list_connections_in_group_members_read_as_attributes_too(client: WebPubSubServiceClient,
                                                                  server: RecordingServer) -> None:
    server.reply(page(server, [{"connectionId": "c1", "userId": "alice"}], None))
    (member,) = list(client.list_connections_in_group("g1"))
    assert (member.connection_id, member.user_id) == ("c1", "alice")
    assert member == {"connectionId": "c1", "userId": "alice"}


def test_list_connections_in_group_pages_can_be_walked_by_page(client: WebPubSubServiceClient,
                                                               server: RecordingServer) -> None:
    server.reply(page(server, [{"connectionId": "c1"}, {"connectionId": "c2"}], f"continuationToken=t1&{V}"),
                 page(server, [{"connectionId": "c3"}], None))
    pages = [[m["connectionId"] for m in p] for p in client.list_connections_in_group("g1").by_page()]
    assert pages == [["c1", "c2"], ["c3"]]


def test_list_connections_in_group_sends_per_call_headers_with_every_page(client: WebPubSubServiceClient,
                                                                          server: RecordingServer) -> None:
    server.reply(page(server, [{"connectionId": "c1"}], f"continuationToken=t1&{V}"), page(server, [], None))
    list(client.list_connections_in_group("g1", headers={"X-Page-Trace": "yes"}))
    assert [r.headers.get("X-Page-Trace") for r in server.requests] == ["yes", "yes"]


def test_list_connections_in_group_raises_service_errors(client: WebPubSubServiceClient,
                                                         server: RecordingServer) -> None:
    server.reply(Reply(400, body={"code": "Error.BadRequest", "message": "Invalid continuation token."}))
    with pytest.raises(HttpResponseError) as raised:
        list(client.list_connections_in_group("g1"))
    assert raised.value.error.code == "Error.BadRequest"  # type: ignore[union-attr]


@pytest.mark.parametrize("kwargs", [{"maxpagesize": 201}, {"maxpagesize": 0}, {"top": 0}])
def test_list_connections_in_group_checks_paging_arguments(client: WebPubSubServiceClient, kwargs: Any) -> None:
    with pytest.raises(ValueError):
        client.list_connections_in_group("g1", **kwargs)


# --- service status -----------------------------------------------------------------------------------------------


def test_get_service_status_is_true_when_health_answers_2xx(client: WebPubSubServiceClient,
                                                            server: RecordingServer) -> None:
    server.reply(Reply(200))
    assert client.get_service_status() is True
    assert (server.only.method, server.only.target) == ("HEAD", f"/api/health?{V}")


def test_get_service_status_accepts_204(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(204))
    assert client.get_service_status() is True


def test_get_service_status_is_false_when_health_answers_an_error(client: WebPubSubServiceClient,
                                                                  server: RecordingServer) -> None:
    server.reply(Reply(503))
    assert client.get_service_status() is False


# --- client access tokens signed with the access key -----------------------------------------------------------


def decode(token: str, audience: str, key: str = ACCESS_KEY) -> Dict[str, Any]:
    return jwt.decode(token, key, algorithms=["HS256"], audience=audience)


def test_get_client_access_token_is_signed_locally_without_a_request(client: WebPubSubServiceClient,
                                                                     server: RecordingServer) -> None:
    result = client.get_client_access_token()
    assert server.requests == []
    assert set(result) == {"baseUrl", "token", "url"}
    base = server.url.replace("http://", "ws://") + "/client/hubs/hub"
    assert result["baseUrl"] == base
    assert result["url"] == f"{base}?access_token={result['token']}"


def test_get_client_access_token_claims_are_audience_times_subject_roles_and_groups(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    before = int(time.time())
    token = client.get_client_access_token(user_id="alice", roles=["webpubsub.sendToGroup.room1"],
                                           groups=["room1"])["token"]
    claims = decode(token, f"{server.url}/client/hubs/hub")
    assert claims["sub"] == "alice"
    assert claims["role"] == ["webpubsub.sendToGroup.room1"]
    assert claims["webpubsub.group"] == ["room1"]
    assert before <= claims["iat"] <= time.time()
    assert claims["exp"] == claims["iat"] + 60 * 60
    assert set(claims) == {"aud", "iat", "exp", "sub", "role", "webpubsub.group"}


def test_get_client_access_token_roles_and_groups_are_json_arrays(client: WebPubSubServiceClient,
                                                                  server: RecordingServer) -> None:
    token = client.get_client_access_token(roles=["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"],
                                           groups=["a", "b"])["token"]
    payload = json.loads(jwt.utils.base64url_decode(token.split(".")[1]))
    assert payload["role"] == ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"]
    assert payload["webpubsub.group"] == ["a", "b"]


def test_get_client_access_token_without_options_has_only_aud_iat_exp(client: WebPubSubServiceClient,
                                                                      server: RecordingServer) -> None:
    claims = decode(client.get_client_access_token()["token"], f"{server.url}/client/hubs/hub")
    assert set(claims) == {"aud", "iat", "exp"}


def test_get_client_access_token_minutes_to_expire(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    claims = decode(client.get_client_access_token(minutes_to_expire=5)["token"], f"{server.url}/client/hubs/hub")
    assert claims["exp"] - claims["iat"] == 300


@pytest.mark.parametrize("minutes", [0, -1, True])
def test_get_client_access_token_minutes_to_expire_below_one_is_a_value_error(client: WebPubSubServiceClient,
                                                                              minutes: Any) -> None:
    with pytest.raises(ValueError, match="minutes_to_expire"):
        client.get_client_access_token(minutes_to_expire=minutes)


def test_get_client_access_token_jwt_headers_add_a_kid(client: WebPubSubServiceClient) -> None:
    token = client.get_client_access_token(jwt_headers={"kid": "my-key-id"})["token"]
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": "my-key-id"}


@pytest.mark.parametrize(
    "endpoint, base",
    [
        ("http://localhost:8080", "ws://localhost:8080/client/hubs/hub"),
        ("https://contoso.webpubsub.azure.com", "wss://contoso.webpubsub.azure.com/client/hubs/hub"),
        ("HTTPS://Contoso.example:8443", "wss://Contoso.example:8443/client/hubs/hub"),
    ],
)
def test_http_endpoints_give_ws_urls_and_https_give_wss(endpoint: str, base: str) -> None:
    client = WebPubSubServiceClient(endpoint, "hub", AzureKeyCredential(ACCESS_KEY))
    result = client.get_client_access_token()
    assert result["baseUrl"] == base
    assert result["url"].startswith(base + "?access_token=ey")


def test_the_client_token_audience_keeps_the_http_scheme(client: WebPubSubServiceClient) -> None:
    client = WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "chat", AzureKeyCredential(ACCESS_KEY))
    decode(client.get_client_access_token()["token"], "https://contoso.webpubsub.azure.com/client/hubs/chat")


def test_mqtt_client_tokens_use_the_mqtt_path_and_the_sdks_group_claim(client: WebPubSubServiceClient,
                                                                       server: RecordingServer) -> None:
    result = client.get_client_access_token(client_protocol="MQTT", groups=["g1"])
    assert result["baseUrl"] == server.url.replace("http://", "ws://") + "/clients/mqtt/hubs/hub"
    claims = decode(result["token"], f"{server.url}/clients/mqtt/hubs/hub")
    assert claims["webpubsub.group"] == ["g1"]  # what the .NET, JS and Python SDKs emit (the docs say "group")
    assert "group" not in claims


def test_socketio_client_tokens_use_the_socketio_path(client: WebPubSubServiceClient,
                                                      server: RecordingServer) -> None:
    result = client.get_client_access_token(client_protocol="SocketIO", user_id="u")
    assert result["baseUrl"] == server.url.replace("http://", "ws://") + "/clients/socketio/hubs/hub"
    assert decode(result["token"], f"{server.url}/clients/socketio/hubs/hub")["sub"] == "u"


def test_client_protocol_is_case_insensitive(client: WebPubSubServiceClient) -> None:
    assert "/clients/mqtt/" in client.get_client_access_token(client_protocol="mqtt")["baseUrl"]


def test_an_unknown_client_protocol_is_a_value_error(client: WebPubSubServiceClient) -> None:
    with pytest.raises(ValueError, match="client_protocol"):
        client.get_client_access_token(client_protocol="SignalR")


def test_an_invalid_group_in_a_client_token_is_a_value_error(client: WebPubSubServiceClient) -> None:
    with pytest.raises(ValueError, match="group"):
        client.get_client_access_token(groups=["  "])


# --- client access tokens minted by the service (AAD) ---------------------------------------------------------


@pytest.fixture
def aad_client(server: RecordingServer) -> Iterator[WebPubSubServiceClient]:
    with WebPubSubServiceClient(server.url, "hub", FakeTokenCredential(), retry_total=0) as aad:
        yield aad


def test_get_client_access_token_with_a_token_credential_calls_generate_token(aad_client: WebPubSubServiceClient,
                                                                              server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "service.minted.jwt"}))
    result = aad_client.get_client_access_token(user_id="alice", roles=["r1", "r2"], groups=["g1", "g2"],
                                                minutes_to_expire=5, enforce_https=False)
    assert (server.only.method, server.only.body) == ("POST", b"")
    assert server.only.target == (
        "/api/hubs/hub/:generateToken?userId=alice&minutesToExpire=5&role=r1&role=r2&group=g1&group=g2"
        f"&clientType=Default&{V}")
    assert server.only.headers["Authorization"] == "Bearer aad-token"
    base = server.url.replace("http://", "ws://") + "/client/hubs/hub"
    assert result == {"baseUrl": base, "token": "service.minted.jwt",
                      "url": f"{base}?access_token=service.minted.jwt"}


def test_generate_token_defaults_to_sixty_minutes(aad_client: WebPubSubServiceClient,
                                                  server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "t"}))
    aad_client.get_client_access_token(enforce_https=False)
    assert server.only.query == {"minutesToExpire": ["60"], "clientType": ["Default"], "api-version": ["2024-12-01"]}


def test_generate_token_for_mqtt_sends_client_type_mqtt(aad_client: WebPubSubServiceClient,
                                                        server: RecordingServer) -> None:
    server.reply(Reply(200, body={"token": "t"}))
    result = aad_client.get_client_access_token(client_protocol="MQTT", enforce_https=False)
    assert server.only.query["clientType"] == ["MQTT"]
    assert result["baseUrl"].endswith("/clients/mqtt/hubs/hub")


def test_generate_token_goes_through_a_reverse_proxy_but_urls_name_the_service(make_server: Any) -> None:
    proxy = make_server()
    proxy.reply(Reply(200, body={"token": "t"}))
    with WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", FakeTokenCredential(),
                                reverse_proxy_endpoint=proxy.url) as aad:
        result = aad.get_client_access_token(enforce_https=False)
    assert proxy.only.path == "/api/hubs/hub/:generateToken"
    assert result["baseUrl"] == "wss://contoso.webpubsub.azure.com/client/hubs/hub"


def test_socketio_tokens_need_an_access_key(aad_client: WebPubSubServiceClient, server: RecordingServer) -> None:
    with pytest.raises(ValueError, match="SocketIO"):
        aad_client.get_client_access_token(client_protocol="SocketIO")
    assert server.requests == []


def test_a_generate_token_error_is_raised(aad_client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(403, body={"code": "Forbidden", "message": "Missing role assignment."}))
    with pytest.raises(ClientAuthenticationError) as raised:
        aad_client.get_client_access_token(enforce_https=False)
    assert raised.value.error.message == "Missing role assignment."  # type: ignore[union-attr]


# --- shared habits of every operation ------------------------------------------------------------------------------


def test_operations_accept_per_call_headers(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.close_connection("c1", headers={"X-Trace": "abc"})
    assert server.only.headers["X-Trace"] == "abc"


OFFICIAL_KEYWORD_CALLS: List[Tuple[Any, ...]] = [
    (lambda c: c.send_to_all(message="m", excluded=["c1"], content_type="text/plain"), "/api/hubs/hub/:send"),
    (lambda c: c.send_to_group(group="g", message="m"), "/api/hubs/hub/groups/g/:send"),
    (lambda c: c.send_to_user(user_id="u", message="m"), "/api/hubs/hub/users/u/:send"),
    (lambda c: c.send_to_connection(connection_id="c", message="m"), "/api/hubs/hub/connections/c/:send"),
    (lambda c: c.remove_connection_from_group(group="g", connection_id="c"), "/api/hubs/hub/groups/g/connections/c"),
    (lambda c: c.remove_user_from_group(group="g", user_id="u"), "/api/hubs/hub/users/u/groups/g"),
    (lambda c: c.remove_connection_from_all_groups(connection_id="c"), "/api/hubs/hub/connections/c/groups"),
    (lambda c: c.remove_user_from_all_groups(user_id="u"), "/api/hubs/hub/users/u/groups"),
    (lambda c: c.add_connections_to_groups(groups_to_add={"groups": ["g"]}), "/api/hubs/hub/:addToGroups"),
    (lambda c: c.remove_connections_from_groups(groups_to_remove={"groups": ["g"]}), "/api/hubs/hub/:removeFromGroups"),
    (lambda c: c.close_connection(connection_id="c", reason="r"), "/api/hubs/hub/connections/c"),
    (lambda c: c.close_group_connections(group="g", reason="r"), "/api/hubs/hub/groups/g/:closeConnections"),
    (lambda c: c.close_user_connections(user_id="u", reason="r"), "/api/hubs/hub/users/u/:closeConnections"),
    (lambda c: c.connection_exists(connection_id="c"), "/api/hubs/hub/connections/c"),
    (lambda c: c.group_exists(group="g"), "/api/hubs/hub/groups/g"),
    (lambda c: c.user_exists(user_id="u"), "/api/hubs/hub/users/u"),
    (lambda c: c.grant_permission(permission="sendToGroup", connection_id="c", target_name="g"),
     "/api/hubs/hub/permissions/sendToGroup/connections/c"),
    (lambda c: c.revoke_permission(permission="sendToGroup", connection_id="c", target_name="g"),
     "/api/hubs/hub/permissions/sendToGroup/connections/c"),
    (lambda c: c.has_permission(permission="sendToGroup", connection_id="c", target_name="g"),
     "/api/hubs/hub/permissions/sendToGroup/connections/c"),
]


@pytest.mark.parametrize("call, path", OFFICIAL_KEYWORD_CALLS, ids=[p for _, p in OFFICIAL_KEYWORD_CALLS])
def test_the_official_sdk_keyword_names_are_accepted(client: WebPubSubServiceClient, server: RecordingServer,
                                                     call: Op, path: str) -> None:
    call(client)
    assert server.only.path == path


def test_client_methods_expose_the_operation_signature_and_docs() -> None:
    import inspect

    signature = inspect.signature(WebPubSubServiceClient.send_to_all)
    assert list(signature.parameters)[:2] == ["self", "message"]
    assert {"excluded", "filter", "message_ttl_seconds", "content_type"} <= set(signature.parameters)
    assert "every connection of the hub" in (WebPubSubServiceClient.send_to_all.__doc__ or "")
    assert WebPubSubServiceClient.send_to_all.__qualname__ == "WebPubSubServiceClient.send_to_all"
