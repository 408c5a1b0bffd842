"""Service errors become the azure-core ``HttpResponseError`` family with the service's code and message;
any 2xx is success; retries and unreachable services."""

from __future__ import annotations

import time
from typing import Any, Dict, Type

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.rest import HttpRequest
from conftest import ACCESS_KEY, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice._errors import raise_for_status

USER_NOT_FOUND: Dict[str, Any] = {"code": "Warning.User.NotExisted", "message": "User `u1` is not found.",
                                  "target": "User", "details": None, "innererror": None}


# --- status -> exception type ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, error_type",
    [
        (400, HttpResponseError),
        (401, ClientAuthenticationError),
        (403, ClientAuthenticationError),
        (404, ResourceNotFoundError),
        (409, ResourceExistsError),
        (413, HttpResponseError),
        (415, HttpResponseError),
        (500, HttpResponseError),
    ],
)
def test_error_statuses_raise_the_matching_http_response_error(
    client: WebPubSubServiceClient, server: RecordingServer, status: int, error_type: Type[HttpResponseError]
) -> None:
    server.reply(Reply(status, body={"code": f"Code{status}", "message": f"message {status}"}))
    with pytest.raises(error_type) as raised:
        client.send_to_all("hi")
    assert isinstance(raised.value, HttpResponseError)
    assert raised.value.status_code == status
    assert raised.value.response is not None and raised.value.response.status_code == status


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_any_2xx_is_success(client: WebPubSubServiceClient, server: RecordingServer, status: int) -> None:
    server.reply(Reply(status))
    assert client.close_connection("c1") is None


# --- the service's error body -----------------------------------------------------------------------------------


def test_the_flat_service_error_body_gives_code_and_message(client: WebPubSubServiceClient,
                                                            server: RecordingServer) -> None:
    server.reply(Reply(404, {"x-ms-error-code": "Warning.User.NotExisted"}, USER_NOT_FOUND))
    with pytest.raises(ResourceNotFoundError) as raised:
        client.add_user_to_group("g1", "u1")
    error = raised.value.error
    assert error is not None
    assert (error.code, error.message, error.target) == ("Warning.User.NotExisted", "User `u1` is not found.", "User")
    assert "Warning.User.NotExisted" in str(raised.value)
    assert "User `u1` is not found." in str(raised.value)


def test_a_wrapped_error_body_gives_code_and_message(client: WebPubSubServiceClient,
                                                     server: RecordingServer) -> None:
    server.reply(Reply(400, body={"error": {"code": "Error.BadRequest", "message": "Invalid syntax for 'x'."}}))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all("hi", filter="x")
    assert raised.value.error is not None
    assert (raised.value.error.code, raised.value.error.message) == ("Error.BadRequest", "Invalid syntax for 'x'.")


def test_the_older_inner_field_becomes_the_inner_error(client: WebPubSubServiceClient,
                                                       server: RecordingServer) -> None:
    server.reply(Reply(409, body={"code": "Conflict", "message": "Too many rules.",
                                  "inner": {"code": "PermissionLimit"}}))
    with pytest.raises(ResourceExistsError) as raised:
        client.grant_permission("sendToGroup", "c1", target_name="g")
    assert raised.value.error is not None
    assert raised.value.error.innererror == {"code": "PermissionLimit"}


def test_a_wrapped_body_with_inner_is_read_too(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(400, body={"error": {"code": "E", "message": "m", "inner": {"code": "I"}}}))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all("hi")
    assert raised.value.error is not None
    assert (raised.value.error.code, raised.value.error.innererror) == ("E", {"code": "I"})


def test_a_standard_innererror_is_kept(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(400, body={"code": "E", "message": "m", "innererror": {"code": "Deeper"}}))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all("hi")
    assert raised.value.error is not None and raised.value.error.innererror == {"code": "Deeper"}


def test_an_empty_service_message_still_gives_the_code(client: WebPubSubServiceClient,
                                                       server: RecordingServer) -> None:
    server.reply(Reply(500, body={"code": "InternalError", "message": ""}))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all("hi")
    assert raised.value.error is not None and raised.value.error.code == "InternalError"


def test_a_non_json_error_body_gives_a_status_message(client: WebPubSubServiceClient,
                                                      server: RecordingServer) -> None:
    server.reply(Reply(502, body="<html>Bad Gateway</html>"))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all("hi")
    assert raised.value.status_code == 502
    assert "502" in str(raised.value)


