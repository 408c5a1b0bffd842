"""Raw-socket requests for the hostile-input tests: bytes no well-behaved client would send.

Requests are written by hand; responses are read with the standard library's `http.client`, so the
tests never parse HTTP themselves. Every call is blocking and bounded, for an `Emulator` running in
its own thread (`with Emulator() as emu` or the `webpubsub_emulator` fixture).
"""
from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

import jwt

from webpubsub_emulator import Emulator

WAIT = 5.0
ERROR_FIELDS = {"code", "message", "target", "details", "innererror"}


@dataclass
class RawResponse:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def sign(emu: Emulator, target: str, lifetime: float = 60, **claims: Any) -> str:
    """A REST token whose audience is the endpoint + `target` (the raw path and query as sent)."""
    return jwt.encode({"aud": emu.endpoint + target, "exp": int(time.time() + lifetime), **claims},
                      emu.access_key, algorithm="HS256")


def request_bytes(emu: Emulator, method: str, target: str, *, body: bytes = b"",
                  headers: Sequence[str] = (), token: Optional[str] = "sign", close: bool = True) -> bytes:
    """`target` is sent exactly as given (raw path and query)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{emu.port}"]
    if close:
        lines.append("Connection: close")
    if token == "sign":
        token = sign(emu, target)
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(headers)
    if body and not any(line.lower().startswith(("content-length:", "transfer-encoding:")) for line in headers):
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n" + body


def connect(emu: Emulator) -> socket.socket:
    return socket.create_connection(("127.0.0.1", emu.port), timeout=WAIT)


def read_response(sock: socket.socket, method: str = "GET") -> RawResponse:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    return RawResponse(response.status, response.headers, response.read())


def exchange(emu: Emulator, data: bytes, method: str = "GET") -> RawResponse:
    """Send raw bytes on a new connection and read one response."""
    with connect(emu) as sock:
        sock.sendall(data)
        return read_response(sock, method)


def call(emu: Emulator, method: str, target: str, body: bytes = b"", headers: Sequence[str] = (),
         token: Optional[str] = "sign") -> RawResponse:
    return exchange(emu, request_bytes(emu, method, target, body=body, headers=headers, token=token), method)


def assert_service_error(response: RawResponse, status: int, code: Optional[str] = None) -> Dict[str, Any]:
    """One of the service's two error bodies, with a matching `x-ms-error-code`: the flat error object
    (application/json, five fields) or, for an invalid filter, ASP.NET's validation problem."""
    assert response.status == status, (response.status, response.body)
    body: Dict[str, Any] = response.json()
    if response.headers["Content-Type"] == "application/problem+json; charset=utf-8":
        assert body["errors"] == {body["target"]: [body["message"]]}, body
    else:
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert set(body) == ERROR_FIELDS, body
    assert response.headers["x-ms-error-code"] == body["code"]
    if code is not None:
        assert body["code"] == code, body
    assert body["message"], body
    return body


def assert_still_serving(emu: Emulator) -> None:
    """The next ordinary request, on a new connection, is answered normally."""
    response = call(emu, "POST", "/api/hubs/chat/:send?api-version=2024-12-01", b"still here",
                    ["Content-Type: text/plain"])
    assert response.status == 202, (response.status, response.body)


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True once the server closed the connection (reading what it sent first), False on timeout."""
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(remaining)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
