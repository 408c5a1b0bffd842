"""Every REST error recorded from the real service (service-limits-and-errors.md section 9), byte for byte."""
from __future__ import annotations

import json
from typing import AsyncIterator, List, Tuple

import pytest
import pytest_asyncio
from emulator_core_helpers import connect, rest

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

JSON_TYPE = "application/json; charset=utf-8"
PROBLEM_TYPE = "application/problem+json; charset=utf-8"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


def flat(code: str, message: str, target: str) -> bytes:
    return (f'{{"code":"{code}","message":"{message}","target":"{target}","details":null,'
            f'"innererror":null}}').encode("utf-8")


# -- Format A: the flat error object ------------------------------------------------------------------
FORMAT_A: List[Tuple[str, str, List[Tuple[str, str]], int, bytes]] = [
    ("PUT", "/api/hubs/hub/users/some_user/groups/some_group", [], 404,
     flat("Warning.User.NotExisted", "User `some_user` is not found.", "User")),
    ("PUT", "/api/hubs/hub/groups/group/connections/xxxx", [], 404,
     flat("Error.Connection.NotExisted", "Connection `xxxx` is not found.", "Connection")),
    ("PUT", "/api/hubs/hub/permissions/joinLeaveGroup/connections/xxx", [("targetName", "x")], 404,
     flat("Info.Connection.NotExisted", "Connection `xxx` is not found.", "Connection")),
    ("DELETE", "/api/hubs/hub/permissions/joinLeaveGroup/connections/xxxx", [], 400,
     flat("Error.BadRequest", "Invalid group name. Valid group name should be in between 1 and 1024 characters "
          "long.", "Request")),
]


@pytest.mark.parametrize(("method", "path", "params", "status", "body"), FORMAT_A, ids=[row[1] for row in FORMAT_A])
async def test_recorded_error_bodies_are_answered_byte_for_byte(emu: Emulator, method: str, path: str,
                                                                params: List[Tuple[str, str]], status: int,
                                                                body: bytes) -> None:
    result = await rest(emu, method, path, params, api_version="2021-10-01")
    assert (result.status, result.body) == (status, body)
    assert result.header("content-type") == JSON_TYPE
    assert result.header("content-length") == str(len(body))
    assert result.header("x-ms-error-code") == json.loads(body)["code"]
    assert result.header("api-supported-versions")


async def test_the_first_recorded_body_is_126_bytes_as_recorded() -> None:
    assert len(FORMAT_A[0][4]) == 126


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD"])
async def test_a_permission_call_without_target_name_is_400_not_every_group(emu: Emulator, method: str) -> None:
    client = await connect(emu, roles=["webpubsub.joinLeaveGroup"])
    result = await rest(emu, method, f"/api/hubs/chat/permissions/joinLeaveGroup/connections/{client.connection_id}")
    assert (result.status, result.header("x-ms-error-code")) == (400, "Error.BadRequest")
    assert (await client.request({"type": "joinGroup", "group": "g", "ackId": 1}))["success"] is True
    await client.close()


# -- HEAD 404s: the headers and the Content-Length of the body a GET would get, no body ---------------
HEAD_404: List[Tuple[str, str, List[Tuple[str, str]], int]] = [
    ("/api/hubs/hub/users/some_user", "Warning.User.NotExisted", [], 126),
    ("/api/hubs/hub/groups/foo", "Warning.Group.NotExisted", [], 119),
    ("/api/hubs/hub/groups/fake%20group", "Warning.Group.NotExisted", [], 126),
    ("/api/hubs/hub/connections/xxxx", "Warning.Connection.NotExisted", [],
     len(flat("Warning.Connection.NotExisted", "Connection `xxxx` is not found.", "Connection"))),
    ("/api/hubs/hub/permissions/joinLeaveGroup/connections/xxxx", "Info.Connection.NotExisted",
     [("targetName", "x")], len(flat("Info.Connection.NotExisted", "Connection `xxxx` is not found.", "Connection"))),
]


@pytest.mark.parametrize(("path", "code", "params", "length"), HEAD_404, ids=[row[0] for row in HEAD_404])
async def test_head_404_carries_code_type_and_the_recorded_content_length(emu: Emulator, path: str, code: str,
                                                                          params: List[Tuple[str, str]],
                                                                          length: int) -> None:
    result = await rest(emu, "HEAD", path, params)
    assert (result.status, result.body) == (404, b"")
    assert result.header("x-ms-error-code") == code
    assert result.header("content-type") == JSON_TYPE
    assert result.header("content-length") == str(length)


