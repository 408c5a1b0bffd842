"""REST data plane: every operation's status code, body and effect, observed by real WebSocket clients."""
from __future__ import annotations

import base64
import json
from typing import AsyncIterator, List

import jwt
import pytest
import pytest_asyncio
from emulator_core_helpers import (JSON_PROTOCOL, connect, hub_connections, rest, wait_until)

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


async def test_health_answers_200_without_a_token(emu: Emulator) -> None:
    result = await rest(emu, "HEAD", "/api/health", token=None)
    assert result.status == 200


async def test_send_to_all_is_202_with_empty_body_and_reaches_json_and_simple_clients(emu: Emulator) -> None:
    json_client = await connect(emu)
    simple_client = await connect(emu, protocol=None)
    result = await rest(emu, "POST", "/api/hubs/chat/:send", body='{"Hello":"World"}', content_type="application/json")
    assert (result.status, result.body) == (202, b"")
    assert result.header("api-supported-versions")
    assert await json_client.receive_data() == {"type": "message", "from": "server", "dataType": "json",
                                                "data": {"Hello": "World"}}
    assert (await simple_client.receive()).data == '{"Hello":"World"}'
    await json_client.close()
    await simple_client.close()


async def test_delivery_matrix_text_and_binary(emu: Emulator) -> None:
    json_client = await connect(emu)
    simple_client = await connect(emu, protocol=None)
    await rest(emu, "POST", "/api/hubs/chat/:send", body="Hello World", content_type="text/plain")
    await rest(emu, "POST", "/api/hubs/chat/:send", body=b"\x00\x01", content_type="application/octet-stream")
    assert await json_client.receive_data() == {"type": "message", "from": "server", "dataType": "text",
                                                "data": "Hello World"}
    assert await json_client.receive_data() == {"type": "message", "from": "server", "dataType": "binary",
                                                "data": base64.b64encode(b"\x00\x01").decode()}
    text_frame = await simple_client.receive()
    binary_frame = await simple_client.receive()
    assert (text_frame.type.name, text_frame.data) == ("TEXT", "Hello World")
    assert (binary_frame.type.name, binary_frame.data) == ("BINARY", b"\x00\x01")
    await json_client.close()
    await simple_client.close()


async def test_json_string_body_reaches_simple_client_with_its_quotes(emu: Emulator) -> None:
    simple_client = await connect(emu, protocol=None)
    await rest(emu, "POST", "/api/hubs/chat/:send", body='"Hello World"',
               content_type="application/json; charset=utf-8")
    assert (await simple_client.receive()).data == '"Hello World"'
    await simple_client.close()


async def test_send_to_all_honours_excluded_and_filter(emu: Emulator) -> None:
    alice = await connect(emu, user="alice")
    bob = await connect(emu, user="bob")
    carol = await connect(emu, user="carol")
    await rest(emu, "POST", "/api/hubs/chat/:send",
               [("excluded", alice.connection_id or ""), ("filter", "userId ne 'carol'")],
               body="hi", content_type="text/plain")
    assert (await bob.receive_data())["data"] == "hi"
    assert await alice.nothing_within()
    assert await carol.nothing_within(0.05)
    for client in (alice, bob, carol):
        await client.close()


async def test_invalid_filter_is_400_with_the_filter_message_and_nothing_is_sent(emu: Emulator) -> None:
    client = await connect(emu)
    result = await rest(emu, "POST", "/api/hubs/chat/:send", [("filter", "not length(userId) gt 5")],
                        body="hi", content_type="text/plain")
    assert result.status == 400
    body = result.json()
    assert body["code"] == "Error.BadRequest" == result.header("x-ms-error-code")
    assert body["message"] == ("Invalid syntax for 'not length(userId)': Type 'null', expect 'bool'. "
                               "(Parameter 'filter')")
    assert result.header("content-type") == "application/problem+json; charset=utf-8"
    assert await client.nothing_within()
    await client.close()


