"""Building a ``WebPubSubServiceClient``: the seed and official forms, connection strings, and early errors."""

from __future__ import annotations

import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from conftest import ACCESS_KEY, RecordingServer

from azure.messaging.webpubsubservice import WebPubSubServiceClient

KEY = AzureKeyCredential(ACCESS_KEY)


class FakeTokenCredential:
    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("aad-token", 4102444800)


# --- the forms users write ----------------------------------------------------------------------------------


def test_the_seed_form_takes_endpoint_and_credential_keywords_and_no_hub() -> None:
    client = WebPubSubServiceClient(endpoint="https://contoso.webpubsub.azure.com", credential=KEY)
    assert repr(client) == "<WebPubSubServiceClient endpoint:'https://contoso.webpubsub.azure.com'>"


def test_the_official_form_takes_endpoint_hub_and_credential_positionally(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "chat", KEY) as client:
        client.send_to_all("hi")
    assert server.only.path == "/api/hubs/chat/:send"


def test_the_official_form_also_works_with_keywords(server: RecordingServer) -> None:
    with WebPubSubServiceClient(endpoint=server.url, hub="chat", credential=KEY) as client:
        client.close_all_connections()
    assert server.only.path == "/api/hubs/chat/:closeConnections"


def test_endpoint_and_credential_alone_positionally_is_the_seed_form_without_hub() -> None:
    client = WebPubSubServiceClient("https://contoso.webpubsub.azure.com", KEY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no hub"):
        client.send_to_all("hi")


def test_a_token_credential_is_accepted() -> None:
    client = WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", FakeTokenCredential())
    assert repr(client) == "<WebPubSubServiceClient endpoint:'https://contoso.webpubsub.azure.com'>"


@pytest.mark.parametrize(
    "endpoint",
    ["https://contoso.webpubsub.azure.com", "http://localhost:8080", "http://127.0.0.1:1234"],
)
def test_repr_is_exactly_the_seed_format_with_the_endpoint(endpoint: str) -> None:
    assert repr(WebPubSubServiceClient(endpoint, "hub", KEY)) == f"<WebPubSubServiceClient endpoint:'{endpoint}'>"


def test_a_trailing_slash_on_the_endpoint_does_not_double_the_slash_in_request_urls(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url + "/", "hub", KEY) as client:
        client.send_to_all("hi")
    assert server.only.target == "/api/hubs/hub/:send?api-version=2024-12-01"


def test_the_api_version_of_every_operation_can_be_chosen_per_client(server: RecordingServer) -> None:
    with WebPubSubServiceClient(server.url, "hub", KEY, api_version="2024-01-01") as client:
        client.send_to_all("hi")
        client.user_exists("u")
    assert [r.query["api-version"] for r in server.requests] == [["2024-01-01"], ["2024-01-01"]]


# --- errors before any network call -------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["contoso.webpubsub.azure.com", "localhost:8080", "ws://localhost", "ftp://x",
                                      "<endpoint>", "https://"])
def test_an_endpoint_without_http_or_https_scheme_is_a_value_error(endpoint: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebPubSubServiceClient(endpoint, "hub", KEY)


@pytest.mark.parametrize("endpoint", ["http://localhost:abc", "https://contoso.example:99999"])
def test_an_endpoint_with_a_bad_port_is_a_value_error_at_construction(endpoint: str) -> None:
    with pytest.raises(ValueError, match="invalid endpoint.*[Pp]ort"):
        WebPubSubServiceClient(endpoint, "hub", KEY)


def test_an_empty_endpoint_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="endpoint is required"):
        WebPubSubServiceClient("", "hub", KEY)


def test_an_invalid_hub_name_is_a_value_error_at_construction() -> None:
    with pytest.raises(ValueError, match="hub name"):
        WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "my-hub", KEY)


def test_a_missing_credential_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="credential"):
        WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub")


def test_a_bare_string_key_is_rejected_with_a_hint_to_wrap_it() -> None:
    with pytest.raises(TypeError, match="AzureKeyCredential"):
        WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", ACCESS_KEY)  # type: ignore[arg-type]


