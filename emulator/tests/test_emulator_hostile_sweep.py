"""A sweep over malformed requests to every kind of REST operation, all correctly signed: each gets a 4xx
with the service's error body (never a 500) and the emulator answers the next request.

The shapes come from fuzzing the emulator with schemathesis against the service's OpenAPI spec and from
the hostile-input issue; they are fixed here so the test is deterministic and fast.
"""
from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple

import pytest
from emulator_hostile_helpers import assert_service_error, assert_still_serving, call

from webpubsub_emulator import Emulator

V = "api-version=2024-12-01"
TEXT = ["Content-Type: text/plain"]
JSON = ["Content-Type: application/json"]
DEEP = b"[" * 3000 + b"]" * 3000

# (method, target, body, headers, status)
Case = Tuple[str, str, bytes, Sequence[str], int]
CASES: List[Case] = [
    # send bodies
    ("POST", f"/api/hubs/chat/:send?{V}", b"\xff\xfe", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}", b"{", JSON, 400),
    ("POST", f"/api/hubs/chat/:send?{V}", b"", JSON, 400),
    ("POST", f"/api/hubs/chat/:send?{V}", b"NaN", JSON, 400),
    ("POST", f"/api/hubs/chat/:send?{V}", DEEP, JSON, 400),
    ("POST", f"/api/hubs/chat/:send?{V}", b'{"a":' * 3000 + b"1" + b"}" * 3000, ["Content-Type: application/json; charset=utf-8"], 400),
    ("POST", f"/api/hubs/chat/users/u/:send?{V}", b"x", ["Content-Type: image/png"], 415),
    ("POST", f"/api/hubs/chat/groups/g/:send?{V}", b"x", [], 415),
    ("POST", f"/api/hubs/chat/connections/c/:send?{V}", b"x", ["Content-Type: ;;;=="], 415),
    ("POST", f"/api/hubs/chat/:send?{V}", b"x", ["Content-Type: text/plain", "Content-Encoding: gzip"], 400),
    # query values
    ("POST", f"/api/hubs/chat/:send?{V}&messageTtlSeconds=301", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&messageTtlSeconds=%D9%A5", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&messageTtlSeconds=1&messageTtlSeconds=2", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&filter=invalid%20filter", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&filter=" + "(" * 1000 + "true" + ")" * 1000, b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&filter=length(userId)%20eq%20" + "9" * 400, b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&filter=%27%00%27%20eq%20userId%20or", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/:send?{V}&filter=a&filter=b", b"x", TEXT, 400),
    # bulk group bodies
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b"[]", JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":"g"}', JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":[]}', JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":[null]}', JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":[" "]}', JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":["' + b"g" * 1025 + b'"]}', JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":["g"],"filter":5}', JSON, 400),
    ("POST", f"/api/hubs/chat/:addToGroups?{V}", b'{"groups":["g"],"filter":"userId eq"}', JSON, 400),
    ("POST", f"/api/hubs/chat/:removeFromGroups?{V}", b'{"groups":["g"]}', TEXT, 415),
    ("POST", f"/api/hubs/chat/:removeFromGroups?{V}", b'{"groups":' + DEEP + b"}", JSON, 400),
    # path values
    ("POST", f"/api/hubs/1chat/:send?{V}", b"x", TEXT, 400),
    ("POST", f"/api/hubs/{'h' * 129}/:send?{V}", b"x", TEXT, 400),
    ("POST", f"/api/hubs/ch%C3%A4t/:send?{V}", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat%00/:send?{V}", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat%0A/:send?{V}", b"x", TEXT, 400),
    ("POST", f"/api/hubs/chat/users//:send?{V}", b"x", TEXT, 400),
    ("HEAD", f"/api/hubs/chat/groups/%20?{V}", b"", [], 400),
    ("PUT", f"/api/hubs/chat/permissions/admin/connections/c?{V}&targetName=g", b"", [], 400),
    ("PUT", f"/api/hubs/chat/groups/g/connections/nobody?{V}", b"", [], 404),
    ("GET", f"/api/hubs/chat/groups/g/connections/extra?{V}", b"", [], 405),
    ("GET", f"/api/hubs/chat/groups/g/connections/extra/more?{V}", b"", [], 404),
    ("POST", f"/api/hubs/chat/:nothing?{V}", b"", [], 404),
    ("POST", f"/api/hubs?{V}", b"", [], 404),
    ("DELETE", f"/api/hubs/chat/:send?{V}", b"", [], 405),
    # paging and tokens
    ("GET", f"/api/hubs/chat/groups/g/connections?{V}&maxpagesize=0", b"", [], 400),
    ("GET", f"/api/hubs/chat/groups/g/connections?{V}&maxpagesize=201", b"", [], 400),
    ("GET", f"/api/hubs/chat/groups/g/connections?{V}&top=0", b"", [], 400),
    ("GET", f"/api/hubs/chat/groups/g/connections?{V}&continuationToken=%25%25", b"", [], 400),
    ("GET", f"/api/hubs/chat/groups/g/connections?{V}&continuationToken=YXdwcy1wYWdlOsKy", b"", [], 400),
    ("POST", f"/api/hubs/chat/:generateToken?{V}&minutesToExpire=0", b"", [], 400),
    ("POST", f"/api/hubs/chat/:generateToken?{V}&minutesToExpire=99999999999", b"", [], 400),
    ("POST", f"/api/hubs/chat/:generateToken?{V}&clientType=SocketIO2", b"", [], 400),
    ("POST", f"/api/hubs/chat/:generateToken?{V}&group=%20", b"", [], 400),
]


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.mark.parametrize("method, target, body, headers, status", CASES,
                         ids=[f"{index:02d}-{case[0]}-{case[1][:50]}" for index, case in enumerate(CASES)])
def test_malformed_request_gets_a_4xx_with_the_error_body(emu: Emulator, method: str, target: str, body: bytes,
                                                        headers: Sequence[str], status: int) -> None:
    response = call(emu, method, target, body, headers)
    if method == "HEAD":
        assert (response.status, response.body) == (status, b"")
        assert response.headers["x-ms-error-code"]
    else:
        assert_service_error(response, status)
    assert_still_serving(emu)
