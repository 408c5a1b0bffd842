"""Wildcard group roles: the service's pattern syntax and limits (service-limits-and-errors.md section 5)."""
from __future__ import annotations

from typing import AsyncIterator, List, Tuple

import pytest
import pytest_asyncio
from emulator_core_helpers import connect, rest

from webpubsub_emulator import Emulator
from webpubsub_emulator._permissions import (JOIN_LEAVE, MAX_LITERALS, MAX_PATTERNS, SEND, InvalidPattern,
                                             Permissions, TooManyRules, compile_group_pattern)


def join_allowed(pattern: str, group: str) -> bool:
    return Permissions([f"webpubsub.joinLeaveGroups.{pattern}"]).allows(JOIN_LEAVE, group)


MATCHES: List[Tuple[str, str, bool]] = [
    # the documented test vectors
    ("chat-*", "chat-1", True),
    ("chat-*", "chat-room", True),
    ("chat-*", "chat.1", False),
    ("chat-*", "xchat-1", False),
    ("clientA.*", "clientA.alpha", True),
    ("clientA.*", "clientA.alpha.room1", False),
    ("clientA.**", "clientA.alpha", True),
    ("clientA.**", "clientA.alpha.room1", True),
    ("clientA.rooms.?1", "clientA.rooms.a1", True),
    ("clientA.rooms.?1", "clientA.rooms.11", True),
    ("clientA.rooms.?1", "clientA.rooms.1", False),
    ("clientA.rooms.?1", "clientA.rooms.a.1", False),
    (r"literal\*star", "literal*star", True),
    (r"literal\*star", "literalXstar", False),
    # '*' within a segment, '**' across, '?' one character other than '.'
    ("chat-*", "chat-", True),
    ("*", "anything", True),
    ("*", "a.b", False),
    ("*.*", "a.b", True),
    ("*.*", "a.b.c", False),
    ("**", "a.b.c", True),
    ("**", "", True),
    ("a.**.z", "a.b.c.z", True),
    ("a.**.z", "a..z", True),
    ("a.**.z", "a.z", False),
    ("a***", "a.b.c", True),  # three or more '*' act as '**'
    ("?", "a", True),
    ("?", ".", False),
    ("?", "ab", False),
    ("??-*", "ab-", True),
    # escapes and characters that mean something to regular expressions
    (r"a\?", "a?", True),
    (r"a\?", "ab", False),
    ("a\\\\b", "a\\b", True),
    (r"a\\*", "a\\xyz", True),
    ("a+b.*", "a+b.x", True),
    ("a+b.*", "aab.x", False),
    ("(x)[y]{z}$^|*", "(x)[y]{z}$^|end", True),
    # ordinal, case-sensitive
    ("Chat-*", "chat-1", False),
    ("chat-*", "CHAT-1", False),
    ("grüße-*", "grüße-1", True),
]


@pytest.mark.parametrize(("pattern", "group", "expected"), MATCHES)
def test_pattern_matching(pattern: str, group: str, expected: bool) -> None:
    assert join_allowed(pattern, group) is expected


INVALID: List[Tuple[str, str]] = [
    ("a*b*c*d*e*f*", "Too many '*' in the pattern, exceeding the maximum allowed complexity of 5."),
    ("***.***", "Too many '*' in the pattern"),
    ("**.**.**", "Too many '*' in the pattern"),
    (r"a\*\*\*\*\*\*", "Too many '*' in the pattern"),  # the limit counts '*' characters, escaped or not
    ("a\\", "'\\' must be followed by"),
    (r"a\b*", "'\\' must be followed by"),
    ("a" * 1024 + "*", "longer than 1024 characters"),
]


@pytest.mark.parametrize(("pattern", "reason"), INVALID, ids=lambda value: str(value)[:30])
def test_invalid_patterns_are_refused_and_their_roles_skipped(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidPattern) as caught:
        compile_group_pattern(pattern)
    assert reason in str(caught.value)
    assert not join_allowed(pattern, "a")


@pytest.mark.parametrize("pattern", ["a*b*c*d*e*", "a**b**c*", "x" * 1023 + "*"])
def test_patterns_at_the_limits_are_valid(pattern: str) -> None:
    compile_group_pattern(pattern)


def test_a_pattern_without_wildcards_is_a_literal_group() -> None:
    assert compile_group_pattern(r"a\*b\?c\\") == "a*b?c\\"
    assert join_allowed(r"a\*b", "a*b") and not join_allowed(r"a\*b", "aXb")


def test_double_star_alone_is_every_group_like_the_unscoped_role() -> None:
    permissions = Permissions(["webpubsub.sendToGroups.**"])
    assert permissions.allows(SEND, "x.y.z") and not permissions.allows(JOIN_LEAVE, "x")


def test_patterns_beyond_nine_per_permission_are_skipped() -> None:
    roles = [f"webpubsub.joinLeaveGroups.g{index}-*" for index in range(MAX_PATTERNS + 1)]
    permissions = Permissions(roles + ["webpubsub.sendToGroups.s-*"])
    assert [permissions.allows(JOIN_LEAVE, f"g{index}-x") for index in range(MAX_PATTERNS + 1)] == \
        [True] * MAX_PATTERNS + [False]
    assert permissions.allows(SEND, "s-x")  # the limit is per permission