def test_an_unsupported_credential_type_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="credential"):
        WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", object())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "operation",
    [
        lambda c: c.send_to_all("hi"),
        lambda c: c.send_to_group("g", "hi"),
        lambda c: c.user_exists("u"),
        lambda c: c.close_all_connections(),
        lambda c: c.get_client_access_token(),
        lambda c: c.list_connections_in_group("g"),
    ],
    ids=["send_to_all", "send_to_group", "user_exists", "close_all_connections", "get_client_access_token",
         "list_connections_in_group"],
)
def test_a_convenience_operation_on_a_client_without_hub_is_a_clear_value_error(operation: object) -> None:
    client = WebPubSubServiceClient(endpoint="http://127.0.0.1:1", credential=KEY)
    with pytest.raises(ValueError, match="this client has no hub: pass hub="):
        operation(client)  # type: ignore[operator]


def test_get_service_status_needs_no_hub(server: RecordingServer) -> None:
    server.reply()
    with WebPubSubServiceClient(endpoint=server.url, credential=KEY) as client:
        assert client.get_service_status() is True
    assert server.only.path == "/api/health"


# --- connection strings -------------------------------------------------------------------------------------


def test_from_connection_string_reaches_the_endpoint_and_signs_with_the_access_key(server: RecordingServer) -> None:
    import jwt

    cs = f"Endpoint={server.url};AccessKey={ACCESS_KEY};Version=1.0;"
    with WebPubSubServiceClient.from_connection_string(cs, hub="hub") as client:
        client.send_to_all("hi")
    token = server.only.headers["Authorization"].split(" ", 1)[1]
    jwt.decode(token, ACCESS_KEY, algorithms=["HS256"], audience=server.url + server.only.target)


def test_from_connection_string_takes_the_hub_positionally() -> None:
    cs = f"Endpoint=https://contoso.webpubsub.azure.com;AccessKey={ACCESS_KEY};Version=1.0;"
    client = WebPubSubServiceClient.from_connection_string(cs, "chat")
    assert client.get_client_access_token()["baseUrl"] == "wss://contoso.webpubsub.azure.com/client/hubs/chat"


def test_from_connection_string_without_hub_still_sends_requests(server: RecordingServer) -> None:
    from azure.messaging.webpubsubservice.rest import build_send_to_all_request

    with WebPubSubServiceClient.from_connection_string(f"Endpoint={server.url};AccessKey={ACCESS_KEY}") as client:
        assert client.send_request(build_send_to_all_request("default", content="x")).status_code == 202


def test_connection_string_keys_are_case_insensitive(server: RecordingServer) -> None:
    cs = f"endpoint={server.url};ACCESSKEY={ACCESS_KEY};vErSiOn=1.0;"
    with WebPubSubServiceClient.from_connection_string(cs, hub="hub") as client:
        client.send_to_all("hi")
    assert len(server.requests) == 1


def test_connection_string_port_replaces_the_endpoint_port(server: RecordingServer) -> None:
    cs = f"Endpoint=http://127.0.0.1;Port={server.port};AccessKey={ACCESS_KEY};Version=1.0;"
    client = WebPubSubServiceClient.from_connection_string(cs, hub="hub")
    assert repr(client) == f"<WebPubSubServiceClient endpoint:'http://127.0.0.1:{server.port}'>"
    with client:
        client.send_to_all("hi")
    assert len(server.requests) == 1


def test_connection_string_port_overrides_a_port_already_in_the_endpoint(server: RecordingServer) -> None:
    cs = f"Endpoint=http://127.0.0.1:1/;Port={server.port};AccessKey={ACCESS_KEY}"
    with WebPubSubServiceClient.from_connection_string(cs, hub="hub") as client:
        client.send_to_all("hi")
    assert len(server.requests) == 1


def test_connection_string_port_works_with_an_ipv6_endpoint() -> None:
    client = WebPubSubServiceClient.from_connection_string(f"Endpoint=http://[::1]/;Port=8080;AccessKey={ACCESS_KEY}")
    assert repr(client) == "<WebPubSubServiceClient endpoint:'http://[::1]:8080'>"


