"""Strict where the service is strict: repeated parameters, non-ASCII digits, odd numeric claims, deep
JSON in tokens, and token audiences compared with the URL as sent."""
from __future__ import annotations

import base64
import json
import time
from typing import Any, AsyncIterator, List, Tuple

import jwt
import pytest
import pytest_asyncio
from emulator_core_helpers import client_token, connect, handshake_status, rest, rest_token, rest_url

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

DEEP = "[" * 2000 + "]" * 2000  # past the recursion limit, within the 8 KiB header limit once encoded


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def hand_made_token(header: bytes, payload: bytes, key: str) -> str:
    """A token with exactly these JSON bytes, validly signed: PyJWT would refuse to write most of them."""
    import hashlib
    import hmac
    signing_input = b64url(header) + "." + b64url(payload)
    signature = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


async def send(emu: Emulator, params: List[Tuple[str, str]] = (), path: str = "/api/hubs/chat/:send",
               **kwargs: Any) -> Any:
    return await rest(emu, "POST", path, list(params), body="hi", content_type="text/plain", **kwargs)


# -- repeated query parameters ---------------------------------------------------------------------------
@pytest.mark.parametrize("params", [
    [("filter", "true"), ("filter", "false")],
    [("messageTtlSeconds", "1"), ("messageTtlSeconds", "2")],
    [("filter", "true"), ("Filter", "false")],
    [("api-version", "2024-12-01")],  # the helper adds one more
])
async def test_repeated_single_valued_parameter_is_400_naming_it(emu: Emulator, params: List[Tuple[str, str]]) -> None:
    client = await connect(emu)
    result = await send(emu, params)
    body = result.json()
    assert (result.status, body["code"]) == (400, "Error.BadRequest")
    assert body["message"] == f"The query parameter '{params[-1][0]}' must not be repeated."
    assert await client.nothing_within(0.1)
    await client.close()


async def test_repeated_parameters_of_other_operations_are_400(emu: Emulator) -> None:
    cases = [("GET", "/api/hubs/chat/groups/g/connections", [("top", "1"), ("top", "2")]),
             ("POST", "/api/hubs/chat/:generateToken", [("userId", "a"), ("userId", "b")]),
             ("PUT", "/api/hubs/chat/permissions/sendToGroup/connections/c", [("targetName", "a"), ("targetName", "b")]),
             ("POST", "/api/hubs/chat/:closeConnections", [("reason", "a"), ("reason", "b")])]
    for method, path, params in cases:
        result = await rest(emu, method, path, params)
        assert (result.status, result.json()["target"]) == (400, params[0][0]), path


async def test_array_parameters_may_repeat_and_unknown_ones_are_ignored(emu: Emulator) -> None:
    first, second, third = await connect(emu), await connect(emu), await connect(emu)
    result = await send(emu, [("excluded", first.connection_id or ""), ("excluded", second.connection_id or ""),
                              ("custom", "1"), ("custom", "2")])
    assert result.status == 202
    assert (await third.receive_data())["data"] == "hi"
    token = await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("role", "a"), ("role", "b"),
                                                                       ("group", "g1"), ("group", "g2")])
    claims = jwt.decode(token.json()["token"], options={"verify_signature": False})
    assert (claims["role"], claims["webpubsub.group"]) == (["a", "b"], ["g1", "g2"])
    for client in (first, second, third):
        await client.close()


async def test_client_endpoint_refuses_repeated_parameters_it_reads(emu: Emulator) -> None:
    token = client_token(emu)
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={token}&access_token={token}") == 400
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={token}&webpubsub_mode=sendToGroup"
                                       "&group=a&group=b") == 400
    client = await connect(emu, query="custom=1&custom=2")  # the app's own parameters may repeat
    await client.close()


# -- numbers are ASCII ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["\u0665", "1\u0660", "\u00b2", " 5", "5 ", "0x5", "5.0", "1e2", "", "+", "99999999999"])
async def test_integer_parameters_take_ascii_digits_only(emu: Emulator, value: str) -> None:
    result = await send(emu, [("messageTtlSeconds", value)])
    assert (result.status, result.json()["target"]) == (400, "messageTtlSeconds")


async def test_signed_ascii_integers_are_accepted(emu: Emulator) -> None:
    assert (await send(emu, [("messageTtlSeconds", "+5")])).status == 202
    assert (await send(emu, [("messageTtlSeconds", "-0")])).status == 202
    listed = await rest(emu, "GET", "/api/hubs/chat/groups/g/connections", [("maxpagesize", "\u0665")])
    assert listed.status == 400
    token = await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("minutesToExpire", "\u0666\u0660")])
    assert token.status == 400


@pytest.mark.parametrize("position", ["\u00b2", "\u0665", "-1", "", "1" * 40])
async def test_continuation_token_with_a_bad_position_is_400(emu: Emulator, position: str) -> None:
    token = base64.urlsafe_b64encode(f"awps-page:{position}".encode()).decode().rstrip("=")
    result = await rest(emu, "GET", "/api/hubs/chat/groups/g/connections", [("continuationToken", token)])
    assert (result.status, result.json()["target"]) == (400, "continuationToken")