async def test_send_to_user_reaches_every_connection_of_that_user_only(emu: Emulator) -> None:
    first = await connect(emu, user="a b")
    second = await connect(emu, user="a b")
    other = await connect(emu, user="other")
    result = await rest(emu, "POST", "/api/hubs/chat/users/a%20b/:send", body="x", content_type="text/plain")
    assert result.status == 202
    assert (await first.receive_data())["data"] == "x"
    assert (await second.receive_data())["data"] == "x"
    assert await other.nothing_within()
    for client in (first, second, other):
        await client.close()


async def test_send_to_connection_and_to_missing_connection(emu: Emulator) -> None:
    client = await connect(emu)
    ok = await rest(emu, "POST", f"/api/hubs/chat/connections/{client.connection_id}/:send", body="x",
                    content_type="text/plain")
    missing = await rest(emu, "POST", "/api/hubs/chat/connections/nobody/:send", body="x", content_type="text/plain")
    assert (ok.status, missing.status) == (202, 202)
    assert (await client.receive_data())["data"] == "x"
    await client.close()


async def test_send_to_group_has_no_sender_and_honours_excluded(emu: Emulator) -> None:
    member = await connect(emu, user="m", groups=["room/1"])
    excluded = await connect(emu, groups=["room/1"])
    outsider = await connect(emu)
    result = await rest(emu, "POST", "/api/hubs/chat/groups/room%2F1/:send",
                        [("excluded", excluded.connection_id or "")], body="{}", content_type="application/json")
    assert result.status == 202
    assert await member.receive_data() == {"type": "message", "from": "group", "group": "room/1",
                                           "dataType": "json", "data": {}}
    assert await excluded.nothing_within()
    assert await outsider.nothing_within(0.05)
    for client in (member, excluded, outsider):
        await client.close()


async def test_unsupported_content_type_is_415(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", body="<a/>", content_type="application/xml")
    assert result.status == 415
    assert result.json()["code"] == result.header("x-ms-error-code")


@pytest.mark.parametrize("body", ["{nope", "NaN", '{"a": Infinity}', ""])
async def test_invalid_json_body_is_400(emu: Emulator, body: str) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", body=body, content_type="application/json")
    assert result.status == 400


@pytest.mark.parametrize("ttl", ["-1", "301", "1.5", "abc"])
async def test_message_ttl_outside_0_to_300_is_400(emu: Emulator, ttl: str) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", [("messageTtlSeconds", ttl)], body="x",
                        content_type="text/plain")
    assert result.status == 400
    assert result.json()["target"] == "messageTtlSeconds"


@pytest.mark.parametrize("hub", ["1chat", "ch%20at", "a" * 129])
async def test_invalid_hub_name_is_400(emu: Emulator, hub: str) -> None:
    result = await rest(emu, "POST", f"/api/hubs/{hub}/:send", body="x", content_type="text/plain")
    assert result.status == 400


