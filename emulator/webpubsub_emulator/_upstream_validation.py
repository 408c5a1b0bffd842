"""Abuse-protection handshake (CloudEvents webhook validation) with per-URL result caching.

Each resolved ``validate`` URL is checked lazily before the first event goes to it. A success is
trusted for ``success_ttl`` seconds; a failure is re-checked after a backoff that starts at
``failure_backoff_initial`` and doubles up to ``failure_backoff_max``, so a broken handler is not
hammered with OPTIONS requests while events keep failing fast.

The cache is keyed by URL and origin, both of which clients choose (a `{hub}` in the URL template, their
`Host` header), so it keeps the latest ``MAX_VERDICTS`` results only: any number of distinct hub names
costs bounded memory, and an evicted URL is simply validated again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import aiohttp

from ._cloudevents import validation_headers

_logger = logging.getLogger("webpubsub_emulator.upstream")

MAX_VERDICTS = 1024


class ValidationFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Verdict:
    failure_reason: Optional[str]  # None = allowed
    expires_at: float
    consecutive_failures: int


class AbuseProtection:
    def __init__(
        self,
        *,
        timeout: float,
        success_ttl: float,
        failure_backoff_initial: float,
        failure_backoff_max: float,
    ) -> None:
        self._timeout = timeout
        self._success_ttl = success_ttl
        self._failure_backoff_initial = failure_backoff_initial
        self._failure_backoff_max = failure_backoff_max
        self._verdicts: Dict[Tuple[str, str], _Verdict] = {}
        # One lock per URL so concurrent first events share a single handshake.
        self._locks: Dict[Tuple[str, str], asyncio.Lock] = {}

    async def ensure_allowed(self, session: aiohttp.ClientSession, url: str, origin: str) -> None:
        """Raise ValidationFailed unless the handler at ``url`` accepts events from ``origin``."""
        key = (url, origin.lower())
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            verdict = self._verdicts.get(key)
            if verdict is None or asyncio.get_running_loop().time() >= verdict.expires_at:
                verdict = await self._validate(session, url, origin, verdict)
                self._verdicts.pop(key, None)  # re-inserted last: the dict's order is the age of its entries
                self._verdicts[key] = verdict
                self._forget_oldest()
        if verdict.failure_reason is not None:
            raise ValidationFailed(verdict.failure_reason)

    def _forget_oldest(self) -> None:
        while len(self._verdicts) > MAX_VERDICTS:
            oldest = next(iter(self._verdicts))
            del self._verdicts[oldest]
            lock = self._locks.get(oldest)
            if lock is not None and not lock.locked():
                del self._locks[oldest]

    async def _validate(
        self, session: aiohttp.ClientSession, url: str, origin: str, previous: Optional[_Verdict]
    ) -> _Verdict:
        try:
            failure_reason = await asyncio.wait_for(self._handshake(session, url, origin), self._timeout)
        except asyncio.TimeoutError:
            failure_reason = f"no answer within {self._timeout:g} s"
        except aiohttp.ClientError as error:
            failure_reason = f"request failed: {error!r}"
        except ValueError as error:  # e.g. a URL yarl cannot parse
            failure_reason = f"invalid URL: {error}"
        now = asyncio.get_running_loop().time()
        if failure_reason is None:
            _logger.debug("Abuse-protection validation of %s succeeded", url)
            return _Verdict(None, now + self._success_ttl, 0)
        failures = previous.consecutive_failures + 1 if previous is not None else 1
        backoff = min(self._failure_backoff_initial * 2 ** (failures - 1), self._failure_backoff_max)
        _logger.warning("Abuse-protection validation of %s failed: %s", url, failure_reason)
        return _Verdict(f"abuse-protection validation of {url} failed: {failure_reason}", now + backoff, failures)

    async def _handshake(self, session: aiohttp.ClientSession, url: str, origin: str) -> Optional[str]:
        status, allowed_origins = await self._ask(session, "OPTIONS", url, origin)
        if status == 404:
            # Some frameworks cannot route OPTIONS; the Microsoft emulator retries with GET.
            status, allowed_origins = await self._ask(session, "GET", url, origin)
        if not 200 <= status < 300:
            return f"handler answered {status}"
        wanted = origin.strip().lower()
        if not any(value.strip() == "*" or value.strip().lower() == wanted for value in allowed_origins):
            return f"WebHook-Allowed-Origin {allowed_origins!r} does not allow {origin!r}"
        return None

    @staticmethod
    async def _ask(session: aiohttp.ClientSession, method: str, url: str, origin: str) -> Tuple[int, List[str]]:
        async with session.request(
            method, url, headers=validation_headers(origin), allow_redirects=False
        ) as response:
            return response.status, response.headers.getall("WebHook-Allowed-Origin", [])