# -- numeric claims and JSON in tokens --------------------------------------------------------------------
@pytest.mark.parametrize("exp", ["1e400", "-1e400", "NaN", "Infinity", "1" + "0" * 400, '"4102444800"', "true", "null"])
async def test_exp_that_is_not_a_finite_number_is_401(emu: Emulator, exp: str) -> None:
    url = rest_url(emu, "/api/hubs/chat/:send")
    payload = ('{"aud":%s,"exp":%s}' % (json.dumps(url), exp)).encode()
    token = hand_made_token(b'{"alg":"HS256","typ":"JWT"}', payload, emu.access_key)
    assert (await send(emu, token=token)).status == 401
    assert (await send(emu)).status == 202


@pytest.mark.parametrize("nbf", ["1e400", "NaN"])
async def test_nbf_that_is_not_a_finite_number_is_401(emu: Emulator, nbf: str) -> None:
    url = rest_url(emu, "/api/hubs/chat/:send")
    payload = ('{"aud":%s,"exp":%d,"nbf":%s}' % (json.dumps(url), time.time() + 60, nbf)).encode()
    token = hand_made_token(b'{"alg":"HS256"}', payload, emu.access_key)
    assert (await send(emu, token=token)).status == 401


async def test_fractional_exp_is_a_valid_numeric_date(emu: Emulator) -> None:
    url = rest_url(emu, "/api/hubs/chat/:send")
    payload = ('{"aud":%s,"exp":%.3f}' % (json.dumps(url), time.time() + 60.5)).encode()
    assert (await send(emu, token=hand_made_token(b'{"alg":"HS256"}', payload, emu.access_key))).status == 202


@pytest.mark.parametrize("where", ["header", "payload"])
async def test_deeply_nested_json_in_an_unsigned_token_is_401_and_the_emulator_keeps_serving(
        emu: Emulator, where: str) -> None:
    header = b'{"alg":' + DEEP.encode() + b"}" if where == "header" else b'{"alg":"HS256"}'
    payload = b'{"x":' + DEEP.encode() + b"}" if where == "payload" else b"{}"
    token = b64url(header) + "." + b64url(payload) + ".c2ln"
    assert (await send(emu, token=token)).status == 401
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={token}") == 401
    assert (await send(emu)).status == 202


# -- the audience is the URL as sent ------------------------------------------------------------------------
async def test_token_for_a_path_with_a_slash_does_not_open_an_id_with_an_encoded_slash(emu: Emulator) -> None:
    forged = rest_token(rest_url(emu, "/api/hubs/chat/users/a/b/:send"), emu.access_key)
    assert (await send(emu, path="/api/hubs/chat/users/a%2Fb/:send", token=forged)).status == 401
    right = rest_token(rest_url(emu, "/api/hubs/chat/users/a%2Fb/:send"), emu.access_key)
    assert (await send(emu, path="/api/hubs/chat/users/a%2Fb/:send", token=right)).status == 202


async def test_ids_in_the_audience_are_case_sensitive(emu: Emulator) -> None:
    other_user = rest_token(rest_url(emu, "/api/hubs/chat/users/Alice/:send"), emu.access_key)
    assert (await send(emu, path="/api/hubs/chat/users/alice/:send", token=other_user)).status == 401
    other_group = rest_token(rest_url(emu, "/api/hubs/chat/groups/Room/:send"), emu.access_key)
    assert (await send(emu, path="/api/hubs/chat/groups/room/:send", token=other_group)).status == 401


@pytest.mark.parametrize("signed, sent", [
    ("/api/hubs/chat/users/caf%c3%a9/:send", "/api/hubs/chat/users/caf%C3%A9/:send"),  # hex case
    ("/api/hubs/chat/users/caf\u00e9/:send", "/api/hubs/chat/users/caf%C3%A9/:send"),  # decoded form
    ("/api/hubs/chat/users/a%20b/:send", "/api/hubs/chat/users/a%20b/:send/"),  # trailing slash
    ("/API/HUBS/Chat/USERS/bob/:SEND", "/api/hubs/chat/users/bob/:send"),  # route words and hub
])
async def test_audience_equivalent_to_the_url_as_sent_is_accepted(emu: Emulator, signed: str, sent: str) -> None:
    token = rest_token(rest_url(emu, signed), emu.access_key)
    status = (await send(emu, path=sent, token=token)).status
    assert status in (202, 404) and status != 401  # the trailing-slash path is no operation, but authenticated


async def test_audience_with_a_query_must_match_the_query_sent(emu: Emulator) -> None:
    signed = rest_url(emu, "/api/hubs/chat/:send", [("filter", "userId eq 'a'")])
    token = rest_token(signed, emu.access_key)
    assert (await send(emu, [("filter", "userId eq 'a'")], token=token)).status == 202
    assert (await send(emu, [("filter", "true")], token=token)).status == 401


async def test_default_port_may_be_left_out_of_the_audience(emu: Emulator) -> None:
    from webpubsub_emulator._rest_support import audience_matches
    assert audience_matches("http://LOCALHOST/api/hubs/chat/:send", ["http://localhost:80/api/hubs/chat/:send"])
    assert not audience_matches("http://localhost:8080/api/hubs/chat/:send", ["http://localhost/api/hubs/chat/:send"])
    assert not audience_matches("http://[::1/x", ["http://[::1]/x"])  # unparsable: matches nothing else
