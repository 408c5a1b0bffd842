"""Shared helpers for the emulator core tests: signed REST calls and WebSocket clients.

Tokens are signed with PyJWT on purpose: it proves the emulator accepts what a standard library makes.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union
from urllib.parse import quote, urlencode

import aiohttp
import jwt
import yarl
from multidict import CIMultiDictProxy

from webpubsub_emulator import Emulator

JSON_PROTOCOL = "json.webpubsub.azure.v1"
RELIABLE_PROTOCOL = "json.reliable.webpubsub.azure.v1"
WAIT = 5.0


@dataclass
class RestResult:
    status: int
    headers: "CIMultiDictProxy[str]"
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> Optional[str]:
        return self.headers.get(name)


def rest_token(url: str, key: str, lifetime: float = 60, **extra: Any) -> str:
    return jwt.encode({"aud": url, "exp": int(time.time() + lifetime), **extra}, key, algorithm="HS256")


def rest_url(emu: Emulator, path: str, params: Sequence[Tuple[str, str]] = (),
             api_version: Optional[str] = "2024-12-01") -> str:
    query = list(params)
    if api_version is not None:
        query.insert(0, ("api-version", api_version))
    return f"{emu.endpoint}{path}" + ("?" + urlencode(query, quote_via=quote) if query else "")


async def rest(emu: Emulator, method: str, path: str, params: Sequence[Tuple[str, str]] = (), *,
               body: Union[bytes, str, None] = None, content_type: Optional[str] = None,
               token: Optional[str] = "sign", api_version: Optional[str] = "2024-12-01") -> RestResult:
    """`path` is already percent-encoded, e.g. `/api/hubs/chat/users/a%20b/:send`."""
    url = rest_url(emu, path, params, api_version)
    headers: Dict[str, str] = {}
    if token == "sign":
        token = rest_token(url, emu.access_key)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if content_type is not None:
        headers["Content-Type"] = content_type
    data = body.encode("utf-8") if isinstance(body, str) else body
    async with aiohttp.ClientSession() as session:
        async with session.request(method, yarl.URL(url, encoded=True), data=data, headers=headers,
                                   timeout=aiohttp.ClientTimeout(total=WAIT)) as response:
            return RestResult(response.status, response.headers, await response.read())


def client_token(emu: Emulator, hub: str = "chat", *, user: Optional[str] = None,
                 roles: Sequence[str] = (), groups: Sequence[str] = (), lifetime: float = 60,
                 audience: Optional[str] = None, key: Optional[str] = None, **extra: Any) -> str:
    claims: Dict[str, Any] = {"aud": audience or f"{emu.endpoint}/client/hubs/{hub}",
                              "exp": int(time.time() + lifetime), **extra}
    if user is not None:
        claims["sub"] = user
    if roles:
        claims["role"] = list(roles)
    if groups:
        claims["webpubsub.group"] = list(groups)
    return jwt.encode(claims, key or emu.access_key, algorithm="HS256")


class Client:
    """A WebSocket client with bounded waits."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.connection_id: Optional[str] = None
        self.connected: Optional[Dict[str, Any]] = None

    async def receive(self, timeout: float = WAIT) -> aiohttp.WSMessage:
        return await asyncio.wait_for(self.ws.receive(), timeout)

    async def receive_json(self, timeout: float = WAIT) -> Dict[str, Any]:
        message = await self.receive(timeout)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        value: Dict[str, Any] = json.loads(message.data)
        return value

    async def receive_data(self, timeout: float = WAIT) -> Dict[str, Any]:
        """The next `type: message` frame, skipping nothing else."""
        message = await self.receive_json(timeout)
        assert message["type"] == "message", message
        return message

    async def send(self, message: Dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(message))

    async def request(self, message: Dict[str, Any]) -> Dict[str, Any]:
        await self.send(message)
        return await self.receive_json()

    async def close_code(self, timeout: float = WAIT) -> int:
        """Skip frames until the close frame; its status code."""
        while True:
            message = await self.receive(timeout)
            if message.type == aiohttp.WSMsgType.CLOSE:
                code: int = message.data
                return code

    async def nothing_within(self, seconds: float = 0.3) -> bool:
        try:
            message = await asyncio.wait_for(self.ws.receive(), seconds)
        except asyncio.TimeoutError:
            return True
        raise AssertionError(f"unexpected frame {message}")

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()


async def open_socket(emu: Emulator, hub: str = "chat", *, protocols: Sequence[str] = (),
                      token: Optional[str] = None, query: str = "", headers: Optional[Dict[str, str]] = None,
                      **token_args: Any) -> Tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    """A WebSocket to the client endpoint with a fresh token (unless one is given), nothing read yet."""
    session = aiohttp.ClientSession()
    token = token if token is not None else client_token(emu, hub, **token_args)
    url = f"{emu.endpoint}/client/hubs/{hub}?access_token={token}" + (f"&{query}" if query else "")
    try:
        ws = await asyncio.wait_for(session.ws_connect(url, protocols=protocols, headers=headers, autoping=True),
                                    WAIT)
    except BaseException:
        await session.close()
        raise
    return session, ws


async def connect(emu: Emulator, hub: str = "chat", *, protocol: Optional[str] = JSON_PROTOCOL,
                  token: Optional[str] = None, query: str = "", headers: Optional[Dict[str, str]] = None,
                  **token_args: Any) -> Client:
    """Open a client; subprotocol clients have their `connected` message consumed already."""
    client = Client(*await open_socket(emu, hub, protocols=[protocol] if protocol else (), token=token, query=query,
                                       headers=headers, **token_args))
    if protocol is not None:
        client.connected = await client.receive_json()
        client.connection_id = client.connected["connectionId"]
    return client


async def handshake_status(emu: Emulator, url_path: str, headers: Optional[Dict[str, str]] = None) -> int:
    """The HTTP status of a refused upgrade (asserts that it was refused)."""
    async with aiohttp.ClientSession() as session:
        try:
            ws = await asyncio.wait_for(session.ws_connect(f"{emu.endpoint}{url_path}", headers=headers), WAIT)
        except aiohttp.WSServerHandshakeError as error:
            return error.status
        await ws.close()
        raise AssertionError("the upgrade was accepted")


async def connection_ids(clients: List[Client]) -> List[str]:
    return [client.connection_id or "" for client in clients]


def hub_connections(emu: Emulator, hub: str = "chat") -> List[str]:
    """Connection ids the emulator holds for a hub (simple clients never learn their own id)."""
    return list(emu.core.hub(hub).connections)


async def wait_until(predicate: Any, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
