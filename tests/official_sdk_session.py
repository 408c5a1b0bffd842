"""Code written for the official SDK, run by test_official_sdk_against_emulator.py in a child process against
the emulator: once with the official azure-messaging-webpubsubservice 1.3.0 first on its path, once with ours.
It prints what happened as JSON, so the test can require the same outcome from both packages.

Only the official 1.3.0 surface is used here: its names, keywords and habits (``_config``, ``cls=``).
"""

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
    token = service.get_client_access_token(user_id="alice", roles=["webpubsub.joinLeaveGroup"], groups=["room"],
                                            minutes_to_expire=5, client_protocol="Default")
    seen: Dict[str, Any] = {"sdk": sdk.__file__, "token_keys": sorted(token),
                            "config": [service._config.hub, service._config.endpoint in connection_string]}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(token["url"], protocols=["json.webpubsub.azure.v1"]) as socket:
            seen["connected"] = await socket.receive_json(timeout=5)
            connection_id = seen["connected"]["connectionId"]
            service.send_to_all({"hello": "official"})
            service.send_to_group("room", "to the room", content_type="text/plain")
            service.send_to_user("alice", b"\x01", content_type="application/octet-stream")
            service.send_to_all("filtered", filter="userId eq 'alice'", excluded=[], content_type="text/plain")
            seen["messages"] = [await socket.receive_json(timeout=5) for _ in range(4)]
            seen["exists"] = [service.user_exists("alice"), service.user_exists("bob"), service.group_exists("room"),
                              service.connection_exists(connection_id)]
            service.add_user_to_group("vip", "alice")
            seen["members"] = [member.user_id for member in service.list_connections(group="vip", top=1)]
            service.grant_permission("sendToGroup", connection_id, target_name="vip")
            seen["permission"] = service.has_permission("sendToGroup", connection_id, target_name="vip")
            try:
                service.close_all_connections(excludes=[connection_id])  # misspelt: must not close anything
            except TypeError:
                seen["misspelt"] = "TypeError"
            seen["status_by_cls"] = service.send_to_user(
                "nobody", "x", cls=lambda pipeline_response, deserialized, headers: pipeline_response.http_response
                .status_code)
            service.close_all_connections(excluded=["someone-else"], reason="done")
            seen["closed"] = await socket.receive_json(timeout=5)
    service.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(asyncio.run(session(sys.argv[1]))))
