"""The official JS SDKs work against our emulator unchanged: the server SDK ``@azure/web-pubsub`` 1.2.0 and the
client SDK ``@azure/web-pubsub-client`` 1.1.0 with its JSON and reliable JSON protocols.

``tests/js/package-lock.json`` pins them; ``npm ci`` installs them once into the git-ignored
``tests/js/node_modules``. ``tests/js/scenarios.mjs`` runs every scenario against the emulator this module
starts and prints what the SDKs reported as JSON; each test checks one scenario. The only change a JS app
needs is the server SDK's ``allowInsecureConnection: true``, because the emulator speaks plain http.
Without node/npm, or when the npm registry cannot be reached, the tests are skipped with that reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest
from eventhandler_test_servers import serve_wsgi
from webpubsub_emulator import DEFAULT_ACCESS_KEY, Emulator, EventHandlerSettings

from azure.messaging.webpubsubservice.eventhandler import (
    EventHandlerError,
    UserEventRequest,
    UserEventResponse,
    WebPubSubEventHandler,
)

JS_DIR = Path(__file__).resolve().parent / "js"
INSTALL_STAMP = JS_DIR / "node_modules" / ".installed-from-lock"
MIN_NODE_MAJOR = 20  # @azure/web-pubsub-client 1.1.0 declares node >= 22 but runs on 20 (its ws transport)
NPM_CI_SECONDS = 180
NPM_FETCH_BOUNDS = ("--fetch-timeout=60000", "--fetch-retries=1", "--fetch-retry-mintimeout=2000",
                    "--fetch-retry-maxtimeout=10000")
SCENARIOS_SECONDS = 120
EVENTS_HUB = "js_events"  # its user events reach the handler below
NETWORK_FAILURE = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|"
                             r"network|proxy|socket hang up|request to https?://\S+ failed", re.IGNORECASE)
PROTOCOLS = pytest.mark.parametrize("protocol", ["json", "reliable"])
# What the service answers for the filter the JS SDK's own tests send (reference: service-limits-and-errors 9.2).
INVALID_FILTER_MESSAGE = ("Invalid syntax for 'invalid filter': Syntax error at position 14 in 'invalid filter'. "
                          "(Parameter 'filter')")

Scenario = Callable[[str], Any]


def _lock_digest() -> str:
    return hashlib.sha256((JS_DIR / "package-lock.json").read_bytes()).hexdigest()


def install_js_sdks() -> None:
    """``npm ci`` once per lock file: a stamp in node_modules remembers which lock it installed."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the official JS SDK tests (node 20+, npm)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    major = re.match(r"v(\d+)\.", version)
    if major is None or int(major.group(1)) < MIN_NODE_MAJOR:
        pytest.skip(f"the official JS SDKs need node {MIN_NODE_MAJOR}+, this machine has {version}")
    if INSTALL_STAMP.exists() and INSTALL_STAMP.read_text() == _lock_digest():
        return
    try:
        finished = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", *NPM_FETCH_BOUNDS], cwd=JS_DIR,
                                  capture_output=True, text=True, timeout=NPM_CI_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm ci did not finish within {NPM_CI_SECONDS} s: is the npm registry reachable?")
    if finished.returncode != 0:
        network_errors = [line for line in finished.stderr.splitlines() if NETWORK_FAILURE.search(line)]
        if network_errors:
            pytest.skip(f"the npm registry is unreachable, so the official JS SDKs cannot be installed "
                        f"({network_errors[0].strip()})")
        pytest.fail(f"npm ci failed in {JS_DIR}:\n{finished.stderr[-3000:]}")
    INSTALL_STAMP.write_text(_lock_digest())


def on_user_event(request: UserEventRequest) -> UserEventResponse:
    if request.context.event_name == "fail":
        raise EventHandlerError(400, "this handler refuses 'fail'")  # 4xx: the emulator does not retry it
    return UserEventResponse({"echo": request.data})


