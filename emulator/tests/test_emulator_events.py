"""The core's use of the event handler: connect decisions, notifications, user events and their replies.

A real aiohttp app on loopback plays the app server.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from emulator_core_helpers import JSON_PROTOCOL, client_token, connect, handshake_status, rest, wait_until

from webpubsub_emulator import Emulator, EventHandlerSettings

pytestmark = pytest.mark.asyncio

Reply = Callable[[web.Request, bytes], web.Response]


class FakeApp:
    """Records every event; answers with per-event reply functions."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, Dict[str, str], bytes]] = []
        self.replies: Dict[str, Reply] = {}
        self.url = ""
        self._runner: Optional[web.AppRunner] = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("OPTIONS", "/{event}", self._options)
        app.router.add_post("/{event}", self._event)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/{{event}}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _options(self, request: web.Request) -> web.Response:
        return web.Response(headers={"WebHook-Allowed-Origin": "*"})

    async def _event(self, request: web.Request) -> web.Response:
        event = request.match_info["event"]
        body = await request.read()
        self.events.append((event, dict(request.headers), body))
        reply = self.replies.get(event)
        return reply(request, body) if reply else web.Response(status=204)

    def named(self, event: str) -> List[Tuple[str, Dict[str, str], bytes]]:
        return [item for item in self.events if item[0] == event]


@pytest_asyncio.fixture
async def app() -> AsyncIterator[FakeApp]:
    fake = FakeApp()
    await fake.start()
    yield fake
    await fake.stop()


@pytest_asyncio.fixture
async def emu(app: FakeApp) -> AsyncIterator[Emulator]:
    async with Emulator(event_handlers={"chat": app.url}) as emulator:
        yield emulator


def json_reply(value: Any, headers: Optional[Dict[str, str]] = None) -> Reply:
    return lambda request, body: web.json_response(value, headers=headers)


async def test_connect_body_has_claims_query_headers_and_subprotocols(app: FakeApp, emu: Emulator) -> None:
    client = await connect(emu, user="alice", roles=["r"], query="room=lobby", headers={"X-Test": "1"})
    _, headers, body = app.named("connect")[0]
    connect_body = json.loads(body)
    assert connect_body["claims"]["sub"] == ["alice"] and connect_body["claims"]["role"] == ["r"]
    assert connect_body["query"] == {"room": ["lobby"]}
    assert connect_body["headers"]["X-Test"] == ["1"] and "Authorization" not in connect_body["headers"]
    assert connect_body["subprotocols"] == [JSON_PROTOCOL] and connect_body["clientCertificates"] == []
    assert headers["ce-userId"] == "alice"
    await client.close()


