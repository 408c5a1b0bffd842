"""MQTT test clients: paho-mqtt (the de-facto Python client) over WebSocket, and a raw client built on the
emulator's own codec for the hostile cases paho would never send.

Tests are async and run the emulator in their loop, so every blocking paho call goes through a worker
thread (``asyncio.to_thread``) and every wait is bounded.
"""
from __future__ import annotations

import asyncio
import queue
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import aiohttp
import jwt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from webpubsub_emulator import Emulator
from webpubsub_emulator._mqtt_codec import MQTT_5, Connect, Packet, PacketReader, encode

WAIT = 5.0
V311, V5 = paho.MQTTv311, paho.MQTTv5
VERSIONS = [V311, V5]
VERSION_IDS = ["3.1.1", "5.0"]
ALL_ROLES = ("webpubsub.joinLeaveGroup", "webpubsub.sendToGroup")


def mqtt_token(emu: Emulator, hub: str = "chat", *, user: Optional[str] = None, roles: Sequence[str] = ALL_ROLES,
               groups: Sequence[str] = (), group_claim: str = "webpubsub.group", key: Optional[str] = None,
               **extra: Any) -> str:
    claims: Dict[str, Any] = {"aud": f"{emu.endpoint}/clients/mqtt/hubs/{hub}", "exp": int(time.time()) + 600,
                              **extra}
    if user is not None:
        claims["sub"] = user
    if roles:
        claims["role"] = list(roles)
    if groups:
        claims[group_claim] = list(groups)
    return jwt.encode(claims, key or emu.access_key, algorithm="HS256")


def properties(packet_type: int, **values: Any) -> Properties:
    props = Properties(packet_type)
    for name, value in values.items():
        setattr(props, name, value)
    return props


class Device:
    """A paho client whose network loop runs in paho's thread until the connection ends (no reconnects:
    the loop is told to stop as soon as the connection is gone). paho's own thread must own the loop, since
    its WebSocket writer is not safe to use from two threads at once."""

    def __init__(self, emu: Emulator, client_id: str, *, version: int = V5, hub: str = "chat",
                 token: Optional[str] = "default", headers: Optional[Dict[str, str]] = None,
                 clean_start: bool = True, keepalive: int = 60, **token_args: Any) -> None:
        self.emu = emu
        self.version = version
        self.clean_start = clean_start
        self.keepalive = keepalive
        client_kwargs: Dict[str, Any] = {"client_id": client_id, "protocol": version, "transport": "websockets"}
        if version == V311:
            client_kwargs["clean_session"] = clean_start
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, **client_kwargs)
        if token == "default":
            token = mqtt_token(emu, hub, **token_args)
        path = f"/clients/mqtt/hubs/{hub}" + (f"?access_token={token}" if token else "")
        self.client.ws_set_options(path=path, headers=headers)
        self.messages: "queue.Queue[paho.MQTTMessage]" = queue.Queue()
        self.connack: "queue.Queue[Tuple[Any, Any, Any]]" = queue.Queue()
        self.acks: Dict[int, "queue.Queue[Any]"] = {}
        self.disconnects: "queue.Queue[Tuple[Any, Any]]" = queue.Queue()
        client = self.client
        client.on_connect = lambda c, u, flags, code, props: self.connack.put((code, flags, props))
        client.on_message = lambda c, u, message: self.messages.put(message)
        client.on_subscribe = lambda c, u, mid, codes, props: self._ack(mid, codes)
        client.on_unsubscribe = lambda c, u, mid, codes, props: self._ack(mid, codes)
        client.on_publish = lambda c, u, mid, code, props: self._ack(mid, code)
        client.on_disconnect = self._on_disconnect

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, code: Any, props: Any) -> None:
        client.loop_stop()  # from paho's thread this only asks the loop to end, so it never reconnects
        self.disconnects.put((code, props))

    def _ack(self, mid: int, value: Any) -> None:
        self.acks.setdefault(mid, queue.Queue()).put(value)

    async def _wait_ack(self, mid: int) -> Any:
        return await asyncio.to_thread(self.acks.setdefault(mid, queue.Queue()).get, True, WAIT)

    def will_set(self, topic: str, payload: bytes, qos: int = 0, props: Optional[Properties] = None) -> None:
        self.client.will_set(topic, payload, qos, properties=props)

    async def connect(self, props: Optional[Properties] = None) -> Tuple[Any, Any, Any]:
        """(reason code, flags, CONNACK properties); raises if the upgrade or CONNECT was refused."""
        kwargs: Dict[str, Any] = {"keepalive": self.keepalive}
        if self.version == V5:
            kwargs.update(clean_start=self.clean_start, properties=props)
        await asyncio.to_thread(self.client.connect, "127.0.0.1", self.emu.port, **kwargs)
        self.client.loop_start()
        return await asyncio.to_thread(self.connack.get, True, WAIT)

    async def subscribe(self, topic: str, qos: int = 0, props: Optional[Properties] = None, **options: Any) -> Any:
        if self.version == V5:
            result, mid = self.client.subscribe(topic, options=paho.SubscribeOptions(qos=qos, **options),
                                                properties=props)
        else:
            result, mid = self.client.subscribe(topic, qos)
        assert result == paho.MQTT_ERR_SUCCESS
        codes = await self._wait_ack(mid)
        return codes

    async def unsubscribe(self, topic: str) -> Any:
        result, mid = self.client.unsubscribe(topic)
        assert result == paho.MQTT_ERR_SUCCESS
        return await self._wait_ack(mid)

    async def publish(self, topic: str, payload: Any, qos: int = 0, props: Optional[Properties] = None) -> Any:
        """Waits for PUBACK/PUBCOMP at QoS 1/2 and returns its reason code; QoS 0 returns at once."""
        info = self.client.publish(topic, payload, qos, properties=props)
        if qos == 0:
            return None
        return await self._wait_ack(info.mid)

    async def message(self, timeout: float = WAIT) -> paho.MQTTMessage:
        return await asyncio.to_thread(self.messages.get, True, timeout)

    async def no_message(self, seconds: float = 0.3) -> None:
        try:
            message = await asyncio.to_thread(self.messages.get, True, seconds)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {message.topic}: {message.payload!r}")

    async def disconnected(self, timeout: float = WAIT) -> Tuple[Any, Any]:
        return await asyncio.to_thread(self.disconnects.get, True, timeout)

    async def disconnect(self, reason_code: int = 0, props: Optional[Properties] = None) -> None:
        if self.version == V5:
            self.client.disconnect(paho.ReasonCode(PacketTypes.DISCONNECT, identifier=reason_code), props)
        else:
            self.client.disconnect()
        await self.disconnected()
        await self.close()

    async def drop(self) -> None:
        """Lose the network connection without DISCONNECT (as a device losing power would)."""
        await asyncio.to_thread(self.client.loop_stop)
        sock = self.client.socket()
        if sock is not None:
            sock.close()

    async def close(self) -> None:
        await asyncio.to_thread(self.client.loop_stop)
        try:
            self.client.disconnect()
        except Exception:  # pylint: disable=broad-except
            pass