@pytest.fixture(scope="module")
def js_results() -> Iterator[Dict[str, Any]]:
    install_js_sdks()
    handler = WebPubSubEventHandler(EVENTS_HUB, on_user_event=on_user_event, allowed_origins=["127.0.0.1"],
                                    access_keys=[DEFAULT_ACCESS_KEY])
    with serve_wsgi(handler.as_wsgi_app()) as handler_url:
        upstream = EventHandlerSettings(f"{handler_url}/eventhandler", system_events=())
        with Emulator(event_handlers={EVENTS_HUB: upstream}) as emulator:
            env = dict(os.environ, WEBPUBSUB_CONNECTION_STRING=emulator.connection_string,
                       WEBPUBSUB_EVENTS_HUB=EVENTS_HUB)
            finished = subprocess.run(["node", "scenarios.mjs"], cwd=JS_DIR, env=env, capture_output=True,
                                      text=True, timeout=SCENARIOS_SECONDS)
    assert finished.returncode == 0, f"scenarios.mjs failed:\n{finished.stderr[-3000:]}"
    yield json.loads(finished.stdout)


@pytest.fixture(scope="module")
def scenario(js_results: Dict[str, Any]) -> Scenario:
    """``scenario(name)`` is what that scenario returned; a scenario that threw fails the test with its stack."""

    def result(name: str) -> Any:
        outcome = js_results[name]
        if not outcome["ok"]:
            pytest.fail(f"scenario {name} failed in node:\n{outcome['error']}", pytrace=False)
        return outcome["result"]

    return result


def datas(events: List[Dict[str, Any]]) -> List[Any]:
    return [event["data"] for event in events]


def closing_events(connection_id: str, reason: str) -> List[Dict[str, Any]]:
    """What a client with autoReconnect off reports when the service closes it with ``reason``."""
    return [
        {"event": "connected", "connectionId": connection_id, "message": None},
        {"event": "disconnected", "connectionId": connection_id,
         "message": {"type": "system", "event": "disconnected", "message": reason, "kind": "disconnected"}},
        {"event": "stopped", "connectionId": None, "message": None},
    ]


# -- server SDK: sends --------------------------------------------------------------------------------------
def test_send_to_all_delivers_text_json_and_binary(scenario: Scenario) -> None:
    assert scenario("send_to_all_text_json_binary") == [
        {"from": "server", "dataType": "text", "data": "plain text", "group": None},
        {"from": "server", "dataType": "json", "data": {"hello": "json", "n": 1}, "group": None},
        {"from": "server", "dataType": "json", "data": "a JSON string", "group": None},
        {"from": "server", "dataType": "binary", "data": {"base64": "AAH/"}, "group": None},
        {"from": "server", "dataType": "binary", "data": {"base64": "Bwg="}, "group": None},
    ]


def test_send_to_all_filter_selects_by_user_and_group(scenario: Scenario) -> None:
    assert scenario("send_to_all_filter") == {"alice": ["only alice", "only vip", {"everyone": True}],
                                              "bob": [{"everyone": True}]}


def test_send_to_all_skips_excluded_connections(scenario: Scenario) -> None:
    assert scenario("send_to_all_excluded_connections") == {"alice": ["for both"], "bob": ["not for alice", "for both"]}


def test_group_send_reaches_members_only_with_excluded_and_filter(scenario: Scenario) -> None:
    seen = scenario("send_to_group")
    room = {"event": "group-message", "from": "group", "group": "room", "fromUserId": None}
    assert seen["alice"] == [{**room, "dataType": "text", "data": "hi room"},
                             {**room, "dataType": "binary", "data": {"base64": "AQID"}}]
    assert seen["bob"] == [{**room, "dataType": "text", "data": "hi room"},
                           {**room, "dataType": "json", "data": {"json": "for the room"}}]
    assert seen["carol"] == []


def test_send_to_user_reaches_each_connection_of_the_user_and_send_to_connection_one(scenario: Scenario) -> None:
    assert scenario("send_to_user_and_connection") == {
        "alice1": ["to alice"], "alice2": ["to alice", {"filtered": True}], "bob": [{"base64": "CQ=="}]}


