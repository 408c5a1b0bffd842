"""Two access keys at once (primary and secondary), as the service has them, and rotating them."""
from __future__ import annotations

import hashlib
import hmac
from typing import AsyncIterator

import pytest
import pytest_asyncio
import jwt
from emulator_core_helpers import RELIABLE_PROTOCOL, client_token, connect, rest, rest_token, rest_url
from test_emulator_reliable import drop, recover
from test_emulator_upstream_support import running_handler

from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator
from webpubsub_emulator._config import ConfigError

pytestmark = pytest.mark.asyncio

PRIMARY = "P" * 43 + "1"
SECONDARY = "S" * 43 + "2"
STRANGER = "X" * 44
SEND = "/api/hubs/chat/:send"


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(access_keys=[PRIMARY, SECONDARY]) as emulator:
        yield emulator


async def send_signed_with(emu: Emulator, key: str) -> int:
    token = rest_token(rest_url(emu, SEND), key)
    return (await rest(emu, "POST", SEND, body="x", content_type="text/plain", token=token)).status


def signature(key: str, connection_id: str) -> str:
    return "sha256=" + hmac.new(key.encode(), connection_id.encode(), hashlib.sha256).hexdigest()


async def test_rest_tokens_signed_with_either_key_are_accepted(emu: Emulator) -> None:
    assert [await send_signed_with(emu, key) for key in (PRIMARY, SECONDARY, STRANGER)] == [202, 202, 401]


async def test_client_tokens_signed_with_either_key_connect(emu: Emulator) -> None:
    for key in (PRIMARY, SECONDARY):
        client = await connect(emu, user="alice", key=key)
        assert client.connected is not None and client.connected["userId"] == "alice"
        await client.close()


async def test_the_primary_is_the_access_key_and_signs_generated_tokens(emu: Emulator) -> None:
    assert (emu.access_key, emu.access_keys) == (PRIMARY, [PRIMARY, SECONDARY])
    assert f"AccessKey={PRIMARY};" in emu.connection_string
    token = (await rest(emu, "POST", "/api/hubs/chat/:generateToken")).json()["token"]
    client = await connect(emu, token=token)
    assert client.connection_id
    await client.close()
    jwt.decode(token, PRIMARY, algorithms=["HS256"], audience=f"{emu.endpoint}/client/hubs/chat")


async def test_upstream_requests_carry_one_signature_per_key() -> None:
    async with running_handler() as handler:
        async with Emulator(access_keys=[PRIMARY, SECONDARY], event_handlers={"chat": handler.url_template}) as emu:
            client = await connect(emu)
            request = (await handler.wait_for(1, event="connected"))[0]
            connection_id = client.connection_id or ""
            assert request.headers["ce-signature"] == (f"{signature(PRIMARY, connection_id)},"
                                                       f"{signature(SECONDARY, connection_id)}")
            await client.close()


async def test_regenerating_a_key_refuses_its_tokens_keeps_clients_and_resigns_upstream() -> None:
    async with running_handler() as handler:
        async with Emulator(access_keys=[PRIMARY, SECONDARY], event_handlers={"chat": handler.url_template}) as emu:
            listener = await connect(emu, groups=["g"], key=PRIMARY)
            new_primary = emu.regenerate_key("primary")
            assert emu.access_keys == [new_primary, SECONDARY] and emu.access_key == new_primary
            assert [await send_signed_with(emu, key) for key in (PRIMARY, new_primary, SECONDARY)] == [401, 202, 202]
            assert (await listener.receive_data())["data"] == "x"  # still connected, got both sends
            assert (await listener.receive_data())["data"] == "x"
            await handler.wait_for(1, event="connected")
            await listener.send({"type": "event", "event": "ping", "dataType": "text", "data": "1"})
            event = (await handler.wait_for(1, event="ping"))[0]
            connection_id = listener.connection_id or ""
            assert event.headers["ce-signature"] == (f"{signature(new_primary, connection_id)},"
                                                     f"{signature(SECONDARY, connection_id)}")
            await listener.close()


async def test_a_reliable_connection_recovers_after_both_keys_changed(emu: Emulator) -> None:
    client = await connect(emu, protocol=RELIABLE_PROTOCOL)
    assert client.connected is not None
    token, connection_id = client.connected["reconnectionToken"], client.connection_id or ""
    await drop(client)
    emu.regenerate_key("primary")
    emu.regenerate_key("secondary")
    recovered = await recover(emu, connection_id, token)
    message = await recovered.receive_json()
    assert (message["event"], message["connectionId"]) == ("connected", connection_id)
    await recovered.close()


async def test_a_secondary_key_can_be_added_to_a_single_key_emulator() -> None:
    async with Emulator(access_key=PRIMARY) as emu:
        assert await send_signed_with(emu, SECONDARY) == 401
        assert emu.regenerate_key("secondary", SECONDARY) == SECONDARY
        assert await send_signed_with(emu, SECONDARY) == 202


async def test_keys_from_the_config_file_and_the_single_key_forms() -> None:
    assert Emulator(config={"accessKeys": [PRIMARY, SECONDARY]}).access_keys == [PRIMARY, SECONDARY]
    assert Emulator(config={"accessKey": PRIMARY}).access_keys == [PRIMARY]
    assert Emulator(config={"WebPubSub": {"AccessKey": PRIMARY}}).access_keys == [PRIMARY]
    assert Emulator(access_key=SECONDARY, config={"accessKeys": [PRIMARY]}).access_keys == [SECONDARY]
    assert Emulator().access_keys == [DEFAULT_ACCESS_KEY]


@pytest.mark.parametrize(("arguments", "message"), [
    ({"access_keys": []}, "one or two access keys"),
    ({"access_keys": [PRIMARY, SECONDARY, STRANGER]}, "one or two access keys"),
    ({"access_keys": [PRIMARY, "short"]}, "at least 32 bytes"),
    ({"access_key": PRIMARY, "access_keys": [SECONDARY]}, "not both"),
    ({"config": {"accessKey": PRIMARY, "accessKeys": [SECONDARY]}}, "not both"),
    ({"config": {"accessKeys": PRIMARY}}, "list of one or two keys"),
])
async def test_bad_key_settings_are_refused_clearly(arguments: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ConfigError, match=message):
        Emulator(**arguments)


async def test_regenerate_key_checks_its_arguments(emu: Emulator) -> None:
    with pytest.raises(ValueError, match="'primary' or 'secondary'"):
        emu.regenerate_key("tertiary")
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        emu.regenerate_key("secondary", "short")
    assert emu.access_keys == [PRIMARY, SECONDARY]


async def test_client_token_helper_uses_the_given_key(emu: Emulator) -> None:
    assert client_token(emu, key=SECONDARY) != client_token(emu, key=PRIMARY)
