"""Ids and group names that need percent-encoding, end to end: the SDK encodes each path segment and
signs the URL it sends; the emulator checks the token against that URL as sent (not decoded), so these
requests must work -- and a token for one id must never open another."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Iterator

import pytest
from webpubsub_emulator import Emulator

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice import aio
from azure.messaging.webpubsubservice.rest import build_send_to_user_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "samples"))
from _sample_support import Listener  # noqa: E402

HUB = "oddids"
ODD_IDS = ["a b", "a/b", "a%2Fb", "50%", "a+b", "a?b#c", "caf\u00e9 \u65e5\u672c", "o'brien", ":colon", "%", ".", ".."]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(scope="module")
def service(emulator: Emulator) -> Iterator[WebPubSubServiceClient]:
    with WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub=HUB) as client:
        yield client


@pytest.mark.parametrize("odd", ODD_IDS)
def test_users_and_groups_with_odd_names_work_through_the_sdk(service: WebPubSubServiceClient, odd: str) -> None:
    client = Listener(service.get_client_access_token(user_id=odd)["url"])
    neighbour = Listener(service.get_client_access_token(user_id="a")["url"])
    try:
        assert client.next()["userId"] == odd
        neighbour.next()
        assert service.user_exists(odd)
        service.send_to_user(odd, "to the user")
        assert client.next()["data"] == "to the user"
        service.add_user_to_group(odd, odd)
        assert service.group_exists(odd)
        service.send_to_group(odd, "to the group")
        assert client.next()["data"] == "to the group"
        service.send_to_user("a", "marker")  # the neighbour got nothing before its marker
        assert neighbour.next()["data"] == "marker"
        service.remove_user_from_group(odd, odd)
        assert not service.group_exists(odd)
    finally:
        client.close()
        neighbour.close()


def test_async_client_sends_to_odd_user_ids(emulator: Emulator, service: WebPubSubServiceClient) -> None:
    odd = "a/b c%\u00e9"
    client = Listener(service.get_client_access_token(user_id=odd)["url"])

    async def send() -> None:
        async with aio.WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub=HUB) as sender:
            await sender.send_to_user(odd, "async")
            assert await sender.user_exists(odd)

    try:
        client.next()
        asyncio.run(send())
        assert client.next()["data"] == "async"
    finally:
        client.close()


@pytest.mark.parametrize("dots, encoded", [(".", "%2E"), ("..", "%2E%2E"), ("...", "%2E%2E%2E"), ("a.", "a.")])
def test_dot_only_ids_are_encoded_so_no_http_client_resolves_them(dots: str, encoded: str) -> None:
    # urllib3 and yarl both turn ".../users/../:send" into ".../:send": a send to everyone.
    request = build_send_to_user_request(HUB, dots, content="x")
    assert request.url.startswith(f"/api/hubs/{HUB}/users/{encoded}/:send?")