async def test_connect_response_sets_user_groups_and_roles(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = json_reply({"userId": "bob", "groups": ["g1"], "roles": ["webpubsub.joinLeaveGroup"]})
    client = await connect(emu, user="alice", roles=["webpubsub.sendToGroup"])
    assert client.connected is not None and client.connected["userId"] == "bob"
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g1")).status == 200
    assert (await client.request({"type": "joinGroup", "group": "x", "ackId": 1}))["success"]
    denied = await client.request({"type": "sendToGroup", "group": "x", "data": 1, "ackId": 2})
    assert denied["error"]["name"] == "Forbidden"
    await client.close()


async def test_connect_rejection_status_is_relayed_before_the_upgrade(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = lambda request, body: web.Response(status=403, text="no")
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={client_token(emu)}") == 403
    await asyncio.sleep(0.2)
    assert not app.named("connected") and not app.named("disconnected")


async def test_unusable_connect_answer_is_500(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = lambda request, body: web.Response(text="{not json", content_type="application/json")
    assert await handshake_status(emu, f"/client/hubs/chat?access_token={client_token(emu)}") == 500


async def test_connect_handler_picks_the_subprotocol(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = json_reply({"subprotocol": "json.reliable.webpubsub.azure.v1"})
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{emu.endpoint}/client/hubs/chat?access_token={client_token(emu)}",
                                      protocols=[JSON_PROTOCOL, "json.reliable.webpubsub.azure.v1"])
        assert ws.protocol == "json.reliable.webpubsub.azure.v1"
        assert "reconnectionToken" in await ws.receive_json()
        await ws.close()


async def test_connected_then_disconnected_with_the_close_reason(app: FakeApp, emu: Emulator) -> None:
    client = await connect(emu)
    await wait_until(lambda: bool(app.named("connected")))
    await rest(emu, "DELETE", f"/api/hubs/chat/connections/{client.connection_id}", [("reason", "kicked")])
    await wait_until(lambda: bool(app.named("disconnected")))
    assert json.loads(app.named("disconnected")[0][2]) == {"reason": "kicked"}
    await client.close()


async def test_event_reply_is_delivered_before_the_ack(app: FakeApp, emu: Emulator) -> None:
    app.replies["chat"] = lambda request, body: web.Response(body=b"echo:" + body, content_type="text/plain")
    client = await connect(emu)
    await client.send({"type": "event", "event": "chat", "dataType": "text", "data": "hi", "ackId": 3})
    assert await client.receive_data() == {"type": "message", "from": "server", "dataType": "text", "data": "echo:hi"}
    assert await client.receive_json() == {"type": "ack", "ackId": 3, "success": True}
    _, headers, body = app.named("chat")[0]
    assert (headers["Content-Type"].split(";")[0], body) == ("text/plain", b"hi")
    await client.close()


async def test_event_json_data_goes_upstream_verbatim_as_application_json(app: FakeApp, emu: Emulator) -> None:
    client = await connect(emu)
    await client.send({"type": "event", "event": "chat", "data": {"a": 1}, "ackId": 1})
    assert (await client.receive_json())["success"]
    _, headers, body = app.named("chat")[0]
    assert headers["Content-Type"].startswith("application/json") and json.loads(body) == {"a": 1}
    await client.close()


async def test_failing_event_handler_gives_internal_server_error_ack(app: FakeApp, emu: Emulator) -> None:
    app.replies["chat"] = lambda request, body: web.Response(status=400)
    client = await connect(emu)
    ack = await client.request({"type": "event", "event": "chat", "data": 1, "ackId": 4})
    assert ack["error"]["name"] == "InternalServerError"
    await client.close()


async def test_simple_client_message_event_reply_comes_back_as_a_frame(app: FakeApp, emu: Emulator) -> None:
    app.replies["message"] = lambda request, body: web.Response(body=body[::-1],
                                                                content_type="application/octet-stream")
    client = await connect(emu, protocol=None)
    await client.ws.send_bytes(b"\x01\x02")
    frame = await client.receive()
    assert (frame.type.name, frame.data) == ("BINARY", b"\x02\x01")
    await client.ws.send_str("text")
    assert app.named("message")[-1][1]["Content-Type"].startswith("application/octet-stream")
    await client.close()


async def test_connection_state_round_trips_to_later_events(app: FakeApp, emu: Emulator) -> None:
    app.replies["connect"] = lambda request, body: web.Response(status=204, headers={"ce-connectionState": "c3RhdGU="})
    client = await connect(emu)
    assert (await client.request({"type": "event", "event": "chat", "data": 1, "ackId": 1}))["success"]
    assert app.named("chat")[0][1]["ce-connectionState"] == "c3RhdGU="
    await client.close()


async def test_handler_settings_with_user_event_pattern(app: FakeApp) -> None:
    handler = EventHandlerSettings(url_template=app.url, user_event_pattern="allowed", system_events=())
    async with Emulator(event_handlers={"chat": [handler]}) as emu:
        client = await connect(emu)
        assert (await client.request({"type": "event", "event": "allowed", "data": 1, "ackId": 1}))["success"]
        assert not (await client.request({"type": "event", "event": "other", "data": 1, "ackId": 2}))["success"]
        await client.close()
    assert [event for event, _, _ in app.events] == ["allowed"]
