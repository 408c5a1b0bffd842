"""What one request may cost: JSON bodies nested too deeply, filters and group lists over their bounds,
the size-bounded filter cache, and hubs that are forgotten once empty."""
from __future__ import annotations

import json
from typing import AsyncIterator, List

import pytest
import pytest_asyncio
from emulator_core_helpers import connect, rest, wait_until

from webpubsub_emulator import Emulator
from webpubsub_emulator._limits import (FILTER_CACHE_BYTES, MAX_FILTER_LENGTH, MAX_FILTER_TOKENS,
                                        MAX_GROUPS_PER_BULK_REQUEST)
from webpubsub_emulator._filter import FilterError, _SizeBoundedCache, compile_filter


DEEP = "[" * 100_000 + "]" * 100_000


@pytest_asyncio.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator() as emulator:
        yield emulator


def in_list(items: int) -> str:
    return "userId in (" + ",".join(f"'u{n}'" for n in range(items)) + ")"


# -- JSON bodies ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, body", [
    ("/api/hubs/chat/:send", DEEP),
    ("/api/hubs/chat/groups/g/:send", '{"a":' * 50_000 + "1" + "}" * 50_000),
    ("/api/hubs/chat/:addToGroups", '{"groups":["g"],"filter":' + DEEP + "}"),
    ("/api/hubs/chat/:removeFromGroups", '{"groups":' + DEEP + "}"),
])
@pytest.mark.asyncio
async def test_json_body_nested_too_deeply_is_400_and_nothing_changes(emu: Emulator, path: str, body: str) -> None:
    client = await connect(emu, groups=["g"])
    result = await rest(emu, "POST", path, body=body, content_type="application/json")
    assert (result.status, result.json()["code"]) == (400, "Error.BadRequest")
    assert result.json()["message"] == "The request body is not valid JSON."
    assert await client.nothing_within(0.1)
    assert (await rest(emu, "POST", "/api/hubs/chat/:send", body="next", content_type="text/plain")).status == 202
    assert (await client.receive_data())["data"] == "next"
    await client.close()


@pytest.mark.asyncio
async def test_invalid_group_in_a_bulk_body_is_400_without_echoing_the_structure(emu: Emulator) -> None:
    nested = "[" * 500 + "1" + "]" * 500
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body='{"groups":["ok",' + nested + "]}",
                        content_type="application/json")
    assert (result.status, result.json()["code"]) == (400, "Error.BadRequest")
    assert "[[" not in result.json()["message"]


# -- group lists --------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_bulk_group_request_over_the_group_bound_is_400_and_joins_nothing(emu: Emulator) -> None:
    client = await connect(emu)
    groups = [f"g{n}" for n in range(MAX_GROUPS_PER_BULK_REQUEST + 1)]
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=json.dumps({"groups": groups}),
                        content_type="application/json")
    assert (result.status, result.json()["target"]) == (400, "groups")
    assert str(MAX_GROUPS_PER_BULK_REQUEST) in result.json()["message"]
    assert (await rest(emu, "HEAD", "/api/hubs/chat/groups/g0")).status == 404
    await client.close()


@pytest.mark.asyncio
async def test_bulk_group_request_at_the_group_bound_works(emu: Emulator) -> None:
    client = await connect(emu)
    groups = [f"g{n}" for n in range(MAX_GROUPS_PER_BULK_REQUEST)]
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=json.dumps({"groups": groups}),
                        content_type="application/json")
    assert result.status == 200
    assert (await rest(emu, "HEAD", f"/api/hubs/chat/groups/g{MAX_GROUPS_PER_BULK_REQUEST - 1}")).status == 200
    await client.close()


# -- filter size ---------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_filter_with_60000_in_items_is_400_and_the_emulator_keeps_serving(emu: Emulator) -> None:
    client = await connect(emu)
    body = json.dumps({"groups": ["g"], "filter": in_list(60_000)})  # 500 KB
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=body, content_type="application/json")
    message = result.json()["message"]
    assert result.status == 400 and message.endswith(f"at most {MAX_FILTER_LENGTH} are allowed. (Parameter 'filter')")
    assert len(message) < 400  # the filter is quoted abbreviated, not echoed whole
    assert await client.request({"type": "ping"}) == {"type": "pong"}
    await client.close()


def test_filter_length_bound_is_checked_before_any_parsing() -> None:
    with pytest.raises(FilterError) as caught:
        compile_filter("userId eq '" + "x" * MAX_FILTER_LENGTH + "'")
    assert caught.value.detail == f"The filter is {MAX_FILTER_LENGTH + 12} characters long; at most " \
                                  f"{MAX_FILTER_LENGTH} are allowed."


