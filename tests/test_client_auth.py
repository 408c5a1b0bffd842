"""Authentication on the wire: access-key JWTs (verified with PyJWT), key rotation, AAD bearer tokens,
and reverse proxies that keep the service URL as the token audience."""

from __future__ import annotations

import time
from typing import Any, Dict, List, Tuple

import jwt
import pytest
from azure.core.credentials import AccessToken, AzureKeyCredential
from azure.core.exceptions import ServiceRequestError
from conftest import ACCESS_KEY, Recorded, RecordingServer, Reply

from azure.messaging.webpubsubservice import WebPubSubServiceClient, _jwt
from azure.messaging.webpubsubservice.rest import build_send_to_all_request

OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210ZYXWVUTS"
SCOPE = "https://webpubsub.azure.com/.default"


def bearer(recorded: Recorded) -> str:
    authorization: str = recorded.headers["Authorization"]
    scheme, _, token = authorization.partition(" ")
    assert scheme == "Bearer"
    return token


def verify(recorded: Recorded, key: str, audience: str) -> Dict[str, Any]:
    return jwt.decode(bearer(recorded), key, algorithms=["HS256"], audience=audience,
                      options={"require": ["aud", "exp"]})


class FakeTokenCredential:
    """A TokenCredential: records the scopes it is asked for and hands out numbered tokens."""

    def __init__(self) -> None:
        self.calls: List[Tuple[str, ...]] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append(scopes)
        return AccessToken(f"aad-token-{len(self.calls)}", int(time.time()) + 3600)


# --- access keys ------------------------------------------------------------------------------------------


