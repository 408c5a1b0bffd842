"""The event-handler URL we suggest is one URL, and it works with the SDK's event handler as it comes.

``webpubsub-emulator --help`` shows it; the READMEs and the sources may show no other local handler URL;
and the emulator, given exactly that URL (on the port the test's server got), reaches a
``WebPubSubEventHandler`` built with its defaults.
"""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from datetime import datetime, timedelta, timezone
from typing import List, Optional
from urllib.parse import urlsplit

import uvicorn
from websockets.sync.client import connect
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.eventhandler import ConnectRequest, ConnectResponse, WebPubSubEventHandler
from eventhandler_test_servers import serve_asgi

ROOT = Path(__file__).resolve().parent.parent
EMULATOR_PORT = 8080  # the emulator's own endpoint; every other local URL with a path is a handler URL
# Only the keys are not a default: the emulator's default key, and its host as the allowed origin.
EMULATOR_KEYS = f"Endpoint=http://127.0.0.1;AccessKey={DEFAULT_ACCESS_KEY};Version=1.0;"
_LOCAL_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^\s`\"')]*)")


def suggested_url() -> str:
    shown = subprocess.run([sys.executable, "-m", "webpubsub_emulator", "--help"], capture_output=True, text=True,
                           timeout=30, check=True).stdout
    match = re.search(r"e\.g\.\s+chat=(\S+)", shown)
    assert match, shown
    return match.group(1)


def documents() -> List[Path]:
    sources = [*(ROOT / "azure").rglob("*.py"), *(ROOT / "emulator" / "webpubsub_emulator").rglob("*.py")]
    return [ROOT / "README.md", ROOT / "emulator" / "README.md", *sources]


def test_the_suggested_url_is_the_handler_default_path_on_uvicorns_default_port() -> None:
    url = urlsplit(suggested_url())
    assert url.path == inspect.signature(WebPubSubEventHandler).parameters["path"].default
    assert url.port == uvicorn.Config(app=None).port  # `uvicorn module:app` serves there


def test_the_documents_suggest_no_other_handler_url() -> None:
    url = suggested_url()
    found = {f"{path.relative_to(ROOT)}: {match.group(0)}"
             for path in documents() for match in _LOCAL_URL.finditer(path.read_text(encoding="utf-8"))
             if int(match.group(1)) != EMULATOR_PORT and match.group(0) != url}
    assert not found
    assert f"--event-handler chat={url}" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_emulator_reaches_a_default_handler_at_the_suggested_url() -> None:
    seen: List[str] = []
    sent_at: List[Optional[datetime]] = []

    def on_connect(request: ConnectRequest) -> ConnectResponse:
        seen.append(str(request.context.user_id))
        sent_at.append(request.context.time)
        return ConnectResponse(groups=["lobby"])

    handler = WebPubSubEventHandler("chat", access_keys=EMULATOR_KEYS, on_connect=on_connect)
    with serve_asgi(handler.as_asgi_app()) as base_url:
        template = suggested_url().replace("http://127.0.0.1:8000", base_url)
        with Emulator(event_handlers={"chat": template}) as emulator, \
                WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub="chat") as service:
            url = service.get_client_access_token(user_id="alice")["url"]
            with connect(url, subprotocols=["json.webpubsub.azure.v1"], open_timeout=10) as client:
                assert json.loads(client.recv(timeout=10))["event"] == "connected"
                assert service.group_exists("lobby")  # what on_connect answered took effect
    assert seen == ["alice"]
    assert sent_at[0] is not None and abs(datetime.now(timezone.utc) - sent_at[0]) < timedelta(minutes=1)