def test_connection_string_endpoint_trailing_slashes_are_removed() -> None:
    client = WebPubSubServiceClient.from_connection_string(
        f"Endpoint=https://contoso.webpubsub.azure.com//;AccessKey={ACCESS_KEY};Version=1.0;")
    assert repr(client) == "<WebPubSubServiceClient endpoint:'https://contoso.webpubsub.azure.com'>"


def test_connection_string_values_may_contain_equals_signs() -> None:
    key = "abcdefghijklmnopqrstuvwxyz0123456789+/AB=="
    client = WebPubSubServiceClient.from_connection_string(
        f"Endpoint=http://localhost:8080;AccessKey={key};Version=1.0;", hub="hub")
    token = client.get_client_access_token()["token"]
    import jwt

    jwt.decode(token, key, algorithms=["HS256"], audience="http://localhost:8080/client/hubs/hub")


def test_connection_string_whitespace_and_empty_segments_are_ignored() -> None:
    client = WebPubSubServiceClient.from_connection_string(
        f" Endpoint = https://contoso.webpubsub.azure.com ;; AccessKey = {ACCESS_KEY} ; Version=1.0 ;")
    assert repr(client) == "<WebPubSubServiceClient endpoint:'https://contoso.webpubsub.azure.com'>"


@pytest.mark.parametrize("scheme, ws", [("http", "ws"), ("https", "wss")])
def test_connection_strings_with_http_and_https_endpoints_are_accepted(scheme: str, ws: str) -> None:
    client = WebPubSubServiceClient.from_connection_string(
        f"Endpoint={scheme}://contoso.example;AccessKey={ACCESS_KEY};Version=1.0;", hub="hub")
    assert client.get_client_access_token()["baseUrl"] == f"{ws}://contoso.example/client/hubs/hub"


@pytest.mark.parametrize(
    "connection_string, missing",
    [
        (f"AccessKey={ACCESS_KEY};Version=1.0;", "missing Endpoint"),
        ("Endpoint=https://contoso.webpubsub.azure.com;Version=1.0;", "missing AccessKey"),
        ("Endpoint=https://contoso.webpubsub.azure.com;AccessKey=;Version=1.0;", "missing AccessKey"),
        ("Version=1.0;", "missing Endpoint and AccessKey"),
    ],
)
def test_a_connection_string_missing_endpoint_or_access_key_is_a_value_error_naming_it(
    connection_string: str, missing: str
) -> None:
    with pytest.raises(ValueError, match=missing):
        WebPubSubServiceClient.from_connection_string(connection_string)


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-1", "80.5"])
def test_a_bad_connection_string_port_is_a_value_error(port: str) -> None:
    with pytest.raises(ValueError, match="Port"):
        WebPubSubServiceClient.from_connection_string(
            f"Endpoint=http://localhost;Port={port};AccessKey={ACCESS_KEY};Version=1.0;")


def test_a_connection_string_endpoint_without_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebPubSubServiceClient.from_connection_string(f"Endpoint=localhost:8080;AccessKey={ACCESS_KEY}")


def test_a_connection_string_segment_without_equals_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Name=value"):
        WebPubSubServiceClient.from_connection_string(f"Endpoint=http://localhost;AccessKey={ACCESS_KEY};oops")


def test_a_connection_string_with_a_key_twice_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="more than once"):
        WebPubSubServiceClient.from_connection_string(
            f"Endpoint=http://a;endpoint=http://b;AccessKey={ACCESS_KEY}")


def test_from_connection_string_passes_client_options_on(server: RecordingServer) -> None:
    cs = f"Endpoint={server.url};AccessKey={ACCESS_KEY};Version=1.0;"
    with WebPubSubServiceClient.from_connection_string(cs, hub="hub", user_agent="my-app/2") as client:
        client.send_to_all("hi")
    assert server.only.headers["User-Agent"].startswith("my-app/2 ")