def test_invalid_filter_is_refused_with_the_services_message(scenario: Scenario) -> None:
    refused = {"statusCode": 400, "message": INVALID_FILTER_MESSAGE}
    assert scenario("invalid_filter") == {"sendToAll": refused, "sendToUser": refused, "groupSendToAll": refused,
                                          "addConnectionsToGroups": refused}


# -- server SDK: groups, users, connections -----------------------------------------------------------------
def test_group_membership_by_connection_user_filter_and_all_groups(scenario: Scenario) -> None:
    steps = scenario("group_membership")
    assert {name: value for name, value in steps.items() if not isinstance(value, dict)} == {
        "before": False, "afterAddConnection": True, "afterRemoving": False, "afterBulkAdd": [True, True],
        "afterBulkRemove": [False, True], "afterRemoveConnectionFromAll": False, "afterRemoveUserFromAll": False,
        "removeMissingConnection": None}
    assert (steps["addMissingConnection"]["statusCode"], steps["addMissingConnection"]["message"]) == (
        404, "Connection `no-such-connection` is not found.")
    assert steps["addUserWithoutConnection"] == {"name": "RestError", "message": "User `nobody` is not found.",
                                                 "statusCode": 404, "code": "Warning.User.NotExisted"}


def test_missing_connection_errors_carry_the_services_error_codes(scenario: Scenario) -> None:
    # Recorded from the service (reference: service-limits-and-errors 9.1); the JS SDK exposes them as RestError.code.
    assert scenario("group_membership")["addMissingConnection"]["code"] == "Error.Connection.NotExisted"
    assert scenario("permissions")["grantMissingConnection"]["code"] == "Info.Connection.NotExisted"


def test_list_connections_in_group_pages_through_every_member(scenario: Scenario) -> None:
    listed = scenario("list_connections_in_group")
    members = {member["connectionId"]: member["userId"] for member in listed["members"]}
    assert members == listed["expected"]
    assert [len(page) for page in listed["pages"]] == [1, 1]
    assert {connection for page in listed["pages"] for connection in page} == set(listed["expected"])
    assert listed["empty"] == []


def test_user_connection_and_group_exists(scenario: Scenario) -> None:
    assert scenario("exists") == {"userExists": True, "userMissing": False, "connectionExists": True,
                                  "connectionMissing": False, "groupExists": True, "groupMissing": False}


# -- server SDK: closing ------------------------------------------------------------------------------------
def test_close_connection_tells_the_client_the_reason(scenario: Scenario) -> None:
    closed = scenario("close_connection")
    assert closed["events"] == closing_events(closed["connectionId"], "bye alice")
    assert (closed["aliceExists"], closed["bobExists"], closed["closeMissing"]) == (False, True, None)


def test_close_user_connections_closes_each_of_them(scenario: Scenario) -> None:
    closed = scenario("close_user_connections")
    for events in closed["events"]:
        assert events == closing_events(events[0]["connectionId"], "bye alice")
    assert (closed["aliceExists"], closed["bobExists"], closed["bobEvents"]) == (False, True, ["connected"])


def test_close_group_connections_closes_members_only(scenario: Scenario) -> None:
    closed = scenario("close_group_connections")
    assert closed["events"] == closing_events(closed["events"][0]["connectionId"], "room closed")
    assert (closed["aliceExists"], closed["bobExists"]) == (False, True)


def test_close_all_connections(scenario: Scenario) -> None:
    closed = scenario("close_all_connections")
    for events in closed["events"]:
        assert events == closing_events(events[0]["connectionId"], "maintenance")
    assert closed["exists"] == [False, False]


