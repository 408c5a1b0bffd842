"""``context.time``: the CloudEvents ``ce-time`` of an event, parsed with isodate into an aware UTC datetime."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import List, Optional

import pytest

from azure.messaging.webpubsubservice.eventhandler import UserEventRequest
from test_eventhandler_core import MESSAGE, event_headers, make_handler, post


def time_seen(ce_time: Optional[str]) -> List[Optional[datetime]]:
    seen: List[Optional[datetime]] = []

    def on_user_event(request: UserEventRequest) -> None:
        seen.append(request.context.time)

    handler = make_handler(on_user_event=on_user_event)
    response = post(handler, event_headers(MESSAGE, ce_time=ce_time, Content_Type="text/plain"), b"hi")
    assert response.status == 204, response.body
    return seen


@pytest.mark.parametrize("ce_time, expected", [
    ("2024-05-01T08:00:00Z", datetime(2024, 5, 1, 8, tzinfo=timezone.utc)),
    ("2024-05-01T08:00:00.123Z", datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=timezone.utc)),
    # Seven fractional digits (as .NET writes them) and a Z: datetime.fromisoformat refuses both before 3.11.
    ("2024-05-01T08:00:00.1234567Z", datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)),
    ("2024-05-01T10:00:00+02:00", datetime(2024, 5, 1, 8, tzinfo=timezone.utc)),
])
def test_ce_time_becomes_an_aware_utc_datetime(ce_time: str, expected: datetime) -> None:
    [seen] = time_seen(ce_time)
    assert seen == expected and seen is not None and seen.utcoffset() == timedelta(0)
    assert seen.tzinfo is timezone.utc


def test_an_event_without_ce_time_has_no_time() -> None:
    assert time_seen(None) == [None]


@pytest.mark.parametrize("ce_time", ["yesterday", "2024-05-01", "2024-13-01T08:00:00Z", "2024-05-01T08:00:00", ""])
def test_a_malformed_ce_time_is_refused_with_400_naming_the_header(ce_time: str) -> None:
    called: List[object] = []
    handler = make_handler(on_user_event=called.append)
    response = post(handler, event_headers(MESSAGE, ce_time=ce_time, Content_Type="text/plain"), b"hi")
    assert response.status == 400
    assert response.body.decode() == f"ce-time must be an RFC 3339 timestamp with a UTC offset, got {ce_time!r}"
    assert called == []
