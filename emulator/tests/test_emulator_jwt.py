"""The emulator's token edge (`_jwt`): PyJWT verifies, and every hostile token is one `TokenError` -- never a
Python error, never a token accepted that the service would refuse. Tokens are made by hand where PyJWT
would refuse to write them."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any, AsyncIterator, Callable, Dict, List

import jwt
import pytest
import pytest_asyncio
from emulator_core_helpers import handshake_status, rest, rest_url

from webpubsub_emulator import Emulator, _jwt
from webpubsub_emulator._jwt import TokenError

KEY = "K" * 43 + "1"
SECONDARY = "S" * 43 + "2"
HS256 = b'{"alg":"HS256","typ":"JWT"}'
DEEP = "[" * 2000 + "]" * 2000  # past the recursion limit


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def hmac_signature(signing_input: str, key: str) -> str:
    return b64url(hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest())


def signed(payload: bytes, header: bytes = HS256, key: str = KEY) -> str:
    """Exactly these JSON bytes, with a valid HS256 signature by `key` whatever the header says."""
    signing_input = b64url(header) + "." + b64url(payload)
    return signing_input + "." + hmac_signature(signing_input, key)


def claims_json(**claims: Any) -> bytes:
    return json.dumps({"aud": "http://localhost/x", **claims}).encode()


def in_seconds(seconds: float) -> int:
    return int(time.time() + seconds)


def valid() -> str:
    return signed(claims_json(exp=in_seconds(60)))


# -- refused: each is a TokenError, whatever PyJWT would have done with it alone ----------------------------
REFUSED: Dict[str, Callable[[], str]] = {
    # algorithms: only HS256 verifies against an access key
    "alg none, no signature": lambda: b64url(b'{"alg":"none"}') + "." + b64url(claims_json(exp=in_seconds(60))) + ".",
    "alg none, signed": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":"none"}'),
    "alg None": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":"None"}'),
    "alg RS256 signed with the key as HMAC secret": lambda: signed(claims_json(exp=in_seconds(60)),
                                                                   b'{"alg":"RS256","typ":"JWT"}'),
    "alg HS512, signed with SHA-512": lambda: (lambda s: s + "." + b64url(hmac.new(KEY.encode(), s.encode(), "sha512")
                                                                         .digest()))(
        b64url(b'{"alg":"HS512"}') + "." + b64url(claims_json(exp=in_seconds(60)))),
    "alg lower case": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":"hs256"}'),
    "alg as a list": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":["HS256"]}'),
    "alg missing": lambda: signed(claims_json(exp=in_seconds(60)), b'{"typ":"JWT"}'),
    # keys and signatures
    "wrong key": lambda: signed(claims_json(exp=in_seconds(60)), key="W" * 44),
    "signature cut short": lambda: valid()[:-4],
    "signature of another token": lambda: valid().rsplit(".", 1)[0] + "." + signed(b"{}").rsplit(".", 1)[1],
    # lifetime (5 minutes of clock skew)
    "expired beyond the skew": lambda: signed(claims_json(exp=in_seconds(-400))),
    "nbf beyond the skew": lambda: signed(claims_json(exp=in_seconds(7200), nbf=in_seconds(3600))),
    "no exp": lambda: signed(claims_json()),
    "exp null": lambda: signed(b'{"exp":null}'),
    "exp string": lambda: signed(b'{"exp":"4102444800"}'),
    "exp string with spaces": lambda: signed(b'{"exp":" 4102444800 "}'),
    "exp true": lambda: signed(b'{"exp":true}'),
    "exp NaN": lambda: signed(b'{"exp":NaN}'),
    "exp Infinity": lambda: signed(b'{"exp":Infinity}'),
    "exp 1e400": lambda: signed(b'{"exp":1e400}'),
    "exp -1e400": lambda: signed(b'{"exp":-1e400}'),
    "exp 400-digit integer": lambda: signed(b'{"exp":1' + b"0" * 400 + b"}"),
    "exp list": lambda: signed(b'{"exp":[4102444800]}'),
    "exp object": lambda: signed(b'{"exp":{"at":4102444800}}'),
    "nbf NaN": lambda: signed(b'{"exp":4102444800,"nbf":NaN}'),
    "nbf 1e400": lambda: signed(b'{"exp":4102444800,"nbf":1e400}'),
    "nbf string": lambda: signed(b'{"exp":4102444800,"nbf":"0"}'),
    "NaN in another claim": lambda: signed(b'{"exp":4102444800,"sub":NaN}'),
    # JSON
    "header nested 2000 deep": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":' + DEEP.encode() + b"}"),
    "payload nested 2000 deep, signed": lambda: signed(b'{"exp":4102444800,"x":' + DEEP.encode() + b"}"),
    "payload nested 2000 deep, unsigned": lambda: b64url(HS256) + "." + b64url(b'{"x":' + DEEP.encode() + b"}")
    + ".c2ln",
    "header not JSON": lambda: signed(claims_json(exp=in_seconds(60)), b"HS256"),
    "header a JSON array": lambda: signed(claims_json(exp=in_seconds(60)), b'["HS256"]'),
    "payload not JSON": lambda: signed(b"exp=4102444800"),
    "payload a JSON array": lambda: signed(b"[4102444800]"),
    "payload a JSON string": lambda: signed(b'"claims"'),
    "payload not UTF-8": lambda: signed(b'{"exp":4102444800,"sub":"\xff"}'),
    "payload with a trailing document": lambda: signed(b'{"exp":4102444800}{}'),
    # segments and characters
    "empty": lambda: "",
    "two segments": lambda: valid().rsplit(".", 1)[0],
    "four segments, signed over all three": lambda: (lambda s: s + "." + hmac_signature(s, KEY))(
        valid().rsplit(".", 1)[0] + "." + b64url(b"x")),
    "four segments": lambda: valid() + ".c2ln",
    "empty payload segment": lambda: b64url(HS256) + ".." + hmac_signature(b64url(HS256) + ".", KEY),
    "padding": lambda: (lambda h, p: h + "." + p + "." + hmac_signature(h + "." + p, KEY))(
        b64url(HS256) + "=", b64url(claims_json(exp=in_seconds(60)))),
    "standard base64 alphabet": lambda: valid().replace("-", "+").replace("_", "/") + "+/",
    "character outside base64url": lambda: (lambda h, p: h + "." + p + "." + hmac_signature(h + "." + p, KEY))(
        b64url(HS256), "!" + b64url(claims_json(exp=in_seconds(60)))),
    "leading space": lambda: " " + valid(),
    "trailing newline": lambda: valid() + "\n",
    "segment of impossible length": lambda: (lambda h, p: h + "." + p + "." + hmac_signature(h + "." + p, KEY))(
        b64url(HS256) + "A", b64url(claims_json(exp=in_seconds(60)))),
    "non-ASCII letter": lambda: "\u00e9" + valid(),
    "lone surrogate": lambda: valid()[:10] + "\ud800" + valid()[10:],
    "fullwidth digit": lambda: valid()[:5] + "\uff11" + valid()[5:],
}


@pytest.mark.parametrize("make", REFUSED.values(), ids=REFUSED.keys())
def test_hostile_or_invalid_token_is_one_token_error(make: Callable[[], str]) -> None:
    with pytest.raises(TokenError):
        _jwt.decode(make(), [KEY, SECONDARY])
    assert _jwt.decode(valid(), [KEY])["aud"] == "http://localhost/x"  # and the next token still verifies


def test_no_key_to_verify_with_is_a_token_error() -> None:
    with pytest.raises(TokenError):
        _jwt.decode(valid(), [])


# -- accepted -----------------------------------------------------------------------------------------------
ACCEPTED: Dict[str, Callable[[], str]] = {
    "signed by PyJWT": lambda: jwt.encode({"aud": "http://localhost/x", "exp": in_seconds(60)}, KEY, algorithm="HS256"),
    "signed with the secondary key": lambda: signed(claims_json(exp=in_seconds(60)), key=SECONDARY),
    "expired within the skew": lambda: signed(claims_json(exp=in_seconds(-60))),
    "nbf within the skew": lambda: signed(claims_json(exp=in_seconds(60), nbf=in_seconds(60))),
    "fractional exp": lambda: signed(claims_json(exp=time.time() + 60.5)),
    "exp in the far future": lambda: signed(claims_json(exp=1e300)),
    "header without typ, with kid": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":"HS256","kid":"k1"}'),
    "header with unknown members": lambda: signed(claims_json(exp=in_seconds(60)), b'{"alg":"HS256","x":[1,{}]}'),
    "claims of any JSON type": lambda: signed(claims_json(exp=in_seconds(60), sub=42, role="r", iat="x", jti=[1])),
}


@pytest.mark.parametrize("make", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_valid_token_gives_its_claims(make: Callable[[], str]) -> None:
    assert _jwt.decode(make(), [KEY, SECONDARY])["aud"] == "http://localhost/x"


def test_unicode_claims_come_back_intact() -> None:
    claims = _jwt.decode(signed(claims_json(exp=in_seconds(60), sub="caf\u00e9 \U0001f389 \u4e2d")), [KEY])
    assert claims["sub"] == "caf\u00e9 \U0001f389 \u4e2d"


def test_audience_is_left_to_the_caller() -> None:
    assert _jwt.decode(signed(b'{"exp":4102444800,"aud":"anything"}'), [KEY])["aud"] == "anything"
    assert "aud" not in _jwt.decode(signed(b'{"exp":4102444800}'), [KEY])


# -- minted tokens ------------------------------------------------------------------------------------------
def test_minted_token_is_hs256_with_a_kid_and_verifies_with_pyjwt_and_here() -> None:
    token = _jwt.encode({"aud": "a", "exp": in_seconds(60), "sub": "caf\u00e9"}, KEY, kid=_jwt.key_id(KEY))
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": _jwt.key_id(KEY)}
    assert jwt.decode(token, KEY, algorithms=["HS256"], audience="a")["sub"] == "caf\u00e9"
    assert _jwt.decode(token, [KEY])["sub"] == "caf\u00e9"


def test_minted_token_without_kid_has_none() -> None:
    assert "kid" not in jwt.get_unverified_header(_jwt.encode({"exp": in_seconds(60)}, KEY))


def test_key_id_is_stable_and_reveals_nothing_of_the_key() -> None:
    assert _jwt.key_id(KEY) == _jwt.key_id(KEY) != _jwt.key_id(SECONDARY)
    assert KEY not in _jwt.key_id(KEY) and len(_jwt.key_id(KEY)) == 32


# -- unverified (Microsoft Entra ID, opt-in): lifetime and shape only ------------------------------------------
def entra_like(**claims: Any) -> str:
    return b64url(b'{"alg":"RS256","typ":"JWT"}') + "." + b64url(json.dumps(claims).encode()) + ".bm90LWNoZWNrZWQ"


def test_unverified_token_gives_its_claims_without_a_key() -> None:
    assert _jwt.decode_unverified(entra_like(aud="https://webpubsub.azure.com", exp=in_seconds(60)))["aud"] == (
        "https://webpubsub.azure.com")


UNVERIFIED_REFUSED: Dict[str, Callable[[], str]] = {
    "expired": lambda: entra_like(exp=in_seconds(-400)),
    "not yet valid": lambda: entra_like(exp=in_seconds(7200), nbf=in_seconds(3600)),
    "no exp": lambda: entra_like(aud="https://webpubsub.azure.com"),
    "exp string": lambda: entra_like(exp=str(in_seconds(60))),
    "exp 1e400": lambda: b64url(b'{"alg":"RS256"}') + "." + b64url(b'{"exp":1e400}') + ".c2ln",
    "payload nested 2000 deep": lambda: b64url(b'{"alg":"RS256"}') + "." + b64url(b'{"exp":1,"x":' + DEEP.encode()
                                                                                 + b"}") + ".c2ln",
    "header nested 2000 deep": lambda: b64url(b'{"alg":' + DEEP.encode() + b"}") + "." + b64url(b'{"exp":1}')
    + ".c2ln",
    "two segments": lambda: entra_like(exp=in_seconds(60)).rsplit(".", 1)[0],
    "non-ASCII": lambda: entra_like(exp=in_seconds(60)) + "\u00e9",
}


@pytest.mark.parametrize("make", UNVERIFIED_REFUSED.values(), ids=UNVERIFIED_REFUSED.keys())
def test_unverified_token_still_needs_a_current_lifetime_and_a_sound_shape(make: Callable[[], str]) -> None:
    with pytest.raises(TokenError):
        _jwt.decode_unverified(make())


# -- through the server: the REST API answers 401, the client endpoint refuses the handshake --------------------
@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_key=KEY) as emulator:
        yield emulator


def over_the_wire(emu: Emulator, audience: str, header: bytes) -> str:
    return signed(json.dumps({"aud": audience, "exp": in_seconds(60)}).encode(), header)


WIRE_HEADERS: List[bytes] = [b'{"alg":"none"}', b'{"alg":"RS256"}', b'{"alg":"HS384"}',
                             b'{"alg":' + DEEP.encode() + b"}"]


@pytest.mark.asyncio
@pytest.mark.parametrize("header", WIRE_HEADERS, ids=["alg none", "alg RS256", "alg HS384", "deep header"])
async def test_rest_call_and_client_with_a_refused_algorithm_get_401(emu: Emulator, header: bytes) -> None:
    url = rest_url(emu, "/api/hubs/chat/:send")
    refused = await rest(emu, "POST", "/api/hubs/chat/:send", body="x", content_type="text/plain",
                         token=over_the_wire(emu, url, header))
    assert (refused.status, refused.body) == (401, b"")
    client_token = over_the_wire(emu, f"{emu.endpoint}/client/hubs/chat", header)
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={client_token}") == 401
    assert (await rest(emu, "POST", "/api/hubs/chat/:send", body="x", content_type="text/plain")).status == 202
