"""The emulator's choices where the protocol reference leaves the service's client-protocol behaviour
unverified, all in one place so that correcting one is a one-line change here.

| Point (reference section)                                   | Choice                                          |
|-------------------------------------------------------------|-------------------------------------------------|
| JSON-kind data sent to protobuf clients (protobuf §5, §8.2) | `json_data` (current SDKs, Microsoft's          |
|                                                             | emulator); older docs said `text_data`          |
| `dataType: "protobuf"` from a JSON client (protobuf §8.3)   | accepted when `data` is base64 of a serialized  |
|                                                             | `google.protobuf.Any`; otherwise close 1007     |
| Event-handler reply `application/x-protobuf` (protobuf §7)  | protobuf data if the body parses as an `Any`;   |
|                                                             | otherwise the reply is unusable (event fails)   |
| `fromUserId` for JSON members when a protobuf client        | included, as for every client publisher         |
| publishes (protobuf §8.1)                                   | (protobuf members never get it: no such field)  |
| Ack and sequence ids (protobuf §2)                          | any uint64, no 2^63 bound                       |
| Wrong frame type: text to protobuf, binary to JSON (§3)     | `disconnected`, then close 1003                 |
| Malformed request: unparseable bytes or JSON, unknown or    | `disconnected`, then close 1007, reason texts   |
| empty message case, missing data, wrong field types         | as Microsoft's emulator where it has them       |
| Invalid group or event name, `ttl` over 300 (protobuf §6)   | a `BadRequest` ack (the connection stays), the  |
|                                                             | same answer JSON clients get; Microsoft's       |
|                                                             | emulator closes protobuf clients with 1007      |
| Group streaming requests (`stream` set)                     | close 1007 "Streaming requests are not          |
|                                                             | supported." (as Microsoft's emulator)           |
| Frame over 1 MiB (service limit: 1 MB)                      | close 1009                                      |
"""
from __future__ import annotations

# Which MessageData case carries JSON-kind data to protobuf clients: "json_data" or "text_data".
JSON_DATA_FIELD = "json_data"

# Whether JSON-subprotocol clients may send `dataType: "protobuf"` (base64 of a serialized Any).
ACCEPT_PROTOBUF_FROM_JSON_CLIENTS = True

# The event-handler reply content type that delivers protobuf data (a serialized Any) to the client.
PROTOBUF_CONTENT_TYPE = "application/x-protobuf"

CLOSE_WRONG_FRAME_TYPE = 1003
CLOSE_INVALID_MESSAGE = 1007