def test_an_empty_401_raises_client_authentication_error(client: WebPubSubServiceClient,
                                                         server: RecordingServer) -> None:
    server.reply(Reply(401))
    with pytest.raises(ClientAuthenticationError) as raised:
        client.send_to_group("g", "hi")
    assert "401" in str(raised.value)


def test_a_head_error_with_only_the_error_code_header_carries_that_code(client: WebPubSubServiceClient,
                                                                        server: RecordingServer) -> None:
    server.reply(Reply(403, {"x-ms-error-code": "Forbidden.NoRole", "Content-Type": "application/json"}))
    with pytest.raises(ClientAuthenticationError) as raised:
        client.group_exists("g")
    assert raised.value.error is not None and raised.value.error.code == "Forbidden.NoRole"


def test_a_head_404_with_only_the_error_code_header_maps_to_not_found(client: WebPubSubServiceClient,
                                                                      server: RecordingServer) -> None:
    server.reply(Reply(404, {"x-ms-error-code": "Warning.User.NotExisted",
                             "Content-Type": "application/json; charset=utf-8"}))
    response = client.send_request(HttpRequest("HEAD", "/api/hubs/hub/users/u1?api-version=2024-12-01"))
    with pytest.raises(ResourceNotFoundError) as raised:
        raise_for_status(response)
    assert raised.value.error is not None and raised.value.error.code == "Warning.User.NotExisted"


def test_raise_for_status_accepts_every_2xx_of_a_send_request_response(client: WebPubSubServiceClient,
                                                                       server: RecordingServer) -> None:
    server.reply(Reply(204))
    raise_for_status(client.send_request(HttpRequest("HEAD", "/api/health?api-version=2024-12-01")))


# --- retries --------------------------------------------------------------------------------------------------------


def test_a_503_then_202_succeeds_with_the_default_retry_policy(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY)) as client:
        assert client.send_to_all("hi") is None
    assert len(server.requests) == 2
    assert server.requests[0].body == server.requests[1].body == b"hi"


def test_retry_total_caps_the_number_of_retries(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=1,
                                retry_backoff_factor=0.01) as client:
        with pytest.raises(HttpResponseError) as raised:
            client.send_to_all("hi")
    assert raised.value.status_code == 503
    assert len(server.requests) == 2


def test_retry_total_zero_raises_the_first_503(server: RecordingServer) -> None:
    server.reply(Reply(503, body={"code": "ServiceUnavailable", "message": "Try later."}), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=0) as client:
        with pytest.raises(HttpResponseError) as raised:
            client.send_to_all("hi")
    assert raised.value.error is not None and raised.value.error.code == "ServiceUnavailable"
    assert len(server.requests) == 1


def test_retry_total_can_be_set_per_call(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY)) as client:
        with pytest.raises(HttpResponseError):
            client.send_to_all("hi", retry_total=0)
    assert len(server.requests) == 1


def test_a_4xx_is_not_retried(server: RecordingServer) -> None:
    server.reply(Reply(400), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY)) as client:
        with pytest.raises(HttpResponseError):
            client.send_to_all("hi")
    assert len(server.requests) == 1


def test_send_request_retries_too_and_returns_the_final_response(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY)) as client:
        response = client.send_request(HttpRequest("POST", "/api/hubs/hub/:send?api-version=2024-12-01", content=b"x"))
    assert response.status_code == 202
    assert len(server.requests) == 2


# --- unreachable service -------------------------------------------------------------------------------------------


def test_a_refused_connection_raises_service_request_error(closed_port: int) -> None:
    with WebPubSubServiceClient(f"http://127.0.0.1:{closed_port}", "hub", AzureKeyCredential(ACCESS_KEY),
                                retry_total=0) as client:
        started = time.monotonic()
        with pytest.raises(ServiceRequestError):
            client.send_to_all("hi")
    assert time.monotonic() - started < 5


def test_send_request_raises_service_request_error_when_nothing_listens(closed_port: int) -> None:
    with WebPubSubServiceClient(endpoint=f"http://127.0.0.1:{closed_port}", credential=AzureKeyCredential(ACCESS_KEY),
                                retry_total=0) as client:
        with pytest.raises(ServiceRequestError):
            client.send_request(HttpRequest("HEAD", "/api/health?api-version=2024-12-01"))


