"""Opt-in, unvalidated Microsoft Entra ID bearer tokens on the REST API, and the HTTPS/WSS listener."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Tuple

import aiohttp
import pytest
import pytest_asyncio
from emulator_core_helpers import WAIT, connect, rest

from webpubsub_emulator import Emulator

pytestmark = pytest.mark.asyncio

ENTRA_AUDIENCE = "https://webpubsub.azure.com"


def segment(value: Dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def entra_token(audience: str = ENTRA_AUDIENCE, lifetime: float = 3600, **claims: Any) -> str:
    """Shaped like a Microsoft Entra ID access token: RS256, issuer, tenant, object id; a made-up signature."""
    now = int(time.time())
    payload = {"aud": audience, "iss": "https://sts.windows.net/00000000-0000-0000-0000-000000000000/",
               "iat": now, "nbf": now, "exp": int(now + lifetime), "oid": "11111111-1111-1111-1111-111111111111",
               "tid": "00000000-0000-0000-0000-000000000000", **claims}
    header = {"alg": "RS256", "typ": "JWT", "kid": "made-up"}
    return f"{segment(header)}.{segment(payload)}.{base64.urlsafe_b64encode(b'not-a-signature').decode()}"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(allow_unvalidated_entra_tokens=True) as emulator:
        yield emulator


async def send_with(emu: Emulator, token: str) -> int:
    return (await rest(emu, "POST", "/api/hubs/chat/:send", body="x", content_type="text/plain", token=token)).status


async def test_entra_tokens_are_refused_unless_allowed() -> None:
    async with Emulator() as emu:
        assert await send_with(emu, entra_token()) == 401


async def test_an_allowed_entra_token_reaches_every_operation(emu: Emulator) -> None:
    client = await connect(emu, user="alice")
    token = entra_token()
    assert await send_with(emu, token) == 202
    assert (await client.receive_data())["data"] == "x"
    exists = await rest(emu, "HEAD", "/api/hubs/chat/users/alice", token=token)
    grant = await rest(emu, "PUT", f"/api/hubs/chat/permissions/sendToGroup/connections/{client.connection_id}",
                       [("targetName", "g")], token=token)
    assert (exists.status, grant.status) == (200, 200)
    await client.close()


@pytest.mark.parametrize("audience", [ENTRA_AUDIENCE, ENTRA_AUDIENCE + "/"])
async def test_the_resource_audience_with_or_without_slash_is_accepted(emu: Emulator, audience: str) -> None:
    assert await send_with(emu, entra_token(audience)) == 202


@pytest.mark.parametrize("token", [
    entra_token("https://management.azure.com"),
    entra_token("https://webpubsub.azure.com.evil.example"),
    entra_token(lifetime=-600),  # expired beyond the 5 minutes of skew
    entra_token(nbf=int(time.time()) + 3600),
    f"{segment({'alg': 'RS256'})}.{segment({'aud': ENTRA_AUDIENCE})}.sig",  # no exp
    "not.a.token",
    "nonsense",
], ids=["other-audience", "look-alike-host", "expired", "not-yet-valid", "no-exp", "not-json", "one-segment"])
async def test_other_bearer_tokens_are_still_401(emu: Emulator, token: str) -> None:
    assert await send_with(emu, token) == 401


async def test_access_key_tokens_keep_working_next_to_entra_tokens(emu: Emulator) -> None:
    assert (await rest(emu, "POST", "/api/hubs/chat/:send", body="x", content_type="text/plain")).status == 202


async def test_generate_token_with_an_entra_token_mints_a_working_client_token(emu: Emulator) -> None:
    result = await rest(emu, "POST", "/api/hubs/chat/:generateToken", [("userId", "bob")], token=entra_token())
    assert result.status == 200
    client = await connect(emu, token=result.json()["token"])
    assert client.connected is not None and client.connected["userId"] == "bob"
    await client.close()


async def test_entra_tokens_do_not_open_client_connections(emu: Emulator) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await connect(emu, token=entra_token())
    assert refused.value.status == 401


async def test_starting_with_entra_tokens_allowed_logs_a_loud_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="webpubsub_emulator"):
        async with Emulator(allow_unvalidated_entra_tokens=True):
            pass
    assert any("WITHOUT checking" in record.getMessage() and "local tests only" in record.getMessage()
               for record in caplog.records)


# -- HTTPS and WSS ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Tuple[str, str]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder: Path = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    return cert, key


async def test_the_tls_listener_serves_https_rest_and_wss_clients(certificate: Tuple[str, str]) -> None:
    cert, key = certificate
    trust = ssl.create_default_context(cafile=cert)
    async with Emulator(tls_cert=cert, tls_key=key) as emu:
        assert emu.endpoint.startswith("https://127.0.0.1:")
        assert emu.connection_string.startswith("Endpoint=https://")
        token = (await _post(emu, "/api/hubs/chat/:generateToken", trust))["token"]
        url = f"wss{emu.endpoint[5:]}/client/hubs/chat?access_token={token}"
        async with aiohttp.ClientSession() as session:
            ws = await asyncio.wait_for(session.ws_connect(url, protocols=["json.webpubsub.azure.v1"], ssl=trust),
                                        WAIT)
            assert (await ws.receive_json(timeout=WAIT))["event"] == "connected"
            await ws.close()


async def _post(emu: Emulator, path: str, trust: ssl.SSLContext) -> Any:
    import jwt
    url = f"{emu.endpoint}{path}?api-version=2024-12-01"
    token = jwt.encode({"aud": url, "exp": int(time.time()) + 60}, emu.access_key, algorithm="HS256")
    async with aiohttp.ClientSession() as session:
        async with session.post(url, headers={"Authorization": f"Bearer {token}"}, ssl=trust) as response:
            assert response.status == 200
            return await response.json()


@pytest.mark.parametrize("arguments", [{"tls_cert": "only-a-cert.pem"}, {"tls_key": "only-a-key.pem"},
                                       {"tls_cert": "missing.pem", "tls_key": "missing.pem"}])
async def test_tls_settings_are_checked_when_the_emulator_is_made(arguments: Dict[str, str]) -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key|cannot load the TLS certificate"):
        Emulator(**arguments)  # type: ignore[arg-type]