# -- server SDK: permissions and tokens ---------------------------------------------------------------------
def test_grant_revoke_and_check_permission_govern_what_the_client_may_do(scenario: Scenario) -> None:
    seen = scenario("permissions")
    forbidden_join = {"name": "Forbidden", "message": "The connection has no permission to join or leave group 'room'."}
    forbidden_send = {"name": "Forbidden", "message": "The connection has no permission to send to group 'room'."}
    assert seen["initially"] == {"join": False, "send": False}
    assert (seen["joinDenied"]["errorDetail"], seen["sendDenied"]["errorDetail"]) == (forbidden_join, forbidden_send)
    assert seen["granted"] == {"join": True, "send": True, "otherGroup": False}
    assert (seen["joinAllowed"], seen["sendAllowed"], seen["bobReceived"]) == (None, None, ["from alice"])
    assert (seen["revoked"], seen["sendAfterRevoke"]["errorDetail"]) == (False, forbidden_send)
    assert seen["missingConnection"] is False
    assert seen["grantMissingConnection"]["statusCode"] == 404


def test_client_access_token_carries_user_roles_groups_and_lifetime(scenario: Scenario) -> None:
    token = scenario("client_access_token")
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/client/hubs/" + token["hub"], token["baseUrl"])
    assert token["urlHasToken"]
    assert token["claims"] == {"sub": "alice", "role": ["webpubsub.sendToGroup", "webpubsub.joinLeaveGroup.lobby"],
                               "group": ["room"], "aud": token["baseUrl"].replace("ws://", "http://"),
                               "lifetime": 300}
    assert (token["bareClaims"], token["bareLifetime"]) == (["aud", "exp", "iat"], 3600)


def test_client_access_token_identity_groups_and_roles_take_effect(scenario: Scenario) -> None:
    token = scenario("client_access_token")
    assert (token["connectedUserId"], token["anonymousUserId"], token["groupMessage"]) == ("alice", None, "to the room")
    assert (token["sendToAnyGroup"], token["joinLobby"]) == (None, None)
    assert token["joinElsewhere"]["errorDetail"]["name"] == "Forbidden"


def test_expired_or_forged_tokens_are_refused_with_401(scenario: Scenario) -> None:
    refused = scenario("client_access_token_expired_or_wrong_key")
    assert refused["expired"]["message"] == refused["forged"]["message"] == "Unexpected server response: 401"
    assert (refused["restWithWrongKey"]["name"], refused["restWithWrongKey"]["statusCode"]) == ("RestError", 401)


# -- client SDK, with both JSON protocols --------------------------------------------------------------------
@PROTOCOLS
def test_client_start_connects_and_stop_ends_the_connection(scenario: Scenario, protocol: str) -> None:
    seen = scenario(f"client_start_and_stop[{protocol}]")
    assert [event["userId"] for event in seen["connected"]] == ["alice"]
    assert seen["events"] == ["connected", "disconnected", "stopped"]
    assert (seen["existsWhileOpen"], seen["goneAfterStop"]) == (True, True)


@PROTOCOLS
def test_client_join_send_to_group_with_acks_and_leave(scenario: Scenario, protocol: str) -> None:
    seen = scenario(f"client_group_round_trip[{protocol}]")
    ack = {"isDuplicated": False}
    assert seen["acks"] == {"aliceJoin": {**ack, "ackId": 1}, "bobJoin": {**ack, "ackId": 1},
                            "text": {**ack, "ackId": 2}, "json": {**ack, "ackId": 3}, "binary": {**ack, "ackId": 4},
                            "fireAndForget": ack, "bobLeave": {**ack, "ackId": 2}}
    sent = {"group": "room", "fromUserId": "alice", "hasSequenceId": protocol == "reliable"}
    assert seen["bob"] == [{**sent, "dataType": "text", "data": "hello"},
                           {**sent, "dataType": "json", "data": {"hello": ["json"]}},
                           {**sent, "dataType": "binary", "data": {"base64": "AQID"}},
                           {**sent, "dataType": "text", "data": "no ack"}]
    assert seen["bobCountAfterLeaving"] == 4


@PROTOCOLS
def test_client_no_echo_keeps_the_senders_own_message_from_it(scenario: Scenario, protocol: str) -> None:
    assert scenario(f"client_no_echo[{protocol}]") == {"alice": ["loud"], "bob": ["quiet", "loud"]}


