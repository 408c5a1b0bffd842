"""``send_request``: the seed README's REPL session, relative URLs, untouched caller requests, no raising."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.rest import HttpRequest, HttpResponse
from conftest import RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.rest import (
    build_send_to_all_request,
    build_user_exists_request,
)


def test_the_seed_readme_session_runs_as_written(server: RecordingServer, tmp_path: Path,
                                                 monkeypatch: object) -> None:
    (tmp_path / "file.json").write_text('{"from": "file"}', encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    client = WebPubSubServiceClient(endpoint=server.url, credential=AzureKeyCredential('somesecret'))
    assert repr(client) == f"<WebPubSubServiceClient endpoint:'{server.url}'>"
    request = build_send_to_all_request('default', json={ 'Hello':  'webpubsub!' })  # noqa: E201,E202
    assert repr(request) == "<HttpRequest [POST], url: '/api/hubs/default/:send?api-version=2024-12-01'>"
    response = client.send_request(request)
    assert repr(response) == "<HttpResponse: 202 Accepted>"
    assert response.status_code == 202
    with open('file.json', 'r') as f:
        request = build_send_to_all_request('ahub', content=f, content_type='application/json')
        response = client.send_request(request)
    assert str(response) == "<HttpResponse: 202 Accepted>"
    first, second = server.requests
    assert (first.method, first.target, first.json()) == (
        "POST", "/api/hubs/default/:send?api-version=2024-12-01", {"Hello": "webpubsub!"})
    assert first.headers["Content-Type"] == "application/json"
    assert (second.target, second.body) == ("/api/hubs/ahub/:send?api-version=2024-12-01", b'{"from": "file"}')
    assert second.headers["Content-Type"] == "application/json"
    client.close()


def test_a_relative_url_is_resolved_against_the_endpoint(client: WebPubSubServiceClient,
                                                         server: RecordingServer) -> None:
    response = client.send_request(build_user_exists_request("hub", "u1"))
    assert response.request.url == f"{server.url}/api/hubs/hub/users/u1?api-version=2024-12-01"
    assert server.only.target == "/api/hubs/hub/users/u1?api-version=2024-12-01"


def test_a_relative_url_without_leading_slash_is_resolved_too(client: WebPubSubServiceClient,
                                                              server: RecordingServer) -> None:
    client.send_request(HttpRequest("HEAD", "api/health?api-version=2024-12-01"))
    assert server.only.target == "/api/health?api-version=2024-12-01"


def test_an_absolute_url_is_sent_as_is(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_request(HttpRequest("GET", f"{server.url}/custom/path?x=1"))
    assert server.only.target == "/custom/path?x=1"


def test_the_callers_request_is_not_mutated(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    request = build_send_to_all_request("hub", content="hi", headers={"X-Mine": "1"})
    headers_before = dict(request.headers)
    client.send_request(request)
    assert request.url == "/api/hubs/hub/:send?api-version=2024-12-01"
    assert dict(request.headers) == headers_before
    assert "Authorization" not in request.headers
    assert server.only.headers["X-Mine"] == "1"


def test_the_same_request_object_can_be_sent_twice(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    request = build_send_to_all_request("hub", json={"n": 1})
    assert client.send_request(request).status_code == 202
    assert client.send_request(request).status_code == 202
    assert [r.target for r in server.requests] == ["/api/hubs/hub/:send?api-version=2024-12-01"] * 2
    assert [r.json() for r in server.requests] == [{"n": 1}, {"n": 1}]


def test_error_responses_are_returned_not_raised(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(404, {"x-ms-error-code": "Warning.User.NotExisted"},
                       {"code": "Warning.User.NotExisted", "message": "User `u1` is not found."}))
    response = client.send_request(HttpRequest("PUT", "/api/hubs/hub/users/u1/groups/g?api-version=2024-12-01"))
    assert response.status_code == 404
    assert response.json()["code"] == "Warning.User.NotExisted"


def test_a_server_error_is_returned_not_raised(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(500, body="boom"))
    response = client.send_request(build_send_to_all_request("hub", content="x"))
    assert (response.status_code, response.text()) == (500, "boom")


def test_the_response_is_an_azure_core_http_response_with_body_and_headers(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    server.reply(Reply(200, {"api-supported-versions": "2024-12-01"}, {"value": [], "nextLink": None}))
    response = client.send_request(HttpRequest("GET", "/api/hubs/hub/groups/g/connections?api-version=2024-12-01"))
    assert isinstance(response, HttpResponse)
    assert response.headers["api-supported-versions"] == "2024-12-01"
    assert response.json() == {"value": [], "nextLink": None}
    assert response.reason == "OK"


def test_stream_true_returns_the_body_unread_for_iteration(client: WebPubSubServiceClient,
                                                           server: RecordingServer) -> None:
    payload = b"x" * 200_000
    server.reply(Reply(200, {"Content-Type": "application/octet-stream"}, payload))
    response = client.send_request(HttpRequest("GET", "/big"), stream=True)
    assert response.status_code == 200
    received = b"".join(response.iter_bytes())
    assert received == payload
    response.close()


def test_stream_true_body_can_be_read_at_once(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(200, body=b"streamed"))
    response = client.send_request(HttpRequest("GET", "/s"), stream=True)
    assert response.read() == b"streamed"


def test_a_streamed_response_read_to_the_end_frees_its_connection_for_the_next_call(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    server.reply(Reply(200, body=b"abc"))
    with client.send_request(HttpRequest("GET", "/s"), stream=True) as response:
        assert response.read() == b"abc"
    client.send_request(HttpRequest("GET", "/t"))
    assert server.requests[0].client == server.requests[1].client


def test_per_call_headers_are_sent(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_request(build_user_exists_request("hub", "u"), headers={"X-Per-Call": "yes"})
    assert server.only.headers["X-Per-Call"] == "yes"


def test_send_request_signs_the_request(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_request(build_user_exists_request("hub", "u"))
    assert server.only.headers["Authorization"].startswith("Bearer ey")


def test_a_hand_built_request_with_non_ascii_str_content_arrives_whole(client: WebPubSubServiceClient,
                                                                       server: RecordingServer) -> None:
    client.send_request(HttpRequest("POST", "/api/hubs/hub/:send?api-version=2024-12-01", content="grüße ✓"))
    client.send_request(HttpRequest("POST", "/api/hubs/hub/:send?api-version=2024-12-01", content="next"))
    assert [r.body for r in server.requests] == ["grüße ✓".encode("utf-8"), b"next"]
    assert server.requests[0].client == server.requests[1].client


def test_a_hand_built_request_with_a_file_body_is_sent(client: WebPubSubServiceClient,
                                                       server: RecordingServer) -> None:
    import io

    client.send_request(HttpRequest("POST", "/api/hubs/hub/:send?api-version=2024-12-01",
                                    content=io.BytesIO(b"from a file"), headers={"Content-Type": "text/plain"}))
    assert (server.only.body, server.only.headers["Content-Length"]) == (b"from a file", "11")


def test_a_hand_built_request_with_a_generator_body_is_sent(client: WebPubSubServiceClient,
                                                            server: RecordingServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"part one, "
        yield b"part two"

    client.send_request(HttpRequest("POST", "/api/hubs/hub/:send?api-version=2024-12-01", content=chunks()))
    assert server.only.body == b"part one, part two"


def test_a_form_body_is_refused_by_the_default_transport_with_a_hint(client: WebPubSubServiceClient,
                                                                     server: RecordingServer) -> None:
    from azure.core.exceptions import ServiceRequestError

    with pytest.raises(ServiceRequestError, match="RequestsTransport"):
        client.send_request(HttpRequest("POST", "/form", data={"a": "b"}))
    assert server.requests == []