def test_filter_token_bound_counts_every_token() -> None:
    items = (MAX_FILTER_TOKENS - 3) // 2  # userId, in, (, the items and the commas between them, )
    compile_filter(in_list(items))
    with pytest.raises(FilterError) as caught:
        compile_filter(in_list(items + 1))
    assert caught.value.detail == f"The filter has more than {MAX_FILTER_TOKENS} tokens."


@pytest.mark.asyncio
async def test_query_filter_over_the_token_bound_is_400(emu: Emulator) -> None:
    text = " or ".join(["true"] * 2600)  # 5,199 tokens in 20 KB: over the token bound, under the length bound
    result = await rest(emu, "POST", "/api/hubs/chat/:addToGroups", body=json.dumps({"groups": ["g"], "filter": text}),
                        content_type="application/json")
    assert (result.status, result.json()["target"]) == (400, "Filter")  # the body property, as the service names it


# -- the compiled-filter cache ---------------------------------------------------------------------------
def test_filter_cache_is_bounded_by_estimated_bytes_not_by_count() -> None:
    cache = _SizeBoundedCache(budget_bytes=200_000)
    small = [f"userId eq 'u{n}'" for n in range(300)]
    for text in small:
        cache.get(text)
    assert len(cache) == 300  # 300 small filters fit
    for n in range(5):
        cache.get(in_list(400 + n))  # each about 100 KB estimated
    assert cache.used_bytes <= cache.budget_bytes
    assert len(cache) < 10  # the large ones pushed the small ones out


def test_filter_cache_keeps_recently_used_entries_and_skips_one_larger_than_its_budget() -> None:
    cache = _SizeBoundedCache(budget_bytes=10_000)
    first = cache.get("userId eq 'first'")
    for n in range(100):
        cache.get(f"userId eq 'filler-{n}'")
        assert cache.get("userId eq 'first'") is first  # hit: the same compiled predicate
    huge = in_list(200)
    predicate = cache.get(huge)
    assert predicate is not cache.get(huge)  # compiled each time, never cached
    assert cache.used_bytes <= cache.budget_bytes
    assert FILTER_CACHE_BYTES >= 1024 * 1024


# -- hubs ---------------------------------------------------------------------------------------------------
@pytest.mark.asyncio
async def test_rest_calls_on_unknown_hubs_answer_as_empty_hubs_and_leave_nothing_behind(emu: Emulator) -> None:
    for n in range(50):
        hub = f"ghost{n}"
        assert (await rest(emu, "POST", f"/api/hubs/{hub}/:send", body="x", content_type="text/plain")).status == 202
        assert (await rest(emu, "HEAD", f"/api/hubs/{hub}/users/u")).status == 404
        assert (await rest(emu, "PUT", f"/api/hubs/{hub}/users/u/groups/g")).status == 404
        listed = await rest(emu, "GET", f"/api/hubs/{hub}/groups/g/connections")
        assert listed.json() == {"value": [], "nextLink": None}
    assert not any(emu.core.find_hub(f"ghost{n}") for n in range(50))


@pytest.mark.asyncio
async def test_a_hub_is_forgotten_when_its_last_connection_ends(emu: Emulator) -> None:
    clients = [await connect(emu, "room", user="u", groups=["g"]) for _ in range(2)]
    assert emu.core.find_hub("room") is not None
    await clients[0].close()
    assert (await rest(emu, "HEAD", "/api/hubs/room/groups/g")).status == 200
    await clients[1].close()
    await wait_until(lambda: emu.core.find_hub("room") is None)
    assert (await rest(emu, "HEAD", "/api/hubs/room/groups/g")).status == 404
    again = await connect(emu, "room", user="u")
    assert (await rest(emu, "HEAD", "/api/hubs/room/users/u")).status == 200
    await again.close()


@pytest.mark.asyncio
async def test_paging_after_a_hub_was_forgotten_and_refilled_skips_nobody(emu: Emulator) -> None:
    old: List[object] = [await connect(emu, "pages", groups=["g"]) for _ in range(2)]
    first = (await rest(emu, "GET", "/api/hubs/pages/groups/g/connections", [("maxpagesize", "1")])).json()
    for client in old:
        await client.close()  # type: ignore[attr-defined]
    await wait_until(lambda: emu.core.find_hub("pages") is None)
    new = [await connect(emu, "pages", groups=["g"]) for _ in range(2)]
    link = first["nextLink"]
    token = link.split("continuationToken=")[1].split("&")[0]
    rest_of_old_listing = await rest(emu, "GET", "/api/hubs/pages/groups/g/connections",
                                     [("continuationToken", token)])
    listed = {item["connectionId"] for item in rest_of_old_listing.json()["value"]}
    assert listed == {client.connection_id for client in new}
    for client in new:
        await client.close()
