"""The azure-core habits users expect: user agent, headers, transports, pooling, close, timeouts, tracing."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from typing import Any, ContextManager, Dict, Iterator, List, Optional

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ServiceRequestTimeoutError, ServiceResponseError, ServiceResponseTimeoutError
from azure.core.pipeline.transport import RequestsTransport
from azure.core.rest import HttpRequest
from azure.core.settings import settings
from conftest import ACCESS_KEY, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient
from azure.messaging.webpubsubservice._transport import Urllib3Transport
from azure.messaging.webpubsubservice._version import VERSION
from azure.messaging.webpubsubservice.rest import build_send_to_all_request

KEY = AzureKeyCredential(ACCESS_KEY)


# --- user agent and headers -------------------------------------------------------------------------------------


def test_the_user_agent_names_the_sdk_and_its_version(client: WebPubSubServiceClient,
                                                      server: RecordingServer) -> None:
    client.send_to_all("hi")
    assert f"azsdk-python-messaging-webpubsubservice/{VERSION} Python/" in server.only.headers["User-Agent"]


def test_a_custom_user_agent_is_prepended(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY, user_agent="chat-backend/3.1") as client:
        client.send_to_all("hi")
    user_agent = server.only.headers["User-Agent"]
    assert user_agent.startswith("chat-backend/3.1 azsdk-python-messaging-webpubsubservice/")


def test_a_user_agent_can_be_added_per_call(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("hi", user_agent="job/7")
    assert server.only.headers["User-Agent"].startswith("job/7 azsdk-python-messaging-webpubsubservice/")


def test_headers_given_to_the_client_go_with_every_request(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY, headers={"X-Tenant": "contoso"}) as client:
        client.send_to_all("hi")
        client.user_exists("u")
        client.send_request(HttpRequest("HEAD", "/api/health?api-version=2024-12-01"))
    assert [r.headers.get("X-Tenant") for r in server.requests] == ["contoso"] * 3


def test_headers_given_per_call_go_with_that_call_only(client: WebPubSubServiceClient,
                                                       server: RecordingServer) -> None:
    client.send_to_all("hi", headers={"X-Call": "1"})
    client.send_to_all("hi")
    assert [r.headers.get("X-Call") for r in server.requests] == ["1", None]


def test_every_request_gets_a_client_request_id(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("a")
    client.send_to_all("b")
    ids = [r.headers["x-ms-client-request-id"] for r in server.requests]
    assert all(ids) and ids[0] != ids[1]


def test_a_client_request_id_can_be_given_per_call(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("a", request_id="my-request-1")
    assert server.only.headers["x-ms-client-request-id"] == "my-request-1"


# --- transports and connection reuse ------------------------------------------------------------------------------


def test_the_default_transport_reuses_one_keep_alive_connection(client: WebPubSubServiceClient,
                                                                server: RecordingServer) -> None:
    for n in range(5):
        client.send_to_all(str(n))
    assert len({r.client for r in server.requests}) == 1


def test_a_connection_closed_by_the_server_is_replaced_transparently(client: WebPubSubServiceClient,
                                                                     server: RecordingServer) -> None:
    server.reply(Reply(202, close=True), Reply(202))
    client.send_to_all("a")
    client.send_to_all("b")
    assert [r.body for r in server.requests] == [b"a", b"b"]
    assert server.requests[0].client != server.requests[1].client


def test_an_idle_connection_the_server_dropped_is_replaced_without_sending_twice(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    server.reply(Reply(202, hang_up=True))
    client.send_to_all("a")
    assert server.wait_closed(server.only.client)
    client.send_to_all("b")
    assert [r.body for r in server.requests] == [b"a", b"b"]


def test_a_streamed_response_closed_unread_does_not_spoil_the_next_call(client: WebPubSubServiceClient,
                                                                        server: RecordingServer) -> None:
    server.reply(Reply(200, body=b"x" * 100_000))
    response = client.send_request(HttpRequest("GET", "/big"), stream=True)
    response.close()
    server.reply(Reply(200, body=b"small"))
    assert client.send_request(HttpRequest("GET", "/small")).content == b"small"
    assert server.requests[0].client != server.requests[1].client


def test_a_head_answer_announcing_a_body_length_keeps_the_connection_in_step(client: WebPubSubServiceClient,
                                                                             server: RecordingServer) -> None:
    server.reply(Reply(404, {"Content-Length": "57", "Content-Type": "application/json; charset=utf-8",
                             "x-ms-error-code": "Warning.User.NotExisted"}))
    assert client.user_exists("u") is False
    client.send_to_all("next")
    assert [r.method for r in server.requests] == ["HEAD", "POST"]
    assert server.requests[0].client == server.requests[1].client


def test_a_chunked_response_body_is_read_whole(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    body = b'{"value":[{"connectionId":"c1","userId":null}]}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    server.reply(Reply(200, {"Transfer-Encoding": "chunked", "Content-Type": "application/json"}, chunked))
    assert [m["connectionId"] for m in client.list_connections_in_group("g")] == ["c1"]
    client.send_to_all("next")
    assert server.requests[0].client == server.requests[1].client


def test_the_azure_core_requests_transport_works_too(server: RecordingServer) -> None:
    import jwt

    with WebPubSubServiceClient(server.url, "hub", KEY, transport=RequestsTransport()) as client:
        client.send_to_group("g", "grüße")
        server.reply(Reply(404))
        assert client.user_exists("u") is False
        response = client.send_request(build_send_to_all_request("hub", json={"a": 1}))
    assert response.status_code == 202
    send, head, raw = server.requests
    assert (send.target, send.body, send.headers["Content-Type"]) == (
        "/api/hubs/hub/groups/g/:send?api-version=2024-12-01", "grüße".encode("utf-8"), "text/plain")
    assert head.method == "HEAD"
    assert raw.json() == {"a": 1}
    for recorded in server.requests:
        jwt.decode(recorded.headers["Authorization"][7:], ACCESS_KEY, algorithms=["HS256"],
                   audience=server.url + recorded.target)


def test_the_default_transport_can_be_passed_explicitly(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY, transport=Urllib3Transport(pool_maxsize=1)) as client:
        client.send_to_all("hi")
    assert len(server.requests) == 1


def test_one_client_can_be_shared_by_threads(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    errors: List[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                client.send_to_user(f"user{n}", f"{n}-{i}")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert sorted(r.body.decode() for r in server.requests) == sorted(f"{n}-{i}" for n in range(4) for i in range(10))
    for recorded in server.requests:
        user = recorded.path.split("/")[5]
        assert recorded.body.decode().startswith(user[len("user"):] + "-")


def test_an_http_proxy_given_to_the_client_receives_absolute_form_requests(make_server: Any) -> None:
    proxy = make_server()
    with WebPubSubServiceClient("http://contoso.example", "hub", KEY, proxies={"http": proxy.url}) as client:
        client.send_to_all("via proxy")
    assert proxy.only.target == "http://contoso.example/api/hubs/hub/:send?api-version=2024-12-01"
    assert (proxy.only.headers["Host"], proxy.only.body) == ("contoso.example", b"via proxy")


def test_an_http_proxy_can_be_given_per_call(make_server: Any) -> None:
    proxy = make_server()
    with WebPubSubServiceClient("http://contoso.example", "hub", KEY) as client:
        client.user_exists("u", proxies={"http": proxy.url})
    assert proxy.only.target == "http://contoso.example/api/hubs/hub/users/u?api-version=2024-12-01"


def test_the_http_proxy_environment_variable_is_honoured(make_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = make_server()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    with WebPubSubServiceClient("http://contoso.example", "hub", KEY) as client:
        client.send_to_all("env")
    assert proxy.only.target.startswith("http://contoso.example/api/hubs/hub/:send?")


# --- context manager and close -------------------------------------------------------------------------------------


def test_leaving_the_with_block_closes_pooled_connections(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY) as client:
        client.send_to_all("hi")
        peer = server.only.client
        assert server.is_open(peer)
    assert server.wait_closed(peer)


def test_a_client_dropped_without_close_closes_its_pooled_connections(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.send_to_all("hi")
    peer = server.only.client
    del client
    gc.collect()
    assert server.wait_closed(peer)


def test_close_closes_pooled_connections(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.send_to_all("hi")
    peer = server.only.client
    client.close()
    assert server.wait_closed(peer)


def test_the_with_statement_returns_the_client(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    with client as entered:
        assert entered is client


def test_close_is_idempotent(server: RecordingServer) -> None:
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    client.close()
    client.close()


# --- timeouts -------------------------------------------------------------------------------------------------------


def test_read_timeout_on_the_client_fails_fast_against_a_stalled_server(server: RecordingServer) -> None:
    server.reply(Reply(202, delay=10))
    with WebPubSubServiceClient(server.url, "hub", KEY, read_timeout=0.2, retry_total=0) as client:
        started = time.monotonic()
        with pytest.raises(ServiceResponseError) as raised:
            client.send_to_all("hi")
    assert time.monotonic() - started < 3
    assert isinstance(raised.value, ServiceResponseTimeoutError)


def test_read_timeout_can_be_set_per_call(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(202, delay=10))
    started = time.monotonic()
    with pytest.raises(ServiceResponseTimeoutError):
        client.send_to_all("hi", read_timeout=0.2)
    assert time.monotonic() - started < 3


def test_a_per_call_read_timeout_does_not_stick_to_the_pooled_connection(client: WebPubSubServiceClient,
                                                                        server: RecordingServer) -> None:
    client.send_to_all("short", read_timeout=0.5)
    server.reply(Reply(202, delay=0.8))
    client.send_to_all("slow but in time")  # default read timeout again
    assert server.requests[0].client == server.requests[1].client


def test_connection_timeout_bounds_a_connect_that_never_completes(unanswered_port: int) -> None:
    with WebPubSubServiceClient(f"http://127.0.0.1:{unanswered_port}", "hub", KEY, connection_timeout=0.2,
                                retry_total=0) as client:
        started = time.monotonic()
        with pytest.raises(ServiceRequestTimeoutError):
            client.send_to_all("hi")
    assert time.monotonic() - started < 3


def test_connection_timeout_can_be_set_per_call(unanswered_port: int) -> None:
    with WebPubSubServiceClient(f"http://127.0.0.1:{unanswered_port}", "hub", KEY, retry_total=0) as client:
        started = time.monotonic()
        with pytest.raises(ServiceRequestTimeoutError):
            client.user_exists("u", connection_timeout=0.2)
    assert time.monotonic() - started < 3


def test_read_timeout_applies_to_send_request(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    server.reply(Reply(200, delay=10))
    with pytest.raises(ServiceResponseTimeoutError):
        client.send_request(HttpRequest("GET", "/slow"), read_timeout=0.2)


def test_a_timed_out_check_is_retried_by_the_retry_policy(server: RecordingServer) -> None:
    server.reply(Reply(200, delay=10), Reply(200))
    with WebPubSubServiceClient(server.url, "hub", KEY, read_timeout=0.2, retry_total=1) as client:
        assert client.user_exists("u") is True
    assert [r.method for r in server.requests] == ["HEAD", "HEAD"]


def test_a_timed_out_send_is_not_retried_because_it_may_have_been_delivered(server: RecordingServer) -> None:
    server.reply(Reply(202, delay=10), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", KEY, read_timeout=0.2, retry_total=3) as client:
        with pytest.raises(ServiceResponseTimeoutError):
            client.send_to_all("hi")
    assert len(server.requests) == 1


# --- distributed tracing ---------------------------------------------------------------------------------------------


class FakeSpan:
    """The smallest azure-core tracing plugin: records spans and their parents."""

    current: Optional["FakeSpan"] = None
    finished: List["FakeSpan"] = []

    def __init__(self, span: Any = None, name: str = "span", kind: Any = None, **kwargs: Any) -> None:
        self.name, self.kind, self.parent = name, kind, FakeSpan.current
        self.attributes: Dict[str, Any] = {}

    def __enter__(self) -> "FakeSpan":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()

    def start(self) -> None:
        self._previous = FakeSpan.current
        FakeSpan.current = self

    def finish(self) -> None:
        if hasattr(self, "_previous"):
            FakeSpan.current = self._previous
        FakeSpan.finished.append(self)

    def span(self, name: str = "child", **kwargs: Any) -> "FakeSpan":
        return FakeSpan(name=name, **kwargs)

    def add_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def set_http_attributes(self, request: Any, response: Any = None) -> None:
        self.attributes["http.url"] = request.url

    def to_header(self) -> Dict[str, str]:
        return {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

    def get_trace_parent(self) -> str:
        return self.to_header()["traceparent"]

    @property
    def span_instance(self) -> "FakeSpan":
        return self

    @classmethod
    def get_current_span(cls) -> Optional["FakeSpan"]:
        return cls.current

    @classmethod
    def get_current_tracer(cls) -> None:
        return None

    @classmethod
    def set_current_span(cls, span: "FakeSpan") -> None:
        cls.current = span

    @classmethod
    def set_current_tracer(cls, tracer: Any) -> None:
        pass

    @classmethod
    def change_context(cls, span: Any) -> ContextManager[None]:
        return contextlib.nullcontext()

    @classmethod
    def with_current_context(cls, func: Any) -> Any:
        return func

    @classmethod
    def link(cls, *args: Any, **kwargs: Any) -> None:
        pass

    @classmethod
    def link_from_headers(cls, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def tracing() -> Iterator[List[FakeSpan]]:
    FakeSpan.current, FakeSpan.finished = None, []
    settings.tracing_implementation.set_value(FakeSpan)
    settings.tracing_enabled.set_value(True)
    try:
        yield FakeSpan.finished
    finally:
        settings.tracing_implementation.unset_value()
        settings.tracing_enabled.unset_value()


def test_operations_open_a_span_named_after_the_client_method(client: WebPubSubServiceClient,
                                                              server: RecordingServer,
                                                              tracing: List[FakeSpan]) -> None:
    client.send_to_all("hi")
    names = [(span.name, span.parent.name if span.parent else None) for span in tracing]
    assert names == [("POST", "WebPubSubServiceClient.send_to_all"), ("WebPubSubServiceClient.send_to_all", None)]
    assert server.only.headers["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c")


def test_list_connections_in_group_is_traced(client: WebPubSubServiceClient, server: RecordingServer,
                                             tracing: List[FakeSpan]) -> None:
    server.reply(Reply(200, body={"value": []}))
    list(client.list_connections_in_group("g1"))
    assert "WebPubSubServiceClient.list_connections_in_group" in [span.name for span in tracing]


def test_tracing_can_be_switched_off_per_call(client: WebPubSubServiceClient, server: RecordingServer,
                                              tracing: List[FakeSpan]) -> None:
    client.send_to_all("hi", tracing_options={"enabled": False})
    assert "WebPubSubServiceClient.send_to_all" not in [span.name for span in tracing]