# --- malformed answers ---------------------------------------------------------------------------------------------


def test_a_body_cut_short_raises_service_response_error_and_the_next_call_works(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    server.reply(Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"value\": ["))
    with pytest.raises(ServiceResponseError):
        list(client.list_connections_in_group("g"))
    client.send_to_all("next")
    assert server.last.body == b"next"


def test_a_garbled_status_line_raises_service_response_error(client: WebPubSubServiceClient,
                                                             server: RecordingServer) -> None:
    server.reply(Reply(raw=b"NOT HTTP AT ALL\r\n\r\n"))
    with pytest.raises(ServiceResponseError):
        client.send_to_all("hi")


def test_a_connection_closed_before_any_answer_raises_service_response_error(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    server.reply(Reply(raw=b""))
    with pytest.raises(ServiceResponseError):
        client.send_to_all("hi")
    assert len(server.requests) == 1


def test_a_send_is_not_sent_twice_when_a_reused_connection_dies_after_the_server_read_it(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    client.send_to_all("warm up the pooled connection")
    server.reply(Reply(raw=b""))  # the server reads the request, then goes away without answering
    with pytest.raises(ServiceResponseError):
        client.send_to_all("at most once")
    assert [r.body for r in server.requests] == [b"warm up the pooled connection", b"at most once"]


def test_an_idempotent_check_is_resent_by_the_retry_policy_when_a_reused_connection_dies(
    server: RecordingServer
) -> None:
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=1,
                                retry_backoff_factor=0) as client:
        client.send_to_all("warm up the pooled connection")
        server.reply(Reply(raw=b""), Reply(200))
        assert client.user_exists("u") is True
    assert [r.method for r in server.requests] == ["POST", "HEAD", "HEAD"]


def test_a_body_that_stops_arriving_raises_a_read_timeout(client: WebPubSubServiceClient,
                                                          server: RecordingServer) -> None:
    server.reply(Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"value\"", delay=10))
    started = time.monotonic()
    with pytest.raises(ServiceResponseTimeoutError, match="body"):
        list(client.list_connections_in_group("g", read_timeout=0.2))
    assert time.monotonic() - started < 3


def test_a_streamed_body_cut_short_raises_service_response_error_while_iterating(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    server.reply(Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))
    response = client.send_request(HttpRequest("GET", "/stream"), stream=True)
    with pytest.raises(ServiceResponseError):
        b"".join(response.iter_bytes())


def test_an_error_body_without_code_or_message_gives_a_status_message(client: WebPubSubServiceClient,
                                                                      server: RecordingServer) -> None:
    server.reply(Reply(500, body={"unexpected": True}))
    with pytest.raises(HttpResponseError, match="500"):
        client.send_to_all("hi")


# --- errors that say what to do -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", {"code": "Unauthorized", "message": "Invalid token."}])
def test_a_401_says_the_token_was_rejected_and_what_to_check(client: WebPubSubServiceClient, server: RecordingServer,
                                                             body: Any) -> None:
    server.reply(Reply(401, body=body))
    with pytest.raises(ClientAuthenticationError) as raised:
        client.send_to_all("hi")
    text = str(raised.value)
    assert "The service rejected the token: check the access key or connection string" in text
    assert "Microsoft Entra ID credential, check the tenant and the identity's role assignment" in text
    assert text == raised.value.message
    if body:  # the service's own words come first
        assert text.startswith("(Unauthorized) Invalid token.") and raised.value.error.code == "Unauthorized"


def test_a_403_points_at_the_role_assignment(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(403))
    with pytest.raises(ClientAuthenticationError, match="check the identity's role assignment"):
        client.send_to_all("hi")


def test_a_413_names_the_limit_and_the_size_sent(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(413, body={"code": "Error.PayloadTooLarge", "message": "The request body is too large."}))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all(b"x" * 2048)
    assert raised.value.status_code == 413
    assert str(raised.value).endswith(
        "The request body (2048 bytes) is larger than the service accepts: a message is delivered in one WebSocket "
        "frame of at most 1 MB, so keep messages under 1 MB (split larger data, or send a link to it).")


def test_other_statuses_carry_no_advice(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(400, body={"code": "Error.BadRequest", "message": "Invalid filter."}))
    with pytest.raises(HttpResponseError) as raised:
        client.send_to_all("hi")
    assert "check" not in str(raised.value) and "limit" not in str(raised.value)