async def test_whitespace_group_name_is_400(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/groups/%20%20/:send", body="x", content_type="text/plain")
    assert result.status == 400


async def test_existence_checks(emu: Emulator) -> None:
    client = await connect(emu, user="alice", groups=["g"])
    assert (await rest(emu, "HEAD", f"/api/hubs/chat/connections/{client.connection_id}")).status == 200
    assert (await rest(emu, "HEAD", "/api/hubs/chat/users/alice")).status == 200
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g")).status == 200
    assert (await rest(emu, "HEAD", "/api/hubs/chat/connections/none")).status == 404
    await client.close()


async def test_missing_user_head_is_404_with_error_header_and_no_body(emu: Emulator) -> None:
    result = await rest(emu, "HEAD", "/api/hubs/chat/users/some_user")
    assert (result.status, result.body) == (404, b"")
    assert result.header("x-ms-error-code") == "Warning.User.NotExisted"
    assert result.header("content-type", ) == "application/json; charset=utf-8"


async def test_missing_group_head_is_404_group_not_existed(emu: Emulator) -> None:
    result = await rest(emu, "HEAD", "/api/hubs/chat/groups/empty")
    assert result.status == 404
    assert result.header("x-ms-error-code") == "Warning.Group.NotExisted"


async def test_hub_names_are_case_insensitive(emu: Emulator) -> None:
    client = await connect(emu, hub="Chat", user="alice")
    assert (await rest(emu, "HEAD", "/api/hubs/CHAT/users/alice")).status == 200
    await client.close()


async def test_add_user_to_group_without_connection_is_404_with_flat_error_body(emu: Emulator) -> None:
    result = await rest(emu, "PUT", "/api/hubs/chat/users/some_user/groups/g")
    assert result.status == 404
    assert result.json() == {"code": "Warning.User.NotExisted", "message": "User `some_user` is not found.",
                             "target": "User", "details": None, "innererror": None}


async def test_user_group_membership_round_trip(emu: Emulator) -> None:
    client = await connect(emu, user="alice")
    assert (await rest(emu, "PUT", "/api/hubs/chat/users/alice/groups/g1")).status == 200
    assert (await rest(emu, "PUT", "/api/hubs/chat/users/alice/groups/g2")).status == 200
    assert (await rest(emu, "DELETE", "/api/hubs/chat/users/alice/groups/g1")).status == 204
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g1")).status == 404
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g2")).status == 200
    assert (await rest(emu, "DELETE", "/api/hubs/chat/users/alice/groups")).status == 204
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g2")).status == 404
    await client.close()


async def test_connection_group_membership_round_trip(emu: Emulator) -> None:
    client = await connect(emu)
    path = f"/api/hubs/chat/groups/g/connections/{client.connection_id}"
    assert (await rest(emu, "PUT", path)).status == 200
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="in", content_type="text/plain")
    assert (await client.receive_data())["data"] == "in"
    assert (await rest(emu, "DELETE", path)).status == 204
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g")).status == 404
    assert (await rest(emu, "PUT", path)).status == 200
    assert (await rest(emu, "DELETE", f"/api/hubs/chat/connections/{client.connection_id}/groups")).status == 204
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g")).status == 404
    await client.close()


async def test_add_unknown_connection_to_group_is_404_and_remove_all_groups_is_204(emu: Emulator) -> None:
    assert (await rest(emu, "PUT", "/api/hubs/chat/groups/g/connections/nobody")).status == 404
    assert (await rest(emu, "DELETE", "/api/hubs/chat/connections/nobody/groups")).status == 204


async def test_add_to_groups_with_filter_then_remove(emu: Emulator) -> None:
    alice = await connect(emu, user="alice")
    bob = await connect(emu, user="bob")
    body = json.dumps({"groups": ["vip", "room3"], "filter": "userId eq 'alice'"})
    added = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=body, content_type="application/json")
    assert added.status == 200
    assert emu.core.hub("chat").groups["vip"].keys() == {alice.connection_id}
    removal = json.dumps({"groups": ["vip"]})
    assert (await rest(emu, "POST", "/api/hubs/chat/:removeFromGroups", body=removal,
                       content_type="application/json")).status == 200
    assert "vip" not in emu.core.hub("chat").groups
    assert "room3" in emu.core.hub("chat").groups
    await alice.close()
    await bob.close()


@pytest.mark.parametrize("body", ['{"groups": []}', '{"filter": "true"}', '[1]', '{"groups": ["  "]}', "{bad"])
async def test_add_to_groups_rejects_bad_bodies_with_400(emu: Emulator, body: str) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=body, content_type="application/json")
    assert result.status == 400


async def test_add_to_groups_needs_json_content_type(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body='{"groups":["a"]}', content_type="text/plain")
    assert result.status == 415