async def device(emu: Emulator, client_id: str, **kwargs: Any) -> Device:
    """A connected device (asserts that CONNACK accepted it)."""
    client = Device(emu, client_id, **kwargs)
    code, _flags, _props = await client.connect()
    assert code == 0, code
    return client


class RawClient:
    """MQTT over an aiohttp WebSocket with the emulator's codec: sends anything, reads packets or the close."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, version: int) -> None:
        self.session, self.ws, self.version = session, ws, version
        self.reader = PacketReader(1 << 24, version)
        self._packets: List[Packet] = []

    async def send(self, packet: Packet) -> None:
        version = packet.protocol_level if isinstance(packet, Connect) else self.version
        await self.ws.send_bytes(encode(packet, version))

    async def send_bytes(self, data: bytes) -> None:
        await self.ws.send_bytes(data)

    async def receive(self, timeout: float = WAIT) -> Optional[Packet]:
        """The next packet, or None once the server closed the WebSocket."""
        while not self._packets:
            message = await asyncio.wait_for(self.ws.receive(), timeout)
            if message.type != aiohttp.WSMsgType.BINARY:
                return None
            self._packets += self.reader.feed(message.data)
        return self._packets.pop(0)

    async def closed(self, timeout: float = WAIT) -> bool:
        """True when the server closes without sending any (further) packet."""
        return await self.receive(timeout) is None

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


async def raw_client(emu: Emulator, version: int = MQTT_5, *, hub: str = "chat", token: Optional[str] = "default",
                     protocols: Sequence[str] = ("mqtt",), **token_args: Any) -> RawClient:
    session = aiohttp.ClientSession()
    if token == "default":
        token = mqtt_token(emu, hub, **token_args)
    url = f"{emu.endpoint}/clients/mqtt/hubs/{hub}" + (f"?access_token={token}" if token else "")
    try:
        ws = await asyncio.wait_for(session.ws_connect(url, protocols=list(protocols)), WAIT)
    except BaseException:
        await session.close()
        raise
    return RawClient(session, ws, version)
