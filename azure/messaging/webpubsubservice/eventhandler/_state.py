"""Connection state travels as ``ce-connectionState``: base64 of a UTF-8 JSON object (SDK convention)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Dict, Mapping, Optional


class InvalidConnectionState(ValueError):
    pass


def decode_states(header: Optional[str]) -> Dict[str, Any]:
    if not header:
        return {}
    try:
        document = json.loads(base64.b64decode(header.strip(), validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidConnectionState(f"ce-connectionState is not base64 of UTF-8 JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidConnectionState("ce-connectionState must encode a JSON object")
    return document


def encode_states(states: Mapping[str, Any]) -> str:
    compact = json.dumps(dict(states), separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(compact.encode("utf-8")).decode("ascii")
