"""End to end: the emulator calls the event handler (ASGI on uvicorn, WSGI on wsgiref) on loopback,
and real aiohttp WebSocket clients connect, are authenticated by ``on_connect`` and get replies."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, ContextManager, Dict, Iterator, List, Tuple

import aiohttp
import jwt
import pytest

from azure.messaging.webpubsubservice.eventhandler import (
    ConnectedRequest,
    ConnectRequest,
    ConnectResponse,
    DisconnectedRequest,
    EventHandlerError,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
)
from eventhandler_test_servers import serve_asgi, serve_wsgi

webpubsub_emulator = pytest.importorskip("webpubsub_emulator")

KEY = "e2eKeyABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc"
SUBPROTOCOL = "json.webpubsub.azure.v1"
WAIT_SECONDS = 10
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=WAIT_SECONDS)


class Recorder:
    """Remembers what the callbacks saw; callbacks run on server threads."""

    def __init__(self) -> None:
        self.events: List[Tuple[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, name: str, value: Any) -> None:
        with self._lock:
            self.events.append((name, value))

    def wait_for(self, name: str) -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            with self._lock:
                for event_name, value in self.events:
                    if event_name == name:
                        return value
            time.sleep(0.02)
        raise AssertionError(f"{name} was not called within {WAIT_SECONDS}s; saw {self.events}")


def chat_handler(recorder: Recorder, **options: Any) -> WebPubSubEventHandler:
    """Admits users whose token has a ``sub`` other than mallory, echoes events, counts them in state."""

    def on_connect(request: ConnectRequest) -> ConnectResponse:
        user = request.claims.get("sub", [""])[0]
        if not user or user == "mallory":
            raise EventHandlerError(401, "not welcome")
        request.context.set_state("nick", request.query.get("nick", [user])[0])
        chosen = SUBPROTOCOL if SUBPROTOCOL in request.subprotocols else None
        return ConnectResponse(user_id=user.upper(), subprotocol=chosen)

    def on_user_event(request: UserEventRequest) -> UserEventResponse:
        count = request.context.states.get("count", 0) + 1
        request.context.set_state("count", count)
        if request.context.event_name == "message":  # simple WebSocket client
            return UserEventResponse(f"pong {request.data}")
        return UserEventResponse({"echo": request.data, "nick": request.context.states["nick"], "count": count})

    async def on_connected(request: ConnectedRequest) -> None:
        recorder.add("connected", request.context.user_id)

    def on_disconnected(request: DisconnectedRequest) -> None:
        recorder.add("disconnected", (request.context.user_id, request.context.states))

    options.setdefault("allowed_origins", ["127.0.0.1"])
    options.setdefault("access_keys", [KEY])
    return WebPubSubEventHandler(
        "chat",
        on_connect=on_connect,
        on_user_event=on_user_event,
        on_connected=on_connected,
        on_disconnected=on_disconnected,
        **options,
    )


Serve = Callable[[WebPubSubEventHandler], ContextManager[str]]


@contextmanager
def asgi(handler: WebPubSubEventHandler) -> Iterator[str]:
    with serve_asgi(handler.as_asgi_app()) as base_url:
        yield base_url


@contextmanager
def wsgi(handler: WebPubSubEventHandler) -> Iterator[str]:
    with serve_wsgi(handler.as_wsgi_app()) as base_url:
        yield base_url


@contextmanager
def emulator_calling(handler: WebPubSubEventHandler, serve: Serve) -> Iterator[Any]:
    with serve(handler) as base_url:
        with webpubsub_emulator.Emulator(access_key=KEY, event_handlers={"chat": f"{base_url}/eventhandler"}) as emu:
            yield emu


def client_url(emu: Any, user: str, query: str = "") -> str:
    audience = f"{emu.endpoint}/client/hubs/chat"
    token = jwt.encode({"aud": audience, "exp": int(time.time()) + 600, "sub": user}, KEY, algorithm="HS256")
    return f"ws://127.0.0.1:{emu.port}/client/hubs/chat?access_token={token}{query}"


async def receive_json(socket: aiohttp.ClientWebSocketResponse) -> Dict[str, Any]:
    message = await socket.receive(timeout=WAIT_SECONDS)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    document: Dict[str, Any] = json.loads(message.data)
    return document


SERVERS = pytest.mark.parametrize("serve", [asgi, wsgi], ids=["asgi", "wsgi"])


@SERVERS
@pytest.mark.asyncio
async def test_subprotocol_client_is_authenticated_and_gets_replies_with_state(serve: Serve) -> None:
    recorder = Recorder()
    with emulator_calling(chat_handler(recorder), serve) as emu:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            url = client_url(emu, "alice", "&nick=Al")
            async with session.ws_connect(url, protocols=[SUBPROTOCOL]) as socket:
                assert socket.protocol == SUBPROTOCOL
                connected = await receive_json(socket)
                assert (connected["event"], connected["userId"]) == ("connected", "ALICE")
                replies = []
                for ack_id in (1, 2):
                    await socket.send_json(
                        {"type": "event", "event": "echo", "dataType": "text", "data": "hi", "ackId": ack_id}
                    )
                    replies.append(await receive_json(socket))
                    assert await receive_json(socket) == {"type": "ack", "ackId": ack_id, "success": True}
        assert replies == [
            {"type": "message", "from": "server", "dataType": "json", "data": {"echo": "hi", "nick": "Al", "count": n}}
            for n in (1, 2)
        ]
        assert await asyncio.to_thread(recorder.wait_for, "connected") == "ALICE"
        assert await asyncio.to_thread(recorder.wait_for, "disconnected") == ("ALICE", {"nick": "Al", "count": 2})


@SERVERS
@pytest.mark.asyncio
async def test_simple_client_gets_a_text_reply(serve: Serve) -> None:
    with emulator_calling(chat_handler(Recorder()), serve) as emu:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            async with session.ws_connect(client_url(emu, "bob")) as socket:
                await socket.send_str("ping")
                message = await socket.receive(timeout=WAIT_SECONDS)
    assert (message.type, message.data) == (aiohttp.WSMsgType.TEXT, "pong ping")


@SERVERS
@pytest.mark.asyncio
async def test_on_connect_refusal_reaches_the_client(serve: Serve) -> None:
    with emulator_calling(chat_handler(Recorder()), serve) as emu:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(client_url(emu, "mallory"), protocols=[SUBPROTOCOL])
    assert refused.value.status == 401


@pytest.mark.asyncio
async def test_events_signed_with_another_key_are_refused() -> None:
    handler = chat_handler(Recorder(), access_keys=["a-key-the-emulator-does-not-have"])
    with emulator_calling(handler, asgi) as emu:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(client_url(emu, "alice"), protocols=[SUBPROTOCOL])
    assert refused.value.status == 401


@pytest.mark.asyncio
async def test_handler_that_does_not_allow_the_origin_gets_no_events() -> None:
    handler = chat_handler(Recorder(), allowed_origins=["contoso.webpubsub.azure.com"])
    with emulator_calling(handler, wsgi) as emu:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(client_url(emu, "alice"), protocols=[SUBPROTOCOL])
    assert refused.value.status == 500  # the emulator treats a failed validation as a handler failure


@pytest.mark.asyncio
async def test_url_templates_with_hub_and_event_placeholders_reach_the_handler() -> None:
    recorder = Recorder()
    with asgi(chat_handler(recorder)) as base_url:
        template = f"{base_url}/eventhandler/{{hub}}/{{event}}"
        with webpubsub_emulator.Emulator(access_key=KEY, event_handlers={"chat": template}) as emu:
            async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
                async with session.ws_connect(client_url(emu, "carol"), protocols=[SUBPROTOCOL]) as socket:
                    assert (await receive_json(socket))["userId"] == "CAROL"
            assert await asyncio.to_thread(recorder.wait_for, "disconnected") == ("CAROL", {"nick": "carol"})


# --- a protobuf client's protobuf_data ------------------------------------------------------------------------

PROTOBUF_SUBPROTOCOL = "protobuf.webpubsub.azure.v1"


@SERVERS
@pytest.mark.asyncio
async def test_protobuf_client_data_reaches_the_handler_as_protobuf_and_a_protobuf_reply_comes_back(
        serve: Serve) -> None:
    schema = pytest.importorskip("webpubsub_emulator._protobuf_schema")
    sent = schema.ProtobufAny(type_url="type.googleapis.com/azure.webpubsub.TestMessage", value=b"\x08\x01")
    answer = schema.ProtobufAny(type_url="type.googleapis.com/chat.Reply", value=b"\x0a\x02ok")
    seen: List[Tuple[str, bytes, str]] = []

    def on_connect(request: ConnectRequest) -> ConnectResponse:
        return ConnectResponse(subprotocol=PROTOBUF_SUBPROTOCOL)

    def on_user_event(request: UserEventRequest) -> UserEventResponse:
        seen.append((request.data_type, request.data, request.content_type))
        return UserEventResponse(answer.SerializeToString(), data_type="protobuf")

    handler = WebPubSubEventHandler("chat", allowed_origins=["127.0.0.1"], access_keys=[KEY], on_connect=on_connect,
                                    on_user_event=on_user_event)
    up, down = schema.UpstreamMessage, schema.DownstreamMessage
    with emulator_calling(handler, serve) as emu:
        async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as session:
            async with session.ws_connect(client_url(emu, "alice"), protocols=[PROTOBUF_SUBPROTOCOL]) as socket:
                assert socket.protocol == PROTOBUF_SUBPROTOCOL

                async def receive(case: str) -> Any:
                    frame = await socket.receive(timeout=WAIT_SECONDS)
                    assert frame.type == aiohttp.WSMsgType.BINARY, frame
                    message = down.FromString(frame.data)
                    assert message.WhichOneof("message") == case, message
                    return getattr(message, case)

                await receive("system_message")  # connected
                event = up.EventMessage(event="echo", data=schema.MessageData(protobuf_data=sent), ack_id=1)
                await socket.send_bytes(up(event_message=event).SerializeToString())
                reply, ack = await receive("data_message"), await receive("ack_message")
    assert seen == [("protobuf", sent.SerializeToString(), "application/x-protobuf")]
    assert (getattr(reply, "from"), reply.data.WhichOneof("data"), reply.data.protobuf_data) == (
        "server", "protobuf_data", answer)
    assert (ack.ack_id, ack.success) == (1, True)