async def test_close_connection_sends_disconnected_with_default_reason_then_1000(emu: Emulator) -> None:
    client = await connect(emu)
    result = await rest(emu, "DELETE", f"/api/hubs/chat/connections/{client.connection_id}")
    assert result.status == 204
    assert await client.receive_json() == {"type": "system", "event": "disconnected", "message": "Closed by REST API."}
    closing = await client.receive()
    assert closing.type.name == "CLOSE" and closing.data == 1000
    await wait_until(lambda: not hub_connections(emu))
    await client.close()


async def test_close_all_with_reason_and_excluded(emu: Emulator) -> None:
    stays = await connect(emu)
    goes = await connect(emu)
    result = await rest(emu, "POST", "/api/hubs/chat/:closeConnections",
                        [("excluded", stays.connection_id or ""), ("reason", "bye now")])
    assert result.status == 204
    assert (await goes.receive_json())["message"] == "bye now"
    assert await stays.nothing_within()
    await stays.close()
    await goes.close()


async def test_close_user_and_group_connections(emu: Emulator) -> None:
    user_client = await connect(emu, user="u")
    group_client = await connect(emu, groups=["g"])
    assert (await rest(emu, "POST", "/api/hubs/chat/users/u/:closeConnections")).status == 204
    assert (await rest(emu, "POST", "/api/hubs/chat/groups/g/:closeConnections")).status == 204
    assert (await user_client.receive_json())["event"] == "disconnected"
    assert (await group_client.receive_json())["event"] == "disconnected"
    await user_client.close()
    await group_client.close()


async def test_close_missing_connection_is_204(emu: Emulator) -> None:
    assert (await rest(emu, "DELETE", "/api/hubs/chat/connections/nobody")).status == 204


async def test_generate_token_claims_and_header(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/Chat/:generateToken",
                        [("userId", "alice"), ("role", "r1"), ("role", "r2"), ("group", "g1"),
                         ("minutesToExpire", "5")])
    assert result.status == 200
    body = result.json()
    assert list(body) == ["token"]
    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "HS256" and "kid" in header
    claims = jwt.decode(body["token"], emu.access_key, algorithms=["HS256"],
                        audience=f"{emu.endpoint}/client/hubs/Chat")
    assert claims["exp"] - claims["iat"] == 300 and "nbf" in claims
    assert (claims["sub"], claims["role"], claims["webpubsub.group"]) == ("alice", ["r1", "r2"], "g1")


async def test_generated_token_connects_a_client(emu: Emulator) -> None:
    token = (await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("userId", "zed")])).json()["token"]
    client = await connect(emu, token=token)
    assert client.connected is not None and client.connected["userId"] == "zed"
    await client.close()


async def test_generate_token_without_options_has_no_identity_claims(emu: Emulator) -> None:
    token = (await rest(emu, "POST", "/api/hubs/chat/:generateToken")).json()["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"nbf", "exp", "iat", "aud"}
    assert claims["exp"] - claims["iat"] == 3600


async def test_generate_token_for_mqtt_changes_the_audience(emu: Emulator) -> None:
    token = (await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("clientType", "mqtt")])).json()["token"]
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == f"{emu.endpoint}/clients/mqtt/hubs/chat"


@pytest.mark.parametrize("params", [[("minutesToExpire", "0")], [("clientType", "Other")]])
async def test_generate_token_validation(emu: Emulator, params: list) -> None:  # type: ignore[type-arg]
    assert (await rest(emu, "POST", "/api/hubs/chat/:generateToken", params)).status == 400


async def test_list_connections_in_group_pages_with_next_link(emu: Emulator) -> None:
    clients = [await connect(emu, user=f"u{index}", groups=["g"]) for index in range(5)]
    seen: List[str] = []
    result = await rest(emu, "GET", "/api/hubs/chat/groups/g/connections", [("maxpagesize", "2")])
    pages = 0
    while True:
        assert result.status == 200
        page = result.json()
        pages += 1
        seen.extend(item["connectionId"] for item in page["value"])
        if not page["nextLink"]:
            break
        assert page["nextLink"].startswith(emu.endpoint + "/api/hubs/chat/groups/g/connections?")
        path_and_query = page["nextLink"][len(emu.endpoint):]
        path, query = path_and_query.split("?", 1)
        params = [tuple(item.split("=", 1)) for item in query.split("&") if not item.startswith("api-version")]
        result = await rest(emu, "GET", path, [(key, value.replace("%3D", "=")) for key, value in params])
    assert pages == 3
    assert seen == [client.connection_id for client in clients]
    for client in clients:
        await client.close()


