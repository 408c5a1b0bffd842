"""Logging: request and response details at DEBUG under ``azure.messaging.webpubsubservice`` with
``logging_enable=True``, and never a secret (access key, Authorization value, access tokens)."""

from __future__ import annotations

import logging
import time
from typing import Any, Iterator, List

import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from conftest import ACCESS_KEY, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice.rest import build_generate_client_token_request

LOGGER_NAME = "azure.messaging.webpubsubservice"
MINTED_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtaW50ZWQifQ.minted-signature"
AAD_TOKEN = "aad-bearer-secret"


class FakeTokenCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(AAD_TOKEN, int(time.time()) + 3600)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)  # every logger, azure-core's included
    yield caplog


def sdk_debug_messages(caplog: pytest.LogCaptureFixture) -> List[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME and r.levelno == logging.DEBUG]


def everything_logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records) + caplog.text


def test_logging_enable_logs_the_request_at_debug(server: RecordingServer,
                                                  debug_logs: pytest.LogCaptureFixture) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.send_to_all({"hello": "world"}, filter="userId eq 'alice'")
    messages = sdk_debug_messages(debug_logs)
    assert f"Request: POST {server.url}/api/hubs/hub/:send?filter=userId%20eq%20%27alice%27&api-version=2024-12-01" \
        in messages
    assert "Request header Content-Type: application/json" in messages
    assert 'Request body: {"hello":"world"}' in messages


def test_logging_enable_logs_the_response_at_debug(server: RecordingServer,
                                                   debug_logs: pytest.LogCaptureFixture) -> None:
    server.reply(Reply(404, {"x-ms-error-code": "Warning.Group.NotExisted"}))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.group_exists("g1")
    messages = sdk_debug_messages(debug_logs)
    assert "Response: 404 Not Found" in messages
    assert "Response header x-ms-error-code: Warning.Group.NotExisted" in messages


def test_binary_bodies_are_summarised_not_dumped(server: RecordingServer,
                                                 debug_logs: pytest.LogCaptureFixture) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.send_to_all(b"\xff\xfe\x00")
    assert "Request body: (3 bytes of binary data)" in sdk_debug_messages(debug_logs)


def test_without_logging_enable_no_request_details_are_logged_at_debug(
    client: WebPubSubServiceClient, debug_logs: pytest.LogCaptureFixture
) -> None:
    client.send_to_all("hi")
    assert not [m for m in sdk_debug_messages(debug_logs) if m.startswith(("Request", "Response"))]


def test_logging_enable_can_be_turned_on_for_one_call(client: WebPubSubServiceClient,
                                                      debug_logs: pytest.LogCaptureFixture) -> None:
    client.send_to_all("first")
    client.send_to_all("second", logging_enable=True)
    bodies = [m for m in sdk_debug_messages(debug_logs) if m.startswith("Request body")]
    assert bodies == ["Request body: second"]


