"""Every client operation against the local emulator, observed by real WebSocket clients.

Each test runs twice: with the sync client and with the async client (driven on an event loop thread
through a small facade, so one test body documents the behaviour of both).
To show that a client did *not* receive something, a test sends a marker afterwards: messages to one
connection arrive in order, so if the marker comes next, nothing came before it.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from webpubsub_emulator import Emulator

from azure.messaging.webpubsubservice import WebPubSubPermission, WebPubSubServiceClient
from azure.messaging.webpubsubservice import aio
from azure.messaging.webpubsubservice.rest import build_send_to_user_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "samples"))
from _sample_support import Listener  # noqa: E402

HUB = "integration"
MARKER = "-- marker --"


class AsyncAsSync:
    """Runs the async client's coroutines on a private loop thread; async pages are collected to lists."""

    def __init__(self, connection_string: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = self._call(self._create(connection_string))

    async def _create(self, connection_string: str) -> aio.WebPubSubServiceClient:
        return aio.WebPubSubServiceClient.from_connection_string(connection_string, hub=HUB)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        operation = getattr(self._client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = operation(*args, **kwargs)
            if hasattr(result, "__aiter__"):
                return self._call(_collect(result))
            return self._call(result)

        return call

    def close(self) -> None:
        self._call(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


async def _collect(pages: Any) -> List[Any]:
    return [item async for item in pages]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as running:
        yield running


@pytest.fixture(params=["sync", "async"])
def service(request: pytest.FixtureRequest, emulator: Emulator) -> Iterator[Any]:
    client: Any
    if request.param == "sync":
        client = WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub=HUB)
    else:
        client = AsyncAsSync(emulator.connection_string)
    yield client
    client.close_all_connections()
    client.close()


@pytest.fixture
def connect(service: Any) -> Iterator[Callable[..., Listener]]:
    """Connects a WebSocket client (JSON subprotocol unless told) and waits for its `connected` message."""
    opened: List[Listener] = []

    def open_client(user_id: Any = None, *, simple: bool = False, **token_options: Any) -> Listener:
        url = service.get_client_access_token(user_id=user_id, **token_options)["url"]
        listener = Listener(url, protocols=() if simple else ("json.webpubsub.azure.v1",))
        opened.append(listener)
        if not simple:
            assert listener.next()["event"] == "connected"
        return listener

    yield open_client
    for listener in opened:
        listener.close()


def data_of(listener: Listener) -> Any:
    return listener.next()["data"]


def nothing_more(service: Any, listener: Listener) -> None:
    service.send_to_connection(listener.connection_id, MARKER)
    assert data_of(listener) == MARKER


# --- sending -------------------------------------------------------------------------------------------


def test_send_to_all_delivers_text_json_and_binary_to_subprotocol_clients(service: Any, connect: Any) -> None:
    client = connect("alice")
    service.send_to_all("hello")
    service.send_to_all({"a": [1, 2]})
    service.send_to_all(b"\x00\xff")
    assert client.next() == {"type": "message", "from": "server", "dataType": "text", "data": "hello"}
    assert client.next()["data"] == {"a": [1, 2]}
    binary = client.next()
    assert binary["dataType"] == "binary" and base64.b64decode(binary["data"]) == b"\x00\xff"


def test_send_to_all_delivers_raw_frames_to_simple_clients(service: Any, connect: Any) -> None:
    client = connect("alice", simple=True)
    service.send_to_all("hello")
    service.send_to_all({"a": 1})
    service.send_to_all(b"\x01\x02")
    assert client.next() == "hello"
    assert client.next() == '{"a":1}'
    assert client.next() == b"\x01\x02"


def test_send_to_all_skips_excluded_connections(service: Any, connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    service.send_to_all("not for bob", excluded=[bob.connection_id])
    assert data_of(alice) == "not for bob"
    nothing_more(service, bob)


def test_send_to_all_with_a_filter_reaches_only_matching_connections(service: Any, connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    service.send_to_all("only bob", filter="userId eq 'bob'", message_ttl_seconds=30)
    assert data_of(bob) == "only bob"
    nothing_more(service, alice)


def test_an_invalid_filter_is_a_400_with_the_services_message(service: Any) -> None:
    with pytest.raises(HttpResponseError) as raised:
        service.send_to_all("x", filter="not length(userId) gt 5")
    assert raised.value.status_code == 400
    assert raised.value.error.code == "Error.BadRequest"
    assert "Invalid syntax for 'not length(userId)'" in raised.value.error.message


def test_send_to_group_reaches_members_except_excluded(service: Any, connect: Any) -> None:
    alice = connect("alice", groups=["room"])
    bob = connect("bob", groups=["room"])
    carol = connect("carol")
    service.send_to_group("room", "hi room", excluded=[bob.connection_id])
    assert alice.next() == {"type": "message", "from": "group", "group": "room", "dataType": "text", "data": "hi room"}
    nothing_more(service, bob)
    nothing_more(service, carol)


def test_send_to_user_reaches_all_of_the_users_connections(service: Any, connect: Any) -> None:
    phone, laptop, other = connect("dave"), connect("dave"), connect("erin")
    service.send_to_user("dave", {"n": 1})
    assert data_of(phone) == {"n": 1} and data_of(laptop) == {"n": 1}
    nothing_more(service, other)


def test_send_to_user_with_a_filter(service: Any, connect: Any) -> None:
    phone, laptop = connect("dave"), connect("dave")
    service.send_to_user("dave", "just the laptop", filter=f"connectionId eq '{laptop.connection_id}'")
    assert data_of(laptop) == "just the laptop"
    nothing_more(service, phone)


def test_send_to_connection_reaches_only_that_connection(service: Any, connect: Any) -> None:
    first, second = connect("dave"), connect("dave")
    service.send_to_connection(first.connection_id, "only you", content_type="text/plain")
    assert data_of(first) == "only you"
    nothing_more(service, second)


def test_send_request_with_a_built_request(service: Any, connect: Any) -> None:
    alice = connect("alice")
    response = service.send_request(build_send_to_user_request(HUB, "alice", json={"raw": True}))
    assert response.status_code == 202
    assert data_of(alice) == {"raw": True}


# --- groups ----------------------------------------------------------------------------------------------


def test_add_and_remove_connection_to_group(service: Any, connect: Any) -> None:
    alice = connect("alice")
    service.add_connection_to_group("g1", alice.connection_id)
    assert service.group_exists("g1")
    service.send_to_group("g1", "in g1")
    assert data_of(alice) == "in g1"
    service.remove_connection_from_group("g1", alice.connection_id)
    assert not service.group_exists("g1")
    service.send_to_group("g1", "after removal")
    nothing_more(service, alice)


def test_add_and_remove_user_to_group(service: Any, connect: Any) -> None:
    phone, laptop = connect("frank"), connect("frank")
    service.add_user_to_group("g2", "frank")
    service.send_to_group("g2", "both")
    assert data_of(phone) == "both" and data_of(laptop) == "both"
    service.remove_user_from_group("g2", "frank")
    assert not service.group_exists("g2")


def test_add_user_to_group_without_connections_is_not_found(service: Any) -> None:
    with pytest.raises(ResourceNotFoundError) as raised:
        service.add_user_to_group("g", "nobody-here")
    assert raised.value.error.code == "Warning.User.NotExisted"


def test_remove_from_all_groups(service: Any, connect: Any) -> None:
    alice = connect("alice", groups=["a", "b"])
    bob = connect("bob", groups=["a", "b"])
    service.remove_connection_from_all_groups(alice.connection_id)
    service.remove_user_from_all_groups("bob")
    assert not service.group_exists("a") and not service.group_exists("b")
    assert service.connection_exists(alice.connection_id) and service.user_exists("bob")


def test_bulk_add_and_remove_with_a_filter(service: Any, connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    service.add_connections_to_groups(groups=["vip", "beta"], filter="userId eq 'alice'")
    members = service.list_connections_in_group("vip")
    assert [m["userId"] for m in members] == ["alice"]
    service.remove_connections_from_groups({"groups": ["vip", "beta"]})
    assert not service.group_exists("vip") and not service.group_exists("beta")
    nothing_more(service, bob)


def test_list_connections_in_group_follows_pages(service: Any, connect: Any) -> None:
    clients = [connect(f"user{i}", groups=["paged"]) for i in range(5)]
    members = list(service.list_connections_in_group("paged", maxpagesize=2))
    assert sorted(m["connectionId"] for m in members) == sorted(c.connection_id for c in clients)
    assert sorted(m.user_id for m in members) == [f"user{i}" for i in range(5)]
    assert len(list(service.list_connections_in_group("paged", top=3, maxpagesize=2))) == 3


def test_list_connections_is_the_official_sdks_name_for_the_same_listing(service: Any, connect: Any) -> None:
    client = connect("kim", groups=["official"])
    assert [m.connection_id for m in service.list_connections(group="official", top=5)] == [client.connection_id]


# --- closing and existence ---------------------------------------------------------------------------------


def test_close_connection_tells_the_client_why(service: Any, connect: Any) -> None:
    alice = connect("alice")
    service.close_connection(alice.connection_id, reason="bye now")
    assert alice.next() == {"type": "system", "event": "disconnected", "message": "bye now"}
    assert not service.connection_exists(alice.connection_id)


def test_a_closed_connection_is_gone_as_soon_as_the_close_call_returns(service: Any, connect: Any) -> None:
    alice = connect("alice", groups=["closing-now"])
    service.close_connection(alice.connection_id)
    assert not service.connection_exists(alice.connection_id)
    assert not service.user_exists("alice")
    assert not service.group_exists("closing-now")


def test_close_all_connections_except_excluded(service: Any, connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    service.close_all_connections(excluded=[bob.connection_id], reason="all")
    assert alice.next()["message"] == "all"
    assert service.connection_exists(bob.connection_id)
    assert not service.user_exists("alice")


def test_close_group_connections(service: Any, connect: Any) -> None:
    alice = connect("alice", groups=["closing"])
    bob = connect("bob")
    service.close_group_connections("closing", reason="group closed")
    assert alice.next()["message"] == "group closed"
    assert service.connection_exists(bob.connection_id)


def test_close_user_connections(service: Any, connect: Any) -> None:
    phone, laptop = connect("gina"), connect("gina")
    service.close_user_connections("gina", excluded=[laptop.connection_id], reason="signed out")
    assert phone.next()["message"] == "signed out"
    assert service.user_exists("gina") and service.connection_exists(laptop.connection_id)


def test_existence_checks(service: Any, connect: Any) -> None:
    alice = connect("alice", groups=["here"])
    assert service.connection_exists(alice.connection_id) is True
    assert service.user_exists("alice") is True
    assert service.group_exists("here") is True
    assert service.connection_exists("no-such-connection") is False
    assert service.user_exists("no-such-user") is False
    assert service.group_exists("no-such-group") is False
    assert service.get_service_status() is True


# --- permissions and tokens --------------------------------------------------------------------------------


def test_granted_permission_lets_the_client_join_and_revoked_forbids(service: Any, connect: Any) -> None:
    client = connect("hank")
    connection = client.connection_id
    assert not service.has_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, connection, target_name="room")
    service.grant_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, connection, target_name="room")
    assert service.has_permission("joinLeaveGroup", connection, target_name="room")
    client.send({"type": "joinGroup", "group": "room", "ackId": 1})
    assert client.next() == {"type": "ack", "ackId": 1, "success": True}
    service.revoke_permission("joinLeaveGroup", connection, target_name="room")
    assert not service.has_permission(WebPubSubPermission.JOIN_LEAVE_GROUP, connection, target_name="room")
    client.send({"type": "leaveGroup", "group": "room", "ackId": 2})
    assert client.next()["error"]["name"] == "Forbidden"


def test_client_token_roles_and_groups_are_honoured(service: Any, connect: Any) -> None:
    client = connect("ivy", roles=["webpubsub.sendToGroup.lobby"], groups=["lobby"])
    client.send({"type": "sendToGroup", "group": "lobby", "dataType": "text", "data": "hey", "ackId": 7})
    echoed = client.next()
    assert echoed["fromUserId"] == "ivy" and echoed["data"] == "hey"
    assert client.next() == {"type": "ack", "ackId": 7, "success": True}
    client.send({"type": "sendToGroup", "group": "elsewhere", "data": "no", "ackId": 8})
    assert client.next()["error"]["name"] == "Forbidden"


# --- the official SDK's newest names, and errors that say what to do ----------------------------------------


def test_a_token_from_generate_client_token_connects_with_its_user_and_groups(service: Any, emulator: Emulator) -> None:
    token = service.generate_client_token(user_id="jo", group=["club"], role=["webpubsub.joinLeaveGroup"])
    assert list(token) == ["token"]
    url = emulator.endpoint.replace("http", "ws", 1) + f"/client/hubs/{HUB}?access_token={token['token']}"
    with Listener(url) as client:
        assert client.next()["userId"] == "jo"
        service.send_to_group("club", "members only")
        assert client.next()["data"] == "members only"
        assert service.check_permission("joinLeaveGroup", client.connection_id, target_name="any")


def test_check_permission_follows_grant_and_revoke(service: Any, connect: Any) -> None:
    connection = connect("kim").connection_id
    assert service.check_permission("sendToGroup", connection, target_name="room") is False
    service.grant_permission("sendToGroup", connection, target_name="room")
    assert service.check_permission("sendToGroup", connection, target_name="room") is True


def test_a_wrong_access_key_is_refused_with_what_to_check(emulator: Emulator) -> None:
    wrong = emulator.connection_string.replace(emulator.access_key, "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=")
    with WebPubSubServiceClient.from_connection_string(wrong, hub=HUB, retry_total=0) as client:
        with pytest.raises(ClientAuthenticationError) as raised:
            client.send_to_all("hi")
    assert raised.value.status_code == 401
    assert "check the access key or connection string" in str(raised.value)


def test_a_message_over_the_limit_is_refused_naming_the_limit(service: Any) -> None:
    with pytest.raises(HttpResponseError) as raised:
        service.send_to_all(b"\0" * (1024 * 1024 + 1))
    assert raised.value.status_code == 413
    assert f"({1024 * 1024 + 1} bytes)" in str(raised.value) and "at most 1 MB" in str(raised.value)