async def test_list_connections_top_caps_the_total(emu: Emulator) -> None:
    clients = [await connect(emu, groups=["g"]) for _ in range(3)]
    page = (await rest(emu, "GET", "/api/hubs/chat/groups/g/connections", [("top", "2")])).json()
    assert len(page["value"]) == 2 and page["nextLink"] is None
    assert page["value"][0]["userId"] is None
    for client in clients:
        await client.close()


async def test_list_connections_of_missing_group_is_empty(emu: Emulator) -> None:
    result = await rest(emu, "GET", "/api/hubs/chat/groups/none/connections")
    assert result.json() == {"value": [], "nextLink": None}


@pytest.mark.parametrize("params", [[("maxpagesize", "0")], [("maxpagesize", "201")], [("top", "0")],
                                    [("continuationToken", "garbage!")]])
async def test_list_connections_rejects_bad_paging(emu: Emulator, params: list) -> None:  # type: ignore[type-arg]
    assert (await rest(emu, "GET", "/api/hubs/chat/groups/g/connections", params)).status == 400


async def test_permissions_grant_check_revoke(emu: Emulator) -> None:
    client = await connect(emu)
    path = f"/api/hubs/chat/permissions/sendToGroup/connections/{client.connection_id}"
    target = [("targetName", "g")]
    assert (await rest(emu, "HEAD", path, target)).status == 404
    assert (await rest(emu, "PUT", path, target)).status == 200
    assert (await rest(emu, "HEAD", path, target)).status == 200
    assert (await rest(emu, "HEAD", path, [("targetName", "other")])).status == 404
    assert (await rest(emu, "DELETE", path, target)).status == 204
    assert (await rest(emu, "HEAD", path, target)).status == 404
    await client.close()


async def test_permission_name_is_validated_and_unknown_connection_grant_is_404(emu: Emulator) -> None:
    target = [("targetName", "g")]
    assert (await rest(emu, "PUT", "/api/hubs/chat/permissions/admin/connections/c", target)).status == 400
    assert (await rest(emu, "PUT", "/api/hubs/chat/permissions/joinLeaveGroup/connections/c",
                       [("targetName", "g")])).status == 404
    assert (await rest(emu, "DELETE", "/api/hubs/chat/permissions/joinLeaveGroup/connections/c",
                       [("targetName", "g")])).status == 204


async def test_missing_api_version_is_accepted(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", body="x", content_type="text/plain", api_version=None)
    assert result.status == 202


async def test_older_api_version_is_accepted(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", body="x", content_type="text/plain",
                        api_version="2021-10-01")
    assert result.status == 202


async def test_unknown_operation_is_404(emu: Emulator) -> None:
    assert (await rest(emu, "POST", "/api/hubs/chat/:nothing")).status == 404


async def test_rest_ignores_client_protocol_for_group_delivery(emu: Emulator) -> None:
    json_member = await connect(emu, protocol=JSON_PROTOCOL, groups=["g"])
    simple_member = await connect(emu, protocol=None, groups=["g"])
    await rest(emu, "POST", "/api/hubs/chat/groups/g/:send", body="t", content_type="text/plain")
    assert (await json_member.receive_data())["data"] == "t"
    assert (await simple_member.receive()).data == "t"
    await json_member.close()
    await simple_member.close()


async def test_body_over_one_mebibyte_is_413(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:send", body=b"x" * (1024 * 1024 + 1),
                        content_type="application/octet-stream")
    assert result.status == 413
    assert result.header("x-ms-error-code") == result.json()["code"]
