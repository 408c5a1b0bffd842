"""HS256 JSON Web Tokens: just enough to verify the tokens SDKs send and to mint client tokens."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

from ._messages import strict_loads

CLOCK_SKEW_SECONDS = 300


class TokenError(Exception):
    """The token is malformed, wrongly signed, expired or not yet valid."""


def _b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise TokenError("token segment is not base64url") from exc


def key_id(access_key: str) -> str:
    """A stable `kid` for a key that reveals nothing about it."""
    return hashlib.sha256(access_key.encode("utf-8")).hexdigest()[:32]


def encode(claims: Dict[str, Any], access_key: str, *, kid: Optional[str] = None) -> str:
    header: Dict[str, str] = {"alg": "HS256", "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = ".".join(
        _b64url_encode(json.dumps(part, separators=(",", ":")).encode("utf-8")) for part in (header, claims)
    )
    signature = hmac.new(access_key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url_encode(signature)


def _parse(token: str) -> Tuple[List[str], Dict[str, Any], Dict[str, Any]]:
    """The three segments and the decoded header and claims, nothing verified yet."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("token must have three segments")
    header = _json_segment(parts[0])
    claims = _json_segment(parts[1])
    if not isinstance(header, dict):
        raise TokenError("token header must be a JSON object")
    if not isinstance(claims, dict):
        raise TokenError("token claims must be a JSON object")
    return parts, header, claims


def _json_segment(segment: str) -> Any:
    # strict_loads refuses deep nesting as malformed, and Python's NaN/Infinity extensions too: a NaN
    # `exp` would compare false with everything and never expire. Tokens reach this unauthenticated.
    try:
        return strict_loads(_b64url_decode(segment))
    except ValueError:
        raise TokenError("token segment is not JSON") from None


def _check_lifetime(claims: Dict[str, Any], now: Optional[float]) -> None:
    """`exp` is required, `nbf` optional; both with CLOCK_SKEW_SECONDS of tolerance."""
    current = time.time() if now is None else now
    exp = _numeric_date(claims, "exp")
    if exp is None:
        raise TokenError("token has no exp claim")
    if current > exp + CLOCK_SKEW_SECONDS:
        raise TokenError("token has expired")
    nbf = _numeric_date(claims, "nbf")
    if nbf is not None and current < nbf - CLOCK_SKEW_SECONDS:
        raise TokenError("token is not valid yet")


def _numeric_date(claims: Dict[str, Any], name: str) -> Optional[float]:
    """A NumericDate claim (RFC 7519: seconds, integer or not). Numbers too large for a float, such as
    `1e400`, parse to infinity and are refused rather than read as "never expires"."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TokenError(f"{name} claim is not a number")
    try:
        number = float(value)
    except OverflowError:  # an integer literal with hundreds of digits
        raise TokenError(f"{name} claim is out of range") from None
    if not math.isfinite(number):
        raise TokenError(f"{name} claim is out of range")
    return number


def decode(token: str, access_keys: Iterable[str], *, now: Optional[float] = None) -> Dict[str, Any]:
    """Verify signature, `exp` (required) and `nbf`; return the claims. `aud` is left to the caller."""
    parts, header, claims = _parse(token)
    if header.get("alg") != "HS256":
        raise TokenError("only HS256 tokens are accepted")
    signing_input = (parts[0] + "." + parts[1]).encode("ascii", "replace")
    signature = _b64url_decode(parts[2])
    if not any(
        hmac.compare_digest(hmac.new(key.encode("utf-8"), signing_input, hashlib.sha256).digest(), signature)
        for key in access_keys
    ):
        raise TokenError("signature does not match the access key")
    _check_lifetime(claims, now)
    return claims


def decode_unverified(token: str, *, now: Optional[float] = None) -> Dict[str, Any]:
    """The claims of a token whose signature cannot be checked here (a Microsoft Entra ID token): only
    `exp` and `nbf` are checked. Callers must have been told to trust such tokens."""
    _parts, _header, claims = _parse(token)
    _check_lifetime(claims, now)
    return claims