async def test_a_permission_check_that_fails_on_a_live_connection_is_a_plain_404(emu: Emulator) -> None:
    client = await connect(emu)
    result = await rest(emu, "HEAD", f"/api/hubs/chat/permissions/sendToGroup/connections/{client.connection_id}",
                        [("targetName", "g")])
    assert (result.status, result.body) == (404, b"")
    assert result.header("x-ms-error-code") == "Warning.Permission.NotExisted"
    await client.close()


# -- successes on absent targets ----------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "status"), [
    ("DELETE", "/api/hubs/hub/groups/group/connections/xxxx", 204),
    ("DELETE", "/api/hubs/hub/connections/xxx/groups", 204),
    ("DELETE", "/api/hubs/hub/users/u/groups", 204),
    ("DELETE", "/api/hubs/hub/connections/xxxx", 204),
    ("POST", "/api/hubs/hub/:closeConnections", 204),
])
async def test_removing_and_closing_absent_targets_succeed(emu: Emulator, method: str, path: str,
                                                           status: int) -> None:
    result = await rest(emu, method, path)
    assert (result.status, result.body) == (status, b"")


async def test_sending_to_an_absent_connection_is_accepted(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/hub/connections/xxxx/:send", body="x", content_type="text/plain")
    assert (result.status, result.body) == (202, b"")


# -- Format B: the invalid filter --------------------------------------------------------------------
INVALID_FILTER_MESSAGE = ("Invalid syntax for 'invalid filter': Syntax error at position 14 in 'invalid filter'. "
                          "(Parameter 'filter')")


def problem(target: str) -> bytes:
    return (f'{{"code":"Error.BadRequest","message":"{INVALID_FILTER_MESSAGE}","target":"{target}",'
            f'"errors":{{"{target}":["{INVALID_FILTER_MESSAGE}"]}},"type":null,'
            '"title":"One or more validation errors occurred.","status":400,"detail":null,"instance":null,'
            '"extensions":{}}').encode("utf-8")


@pytest.mark.parametrize("path", ["/api/hubs/hub/:send", "/api/hubs/hub/users/u/:send",
                                  "/api/hubs/hub/groups/g/:send"])
async def test_invalid_filter_is_the_recorded_validation_problem(emu: Emulator, path: str) -> None:
    result = await rest(emu, "POST", path, [("filter", "invalid filter")], body="x", content_type="text/plain")
    assert (result.status, result.body) == (400, problem("filter"))
    assert len(result.body) == 416  # the recorded Content-Length
    assert result.header("content-type") == PROBLEM_TYPE
    assert result.header("x-ms-error-code") == "Error.BadRequest"
    assert result.header("api-supported-versions") is None


@pytest.mark.parametrize("operation", [":addToGroups", ":removeFromGroups"])
async def test_invalid_filter_in_a_bulk_body_names_the_body_property(emu: Emulator, operation: str) -> None:
    body = json.dumps({"groups": ["a", "b"], "filter": "invalid filter"})
    result = await rest(emu, "POST", f"/api/hubs/hub/{operation}", body=body, content_type="application/json")
    assert (result.status, result.body) == (400, problem("Filter"))
    assert result.header("content-type") == PROBLEM_TYPE


async def test_the_official_js_assertion_holds(emu: Emulator) -> None:
    # The JS SDK's test: JSON.parse(error.message).message, where error.message is the raw body.
    result = await rest(emu, "POST", "/api/hubs/hub/:send", [("filter", "invalid filter")], body="x",
                        content_type="text/plain")
    assert json.loads(result.body.decode("utf-8"))["message"] == INVALID_FILTER_MESSAGE


# -- compact JSON everywhere ---------------------------------------------------------------------------
async def test_every_json_answer_is_compact(emu: Emulator) -> None:
    token = await rest(emu, "POST", "/api/hubs/hub/:generateToken")
    listing = await rest(emu, "GET", "/api/hubs/hub/groups/g/connections")
    error = await rest(emu, "POST", "/api/hubs/hub/:send", body="x", content_type="application/xml")
    for result in (token, listing, error):
        assert result.body == json.dumps(result.json(), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
