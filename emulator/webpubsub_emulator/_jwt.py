"""HS256 JSON Web Tokens, verified and minted by PyJWT behind one edge that turns every refusal into `TokenError`.

Tokens reach this module unauthenticated, from any client of the REST API or the client endpoint.

What PyJWT does here (tested with 2.8, the lowest allowed, and 2.15): splits the compact serialization,
base64url-decodes it, parses the header, refuses an `alg` outside ``["HS256"]`` (so ``none``, ``HS512``, and
``RS256`` -- a key-confusion attempt signed with the access key as an HMAC secret -- never reach a verifier),
compares the HMAC in constant time with one key, requires `exp`, checks `exp` and `nbf` with `leeway`
(CLOCK_SKEW_SECONDS), and mints tokens with a `kid` header. It reads `exp`/`nbf` with ``int()``, so a
fractional `exp` counts from the whole second before it.

What the wrapper adds, because some PyJWT release lets these through or leaks a Python error on them:
- Shape first: three non-empty base64url segments and nothing else. PyJWT 2.8's base64 decoding skips
  characters outside the alphabet, accepts ``=`` padding, and reads a fourth segment as part of the
  payload; later releases check the alphabet themselves (byte by byte, the larger part of their cost).
- Claims through `PyJWT._decode_payload`, PyJWT's hook for subclasses that decode payloads their own way:
  `strict_loads` (``NaN``/``Infinity`` anywhere and nesting past the recursion limit refused), a JSON
  object only, and `exp`/`nbf` finite JSON numbers. PyJWT's ``int()`` takes ``"4102444800"``, ``true`` and
  a 400-digit integer (never expires); 2.8 leaks OverflowError for an `exp` of ``1e400`` (infinity) and
  TypeError for ``[1]``. The hook runs after the signature is verified and before PyJWT's own `exp`/`nbf`
  checks; tests of the string and huge-integer `exp` fail if it ever stops being called.
- One exception: every PyJWTError, and what PyJWT lets escape on a hostile token instead -- RecursionError
  from a header nested 2,000 deep (parsed before the signature is checked; 2.8), ValueError, TypeError,
  OverflowError -- becomes `TokenError`, which callers turn into a 401 or the MQTT/WebSocket refusal.
- Several keys (primary, secondary): the next is tried only while the signature is what fails.
- `aud` is NOT checked here, by choice: callers compare it with the URL as sent
  (`_rest_support.audience_matches`: scheme and host case, default ports, percent-encoding, an audience
  without a query), which PyJWT's exact string comparison cannot express; the reconnection path compares
  it with the connection id. `iat`, `iss`, `sub` and `jti` are not verified either, as before PyJWT: the
  service reads `sub` as the user id whatever its JSON type, and `iat` is informational.
"""
from __future__ import annotations

import hashlib
import math
import re
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional

import jwt

from ._messages import strict_loads

if TYPE_CHECKING:
    from jwt.types import Options

CLOCK_SKEW_SECONDS = 300
ALGORITHM = "HS256"
_ALGORITHMS: List[str] = [ALGORITHM]
_COMPACT_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_NUMERIC_DATE_CLAIMS = ("exp", "nbf")
# PyJWT's exception family, and what it lets escape on hostile input instead (see the module docstring).
_REFUSALS = (jwt.PyJWTError, RecursionError, OverflowError, TypeError, ValueError)


class TokenError(Exception):
    """The token is malformed, wrongly signed, expired or not yet valid."""


class _StrictPyJWT(jwt.PyJWT):
    def _decode_payload(self, decoded: Dict[str, Any]) -> Dict[str, Any]:
        try:
            claims = strict_loads(decoded["payload"])
        except ValueError as error:
            raise jwt.DecodeError(f"token claims are not JSON: {error}") from None
        if not isinstance(claims, dict):
            raise jwt.DecodeError("token claims must be a JSON object")
        for name in _NUMERIC_DATE_CLAIMS:
            _check_numeric_date(claims, name)
        return claims


def _check_numeric_date(claims: Dict[str, Any], name: str) -> None:
    """A NumericDate (RFC 7519: seconds, integer or not) that a float holds: `1e400` parses to infinity and an
    integer of hundreds of digits overflows; both are refused rather than read as "never expires"."""
    value = claims.get(name)
    if value is None:
        return  # absent; a missing `exp` is PyJWT's to refuse (`require`)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise jwt.DecodeError(f"{name} claim is not a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:
        finite = False
    if not finite:
        raise jwt.DecodeError(f"{name} claim is out of range")


# Built once: the options and the instance serve every token (a REST call verifies one).
_OPTIONS: "Options" = {
    "require": ["exp"], "verify_exp": True, "verify_nbf": True,
    "verify_aud": False, "verify_iss": False, "verify_iat": False, "verify_sub": False, "verify_jti": False,
}
_PYJWT = _StrictPyJWT(options=_OPTIONS)
_UNVERIFIED: "Options" = {**_OPTIONS, "verify_signature": False}


def key_id(access_key: str) -> str:
    """A stable `kid` for a key that reveals nothing about it."""
    return hashlib.sha256(access_key.encode("utf-8")).hexdigest()[:32]


def encode(claims: Dict[str, Any], access_key: str, *, kid: Optional[str] = None) -> str:
    return _PYJWT.encode(claims, access_key, algorithm=ALGORITHM, headers=None if kid is None else {"kid": kid})


def decode(token: str, access_keys: Iterable[str]) -> Dict[str, Any]:
    """Verify the signature with any of `access_keys`, `exp` (required) and `nbf`; return the claims.
    `aud` is left to the caller."""
    _check_shape(token)
    refusal: Exception = TokenError("no access key to verify the token with")
    for key in access_keys:
        try:
            return _PYJWT.decode(token, key, algorithms=_ALGORITHMS, leeway=CLOCK_SKEW_SECONDS)
        except jwt.InvalidSignatureError as error:
            refusal = error  # perhaps signed with the other key
        except _REFUSALS as error:
            raise TokenError(_reason(error)) from None
    raise TokenError(_reason(refusal)) from None


def decode_unverified(token: str) -> Dict[str, Any]:
    """The claims of a token whose signature cannot be checked here (a Microsoft Entra ID token): only
    `exp` and `nbf` are checked. Callers must have been told to trust such tokens."""
    _check_shape(token)
    try:
        return _PYJWT.decode(token, options=_UNVERIFIED, leeway=CLOCK_SKEW_SECONDS)
    except _REFUSALS as error:
        raise TokenError(_reason(error)) from None


def _check_shape(token: str) -> None:
    if not _COMPACT_TOKEN.fullmatch(token):
        raise TokenError("token is not three base64url segments")


def _reason(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "token JSON is nested too deeply"
    return str(error) or type(error).__name__