def test_logs_go_through_the_standard_logging_module_under_the_package_logger(
    server: RecordingServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.user_exists("u")
    assert {r.name for r in debug_logs.records if r.getMessage().startswith("Request:")} == {LOGGER_NAME}


def test_the_access_key_and_authorization_value_are_never_logged(server: RecordingServer,
                                                                 debug_logs: pytest.LogCaptureFixture) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.send_to_all("hi")
        client.get_client_access_token(user_id="alice")
    authorization = server.only.headers["Authorization"]
    logged = everything_logged(debug_logs)
    assert "Request header Authorization: REDACTED" in sdk_debug_messages(debug_logs)
    assert ACCESS_KEY not in logged
    assert authorization not in logged
    assert authorization.split(" ", 1)[1] not in logged


def test_a_service_minted_access_token_is_never_logged(server: RecordingServer,
                                                       debug_logs: pytest.LogCaptureFixture) -> None:
    server.reply(Reply(200, body={"token": MINTED_TOKEN}))
    with WebPubSubServiceClient(server.url, "hub", FakeTokenCredential(), logging_enable=True) as client:
        result = client.get_client_access_token(user_id="alice", enforce_https=False)
    assert result["token"] == MINTED_TOKEN
    logged = everything_logged(debug_logs)
    assert MINTED_TOKEN not in logged
    assert "minted-signature" not in logged
    assert AAD_TOKEN not in logged
    assert 'Response body: {"token": "REDACTED"}' in sdk_debug_messages(debug_logs)


def test_a_generate_token_response_read_through_send_request_is_redacted_in_logs(
    client: WebPubSubServiceClient, server: RecordingServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    server.reply(Reply(200, body={"token": MINTED_TOKEN}))
    response = client.send_request(build_generate_client_token_request("hub", user_id="u"), logging_enable=True)
    assert response.json() == {"token": MINTED_TOKEN}
    assert MINTED_TOKEN not in everything_logged(debug_logs)


def test_an_access_token_in_a_url_query_is_redacted(client: WebPubSubServiceClient, server: RecordingServer,
                                                    debug_logs: pytest.LogCaptureFixture) -> None:
    from azure.core.rest import HttpRequest

    client.send_request(HttpRequest("GET", f"/client/hubs/hub?access_token={MINTED_TOKEN}&x=1"), logging_enable=True)
    logged = everything_logged(debug_logs)
    assert MINTED_TOKEN not in logged
    assert f"Request: GET {server.url}/client/hubs/hub?access_token=REDACTED&x=1" in sdk_debug_messages(debug_logs)


def test_logging_enable_can_be_turned_off_for_one_call(server: RecordingServer,
                                                       debug_logs: pytest.LogCaptureFixture) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.send_to_all("quiet", logging_enable=False)
        client.send_to_all("loud")
    bodies = [m for m in sdk_debug_messages(debug_logs) if m.startswith("Request body")]
    assert bodies == ["Request body: loud"]


def test_logging_a_streamed_response_leaves_its_body_unread(client: WebPubSubServiceClient,
                                                            server: RecordingServer,
                                                            debug_logs: pytest.LogCaptureFixture) -> None:
    from azure.core.rest import HttpRequest

    server.reply(Reply(200, body=b"stream me"))
    response = client.send_request(HttpRequest("GET", "/s"), stream=True, logging_enable=True)
    assert "Response body: (streamed)" in sdk_debug_messages(debug_logs)
    assert response.read() == b"stream me"


# --- each request is logged once --------------------------------------------------------------------------------


def _request_records(caplog: pytest.LogCaptureFixture) -> List[str]:
    """Records that describe a request, from any azure logger (azure-core's HttpLoggingPolicy included)."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.name.startswith("azure")
            and r.getMessage().startswith(("Request:", "Request URL:"))]


def test_the_sync_client_logs_each_request_once(server: RecordingServer, debug_logs: pytest.LogCaptureFixture) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
        client.send_to_all("one")
        client.user_exists("two")
    assert _request_records(debug_logs) == [
        f"{LOGGER_NAME}: Request: POST {server.url}/api/hubs/hub/:send?api-version=2024-12-01",
        f"{LOGGER_NAME}: Request: HEAD {server.url}/api/hubs/hub/users/two?api-version=2024-12-01"]
    assert not [r for r in debug_logs.records if r.name.startswith("azure") and r.levelno == logging.INFO]


def test_the_async_client_logs_each_request_once(server: RecordingServer,
                                                 debug_logs: pytest.LogCaptureFixture) -> None:
    import asyncio

    from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient as AsyncClient

    async def send() -> None:
        async with AsyncClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), logging_enable=True) as client:
            await client.send_to_all("one")

    asyncio.run(send())
    assert _request_records(debug_logs) == [
        f"{LOGGER_NAME}: Request: POST {server.url}/api/hubs/hub/:send?api-version=2024-12-01"]
    assert not [r for r in debug_logs.records if r.name.startswith("azure") and r.levelno == logging.INFO]


def test_without_logging_enable_requests_are_not_logged_at_any_level(client: WebPubSubServiceClient,
                                                                      debug_logs: pytest.LogCaptureFixture) -> None:
    client.send_to_all("quiet")
    assert _request_records(debug_logs) == []


def test_an_http_logging_policy_passed_by_the_caller_still_runs(server: RecordingServer,
                                                                debug_logs: pytest.LogCaptureFixture) -> None:
    from azure.core.pipeline.policies import HttpLoggingPolicy

    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY),
                                http_logging_policy=HttpLoggingPolicy()) as client:
        client.send_to_all("logged by azure-core")
    assert [record for record in _request_records(debug_logs) if "Request URL:" in record]
