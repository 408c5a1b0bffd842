"""``azure.messaging.webpubsubservice.rest``: one builder per REST operation, relative URLs, checked arguments."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Callable, List, Tuple
from urllib.parse import parse_qsl, urlsplit

import pytest
from azure.core.rest import HttpRequest

from azure.messaging.webpubsubservice import WebPubSubPermission, rest

V = "api-version=2024-12-01"

# (builder call, method, exact relative URL): every operation of rest-operations.txt, each with all its
# query parameters set, so the table also documents the order the SDK writes them in.
OPERATIONS: List[Tuple[str, Callable[[], HttpRequest], str, str]] = [
    ("build_get_service_status_request", lambda: rest.build_get_service_status_request(),
     "HEAD", f"/api/health?{V}"),
    ("build_add_connections_to_groups_request",
     lambda: rest.build_add_connections_to_groups_request("hub", json={"groups": ["g1"], "filter": "userId eq 'a'"}),
     "POST", f"/api/hubs/hub/:addToGroups?{V}"),
    ("build_close_all_connections_request",
     lambda: rest.build_close_all_connections_request("hub", excluded=["c1", "c2"], reason="bye now"),
     "POST", f"/api/hubs/hub/:closeConnections?excluded=c1&excluded=c2&reason=bye%20now&{V}"),
    ("build_generate_client_token_request",
     lambda: rest.build_generate_client_token_request(
         "hub", user_id="u1", roles=["r1", "r2"], minutes_to_expire=5, groups=["g1", "g2"], client_type="MQTT"),
     "POST",
     f"/api/hubs/hub/:generateToken?userId=u1&minutesToExpire=5&role=r1&role=r2&group=g1&group=g2&clientType=MQTT&{V}"),
    ("build_remove_connections_from_groups_request",
     lambda: rest.build_remove_connections_from_groups_request("hub", json={"groups": ["g1"]}),
     "POST", f"/api/hubs/hub/:removeFromGroups?{V}"),
    ("build_send_to_all_request",
     lambda: rest.build_send_to_all_request(
         "hub", excluded=["c1", "c2"], filter="userId eq 'a'", message_ttl_seconds=30, content="hi"),
     "POST", f"/api/hubs/hub/:send?excluded=c1&excluded=c2&filter=userId%20eq%20%27a%27&messageTtlSeconds=30&{V}"),
    ("build_close_connection_request",
     lambda: rest.build_close_connection_request("hub", "c1", reason="done"),
     "DELETE", f"/api/hubs/hub/connections/c1?reason=done&{V}"),
    ("build_connection_exists_request",
     lambda: rest.build_connection_exists_request("hub", "c1"),
     "HEAD", f"/api/hubs/hub/connections/c1?{V}"),
    ("build_send_to_connection_request",
     lambda: rest.build_send_to_connection_request("hub", "c1", message_ttl_seconds=0, content="hi"),
     "POST", f"/api/hubs/hub/connections/c1/:send?messageTtlSeconds=0&{V}"),
    ("build_remove_connection_from_all_groups_request",
     lambda: rest.build_remove_connection_from_all_groups_request("hub", "c1"),
     "DELETE", f"/api/hubs/hub/connections/c1/groups?{V}"),
    ("build_group_exists_request",
     lambda: rest.build_group_exists_request("hub", "g1"),
     "HEAD", f"/api/hubs/hub/groups/g1?{V}"),
    ("build_close_group_connections_request",
     lambda: rest.build_close_group_connections_request("hub", "g1", excluded=["c1"], reason="r"),
     "POST", f"/api/hubs/hub/groups/g1/:closeConnections?excluded=c1&reason=r&{V}"),
    ("build_send_to_group_request",
     lambda: rest.build_send_to_group_request(
         "hub", "g1", excluded=["c1"], filter="userId ne 'b'", message_ttl_seconds=300, content="hi"),
     "POST", f"/api/hubs/hub/groups/g1/:send?excluded=c1&filter=userId%20ne%20%27b%27&messageTtlSeconds=300&{V}"),
    ("build_list_connections_in_group_request",
     lambda: rest.build_list_connections_in_group_request(
         "hub", "g1", maxpagesize=2, top=5, continuation_token="tok"),
     "GET", f"/api/hubs/hub/groups/g1/connections?maxpagesize=2&top=5&continuationToken=tok&{V}"),
    ("build_add_connection_to_group_request",
     lambda: rest.build_add_connection_to_group_request("hub", "g1", "c1"),
     "PUT", f"/api/hubs/hub/groups/g1/connections/c1?{V}"),
    ("build_remove_connection_from_group_request",
     lambda: rest.build_remove_connection_from_group_request("hub", "g1", "c1"),
     "DELETE", f"/api/hubs/hub/groups/g1/connections/c1?{V}"),
    ("build_grant_permission_request",
     lambda: rest.build_grant_permission_request("hub", "sendToGroup", "c1", target_name="g1"),
     "PUT", f"/api/hubs/hub/permissions/sendToGroup/connections/c1?targetName=g1&{V}"),
    ("build_revoke_permission_request",
     lambda: rest.build_revoke_permission_request("hub", "joinLeaveGroup", "c1", target_name="g1"),
     "DELETE", f"/api/hubs/hub/permissions/joinLeaveGroup/connections/c1?targetName=g1&{V}"),
    ("build_check_permission_request",
     lambda: rest.build_check_permission_request("hub", "sendToGroup", "c1", target_name="g1"),
     "HEAD", f"/api/hubs/hub/permissions/sendToGroup/connections/c1?targetName=g1&{V}"),
    ("build_user_exists_request",
     lambda: rest.build_user_exists_request("hub", "u1"),
     "HEAD", f"/api/hubs/hub/users/u1?{V}"),
    ("build_close_user_connections_request",
     lambda: rest.build_close_user_connections_request("hub", "u1", excluded=["c1", "c2"], reason="r"),
     "POST", f"/api/hubs/hub/users/u1/:closeConnections?excluded=c1&excluded=c2&reason=r&{V}"),
    ("build_send_to_user_request",
     lambda: rest.build_send_to_user_request("hub", "u1", filter="groups/any()", message_ttl_seconds=7, content="hi"),
     "POST", f"/api/hubs/hub/users/u1/:send?filter=groups%2Fany%28%29&messageTtlSeconds=7&{V}"),
    ("build_remove_user_from_all_groups_request",
     lambda: rest.build_remove_user_from_all_groups_request("hub", "u1"),
     "DELETE", f"/api/hubs/hub/users/u1/groups?{V}"),
    ("build_add_user_to_group_request",
     lambda: rest.build_add_user_to_group_request("hub", "g1", "u1"),
     "PUT", f"/api/hubs/hub/users/u1/groups/g1?{V}"),
    ("build_remove_user_from_group_request",
     lambda: rest.build_remove_user_from_group_request("hub", "g1", "u1"),
     "DELETE", f"/api/hubs/hub/users/u1/groups/g1?{V}"),
]


def query_of(request: HttpRequest) -> List[Tuple[str, str]]:
    return parse_qsl(urlsplit(request.url).query, keep_blank_values=True)


# --- one builder per operation --------------------------------------------------------------------------


def test_there_is_one_builder_for_each_of_the_25_rest_operations() -> None:
    builders = {name for name in rest.__all__ if name.startswith("build_")}
    assert len(builders) == 25
    assert builders == {name for name, *_ in OPERATIONS}


@pytest.mark.parametrize("name, build, method, url", OPERATIONS, ids=[row[0] for row in OPERATIONS])
def test_each_builder_returns_the_method_and_exact_relative_url(
    name: str, build: Callable[[], HttpRequest], method: str, url: str
) -> None:
    request = build()
    assert isinstance(request, HttpRequest)
    assert (request.method, request.url) == (method, url)


def test_the_seed_readme_request_repr_is_reproduced() -> None:
    request = rest.build_send_to_all_request('default', json={ 'Hello':  'webpubsub!' })  # noqa: E201,E202 (as in the seed)
    assert repr(request) == "<HttpRequest [POST], url: '/api/hubs/default/:send?api-version=2024-12-01'>"


def test_default_api_version_is_2024_12_01() -> None:
    assert rest.DEFAULT_API_VERSION == "2024-12-01"


def test_api_version_can_be_overridden_per_request() -> None:
    request = rest.build_user_exists_request("hub", "u1", api_version="2021-10-01")
    assert request.url == "/api/hubs/hub/users/u1?api-version=2021-10-01"


# --- query parameters -------------------------------------------------------------------------------------


def test_excluded_is_repeated_once_per_connection_id() -> None:
    request = rest.build_send_to_all_request("hub", excluded=["a", "b", "c"], content="x")
    assert [value for name, value in query_of(request) if name == "excluded"] == ["a", "b", "c"]


def test_an_empty_excluded_list_sends_no_excluded_parameter() -> None:
    request = rest.build_close_all_connections_request("hub", excluded=[])
    assert request.url == f"/api/hubs/hub/:closeConnections?{V}"


def test_excluded_given_as_a_single_string_is_rejected_instead_of_split_into_characters() -> None:
    with pytest.raises(TypeError, match="excluded"):
        rest.build_close_all_connections_request("hub", excluded="c1")


def test_filter_is_percent_encoded_so_it_survives_reserved_characters() -> None:
    odata = "userId eq 'a+b&c=d#e' or 'room/1' in groups"
    request = rest.build_send_to_all_request("hub", filter=odata, content="x")
    raw_query = urlsplit(request.url).query
    assert "+" not in raw_query and "#" not in raw_query
    assert raw_query.startswith("filter=userId%20eq%20%27a%2Bb%26c%3Dd%23e%27%20or%20%27room%2F1%27%20in%20groups&")
    assert dict(query_of(request))["filter"] == odata


def test_an_empty_filter_is_left_out() -> None:
    request = rest.build_send_to_all_request("hub", filter="", content="x")
    assert request.url == f"/api/hubs/hub/:send?{V}"


@pytest.mark.parametrize("ttl", [0, 1, 300])
def test_message_ttl_seconds_from_0_to_300_is_sent(ttl: int) -> None:
    request = rest.build_send_to_group_request("hub", "g", message_ttl_seconds=ttl, content="x")
    assert dict(query_of(request))["messageTtlSeconds"] == str(ttl)


@pytest.mark.parametrize("ttl", [-1, 301, True, False, 1.5, "10"])
def test_message_ttl_seconds_outside_0_to_300_or_not_an_int_is_a_value_error(ttl: Any) -> None:
    with pytest.raises(ValueError, match="message_ttl_seconds"):
        rest.build_send_to_all_request("hub", message_ttl_seconds=ttl, content="x")


@pytest.mark.parametrize(
    "build",
    [
        lambda ttl: rest.build_send_to_user_request("hub", "u", message_ttl_seconds=ttl, content="x"),
        lambda ttl: rest.build_send_to_connection_request("hub", "c", message_ttl_seconds=ttl, content="x"),
        lambda ttl: rest.build_send_to_group_request("hub", "g", message_ttl_seconds=ttl, content="x"),
    ],
    ids=["user", "connection", "group"],
)
def test_every_send_builder_checks_message_ttl_seconds(build: Callable[[Any], HttpRequest]) -> None:
    with pytest.raises(ValueError, match="0 to 300"):
        build(301)


def test_reason_is_percent_encoded() -> None:
    request = rest.build_close_connection_request("hub", "c1", reason="bye & see you/soon?")
    assert request.url == f"/api/hubs/hub/connections/c1?reason=bye%20%26%20see%20you%2Fsoon%3F&{V}"
    assert dict(query_of(request))["reason"] == "bye & see you/soon?"


def test_target_name_is_percent_encoded() -> None:
    request = rest.build_grant_permission_request("hub", "sendToGroup", "c1", target_name="room 1")
    assert request.url.endswith(f"?targetName=room%201&{V}")


def test_permission_operations_without_target_name_send_no_target_name() -> None:
    request = rest.build_check_permission_request("hub", "joinLeaveGroup", "c1")
    assert request.url == f"/api/hubs/hub/permissions/joinLeaveGroup/connections/c1?{V}"


def test_permission_accepts_the_webpubsub_permission_enum() -> None:
    request = rest.build_grant_permission_request("hub", WebPubSubPermission.JOIN_LEAVE_GROUP, "c1")
    assert request.url == f"/api/hubs/hub/permissions/joinLeaveGroup/connections/c1?{V}"


@pytest.mark.parametrize("permission", ["SendToGroup", "admin", "", "sendtogroup"])
def test_an_unknown_permission_is_a_value_error(permission: str) -> None:
    with pytest.raises(ValueError, match="permission"):
        rest.build_revoke_permission_request("hub", permission, "c1")


def test_generate_token_sends_user_id_roles_groups_and_lifetime() -> None:
    request = rest.build_generate_client_token_request(
        "hub", user_id="alice@contoso", roles=["webpubsub.sendToGroup.room 1"], groups=["room 1"], minutes_to_expire=90)
    assert query_of(request) == [
        ("userId", "alice@contoso"), ("minutesToExpire", "90"), ("role", "webpubsub.sendToGroup.room 1"),
        ("group", "room 1"), ("api-version", "2024-12-01"),
    ]


def test_generate_token_without_options_only_sends_the_api_version() -> None:
    request = rest.build_generate_client_token_request("hub")
    assert request.url == f"/api/hubs/hub/:generateToken?{V}"


@pytest.mark.parametrize("minutes", [0, -5, True, 1.5])
def test_generate_token_minutes_to_expire_below_one_or_not_an_int_is_a_value_error(minutes: Any) -> None:
    with pytest.raises(ValueError, match="minutes_to_expire"):
        rest.build_generate_client_token_request("hub", minutes_to_expire=minutes)


@pytest.mark.parametrize("client_type", ["Default", "MQTT"])
def test_generate_token_client_type_is_sent_as_given(client_type: str) -> None:
    request = rest.build_generate_client_token_request("hub", client_type=client_type)
    assert dict(query_of(request))["clientType"] == client_type


def test_list_connections_paging_arguments_are_optional() -> None:
    request = rest.build_list_connections_in_group_request("hub", "g1")
    assert request.url == f"/api/hubs/hub/groups/g1/connections?{V}"


@pytest.mark.parametrize("maxpagesize", [0, 201, -1])
def test_list_connections_maxpagesize_outside_1_to_200_is_a_value_error(maxpagesize: int) -> None:
    with pytest.raises(ValueError, match="maxpagesize"):
        rest.build_list_connections_in_group_request("hub", "g1", maxpagesize=maxpagesize)


def test_list_connections_top_below_one_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="top"):
        rest.build_list_connections_in_group_request("hub", "g1", top=0)


# --- path segments ------------------------------------------------------------------------------------------


def test_a_group_with_a_space_and_a_slash_stays_one_percent_encoded_segment() -> None:
    request = rest.build_send_to_group_request("hub", "a b/c", content="x")
    assert request.url == f"/api/hubs/hub/groups/a%20b%2Fc/:send?{V}"


def test_a_user_id_with_an_at_sign_is_percent_encoded() -> None:
    request = rest.build_send_to_user_request("hub", "x@y", content="x")
    assert request.url == f"/api/hubs/hub/users/x%40y/:send?{V}"


def test_connection_ids_are_percent_encoded() -> None:
    request = rest.build_close_connection_request("hub", "c/1?#")
    assert request.url == f"/api/hubs/hub/connections/c%2F1%3F%23?{V}"


def test_user_and_group_are_both_encoded_in_user_group_paths() -> None:
    request = rest.build_add_user_to_group_request("hub", "a b/c", "x@y")
    assert request.url == f"/api/hubs/hub/users/x%40y/groups/a%20b%2Fc?{V}"


def test_non_ascii_ids_are_utf8_percent_encoded() -> None:
    request = rest.build_user_exists_request("hub", "zoë")
    assert request.url == f"/api/hubs/hub/users/zo%C3%AB?{V}"


def test_hub_names_keep_their_case_and_allowed_punctuation() -> None:
    request = rest.build_send_to_all_request("My_Hub.v1[a],`b`", content="x")
    assert request.url == f"/api/hubs/My_Hub.v1%5Ba%5D%2C%60b%60/:send?{V}"


def test_a_hub_name_of_128_characters_is_accepted() -> None:
    assert rest.build_user_exists_request("h" * 128, "u").url.startswith("/api/hubs/" + "h" * 128 + "/")


# --- argument checks before any network call ----------------------------------------------------------------


@pytest.mark.parametrize("hub", ["", "1hub", "_hub", "my-hub", "my hub", "hub/x", "h" * 129, "hüb"])
def test_a_hub_name_outside_the_spec_pattern_is_a_value_error(hub: str) -> None:
    with pytest.raises(ValueError, match="hub name"):
        rest.build_send_to_all_request(hub, content="x")


def test_a_hub_that_is_not_a_str_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="hub name"):
        rest.build_close_all_connections_request(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "build, argument",
    [
        (lambda: rest.build_close_connection_request("hub", ""), "connection_id"),
        (lambda: rest.build_connection_exists_request("hub", ""), "connection_id"),
        (lambda: rest.build_send_to_connection_request("hub", "", content="x"), "connection_id"),
        (lambda: rest.build_add_connection_to_group_request("hub", "g", ""), "connection_id"),
        (lambda: rest.build_grant_permission_request("hub", "sendToGroup", ""), "connection_id"),
        (lambda: rest.build_user_exists_request("hub", ""), "user_id"),
        (lambda: rest.build_send_to_user_request("hub", "", content="x"), "user_id"),
        (lambda: rest.build_add_user_to_group_request("hub", "g", ""), "user_id"),
        (lambda: rest.build_group_exists_request("hub", ""), "group"),
        (lambda: rest.build_send_to_group_request("hub", "", content="x"), "group"),
        (lambda: rest.build_add_user_to_group_request("hub", "", "u"), "group"),
    ],
)
def test_empty_ids_and_group_names_are_value_errors_naming_the_argument(
    build: Callable[[], HttpRequest], argument: str
) -> None:
    with pytest.raises(ValueError, match=argument):
        build()


@pytest.mark.parametrize("group", ["   ", "\t", "g" * 1025])
def test_whitespace_only_or_too_long_group_names_are_value_errors(group: str) -> None:
    with pytest.raises(ValueError, match="group"):
        rest.build_group_exists_request("hub", group)


def test_a_group_name_of_1024_characters_is_accepted() -> None:
    assert rest.build_group_exists_request("hub", "g" * 1024).url.startswith("/api/hubs/hub/groups/ggg")


def test_a_send_without_a_body_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="body"):
        rest.build_send_to_all_request("hub")


def test_bulk_group_requests_need_a_non_empty_groups_list() -> None:
    with pytest.raises(ValueError, match="groups"):
        rest.build_add_connections_to_groups_request("hub", json={"groups": [], "filter": "true"})


def test_bulk_group_requests_check_each_group_name() -> None:
    with pytest.raises(ValueError, match="group"):
        rest.build_remove_connections_from_groups_request("hub", json={"groups": ["ok", "  "]})


# --- bodies and content types -------------------------------------------------------------------------------


def test_json_body_is_serialized_with_a_json_content_type() -> None:
    request = rest.build_send_to_all_request("hub", json={"Hello": "webpubsub!"})
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"Hello": "webpubsub!"}


def test_json_body_content_type_can_be_overridden() -> None:
    request = rest.build_send_to_all_request("hub", json=[1, 2], content_type="application/json; charset=utf-8")
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(request.content) == [1, 2]


def test_str_content_is_sent_as_text_plain() -> None:
    request = rest.build_send_to_user_request("hub", "u", content="héllo")
    assert request.headers["Content-Type"] == "text/plain"
    assert request.content == "héllo".encode("utf-8")


def test_str_content_is_utf8_encoded_with_a_content_length_in_bytes() -> None:
    request = rest.build_send_to_all_request("hub", content="wörld ✓")
    assert request.headers["Content-Length"] == str(len("wörld ✓".encode("utf-8")))


def test_bytes_content_is_sent_as_octet_stream() -> None:
    request = rest.build_send_to_connection_request("hub", "c", content=b"\x00\xff")
    assert request.headers["Content-Type"] == "application/octet-stream"
    assert request.content == b"\x00\xff"


def test_content_type_overrides_the_default_of_content() -> None:
    request = rest.build_send_to_all_request("hub", content=b"<a/>", content_type="application/xml")
    assert request.headers["Content-Type"] == "application/xml"


def test_a_binary_file_is_read_and_sent_as_octet_stream(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x01\x02\x03")
    with path.open("rb") as file:
        request = rest.build_send_to_all_request("hub", content=file)
    assert request.content == b"\x01\x02\x03"
    assert request.headers["Content-Type"] == "application/octet-stream"


def test_a_text_file_is_read_and_sent_as_utf8_with_the_given_content_type(tmp_path: Path) -> None:
    path = tmp_path / "file.json"
    path.write_text('{"Hello": "wörld"}', encoding="utf-8")
    with path.open("r", encoding="utf-8") as file:
        request = rest.build_send_to_all_request("ahub", content=file, content_type="application/json")
    assert request.content == '{"Hello": "wörld"}'.encode("utf-8")
    assert request.headers["Content-Type"] == "application/json"


def test_an_in_memory_file_object_is_accepted_as_content() -> None:
    request = rest.build_send_to_group_request("hub", "g", content=io.BytesIO(b"abc"))
    assert request.content == b"abc"


def test_content_of_an_unsupported_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="content"):
        rest.build_send_to_all_request("hub", content=42)  # type: ignore[arg-type]


def test_bulk_group_bodies_are_json() -> None:
    request = rest.build_add_connections_to_groups_request("hub", json={"groups": ["a", "b"], "filter": "true"})
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == {"groups": ["a", "b"], "filter": "true"}


def test_bulk_group_bodies_may_be_given_as_raw_json_content() -> None:
    request = rest.build_remove_connections_from_groups_request("hub", content=b'{"groups":["a"]}')
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == b'{"groups":["a"]}'


def test_builders_without_a_body_send_no_content_type() -> None:
    request = rest.build_close_all_connections_request("hub")
    assert "Content-Type" not in request.headers


def test_extra_headers_are_passed_to_the_request() -> None:
    request = rest.build_user_exists_request("hub", "u", headers={"x-ms-client-request-id": "abc"})
    assert request.headers["x-ms-client-request-id"] == "abc"


def test_extra_headers_do_not_replace_the_content_type_set_by_content() -> None:
    request = rest.build_send_to_all_request("hub", content="x", headers={"X-Trace": "1"})
    assert request.headers["Content-Type"] == "text/plain"
    assert request.headers["X-Trace"] == "1"
