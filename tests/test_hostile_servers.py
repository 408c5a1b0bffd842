"""Both default transports against hostile and broken servers, proxies and certificates on loopback.

Each case states its exact outcome (the azure-core error class, or the successful result) and then
shows that the next call on the same client still works. The servers are raw-socket fakes
(``hostile_servers.py``): they produce faults no well-behaved server would.
"""

from __future__ import annotations

import base64
import contextlib
import gc
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple, Type

import pytest
from azure.core.rest import HttpRequest
from azure.core.exceptions import (
    DecodeError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from hostile_servers import WAIT, Exchange, FakeProxy, FaultServer, Handler, answer, answer_then_hang_up, response
from transport_driver import Driver

from azure.messaging.webpubsubservice._network import MAX_DECODED_BODY_BYTES

FINE = response(200, b"fine")
SEND_TARGET = "/api/hubs/hub/:send?api-version=2024-12-01"

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Iterator[Driver]:
    driver = Driver(request.param)
    yield driver
    driver.close()


def script(*first: Handler, then: Handler = answer(FINE)) -> Handler:
    """Answer the first requests with ``first``, in order, and every later one with ``then``."""
    queue = list(first)
    return lambda exchange: (queue.pop(0) if queue else then)(exchange)


def exactly(error_type: Type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda error: type(error) is error_type


# --- malformed answers -----------------------------------------------------------------------------------------

CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
MALFORMED: Dict[str, bytes] = {
    "conflicting Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nokok",
    "duplicate Content-Length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "Content-Length with chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"2\r\nok\r\n0\r\n\r\n",
    "negative chunk size": CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n",
    "huge chunk size": CHUNKED + b"ffffffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
    "garbage chunk size": CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n",
    "oversized header line": b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\nok",
    "2,000 headers": b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(2000))
                     + b"Content-Length: 2\r\n\r\nok",
    "non-ASCII digits in the status": "HTTP/1.1 ٢٠٠ OK\r\nContent-Length: 2\r\n\r\nok".encode(),
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
}


@pytest.mark.parametrize("raw", list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_answer_is_a_service_response_error_and_the_next_call_works(driver: Driver, raw: bytes) -> None:
    # Python 3.9's http.client reads a chunk in 1 MiB pieces until it has it all, so a huge chunk size
    # stalls until the read timeout there; later versions ask for it in one read, which refuses the size.
    stalls = raw is MALFORMED["huge chunk size"] and not driver.is_async and sys.version_info < (3, 10)
    # The fake keeps the idle connection open for WAIT seconds, as long as the client's default read timeout:
    # a stalled call waits far less, so it always times out before the fake's hang-up could end it with EOF.
    first_call = {"read_timeout": WAIT / 10} if stalls else {}
    with FaultServer(script(answer(raw))) as server:  # the bad connection is left open: the client drops it
        client = driver.client(server.url)
        with pytest.raises(ServiceResponseError) as raised:
            driver.get(client, **first_call)
        assert exactly(ServiceResponseTimeoutError if stalls else ServiceResponseError)(raised.value)
        assert driver.get(client).content == b"fine"
    # Not reused, except where aiohttp < 3.14 (Python 3.9) parses 2,000 headers and the transport refuses
    # them afterwards: the answer was framed cleanly, so its connection may serve the next call.
    assert len(server.connections) == 2 or raw is MALFORMED["2,000 headers"]


CUT_SHORT: Dict[str, Handler] = {
    "body shorter than Content-Length": answer_then_hang_up(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"),
    "chunked body without its last chunk": answer_then_hang_up(CHUNKED + b"5\r\nhello\r\n"),
    "reset mid-body": lambda exchange: (exchange.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart"),
                                        exchange.wait(0.05), exchange.reset()),
    "closed before any answer": answer_then_hang_up(b""),
}


@pytest.mark.parametrize("handler", list(CUT_SHORT.values()), ids=list(CUT_SHORT))
def test_an_answer_cut_short_is_a_service_response_error_and_the_next_call_works(driver: Driver,
                                                                                handler: Handler) -> None:
    with FaultServer(script(handler)) as server:
        client = driver.client(server.url)
        with pytest.raises(ServiceResponseError) as raised:  # a POST: aiohttp resends idempotent methods once
            driver.run(client.send_request(HttpRequest("POST", "/x", content=b"data")))
        assert exactly(ServiceResponseError)(raised.value)
        assert driver.get(client).content == b"fine"


def test_a_streamed_body_reset_midway_fails_while_iterating_and_the_next_call_works(driver: Driver) -> None:
    def reset_midway(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
        exchange.wait(0.1)
        exchange.reset()

    with FaultServer(script(reset_midway)) as server:
        client = driver.client(server.url)
        streamed = driver.get(client, stream=True)
        assert streamed.status_code == 200
        with pytest.raises(ServiceResponseError) as raised:
            driver.body(streamed)
        assert exactly(ServiceResponseError)(raised.value)
        assert driver.get(client).content == b"fine"


def test_a_server_that_never_answers_is_a_read_timeout_and_the_next_call_works(driver: Driver) -> None:
    with FaultServer(script(lambda exchange: exchange.wait(10))) as server:
        client = driver.client(server.url)
        with pytest.raises(ServiceResponseTimeoutError):
            driver.get(client, read_timeout=0.3)  # this call only: the next one gets the client's own timeout
        assert driver.get(client).content == b"fine"
    assert len(server.connections) == 2  # the stalled connection was not reused


def test_a_body_that_stops_arriving_is_a_read_timeout_and_the_next_call_works(driver: Driver) -> None:
    def stall(exchange: Exchange) -> None:
        exchange.send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        exchange.wait(10)

    with FaultServer(script(stall)) as server:
        client = driver.client(server.url)
        with pytest.raises(ServiceResponseTimeoutError):
            driver.get(client, read_timeout=0.3)  # this call only: the next one gets the client's own timeout
        assert driver.get(client).content == b"fine"


def test_an_answer_trickling_in_a_few_bytes_at_a_time_is_assembled(driver: Driver) -> None:
    chunked = CHUNKED + b"5\r\n{\"val\r\nf\r\nue\": [1, 2, 3]}\r\n0\r\n\r\n"
    with FaultServer(lambda exchange: exchange.trickle(chunked)) as server:
        client = driver.client(server.url)
        assert driver.get(client).json() == {"value": [1, 2, 3]}
        assert driver.get(client).json() == {"value": [1, 2, 3]}
    assert len(server.connections) == 1


def test_bytes_sent_on_an_idle_pooled_connection_are_never_taken_for_the_next_answer(driver: Driver) -> None:
    # The bytes go out only once the client has read the answer, so they find its connection idle in the pool
    # (bytes that arrive with the answer are read and dropped with it, and the connection may then be reused).
    idle, sent = threading.Event(), threading.Event()

    def unsolicited(sock: socket.socket) -> None:
        if idle.wait(WAIT):
            sock.sendall(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
            sent.set()

    with FaultServer(answer(response(200, b"first"))) as server:
        server.after_answer = unsolicited
        client = driver.client(server.url)
        assert driver.get(client).content == b"first"
        idle.set()
        assert sent.wait(WAIT)  # on loopback, the bytes are in the client's socket buffer once sendall returns
        server.after_answer = None
        server.handler = answer(FINE)
        second = driver.get(client)
        assert (second.status_code, second.content) == (200, b"fine")
    assert len(server.connections) == 2


def test_a_100_continue_before_the_answer_is_skipped(driver: Driver) -> None:
    with FaultServer(answer(b"HTTP/1.1 100 Continue\r\n\r\n" + response(204))) as server:
        client = driver.client(server.url)
        assert driver.get(client).status_code == 204
        assert driver.get(client).status_code == 204


def test_other_interim_1xx_answers_are_skipped_by_aiohttp_and_refused_by_urllib3(driver: Driver) -> None:
    interim = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n" + response(200, b"final")
    with FaultServer(script(answer(interim))) as server:
        client = driver.client(server.url)
        if driver.is_async:
            assert driver.get(client).content == b"final"
        else:  # http.client skips only 100 Continue: a 103 would be read as the answer, so it is refused
            with pytest.raises(ServiceResponseError, match="interim 103"):
                driver.get(client)
        assert driver.get(client).content == b"fine"


def test_a_send_is_never_written_twice_when_the_server_hangs_up_after_reading_it(driver: Driver) -> None:
    with FaultServer(script(answer(response(202)), answer_then_hang_up(b""))) as server:
        client = driver.client(server.url, retry_total=3)
        driver.run(client.send_to_all("one"))
        with pytest.raises(ServiceResponseError):
            driver.run(client.send_to_all("two"))  # the service may have acted on it: the caller decides
        driver.run(client.send_to_all("three"))
    assert [(r.method, r.body) for r in server.requests] == [("POST", b"one"), ("POST", b"two"), ("POST", b"three")]


def test_an_idempotent_check_on_a_connection_that_dies_is_resent_by_aiohttp_only(driver: Driver) -> None:
    with FaultServer(script(answer(response(200)), answer_then_hang_up(b""), then=answer(response(200)))) as server:
        client = driver.client(server.url)
        assert driver.run(client.user_exists("u")) is True
        if driver.is_async:  # aiohttp resends idempotent methods once on a reused connection
            assert driver.run(client.user_exists("u")) is True
            assert [r.method for r in server.requests] == ["HEAD"] * 3
        else:  # urllib3 never resends; azure-core's RetryPolicy would (retry_total is 0 here)
            with pytest.raises(ServiceResponseError):
                driver.run(client.user_exists("u"))
            assert [r.method for r in server.requests] == ["HEAD"] * 2


def test_a_line_break_in_a_header_value_is_refused_before_anything_is_sent(driver: Driver) -> None:
    with FaultServer(answer(FINE)) as server:
        client = driver.client(server.url)
        with pytest.raises(ServiceRequestError) as raised:
            driver.get(client, headers={"X-Evil": "a\r\nInjected: 1"})
        assert exactly(ServiceRequestError)(raised.value)
        assert server.requests == []
        assert driver.get(client).content == b"fine"


def test_a_refused_connection_names_host_and_port(driver: Driver, closed_port: int) -> None:
    client = driver.client(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(ServiceRequestError, match=f"could not connect to 127.0.0.1:{closed_port}") as raised:
        driver.run(client.send_to_all("hi"))
    assert exactly(ServiceRequestError)(raised.value)


# --- redirects ---------------------------------------------------------------------------------------------------


def test_a_cross_host_redirect_is_followed_without_the_credentials(driver: Driver) -> None:
    with FaultServer(answer(FINE), host="127.0.0.2") as elsewhere:
        moved = response(307, headers={"Location": f"{elsewhere.url}/moved"}, reason="Temporary Redirect")
        with FaultServer(script(answer(moved))) as server:
            client = driver.client(server.url)
            assert driver.get(client, "/api/health").content == b"fine"
            assert driver.get(client, "/api/health").content == b"fine"  # the next call goes to the first host
    assert [r.target for r in elsewhere.requests] == ["/moved"]
    assert "authorization" not in elsewhere.requests[0].headers
    assert all("authorization" in r.headers for r in server.requests)


# --- certificates -------------------------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make test certificates")
    subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Tuple[str, str]]:
    """Self-signed ``(certfile, keyfile)`` pairs: ``loopback`` for 127.0.0.1, ``other_host`` for
    example.invalid only, and ``client`` for a client certificate."""
    folder = tmp_path_factory.mktemp("certificates")
    made: Dict[str, Tuple[str, str]] = {}
    for name, subject, extension in [("loopback", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                                     ("other_host", "/CN=example.invalid", "subjectAltName=DNS:example.invalid"),
                                     ("client", "/CN=backend", "extendedKeyUsage=clientAuth")]:
        cert, key = str(folder / f"{name}.pem"), str(folder / f"{name}.key")
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", subject, "-addext",
                 extension, "-keyout", key, "-out", cert)
        made[name] = (cert, key)
    return made


def server_tls(cert: Tuple[str, str], client_ca: str = "") -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


@pytest.mark.parametrize("which", ["loopback", "other_host"], ids=["self-signed", "wrong host"])
def test_an_untrusted_certificate_is_refused_unless_the_call_opts_out_and_the_opt_out_never_leaks(
    driver: Driver, certificates: Dict[str, Tuple[str, str]], which: str
) -> None:
    trust = {"connection_verify": certificates[which][0]} if which == "other_host" else {}  # trusted, wrong name
    with FaultServer(answer(FINE), tls=server_tls(certificates[which])) as server:
        client = driver.client(server.url, **trust)
        with pytest.raises(ServiceRequestError, match="TLS") as raised:
            driver.get(client)
        assert exactly(ServiceRequestError)(raised.value)
        assert driver.get(client, connection_verify=False).content == b"fine"
        with pytest.raises(ServiceRequestError, match="TLS"):  # the opted-out connection is not reused
            driver.get(client)
        assert driver.get(client, connection_verify=False).content == b"fine"
    assert len(server.requests) == 2


def test_a_trusted_certificate_is_accepted_and_its_connection_reused(driver: Driver,
                                                                     certificates: Dict[str, Tuple[str, str]]) -> None:
    with FaultServer(answer(FINE), tls=server_tls(certificates["loopback"])) as server:
        client = driver.client(server.url, connection_verify=certificates["loopback"][0])
        for _ in range(3):
            assert driver.get(client).content == b"fine"
    assert len(server.connections) == 1


def test_a_per_call_ca_bundle_is_never_lent_to_a_call_that_trusts_only_the_system(
    driver: Driver, certificates: Dict[str, Tuple[str, str]]
) -> None:
    bundle = certificates["loopback"][0]  # trusts the server's self-signed certificate; the system's CAs do not
    with FaultServer(answer(FINE), tls=server_tls(certificates["loopback"])) as server:
        client = driver.client(server.url)
        assert driver.get(client, connection_verify=bundle).content == b"fine"
        with pytest.raises(ServiceRequestError, match="TLS") as raised:  # not the connection the bundle verified
            driver.get(client)
        assert exactly(ServiceRequestError)(raised.value)
        assert driver.get(client, connection_verify=bundle).content == b"fine"
    assert len(server.requests) == 2


def test_a_per_call_client_certificate_is_never_lent_to_a_call_without_one(
    driver: Driver, certificates: Dict[str, Tuple[str, str]]
) -> None:
    tls = server_tls(certificates["loopback"], client_ca=certificates["client"][0])
    with FaultServer(answer(FINE), tls=tls) as server:
        client = driver.client(server.url, connection_verify=certificates["loopback"][0])
        assert driver.get(client, connection_cert=certificates["client"]).content == b"fine"
        # No certificate: the server refuses. With TLS 1.3 the refusal comes after the client's side of the
        # handshake: urllib3 reports the TLS alert as such, aiohttp sees a reset when it reads the answer.
        refused = ServiceResponseError if driver.is_async else ServiceRequestError
        with pytest.raises(refused) as raised:
            driver.get(client)
        assert exactly(refused)(raised.value)
        assert driver.get(client, connection_cert=certificates["client"]).content == b"fine"
    assert len(server.requests) == 2


# --- proxies ---------------------------------------------------------------------------------------------------------

CREDENTIALS = "agent:p@ss word"
BASIC = "Basic " + base64.b64encode(CREDENTIALS.encode()).decode()
IN_URL = "agent:p%40ss%20word"


@pytest.mark.parametrize("proxy_tls", [False, True], ids=["http proxy", "https proxy"])
def test_a_proxy_with_credentials_forwards_http_calls(driver: Driver, certificates: Dict[str, Tuple[str, str]],
                                                      proxy_tls: bool) -> None:
    tls = server_tls(certificates["loopback"]) if proxy_tls else None
    with FakeProxy(tls=tls, credentials=CREDENTIALS) as proxy:
        client = driver.client("http://service.invalid", proxies={"http": proxy.url_with(IN_URL)},
                               connection_verify=certificates["loopback"][0])
        driver.run(client.send_to_all("via proxy"))
        driver.run(client.send_to_all("again"))
    first = proxy.visits[0]
    assert first.first_byte == (b"\x16" if proxy_tls else b"P")  # \x16: the proxy saw a TLS handshake
    assert (first.method, first.target, first.body) == ("POST", "http://service.invalid" + SEND_TARGET, b"via proxy")
    assert first.proxy_authorization == BASIC
    assert first.headers["host"] == "service.invalid"
    assert [visit.body for visit in proxy.visits] == [b"via proxy", b"again"]


@pytest.mark.parametrize("proxy_tls", [False, True], ids=["http proxy", "https proxy"])
def test_a_proxy_with_credentials_tunnels_https_calls(driver: Driver, certificates: Dict[str, Tuple[str, str]],
                                                      proxy_tls: bool) -> None:
    loopback = certificates["loopback"]
    with FaultServer(answer(FINE), tls=server_tls(loopback)) as server, \
            FakeProxy(tls=server_tls(loopback) if proxy_tls else None, credentials=CREDENTIALS) as proxy:
        client = driver.client(server.url, proxies={"https": proxy.url_with(IN_URL)}, connection_verify=loopback[0])
        if driver.is_async and proxy_tls and sys.version_info < (3, 11):  # asyncio has no TLS in TLS before 3.11
            with pytest.raises(ServiceRequestError, match="TLS inside TLS from Python 3.11"):
                driver.get(client)
            assert proxy.visits == [] and server.requests == []
            return
        assert driver.get(client).content == b"fine"
        assert driver.get(client).content == b"fine"  # through the same tunnel
    assert len(proxy.visits) == 1
    tunnel = proxy.visits[0]
    assert tunnel.first_byte == (b"\x16" if proxy_tls else b"C")
    assert (tunnel.method, tunnel.target, tunnel.proxy_authorization) == ("CONNECT", f"127.0.0.1:{server.port}", BASIC)
    assert [r.target for r in server.requests] == ["/x", "/x"]
    assert all("proxy-authorization" not in r.headers for r in server.requests)  # the proxy's secret stays there


def _texts_of(error: BaseException) -> List[str]:
    """str() and repr() of an error and of every error it was raised from."""
    texts: List[str] = []
    seen: Any = error
    while seen is not None and len(texts) < 20:
        texts += [str(seen), repr(seen), str(getattr(seen, "inner_exception", ""))]
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("proxy_answers", [False, True], ids=["nothing listens", "the proxy refuses them"])
def test_proxy_credentials_never_appear_in_an_error(driver: Driver, scheme: str, proxy_answers: bool) -> None:
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(FakeProxy(credentials=CREDENTIALS))
        address = proxy.url.split("://", 1)[1]
        if not proxy_answers:
            stack.close()  # nothing listens there any more
        client = driver.client(f"{scheme}://service.invalid", proxies={scheme: f"http://agent:s3cret%20word@{address}"})
        if proxy_answers and scheme == "http":
            assert driver.get(client).status_code == 407  # the proxy answers the request itself
            return
        with pytest.raises(ServiceRequestError, match=f"proxy {address}") as raised:
            driver.get(client)
    for text in _texts_of(raised.value):
        assert "s3cret" not in text and "agent" not in text, text


def test_a_proxy_refusing_the_credentials_of_a_tunnel_is_a_service_request_error(
    driver: Driver, certificates: Dict[str, Tuple[str, str]]
) -> None:
    loopback = certificates["loopback"]
    with FaultServer(answer(FINE), tls=server_tls(loopback)) as server, FakeProxy(credentials=CREDENTIALS) as proxy:
        client = driver.client(server.url, proxies={"https": proxy.url_with("agent:wrong")},
                               connection_verify=loopback[0])
        with pytest.raises(ServiceRequestError, match=f"proxy 127.0.0.1:{proxy.url.rsplit(':', 1)[1]}") as raised:
            driver.get(client)
        assert exactly(ServiceRequestError)(raised.value)
        assert "wrong" not in str(raised.value)
        assert driver.get(client, proxies={"https": proxy.url_with(IN_URL)}).content == b"fine"
    assert server.requests[0].target == "/x"


def test_a_proxy_refusing_the_credentials_of_an_http_call_answers_407(driver: Driver) -> None:
    with FakeProxy(credentials=CREDENTIALS) as proxy:
        client = driver.client("http://service.invalid", proxies={"http": proxy.url_with("agent:wrong")})
        with pytest.raises(HttpResponseError) as raised:
            driver.run(client.send_to_all("hi"))
        assert raised.value.status_code == 407


def test_no_proxy_sends_matching_hosts_directly_and_the_environment_is_read_when_the_client_is_built(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeProxy() as proxy, FaultServer(answer(FINE)) as server:
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "127.0.0.1,localhost")
        client = driver.client(server.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name)  # too late: the client has read the environment
        assert driver.get(client).content == b"fine"
        proxied = driver.client("http://service.invalid")
        driver.run(proxied.send_to_all("via the proxy"))
    assert len(server.requests) == 1
    assert [visit.target for visit in proxy.visits] == ["http://service.invalid" + SEND_TARGET]


# --- IPv6 -------------------------------------------------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_an_ipv6_endpoint_is_reached_and_refusals_name_it_in_brackets(driver: Driver) -> None:
    with FaultServer(answer(response(202)), host="::1") as server:
        client = driver.client(server.url)
        driver.run(client.send_to_all("over IPv6"))
        driver.run(client.send_to_all("again"))
        port = server.port
    assert [r.body for r in server.requests] == [b"over IPv6", b"again"]
    assert len(server.connections) == 1
    with pytest.raises(ServiceRequestError, match=rf"could not connect to \[::1\]:{port}"):
        driver.run(client.send_to_all("nobody listens now"))


# --- streamed responses left unclosed ------------------------------------------------------------------------------


def test_a_hundred_and_fifty_dropped_unclosed_streams_do_not_exhaust_the_pool(driver: Driver) -> None:
    def endless(exchange: Exchange) -> None:
        if exchange.request.target == "/stream":
            exchange.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 100)
            exchange.wait(120)  # the body never completes: only the client can free the connection
            exchange.hang_up()
        else:
            exchange.send(FINE)

    with FaultServer(endless) as server:
        client = driver.client(server.url)  # the async pool holds 100 connections at most
        gc.disable()  # a dropped response must free its connection at once, not at the next collection
        try:
            for _ in range(150):
                assert driver.get(client, "/stream", stream=True).status_code == 200  # dropped unread, unclosed
            assert driver.get(client, "/after").content == b"fine"  # within CALL_BOUND, far below the stall
        finally:
            gc.enable()


# --- compressed bodies ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """64 MiB of zeros in about 64 KiB of gzip: four times MAX_DECODED_BODY_BYTES."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join([*(packer.compress(block) for _ in range(64)), packer.flush()])


def gzipped(body: bytes, coding: str = "gzip") -> bytes:
    wbits = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw deflate": -zlib.MAX_WBITS}[coding]
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    header = "deflate" if coding == "raw deflate" else coding
    payload = packer.compress(body) + packer.flush()
    return response(200, payload, {"Content-Encoding": header, "Content-Type": "application/json"})


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw deflate"])
def test_compressed_bodies_are_decoded(driver: Driver, coding: str) -> None:
    with FaultServer(answer(gzipped(b'{"value": []}', coding))) as server:
        client = driver.client(server.url)
        assert driver.get(client).json() == {"value": []}
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def test_a_streamed_gzip_body_is_decoded_by_iter_bytes_and_left_compressed_by_iter_raw(driver: Driver) -> None:
    text = b"0123456789" * 10_000
    with FaultServer(answer(gzipped(text))) as server:
        client = driver.client(server.url)
        assert driver.body(driver.get(client, stream=True)) == text
        assert zlib.decompress(driver.body(driver.get(client, stream=True), raw=True), 16 + zlib.MAX_WBITS) == text


def test_a_gzip_bomb_is_refused_beyond_the_decoded_size_bound_and_the_next_call_works(driver: Driver,
                                                                                       gzip_bomb: bytes) -> None:
    bomb = response(200, gzip_bomb, {"Content-Encoding": "gzip"})
    with FaultServer(script(answer(bomb), answer(bomb))) as server:
        client = driver.client(server.url)
        with pytest.raises(DecodeError, match=f"more than {MAX_DECODED_BODY_BYTES} bytes"):
            driver.get(client)
        streamed = driver.get(client, stream=True)
        with pytest.raises(DecodeError, match="MAX_DECODED_BODY_BYTES"):
            driver.body(streamed)
        assert driver.get(client).content == b"fine"


@pytest.mark.parametrize("payload", [b"this is not gzip", gzipped(b"x" * 1000).split(b"\r\n\r\n", 1)[1][:-8]],
                         ids=["garbage", "truncated"])
def test_a_corrupt_gzip_body_is_a_decode_error_and_the_next_call_works(driver: Driver, payload: bytes) -> None:
    with FaultServer(script(answer(response(200, payload, {"Content-Encoding": "gzip"})))) as server:
        client = driver.client(server.url)
        with pytest.raises(DecodeError, match="gzip response body is (corrupt|truncated)"):
            driver.get(client)
        assert driver.get(client).content == b"fine"


def test_an_unknown_content_encoding_is_passed_through_undecoded(driver: Driver) -> None:
    with FaultServer(answer(response(200, b"\x0b\x02\x80hi\x03", {"Content-Encoding": "br"}))) as server:
        client = driver.client(server.url)
        assert driver.get(client).content == b"\x0b\x02\x80hi\x03"


# --- the pooled connection -------------------------------------------------------------------------------------------


def test_sequential_calls_share_one_keep_alive_connection(driver: Driver) -> None:
    with FaultServer(answer(response(202))) as server:
        client = driver.client(server.url)
        for n in range(5):
            driver.run(client.send_to_all(str(n)))
    assert len(server.connections) == 1 and len(server.requests) == 5


@pytest.mark.parametrize("answer_bytes", [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n"
    b"0\r\nX-Trailer: yes\r\n\r\n",
    response(200, b"hello world"),
], ids=["chunked with extensions and trailers", "content-length"])
def test_framed_bodies_are_read_whole_and_keep_the_connection(driver: Driver, answer_bytes: bytes) -> None:
    with FaultServer(answer(answer_bytes)) as server:
        client = driver.client(server.url)
        assert driver.get(client).content == b"hello world"
        assert driver.get(client).content == b"hello world"
    assert len(server.connections) == 1


@pytest.mark.parametrize("answer_bytes", [b"HTTP/1.1 200 OK\r\n\r\nuntil close",
                                          b"HTTP/1.0 200 OK\r\nContent-Length: 11\r\n\r\nuntil close"],
                         ids=["delimited by close", "HTTP/1.0"])
def test_a_connection_the_answer_ends_is_not_reused(driver: Driver, answer_bytes: bytes) -> None:
    with FaultServer(answer_then_hang_up(answer_bytes)) as server:
        client = driver.client(server.url)
        assert driver.get(client).content == b"until close"
        assert driver.get(client).content == b"until close"
    assert len(server.connections) == 2


def test_a_head_answer_announcing_a_length_has_no_body_and_keeps_the_connection(driver: Driver) -> None:
    with FaultServer(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n")) as server:
        client = driver.client(server.url)
        assert driver.run(client.group_exists("g")) is True
        assert driver.run(client.group_exists("g")) is True
    assert len(server.connections) == 1


def test_a_large_streamed_body_read_in_blocks_arrives_whole(driver: Driver) -> None:
    body = bytes(range(256)) * 16_384  # 4 MiB
    with FaultServer(answer(response(200, body))) as server:
        client = driver.client(server.url)
        assert driver.body(driver.get(client, stream=True)) == body
        streamed = driver.get(client, stream=True)
        assert driver.run(streamed.read()) == body and streamed.content == body
    assert len(server.connections) == 1