@PROTOCOLS
def test_client_repeated_ack_id_is_reported_duplicate_and_not_resent(scenario: Scenario, protocol: str) -> None:
    assert scenario(f"client_duplicate_ack_id[{protocol}]") == {
        "first": {"ackId": 42, "isDuplicated": False}, "second": {"ackId": 42, "isDuplicated": True},
        "received": ["once"]}


@PROTOCOLS
def test_client_send_event_reaches_the_handler_and_gets_its_reply(scenario: Scenario, protocol: str) -> None:
    seen = scenario(f"client_send_event[{protocol}]")
    assert (seen["answered"], seen["text"]) == ({"ackId": 1, "isDuplicated": False}, {"ackId": 2, "isDuplicated": False})
    assert seen["fireAndForget"] == {"isDuplicated": False}
    reply = {"from": "server", "dataType": "json"}
    assert seen["replies"] == [{**reply, "data": {"echo": {"text": "hi"}}}, {**reply, "data": {"echo": "plain"}},
                               {**reply, "data": {"echo": "ff"}}]


@PROTOCOLS
def test_client_send_event_the_handler_refuses_fails_its_ack_and_keeps_the_connection(
        scenario: Scenario, protocol: str) -> None:
    seen = scenario(f"client_send_event[{protocol}]")
    assert (seen["failed"]["name"], seen["failed"]["errorDetail"]["name"]) == ("SendMessageError", "InternalServerError")
    assert seen["stillConnected"] is True


@PROTOCOLS
def test_client_reports_a_server_close_with_its_reason(scenario: Scenario, protocol: str) -> None:
    closed = scenario(f"client_server_close_is_reported[{protocol}]")
    assert closed["events"] == closing_events(closed["connectionId"], "kicked")


@PROTOCOLS
def test_client_reconnects_after_a_server_close_as_a_new_connection_and_rejoins(scenario: Scenario,
                                                                                protocol: str) -> None:
    seen = scenario(f"client_reconnects_after_server_close[{protocol}]")
    first, second = seen["first"], seen["second"]
    assert first != second and seen["negotiations"] == 2
    assert seen["events"] == [
        {"event": "connected", "connectionId": first, "message": None},
        {"event": "disconnected", "connectionId": first,
         "message": {"type": "system", "event": "disconnected", "message": "restart", "kind": "disconnected"}},
        {"event": "connected", "connectionId": second, "message": None},
        {"event": "group-message", "connectionId": None, "message": None},
    ]


def test_reliable_client_recovers_a_dropped_socket_with_the_same_connection(scenario: Scenario) -> None:
    seen = scenario("client_survives_a_dropped_socket[reliable]")
    assert len(seen["connected"]) == 1 and seen["originalExists"] is True
    assert seen["events"] == [  # no disconnected event; what was sent meanwhile is replayed once
        {"event": "connected", "data": None},
        {"event": "server-message", "data": "before the drop"},
        {"event": "server-message", "data": "during the drop"},
        {"event": "group-message", "data": "to the room during the drop"},
        {"event": "server-message", "data": "after the drop"},
    ]


def test_json_client_reconnects_after_a_dropped_socket_as_a_new_connection(scenario: Scenario) -> None:
    seen = scenario("client_survives_a_dropped_socket[json]")
    first, second = seen["connected"]
    assert first != second and (seen["originalExists"], seen["currentExists"]) == (False, True)
    assert seen["events"] == [  # what was sent while it was away is lost: the plain JSON protocol keeps nothing
        {"event": "connected", "data": None},
        {"event": "server-message", "data": "before the drop"},
        {"event": "disconnected", "data": None},
        {"event": "connected", "data": None},
        {"event": "server-message", "data": "after the drop"},
    ]


@PROTOCOLS
def test_client_keep_alive_pings_are_answered(scenario: Scenario, protocol: str) -> None:
    assert scenario(f"client_keep_alive[{protocol}]") == {"events": ["connected"]}
