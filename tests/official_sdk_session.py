"""Run by test_official_sdk_against_emulator.py in a child process whose PYTHONPATH holds the official
azure-messaging-webpubsubservice 1.3.0: drives it against the emulator and prints what happened as JSON."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any, Dict

import aiohttp
import azure.messaging.webpubsubservice as sdk
from azure.messaging.webpubsubservice import WebPubSubServiceClient


async def session(connection_string: str) -> Dict[str, Any]:
    service = WebPubSubServiceClient.from_connection_string(connection_string, hub="chat")
    token = service.get_client_access_token(user_id="alice", groups=["room"])
    seen: Dict[str, Any] = {"sdk": sdk.__file__}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(token["url"], protocols=["json.webpubsub.azure.v1"]) as socket:
            seen["connected"] = await socket.receive_json(timeout=5)
            service.send_to_all({"hello": "official"})
            service.send_to_group("room", "to the room", content_type="text/plain")
            service.send_to_user("alice", b"\x01", content_type="application/octet-stream")
            seen["messages"] = [await socket.receive_json(timeout=5) for _ in range(3)]
            seen["exists"] = [service.user_exists("alice"), service.user_exists("bob"), service.group_exists("room")]
            service.add_user_to_group("vip", "alice")
            seen["members"] = [member.user_id for member in service.list_connections(group="vip")]
            connection_id = seen["connected"]["connectionId"]
            service.grant_permission("sendToGroup", connection_id, target_name="vip")
            seen["permission"] = service.has_permission("sendToGroup", connection_id, target_name="vip")
            service.close_connection(connection_id, reason="done")
            seen["closed"] = await socket.receive_json(timeout=5)
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(session(sys.argv[1]))))
