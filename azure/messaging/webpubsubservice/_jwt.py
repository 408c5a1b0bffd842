"""HS256 JSON Web Tokens with the standard library.

Web PubSub only ever needs HS256 signing keyed by the UTF-8 bytes of an access key, which is a few lines
of HMAC; a JWT library would be a dependency for no gain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Dict, Mapping, Optional, Tuple

_DEFAULT_HEADER = {"alg": "HS256", "typ": "JWT"}


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


# One encoder for every call: json.dumps with custom separators builds a new one each time.
compact_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _segment(obj: Mapping[str, Any]) -> bytes:
    return _b64url(compact_json(obj).encode("utf-8"))


_DEFAULT_HEADER_SEGMENT = _segment(_DEFAULT_HEADER)
# Keyed HMAC states are reused via .copy(): deriving the key schedule is most of the cost of a signature.
_signers: Dict[str, "hmac.HMAC"] = {}


def _signer(key: str) -> "hmac.HMAC":
    signer = _signers.get(key)
    if signer is None:
        if len(_signers) > 16:  # keys rotate rarely; never let the cache grow with them
            _signers.clear()
        signer = _signers[key] = hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256)
    return signer


def encode(claims: Mapping[str, Any], key: str, headers: Optional[Mapping[str, Any]] = None) -> str:
    """Return a compact HS256 JWT for ``claims`` signed with the UTF-8 bytes of ``key``.

    ``headers`` are merged into the JOSE header (for example a ``kid``); ``alg`` stays HS256.
    """
    return sign(compact_json(claims).encode("utf-8"), key, headers)


def sign(claims_json: bytes, key: str, headers: Optional[Mapping[str, Any]] = None) -> str:
    """Like :func:`encode`, for claims already serialized as a JSON object."""
    if headers:
        header_segment = _segment({**_DEFAULT_HEADER, **headers, "alg": "HS256"})
    else:
        header_segment = _DEFAULT_HEADER_SEGMENT
    signing_input = header_segment + b"." + _b64url(claims_json)
    mac = _signer(key).copy()
    mac.update(signing_input)
    return (signing_input + b"." + _b64url(mac.digest())).decode("ascii")


def decode_unverified(token: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Return ``(header, claims)`` of a compact JWT without checking its signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWT: expected three dot-separated segments")

    def load(segment: str) -> Dict[str, Any]:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        if not isinstance(value, dict):
            raise ValueError("JWT segment is not a JSON object")
        return value

    return load(parts[0]), load(parts[1])
