"""``odata()`` writes filter literals the way the service's filter language reads them, and refuses what it
cannot write; against the emulator, a filter built with it selects exactly the intended connections."""

from __future__ import annotations

import enum
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator, Tuple

import pytest
from webpubsub_emulator import Emulator

from azure.messaging.webpubsubservice import WebPubSubServiceClient, odata

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "samples"))
from _sample_support import Listener  # noqa: E402


class Level(enum.IntEnum):
    HIGH = 3


class Room(str, enum.Enum):
    LOBBY = "lobby"


RENDERED = [
    ("userId eq {}", ("alice",), "userId eq 'alice'"),
    ("userId eq {}", ("o'brien",), "userId eq 'o''brien'"),
    ("userId eq {}", ("''",), "userId eq ''''''"),
    ("userId eq {}", ("",), "userId eq ''"),
    ("userId eq {}", ("a b/ç{}",), "userId eq 'a b/ç{}'"),
    ("{} in groups", ("room 1",), "'room 1' in groups"),
    ("userId eq {} and {} in groups", ("u", "g"), "userId eq 'u' and 'g' in groups"),
    ("length(userId) gt {}", (5,), "length(userId) gt 5"),
    ("length(userId) gt {}", (-5,), "length(userId) gt -5"),
    ("length(userId) gt {}", (2**63 - 1,), "length(userId) gt 9223372036854775807"),
    ("length(userId) gt {}", (-(2**63),), "length(userId) gt -9223372036854775808"),
    ("length(userId) gt {}", (Level.HIGH,), "length(userId) gt 3"),
    ("x eq {}", (1.5,), "x eq 1.5"),
    ("x eq {}", (1e-05,), "x eq 1e-05"),
    ("x eq {}", (2.0,), "x eq 2.0"),
    ("x eq {}", (True,), "x eq true"),
    ("x eq {}", (False,), "x eq false"),
    ("userId eq {}", (None,), "userId eq null"),
    ("{} in groups", (Room.LOBBY,), "'lobby' in groups"),
    ("userId in {}", (["a", "b'c"],), "userId in ('a', 'b''c')"),
    ("userId in {}", (("a",),), "userId in ('a')"),
    ("userId in {}", ([None, 1, True],), "userId in (null, 1, true)"),
    ("userId ne 'bot'", (), "userId ne 'bot'"),
    ("userId eq 'it''s' or userId eq {}", ("x",), "userId eq 'it''s' or userId eq 'x'"),
    ("userId eq '{{x}}' or userId eq {}", ("y",), "userId eq '{x}' or userId eq 'y'"),
    ("", (), ""),
]


@pytest.mark.parametrize("template, values, expected", RENDERED)
def test_values_become_filter_literals(template: str, values: Tuple[Any, ...], expected: str) -> None:
    assert odata(template, *values) == expected


REFUSED = [
    ("{}", (object(),), TypeError, "cannot write a value of type object"),
    ("{}", (Decimal("1.5"),), TypeError, "type Decimal"),
    ("{}", (b"bytes",), TypeError, "type bytes"),
    ("{}", ({"a": 1},), TypeError, "type dict"),
    ("{}", ([[1]],), TypeError, "type list as a filter literal: pass str, int, float, bool, None$"),
    ("{}", ([],), ValueError, "empty list"),
    ("{}", (float("nan"),), ValueError, "nan has no OData literal"),
    ("{}", (float("inf"),), ValueError, "inf has no OData literal"),
    ("{}", (-float("inf"),), ValueError, "-inf has no OData literal"),
    ("{}", (2**63,), ValueError, "outside the 64-bit integers"),
    ("{}", (-(2**63) - 1,), ValueError, "outside the 64-bit integers"),
    ("{} {}", ("a",), TypeError, "2 {} placeholder\\(s\\) but 1 value\\(s\\)"),
    ("{}", ("a", "b"), TypeError, "1 {} placeholder\\(s\\) but 2 value\\(s\\)"),
    ("userId eq 'x'", ("a",), TypeError, "0 {} placeholder\\(s\\) but 1 value\\(s\\)"),
    ("userId eq {0}", ("a",), ValueError, "placeholders are a bare {}, got {0}"),
    ("userId eq {user}", ("a",), ValueError, "got {user}"),
    ("userId eq {!r}", ("a",), ValueError, "got {!r}"),
    ("userId eq {:>5}", ("a",), ValueError, "got {:>5}"),
    ("userId eq '{}'", ("a",), ValueError, "inside quotes: leave them out"),
    ("userId eq 'it''s {}'", ("a",), ValueError, "inside quotes"),
    ("userId eq {", ("a",), ValueError, "invalid odata\\(\\) template .*Single '{'"),
    ("userId eq }", (), ValueError, "Single '}'"),
]


@pytest.mark.parametrize("template, values, error, message", REFUSED)
def test_what_has_no_literal_or_does_not_fit_is_refused(template: str, values: Tuple[Any, ...], error: type,
                                                        message: str) -> None:
    with pytest.raises(error, match=message):
        odata(template, *values)


def test_the_template_must_be_a_str() -> None:
    with pytest.raises(TypeError, match="template must be a str, not bytes"):
        odata(b"userId eq {}", "a")  # type: ignore[arg-type]


# --- against the emulator ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service() -> Iterator[WebPubSubServiceClient]:
    with Emulator() as emulator:
        with WebPubSubServiceClient.from_connection_string(emulator.connection_string, hub="odata") as client:
            yield client


def connect(service: WebPubSubServiceClient, user_id: str) -> Listener:
    listener = Listener(service.get_client_access_token(user_id=user_id)["url"])
    assert listener.next()["event"] == "connected"
    return listener


def test_a_user_id_with_a_quote_is_matched_exactly(service: WebPubSubServiceClient) -> None:
    with connect(service, "o'brien") as obrien, connect(service, "obrien") as other:
        service.send_to_all("for o'brien", filter=odata("userId eq {}", "o'brien"))
        service.send_to_all("for everyone else", filter=odata("userId ne {}", "o'brien"))
        assert obrien.next()["data"] == "for o'brien"
        assert other.next()["data"] == "for everyone else"


def test_group_filters_with_quotes_and_lists_select_the_members(service: WebPubSubServiceClient) -> None:
    with connect(service, "d'arcy") as darcy, connect(service, "ann") as ann, connect(service, "bob") as bob:
        service.add_connections_to_groups(groups=["it's"], filter=odata("userId in {}", ["d'arcy", "ann"]))
        service.send_to_all("members", filter=odata("{} in groups and userId ne {}", "it's", "ann"))
        service.send_to_all("the rest", filter=odata("not ({} in groups)", "it's"))
        assert darcy.next()["data"] == "members"
        assert bob.next()["data"] == "the rest"
        service.send_to_user("ann", "marker")
        assert ann.next()["data"] == "marker"  # nothing came before it