def test_every_request_carries_an_hs256_jwt_signed_with_the_access_key(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    client.send_to_all("hi")
    verify(server.only, ACCESS_KEY, server.url + server.only.target)


def test_the_jwt_audience_is_the_full_request_url_including_the_query(
    client: WebPubSubServiceClient, server: RecordingServer
) -> None:
    client.close_all_connections(excluded=["c1", "c2"], reason="bye")
    claims = verify(server.only, ACCESS_KEY, server.url + server.only.target)
    assert claims["aud"] == (
        f"{server.url}/api/hubs/hub/:closeConnections?excluded=c1&excluded=c2&reason=bye&api-version=2024-12-01")


def test_the_jwt_header_is_hs256_jwt(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("hi")
    assert jwt.get_unverified_header(bearer(server.only)) == {"alg": "HS256", "typ": "JWT"}


def test_the_jwt_expires_within_minutes(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    before = time.time()
    client.send_to_all("hi")
    claims = verify(server.only, ACCESS_KEY, server.url + server.only.target)
    assert before < claims["exp"] <= time.time() + 600
    assert claims["iat"] <= time.time()


def test_a_jwt_signed_for_one_url_is_not_valid_for_another(client: WebPubSubServiceClient,
                                                           server: RecordingServer) -> None:
    client.send_to_all("hi")
    client.send_to_group("g", "hi")
    first, second = server.requests
    with pytest.raises(jwt.InvalidAudienceError):
        verify(second, ACCESS_KEY, server.url + first.target)


def test_a_jwt_does_not_verify_with_another_key(client: WebPubSubServiceClient, server: RecordingServer) -> None:
    client.send_to_all("hi")
    with pytest.raises(jwt.InvalidSignatureError):
        verify(server.only, OTHER_KEY, server.url + server.only.target)


def test_key_rotation_with_credential_update_applies_on_the_next_call(server: RecordingServer) -> None:
    credential = AzureKeyCredential(ACCESS_KEY)
    with WebPubSubServiceClient(server.url, "hub", credential) as client:
        client.send_to_all("before")
        credential.update(OTHER_KEY)
        client.send_to_all("after")
    before, after = server.requests
    verify(before, ACCESS_KEY, server.url + before.target)
    verify(after, OTHER_KEY, server.url + after.target)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(after, ACCESS_KEY, server.url + after.target)


def test_key_rotation_also_applies_to_locally_signed_client_tokens() -> None:
    credential = AzureKeyCredential(ACCESS_KEY)
    client = WebPubSubServiceClient("http://localhost:8080", "hub", credential)
    credential.update(OTHER_KEY)
    token = client.get_client_access_token()["token"]
    jwt.decode(token, OTHER_KEY, algorithms=["HS256"], audience="http://localhost:8080/client/hubs/hub")


def test_send_request_signs_with_the_resolved_absolute_url(client: WebPubSubServiceClient,
                                                           server: RecordingServer) -> None:
    client.send_request(build_send_to_all_request("other", content="x", excluded=["a b"]))
    claims = verify(server.only, ACCESS_KEY, server.url + server.only.target)
    assert claims["aud"] == f"{server.url}/api/hubs/other/:send?excluded=a%20b&api-version=2024-12-01"


def test_every_retry_is_signed_for_the_service_url(server: RecordingServer) -> None:
    server.reply(Reply(503), Reply(202))
    with WebPubSubServiceClient(server.url, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=1) as client:
        client.send_to_all("hi")
    for recorded in server.requests:
        verify(recorded, ACCESS_KEY, server.url + recorded.target)


# --- the documented test vector -----------------------------------------------------------------------------


def test_jwt_encode_reproduces_the_reference_test_vector() -> None:
    claims = {"aud": "http://localhost:8080/api/hubs/chat/:send?api-version=2024-01-01", "exp": 4102444800}
    assert _jwt.encode(claims, ACCESS_KEY) == (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJhdWQiOiJodHRwOi8vbG9jYWxob3N0OjgwODAvYXBpL2h1YnMvY2hhdC86c2VuZD9hcGktdmVyc2lvbj0yMDI0LTAxLTAxIiwiZXhwIjo0MTAyNDQ0ODAwfQ."
        "kWC3EcADfacCOjhIGyEmo3FddVw-5IeIWjr_bNNQLts"
    )


def test_jwt_encode_matches_pyjwt_for_the_same_claims() -> None:
    claims = {"aud": "https://x/client/hubs/h", "exp": 4102444800, "sub": "zoë", "role": ["a", "b"]}
    assert jwt.decode(_jwt.encode(claims, OTHER_KEY), OTHER_KEY, algorithms=["HS256"],
                      audience="https://x/client/hubs/h") == claims


def test_jwt_encode_merges_extra_headers_but_keeps_hs256() -> None:
    token = _jwt.encode({"exp": 4102444800}, ACCESS_KEY, {"kid": "key-1", "alg": "none"})
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
    jwt.decode(token, ACCESS_KEY, algorithms=["HS256"])


def test_jwt_decode_unverified_reads_back_header_and_claims() -> None:
    header, claims = _jwt.decode_unverified(_jwt.encode({"exp": 1, "sub": "u"}, ACCESS_KEY))
    assert (header, claims) == ({"alg": "HS256", "typ": "JWT"}, {"exp": 1, "sub": "u"})


# --- Microsoft Entra ID (token credentials) -----------------------------------------------------------------


def test_a_token_credential_sends_its_bearer_token_for_the_web_pubsub_scope(server: RecordingServer) -> None:
    credential = FakeTokenCredential()
    with WebPubSubServiceClient(server.url, "hub", credential) as client:
        client.send_to_all("hi", enforce_https=False)
    assert server.only.headers["Authorization"] == "Bearer aad-token-1"
    assert credential.calls == [(SCOPE,)]


def test_a_token_credential_token_is_cached_across_calls(server: RecordingServer) -> None:
    credential = FakeTokenCredential()
    with WebPubSubServiceClient(server.url, "hub", credential) as client:
        client.send_to_all("1", enforce_https=False)
        client.user_exists("u", enforce_https=False)
    assert [r.headers["Authorization"] for r in server.requests] == ["Bearer aad-token-1"] * 2
    assert len(credential.calls) == 1


def test_a_token_credential_is_refused_over_plain_http_unless_enforce_https_is_false(
    server: RecordingServer
) -> None:
    with WebPubSubServiceClient(server.url, "hub", FakeTokenCredential(), retry_total=0) as client:
        with pytest.raises(ServiceRequestError, match="non-TLS"):
            client.send_to_all("hi")
    assert server.requests == []


def test_send_request_with_a_token_credential_uses_the_bearer_token(server: RecordingServer) -> None:
    with WebPubSubServiceClient(endpoint=server.url, credential=FakeTokenCredential()) as client:
        response = client.send_request(build_send_to_all_request("hub", content="x"), enforce_https=False)
    assert response.status_code == 202
    assert server.only.headers["Authorization"] == "Bearer aad-token-1"


def test_credential_scopes_can_be_overridden(server: RecordingServer) -> None:
    credential = FakeTokenCredential()
    with WebPubSubServiceClient(server.url, "hub", credential, credential_scopes=["api://custom/.default"]) as client:
        client.send_to_all("hi", enforce_https=False)
    assert credential.calls == [("api://custom/.default",)]


# --- reverse proxies (API Management) -----------------------------------------------------------------------


def test_a_reverse_proxy_receives_the_request_signed_for_the_service_url(
    server: RecordingServer, make_server: Any
) -> None:
    proxy = make_server()
    service = "https://contoso.webpubsub.azure.com"
    with WebPubSubServiceClient(service, "hub", AzureKeyCredential(ACCESS_KEY),
                                reverse_proxy_endpoint=proxy.url) as client:
        client.send_to_group("g", "hi", excluded=["c1"])
    assert proxy.only.target == "/api/hubs/hub/groups/g/:send?excluded=c1&api-version=2024-12-01"
    verify(proxy.only, ACCESS_KEY, service + proxy.only.target)
    assert server.requests == []


def test_a_reverse_proxy_receives_send_request_calls_too(make_server: Any) -> None:
    proxy = make_server()
    service = "http://127.0.0.1:1"
    with WebPubSubServiceClient(endpoint=service, credential=AzureKeyCredential(ACCESS_KEY),
                                reverse_proxy_endpoint=proxy.url + "/") as client:
        assert client.send_request(build_send_to_all_request("hub", content="x")).status_code == 202
    verify(proxy.only, ACCESS_KEY, service + proxy.only.target)


def test_a_reverse_proxy_retry_is_still_signed_for_the_service_url(make_server: Any) -> None:
    proxy = make_server()
    proxy.reply(Reply(503), Reply(202))
    service = "https://contoso.webpubsub.azure.com"
    with WebPubSubServiceClient(service, "hub", AzureKeyCredential(ACCESS_KEY), retry_total=1,
                                reverse_proxy_endpoint=proxy.url) as client:
        client.send_to_all("hi")
    assert len(proxy.requests) == 2
    for recorded in proxy.requests:
        verify(recorded, ACCESS_KEY, service + recorded.target)


def test_a_reverse_proxy_keeps_the_client_access_token_urls_on_the_service() -> None:
    client = WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", AzureKeyCredential(ACCESS_KEY),
                                    reverse_proxy_endpoint="https://apim.example")
    assert client.get_client_access_token()["baseUrl"] == "wss://contoso.webpubsub.azure.com/client/hubs/hub"


def test_an_invalid_reverse_proxy_endpoint_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebPubSubServiceClient("https://contoso.webpubsub.azure.com", "hub", AzureKeyCredential(ACCESS_KEY),
                               reverse_proxy_endpoint="apim.example")


# --- redirects -----------------------------------------------------------------------------------------------------


def test_a_same_host_redirect_is_followed_and_signed_for_the_new_url(client: WebPubSubServiceClient,
                                                                     server: RecordingServer) -> None:
    server.reply(Reply(307, {"Location": f"{server.url}/moved/send?api-version=2024-12-01"}))
    client.send_to_all("hi")
    first, moved = server.requests
    assert (moved.method, moved.target, moved.body) == ("POST", "/moved/send?api-version=2024-12-01", b"hi")
    verify(moved, ACCESS_KEY, server.url + moved.target)


def test_a_redirect_to_another_host_does_not_carry_the_access_key_jwt(client: WebPubSubServiceClient,
                                                                      server: RecordingServer,
                                                                      make_server: Any) -> None:
    elsewhere = make_server()
    server.reply(Reply(307, {"Location": f"{elsewhere.url}/collect"}))
    client.send_to_all("hi")
    assert elsewhere.only.target == "/collect"
    assert "Authorization" not in elsewhere.only.headers


def test_a_redirect_to_another_host_does_not_carry_the_aad_token(server: RecordingServer, make_server: Any) -> None:
    elsewhere = make_server()
    server.reply(Reply(307, {"Location": f"{elsewhere.url}/collect"}))
    with WebPubSubServiceClient(server.url, "hub", FakeTokenCredential()) as client:
        client.send_to_all("hi", enforce_https=False)
    assert server.requests[0].headers["Authorization"] == "Bearer aad-token-1"
    assert "Authorization" not in elsewhere.only.headers


def test_jwt_encode_stays_correct_across_many_key_rotations() -> None:
    keys = [f"{n:02d}" + ACCESS_KEY[2:] for n in range(20)]
    for key in keys + keys[:3]:
        jwt.decode(_jwt.encode({"exp": 4102444800}, key), key, algorithms=["HS256"])


@pytest.mark.parametrize("token", ["a.b", "not-a-jwt", "e30.W10.sig"])
def test_jwt_decode_unverified_rejects_what_is_not_a_compact_jwt_of_objects(token: str) -> None:
    with pytest.raises(ValueError):
        _jwt.decode_unverified(token)
