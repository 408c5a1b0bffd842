"""Every ```python block of the README's "Handle events" section runs and serves real requests."""

from __future__ import annotations

import http.client
import inspect
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple
from urllib.parse import urlsplit

import pytest

from azure.messaging.webpubsubservice.eventhandler._keys import expected_signature
from eventhandler_test_servers import serve_asgi, serve_wsgi

# The one place that says where the documentation lives.
DOCUMENT = Path(__file__).resolve().parent.parent / "README.md"
SECTION_HEADING = "## Handle events"

KEY = "ReadmeKeyABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CONNECTION_STRING = f"Endpoint=http://127.0.0.1:8080;AccessKey={KEY};Version=1.0;"
TIMEOUT_SECONDS = 5


def section_snippets() -> List[str]:
    text = DOCUMENT.read_text(encoding="utf-8")
    start = text.index(SECTION_HEADING)
    following = re.search(r"^## ", text[start + len(SECTION_HEADING) :], re.MULTILINE)
    section = text[start : start + len(SECTION_HEADING) + following.start()] if following else text[start:]
    return re.findall(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)


SNIPPETS = section_snippets()


def request(base_url: str, method: str, headers: Dict[str, str], body: bytes = b"") -> Tuple[int, bytes]:
    connection = http.client.HTTPConnection(urlsplit(base_url).netloc, timeout=TIMEOUT_SECONDS)
    try:
        connection.request(method, "/eventhandler", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def user_event(signature: str) -> Dict[str, str]:
    return {
        "Content-Type": "text/plain",
        "ce-awpsversion": "1.0",
        "ce-specversion": "1.0",
        "ce-type": "azure.webpubsub.user.message",
        "ce-hub": "chat",
        "ce-connectionId": "conn1",
        "ce-eventName": "message",
        "ce-userId": "alice",
        "ce-signature": signature,
        "WebHook-Request-Origin": "127.0.0.1",
    }


@contextmanager
def serve(app: Any) -> Iterator[str]:
    is_asgi = inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(getattr(app, "__call__", None))
    with (serve_asgi if is_asgi else serve_wsgi)(app) as base_url:
        yield base_url


@pytest.fixture(params=range(len(SNIPPETS)), ids=[f"snippet{index + 1}" for index in range(len(SNIPPETS))])
def snippet_app(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("WEBPUBSUB_CONNECTION_STRING", CONNECTION_STRING)
    namespace: Dict[str, Any] = {"__name__": f"readme_snippet_{request.param}"}
    exec(compile(SNIPPETS[request.param], f"{DOCUMENT.name}#snippet{request.param + 1}", "exec"), namespace)
    return namespace["app"]


def test_the_section_has_the_four_framework_snippets() -> None:
    assert len(SNIPPETS) == 4


def test_snippet_answers_the_handshake_for_the_service_host(snippet_app: Any) -> None:
    with serve(snippet_app) as base_url:
        assert request(base_url, "OPTIONS", {"WebHook-Request-Origin": "127.0.0.1"})[0] == 200
        assert request(base_url, "OPTIONS", {"WebHook-Request-Origin": "evil.example"})[0] == 400


def test_snippet_echoes_a_signed_event(snippet_app: Any) -> None:
    with serve(snippet_app) as base_url:
        status, body = request(base_url, "POST", user_event(expected_signature(KEY, "conn1")), b"hello")
    assert status == 200
    assert b'"echo":"hello"' in body


def test_snippet_refuses_a_forged_event(snippet_app: Any) -> None:
    with serve(snippet_app) as base_url:
        status, _ = request(base_url, "POST", user_event(expected_signature("guess", "conn1")), b"hello")
    assert status == 401
