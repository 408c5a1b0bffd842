"""HTTPS endpoints: certificate verification options, JWT audiences with https, and AAD bearer tokens over
TLS without any opt-out."""

from __future__ import annotations

import time
from typing import Any, Callable, List, Tuple

import jwt
import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import RequestsTransport
from conftest import ACCESS_KEY, RecordingServer

from azure.messaging.webpubsubservice import WebPubSubServiceClient

KEY = AzureKeyCredential(ACCESS_KEY)
MakeServer = Callable[..., RecordingServer]


class FakeTokenCredential:
    def __init__(self) -> None:
        self.scopes: List[Tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.append(scopes)
        return AccessToken("aad-over-tls", int(time.time()) + 3600)


def test_an_https_endpoint_is_reached_with_a_trusted_certificate(make_server: MakeServer,
                                                                  tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    with WebPubSubServiceClient(server.url, "hub", KEY, connection_verify=tls_files[0]) as client:
        client.send_to_all("over tls")
    assert server.url.startswith("https://")
    assert (server.only.target, server.only.body) == ("/api/hubs/hub/:send?api-version=2024-12-01", b"over tls")
    jwt.decode(server.only.headers["Authorization"][7:], ACCESS_KEY, algorithms=["HS256"],
               audience=server.url + server.only.target)


def test_a_token_credential_needs_no_opt_out_over_https(make_server: MakeServer,
                                                        tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    credential = FakeTokenCredential()
    with WebPubSubServiceClient(server.url, "hub", credential, connection_verify=tls_files[0]) as client:
        client.send_to_all("hi")
    assert server.only.headers["Authorization"] == "Bearer aad-over-tls"
    assert credential.scopes == [("https://webpubsub.azure.com/.default",)]


def test_an_untrusted_certificate_is_refused_by_default(make_server: MakeServer,
                                                        tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    with WebPubSubServiceClient(server.url, "hub", KEY, retry_total=0) as client:
        with pytest.raises(ServiceRequestError):
            client.send_to_all("hi")
    assert server.requests == []


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # urllib3 warns of the opt-out
def test_connection_verify_false_accepts_any_certificate(make_server: MakeServer,
                                                         tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    with WebPubSubServiceClient(server.url, "hub", KEY, connection_verify=False) as client:
        assert client.user_exists("u") is True
    assert server.only.method == "HEAD"


def test_https_calls_reuse_one_tls_connection(make_server: MakeServer, tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    with WebPubSubServiceClient(server.url, "hub", KEY, connection_verify=tls_files[0]) as client:
        for n in range(3):
            client.send_to_all(str(n))
    assert len({r.client for r in server.requests}) == 1


def test_a_given_transport_is_configured_by_the_caller(make_server: MakeServer,
                                                       tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    with WebPubSubServiceClient(server.url, "hub", KEY,
                                transport=RequestsTransport(connection_verify=tls_files[0])) as client:
        client.send_to_all("hi")
    assert server.only.body == b"hi"


def test_connection_verify_can_be_given_per_call(make_server: MakeServer, tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    with WebPubSubServiceClient(server.url, "hub", KEY, retry_total=0) as client:
        client.send_to_all("hi", connection_verify=tls_files[0])
    assert server.only.body == b"hi"


def test_client_access_tokens_for_an_https_endpoint_use_wss(make_server: MakeServer,
                                                            tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    client = WebPubSubServiceClient(server.url, "hub", KEY)
    result = client.get_client_access_token()
    assert result["baseUrl"] == f"wss://127.0.0.1:{server.port}/client/hubs/hub"
    jwt.decode(result["token"], ACCESS_KEY, algorithms=["HS256"], audience=f"{server.url}/client/hubs/hub")
