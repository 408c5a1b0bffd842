"""Web PubSub's rules for MQTT clients, and the emulator's choices where the service's docs are silent.

Every choice the reference leaves "unverified" is made here and nowhere else; the README's emulator
section lists them. Codes are MQTT 3.1.1 CONNACK return codes (``V311_*``) and MQTT 5.0 reason codes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple

MQTT_SUBPROTOCOLS = ("mqtt", "mqttv3.1")  # also accepted: no subprotocol at all (choice)
MAX_PACKET_BYTES = 1024 * 1024  # the service's 1 MB inbound message limit, applied per MQTT packet
CONNECT_TIMEOUT_SECONDS = 10.0  # a WebSocket that sends no CONNECT in time is closed (choice)
KEEP_ALIVE_RANGE = (1, 180)  # documented for 3.1.1
KEEP_ALIVE_FACTOR = 1.5  # nothing received for 1.5 x keep-alive ends the network connection (documented)
KEEP_ALIVE_REASON = ("An mqtt session is ended.  Reason: No packet has been received for 1.5 times the "
                     "Keepalive time.")  # the service's text, two spaces included
MAX_WILL_TOPIC_CHARS = 1024
MAX_WILL_PAYLOAD_BYTES = 2000
DEFAULT_SESSION_EXPIRY_MAX_SECONDS = 30  # the service keeps a session up to 30 s after its connection drops
MAX_QUEUED_MESSAGES = 1000  # QoS 1/2 messages waiting for a session; more ends it with 0x97 (choice)
SUBSCRIPTION_DEFAULT_QOS = 0  # groups joined by token, connect response or REST: MQTT's default options

SERVER_MESSAGES_TOPIC = "$webpubsub/server/messages"  # REST send to all / user / connection
EVENT_TOPIC_PREFIX = "$webpubsub/server/events/"  # PUBLISH here = user event to the event handler
RESERVED_TOPIC_PREFIX = "$webpubsub/"
STATUS_CODE_PROPERTY = "azure-status-code"
EVENT_HEADER_PREFIX = "mqtt-"  # user properties travel to and from the event handler as mqtt-* headers
# Content Type <-> data kind: _messages.MEDIA_TYPES (the cross-protocol table); no or another type = binary.

_CLIENT_ID = re.compile(r"^[0-9A-Za-z]{1,128}$")
_CLIENT_ID_WITH_UNDERSCORE = re.compile(r"^[0-9A-Za-z_]{1,128}$")


# 5.0 reason codes used by the emulator.
UNSPECIFIED_ERROR = 0x80
PROTOCOL_ERROR = 0x82
IMPLEMENTATION_SPECIFIC = 0x83
UNSUPPORTED_VERSION = 0x84
CLIENT_ID_NOT_VALID = 0x85
BAD_USER_NAME_OR_PASSWORD = 0x86
NOT_AUTHORIZED = 0x87
SERVER_UNAVAILABLE = 0x88
SERVER_SHUTTING_DOWN = 0x8B
BAD_AUTHENTICATION_METHOD = 0x8C
KEEP_ALIVE_TIMEOUT = 0x8D
SESSION_TAKEN_OVER = 0x8E
TOPIC_FILTER_INVALID = 0x8F
TOPIC_NAME_INVALID = 0x90
PACKET_ID_NOT_FOUND = 0x92
TOPIC_ALIAS_INVALID = 0x94
QUOTA_EXCEEDED = 0x97
ADMINISTRATIVE_ACTION = 0x98
PAYLOAD_FORMAT_INVALID = 0x99
RETAIN_NOT_SUPPORTED = 0x9A
SHARED_NOT_SUPPORTED = 0x9E
WILDCARD_NOT_SUPPORTED = 0xA2
V311_REFUSED_VERSION, V311_IDENTIFIER_REJECTED, V311_SERVER_UNAVAILABLE = 1, 2, 3
V311_BAD_USER_NAME_OR_PASSWORD, V311_NOT_AUTHORIZED = 4, 5
V311_SUBACK_FAILURE = 0x80

# Server-side closes of a 5.0 session, by the WebSocket close code the rest of the emulator uses (choice).
DISCONNECT_CODES = {1000: ADMINISTRATIVE_ACTION, 1001: SERVER_SHUTTING_DOWN, 1008: QUOTA_EXCEEDED}


@dataclass(frozen=True)
class MqttOptions:
    """Emulator settings for MQTT clients.

    :param allow_underscore_in_client_id: also accept ``_`` in client ids (tools such as MQTTX use it; the
        service documents only letters and digits).
    :param session_expiry_max_seconds: how long a session outlives its network connection at most.
    """

    allow_underscore_in_client_id: bool = False
    session_expiry_max_seconds: int = DEFAULT_SESSION_EXPIRY_MAX_SECONDS

    def client_id_valid(self, client_id: str) -> bool:
        pattern = _CLIENT_ID_WITH_UNDERSCORE if self.allow_underscore_in_client_id else _CLIENT_ID
        return bool(pattern.match(client_id))


def refusal_code(version: int, v5_code: int) -> Optional[int]:
    """The CONNACK code for a refusal; None for 3.1.1 when it has no fitting code (close without CONNACK,
    as the MQTT 3.1.1 specification says)."""
    if version == 5:
        return v5_code
    return {UNSUPPORTED_VERSION: V311_REFUSED_VERSION, CLIENT_ID_NOT_VALID: V311_IDENTIFIER_REJECTED,
            BAD_USER_NAME_OR_PASSWORD: V311_BAD_USER_NAME_OR_PASSWORD, NOT_AUTHORIZED: V311_NOT_AUTHORIZED,
            SERVER_UNAVAILABLE: V311_SERVER_UNAVAILABLE}.get(v5_code)


def connection_limit_code(version: int) -> int:
    """CONNACK code for a new session over the emulator's connection limit (the service's is undocumented;
    its WebSocket clients get HTTP 429, which an MQTT client past the upgrade cannot)."""
    return QUOTA_EXCEEDED if version == 5 else V311_SERVER_UNAVAILABLE


def upstream_refusal_code(version: int, status: int, mqtt_code: Optional[int]) -> int:
    """CONNACK code for a refused ``connect`` event: the handler's ``mqtt.code`` when it is valid for the
    client's version; else one derived from the HTTP status (400 -> bad user name or password, 401/403 and
    other 4xx -> not authorized, 5xx -> server unavailable)."""
    if mqtt_code is not None:
        if version == 5:
            return mqtt_code if 0x80 <= mqtt_code <= 0x9F else UNSPECIFIED_ERROR
        return mqtt_code if 1 <= mqtt_code <= 5 else V311_SERVER_UNAVAILABLE
    v5_code = (BAD_USER_NAME_OR_PASSWORD if status == 400 else SERVER_UNAVAILABLE if status >= 500
               else NOT_AUTHORIZED)
    code = refusal_code(version, v5_code)
    assert code is not None
    return code


def subscribe_failure(version: int, v5_code: int) -> int:
    return v5_code if version == 5 else V311_SUBACK_FAILURE


def event_name_from_topic(topic: str) -> Optional[str]:
    """``$webpubsub/server/events/{name}`` -> name; None for any other topic."""
    if topic.startswith(EVENT_TOPIC_PREFIX):
        return topic[len(EVENT_TOPIC_PREFIX):]
    return None


def reply_topics(event: str) -> Tuple[str, str]:
    return f"{EVENT_TOPIC_PREFIX}{event}/succeeded", f"{EVENT_TOPIC_PREFIX}{event}/failed"


def is_reply_or_server_topic(topic_filter: str) -> bool:
    """Topics the service publishes to a session whether or not it subscribed; subscribing is a no-op."""
    if topic_filter == SERVER_MESSAGES_TOPIC:
        return True
    event = event_name_from_topic(topic_filter)
    return event is not None and event.count("/") == 1 and event.endswith(("/succeeded", "/failed"))


def has_wildcard(topic: str) -> bool:
    return "+" in topic or "#" in topic


DEFAULT_OPTIONS = MqttOptions()
