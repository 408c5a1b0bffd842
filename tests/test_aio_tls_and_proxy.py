"""The default async transport with TLS, proxies and connect timeouts, over loopback sockets."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Callable, List, Optional, Tuple

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ServiceRequestError, ServiceRequestTimeoutError

from azure.messaging.webpubsubservice.aio import WebPubSubServiceClient

from conftest import ACCESS_KEY, RecordingServer

KEY = AzureKeyCredential(ACCESS_KEY)
BOUNDED = {"retry_total": 0, "read_timeout": 10, "connection_timeout": 10}  # no test waits unbounded
MakeServer = Callable[..., RecordingServer]


def https_url(server: RecordingServer) -> str:
    return f"https://127.0.0.1:{server.port}"


@pytest.mark.asyncio
async def test_https_with_the_servers_certificate_as_ca_bundle(make_server: MakeServer,
                                                                tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    async with WebPubSubServiceClient(https_url(server), "hub", KEY, connection_verify=tls_files[0],
                                      **BOUNDED) as client:
        await client.send_to_all("over tls")
        await client.send_to_all("same connection")
    assert [request.body for request in server.requests] == [b"over tls", b"same connection"]
    assert len({request.client for request in server.requests}) == 1


@pytest.mark.asyncio
async def test_https_to_an_untrusted_certificate_is_refused(make_server: MakeServer,
                                                            tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    async with WebPubSubServiceClient(https_url(server), "hub", KEY, **BOUNDED) as client:
        with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
            await asyncio.wait_for(client.send_to_all("hi"), 10)
    assert server.requests == []


@pytest.mark.asyncio
async def test_connection_verify_false_accepts_any_certificate(make_server: MakeServer,
                                                               tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    async with WebPubSubServiceClient(https_url(server), "hub", KEY, connection_verify=False,
                                      **BOUNDED) as client:
        await client.send_to_all("hi")
    assert server.only.body == b"hi"


@pytest.mark.asyncio
async def test_an_unanswered_connect_is_a_request_timeout(unanswered_port: int) -> None:
    async with WebPubSubServiceClient(f"http://127.0.0.1:{unanswered_port}", "hub", KEY,
                                      **{**BOUNDED, "connection_timeout": 0.2}) as client:
        with pytest.raises(ServiceRequestTimeoutError):
            await asyncio.wait_for(client.send_to_all("hi"), 10)


@pytest.mark.asyncio
async def test_plain_http_through_a_proxy_sends_the_absolute_url_with_proxy_credentials(
    make_server: MakeServer
) -> None:
    proxy = make_server()
    proxy_url = f"http://user:p%40ss@127.0.0.1:{proxy.port}"
    async with WebPubSubServiceClient("http://service.invalid", "hub", KEY, proxies={"http": proxy_url},
                                      **BOUNDED) as client:
        await client.send_to_all("via proxy")
    assert proxy.only.target == "http://service.invalid/api/hubs/hub/:send?api-version=2024-12-01"
    assert proxy.only.headers["Host"] == "service.invalid"
    assert proxy.only.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"user:p@ss").decode()


class ConnectProxy:
    """A CONNECT-only proxy on loopback that records the tunnels asked for and pipes bytes both ways."""

    def __init__(self) -> None:
        self.tunnels: List[Tuple[str, Optional[str]]] = []
        self._server: Optional[asyncio.AbstractServer] = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> "ConnectProxy":
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        authority = head[0].split(" ")[1]
        authorization = next((line.split(":", 1)[1].strip() for line in head
                              if line.lower().startswith("proxy-authorization:")), None)
        self.tunnels.append((authority, authorization))
        host, port = authority.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await source.read(65536)
            if not data:
                break
            sink.write(data)
            await sink.drain()
    except ConnectionError:
        pass
    finally:
        sink.close()


@pytest.mark.asyncio
async def test_https_through_a_proxy_tunnels_with_connect(make_server: MakeServer,
                                                          tls_files: Tuple[str, str]) -> None:
    server = make_server(tls=tls_files)
    async with ConnectProxy() as proxy:
        proxy_url = proxy.url.replace("http://", "http://agent:secret@")
        async with WebPubSubServiceClient(https_url(server), "hub", KEY, connection_verify=tls_files[0],
                                          proxies={"https": proxy_url}, **BOUNDED) as client:
            await client.send_to_all("tunnelled")
            await client.send_to_all("tunnelled again")
    assert proxy.tunnels == [(f"127.0.0.1:{server.port}", "Basic " + base64.b64encode(b"agent:secret").decode())]
    assert [request.body for request in server.requests] == [b"tunnelled", b"tunnelled again"]
    assert server.requests[0].target == "/api/hubs/hub/:send?api-version=2024-12-01"