def test_literal_roles_beyond_1000_per_permission_are_skipped() -> None:
    permissions = Permissions([f"webpubsub.joinLeaveGroup.g{index}" for index in range(MAX_LITERALS + 1)])
    assert permissions.allows(JOIN_LEAVE, f"g{MAX_LITERALS - 1}")
    assert not permissions.allows(JOIN_LEAVE, f"g{MAX_LITERALS}")


def test_grants_and_revokes_share_the_1000_literal_entries() -> None:
    permissions = Permissions()
    for index in range(MAX_LITERALS // 2):
        permissions.grant(SEND, f"a{index}")
        permissions.revoke(SEND, f"r{index}")
    permissions.grant(SEND, "r0")  # changing an existing entry needs no new one
    with pytest.raises(TooManyRules):
        permissions.revoke(SEND, "one-more")
    assert permissions.allows(SEND, "r0") and not permissions.allows(SEND, "one-more")


def test_literal_entries_decide_before_patterns_and_the_every_group_role() -> None:
    permissions = Permissions(["webpubsub.joinLeaveGroup", "webpubsub.joinLeaveGroups.room-*"])
    permissions.revoke(JOIN_LEAVE, "room-1")
    assert not permissions.allows(JOIN_LEAVE, "room-1")
    assert permissions.allows(JOIN_LEAVE, "room-2") and permissions.allows(JOIN_LEAVE, "other")
    permissions.grant(JOIN_LEAVE, "room-1")
    assert permissions.allows(JOIN_LEAVE, "room-1")


# -- end to end: JSON clients joining and sending --------------------------------------------------------
@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


@pytest.mark.asyncio
async def test_clients_join_and_send_where_their_patterns_allow(emu: Emulator) -> None:
    client = await connect(emu, roles=["webpubsub.joinLeaveGroups.chat-*", "webpubsub.sendToGroups.clientA.**"])
    joined = await client.request({"type": "joinGroup", "group": "chat-1", "ackId": 1})
    refused = await client.request({"type": "joinGroup", "group": "chat.1", "ackId": 2})
    sent = await client.request({"type": "sendToGroup", "group": "clientA.x.y", "data": "hi", "dataType": "text",
                                 "ackId": 3})
    not_sent = await client.request({"type": "sendToGroup", "group": "clientB.x", "data": "hi", "dataType": "text",
                                     "ackId": 4})
    assert [joined["success"], refused["success"], sent["success"], not_sent["success"]] == [True, False, True, False]
    assert refused["error"]["name"] == not_sent["error"]["name"] == "Forbidden"
    await client.close()


@pytest.mark.asyncio
async def test_a_token_with_invalid_and_surplus_patterns_still_connects(emu: Emulator) -> None:
    roles = ["webpubsub.joinLeaveGroups.a*b*c*d*e*f*", "webpubsub.joinLeaveGroups.bad\\"]
    roles += [f"webpubsub.joinLeaveGroups.p{index}-?" for index in range(MAX_PATTERNS + 1)]
    client = await connect(emu, roles=roles)
    assert client.connection_id
    kept = await client.request({"type": "joinGroup", "group": "p0-x", "ackId": 1})
    skipped = await client.request({"type": "joinGroup", "group": f"p{MAX_PATTERNS}-x", "ackId": 2})
    assert (kept["success"], skipped["success"]) == (True, False)
    await client.close()


@pytest.mark.asyncio
async def test_a_rest_revoke_beats_a_pattern_until_granted_again(emu: Emulator) -> None:
    client = await connect(emu, roles=["webpubsub.joinLeaveGroups.room-*"])
    path = f"/api/hubs/chat/permissions/joinLeaveGroup/connections/{client.connection_id}"
    assert (await rest(emu, "DELETE", path, [("targetName", "room-2")])).status == 204
    assert (await rest(emu, "HEAD", path, [("targetName", "room-2")])).status == 404
    assert (await rest(emu, "HEAD", path, [("targetName", "room-3")])).status == 200
    assert (await client.request({"type": "joinGroup", "group": "room-2", "ackId": 1}))["success"] is False
    assert (await rest(emu, "PUT", path, [("targetName", "room-2")])).status == 200
    assert (await client.request({"type": "joinGroup", "group": "room-2", "ackId": 2}))["success"] is True
    await client.close()


@pytest.mark.asyncio
async def test_a_grant_past_the_literal_limit_is_409_and_changes_nothing(emu: Emulator) -> None:
    client = await connect(emu)
    permissions = emu.core.hub("chat").connections[client.connection_id or ""].permissions
    for index in range(MAX_LITERALS):
        permissions.grant(SEND, f"g{index}")
    path = f"/api/hubs/chat/permissions/sendToGroup/connections/{client.connection_id}"
    result = await rest(emu, "PUT", path, [("targetName", "one-more")])
    assert (result.status, result.header("x-ms-error-code")) == (409, "Error.Conflict")
    assert (await rest(emu, "HEAD", path, [("targetName", "one-more")])).status == 404
    assert (await rest(emu, "PUT", path, [("targetName", "g7")])).status == 200  # an existing entry is fine
    await client.close()
