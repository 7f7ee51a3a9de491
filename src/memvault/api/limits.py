"""Rate limits: how many requests one principal, or one scope, may make per second or minute.

``MEMVAULT_RATE_LIMIT_PER_PRINCIPAL`` and ``MEMVAULT_RATE_LIMIT_PER_SCOPE`` (``N/second`` or
``N/minute``; empty: no limit) are counted in a sliding window per key: a request is admitted
when fewer than N were admitted in the window before it, so no window of that length ever holds
more than N, however many requests arrive at once. Over the limit is a ``RateLimited`` (429,
``Retry-After`` in whole seconds, at least 1) in the face's error shape.

The counters live in the server process (each replica, and each ``memvault serve`` process,
counts its own requests, so N of them admit up to N times the limit together), or, with
``MEMVAULT_RATE_LIMIT_REDIS_URL``, in Redis, where every process and replica that names the
same Redis shares one window per key (the ``limits`` library's moving window: one atomic Lua
script a request). Should Redis stop answering, each process counts on its own (and logs it)
until Redis answers again: limits stay on, per process, rather than failing requests.

The principal is the one the key check found (``anonymous`` when authentication is off); the
scope is the one a request names, counted when the face checks the caller may use it
(:meth:`memvault.api.access.RequestAccess.require_scope`), across stores.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from memvault.api.auth import OPEN_PATHS, caller
from memvault.errors import RateLimited

log = logging.getLogger(__name__)

WINDOWS = {"second": 1.0, "minute": 60.0}
# Keys whose window emptied are dropped once this many are held.
_SWEEP_AT = 10_000
# A call to Redis that takes longer than this fails (and the process counts on its own).
REDIS_TIMEOUT_S = 0.5
# After a failed call, how long the process counts on its own before trying Redis again.
REDIS_RETRY_S = 5.0


@dataclass(frozen=True)
class Rate:
    limit: int
    window: float

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """``"10/second"`` -> ``Rate(10, 1.0)``; ``""`` -> None (no limit)."""
        text = text.strip().lower()
        if not text:
            return None
        count, _, unit = text.partition("/")
        if unit not in WINDOWS or not count.isdigit() or int(count) < 1:
            raise ValueError(f"a rate limit is N/second or N/minute, not {text!r}")
        return cls(int(count), WINDOWS[unit])


class SlidingWindowLimiter:
    """Admits at most ``rate.limit`` calls per key in any ``rate.window`` seconds.

    Example::

        limiter = SlidingWindowLimiter(Rate(2, 1.0))
        limiter.admit("k"); limiter.admit("k")
        limiter.admit("k")          # raises RateLimited(retry_after=1)
    """

    def __init__(self, rate: Rate, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.what = what
        self._clock = clock
        self._admitted: dict[str, deque[float]] = {}
        # Held for a few list operations only; routes may run on threads as well as the loop.
        self._lock = threading.Lock()

    async def admit(self, key: str) -> None:
        """Count one call of ``key``, or raise ``RateLimited`` (the call is not counted)."""
        self.admit_now(key)

    def admit_now(self, key: str) -> None:
        limit, window = self.rate.limit, self.rate.window
        with self._lock:
            now = self._clock()
            times = self._admitted.get(key)
            if times is None:
                if len(self._admitted) >= _SWEEP_AT:
                    self._sweep(now)
                times = self._admitted[key] = deque()
            while times and times[0] <= now - window:
                times.popleft()
            if len(times) >= limit:
                raise _limited(self.rate, self.what, times[0] + window - now)
            times.append(now)

    def _sweep(self, now: float) -> None:
        window = self.rate.window
        self._admitted = {k: v for k, v in self._admitted.items() if v and v[-1] > now - window}


class SharedWindowLimiter:
    """:class:`SlidingWindowLimiter`'s contract, with the window kept in Redis and shared by
    every limiter of the same ``rate`` and ``what`` on that Redis. While Redis does not answer,
    ``local`` counts instead (see the module docstring)."""

    def __init__(self, rate: Rate, what: str, windows: Any) -> None:
        """``windows``: a ``limits`` moving-window strategy over the Redis storage."""
        from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
        from redis.exceptions import RedisError

        self._errors = (RedisError, OSError)
        self.rate = rate
        self.what = what
        self.local = SlidingWindowLimiter(rate, what)
        per = RateLimitItemPerSecond if rate.window == 1.0 else RateLimitItemPerMinute
        self._item = per(rate.limit, 1)
        self._limiter = windows
        self._local_until = 0.0

    async def admit(self, key: str) -> None:
        """Count one call of ``key``, or raise ``RateLimited`` (the call is not counted)."""
        if time.monotonic() < self._local_until:
            return self.local.admit_now(key)
        # A scope is counted before it is validated: an over-long one names its key by digest.
        name = key if len(key) <= 200 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()
        try:
            admitted = await self._limiter.hit(self._item, self.what, name)
            if not admitted:
                stats = await self._limiter.get_window_stats(self._item, self.what, name)
        except self._errors as error:
            if not self._local_until:
                log.warning("rate limits: Redis does not answer (%s); this process counts its"
                            " own requests until it does", error)
            self._local_until = time.monotonic() + REDIS_RETRY_S
            return self.local.admit_now(key)
        if self._local_until:
            log.warning("rate limits: Redis answers again")
            self._local_until = 0.0
        if not admitted:
            raise _limited(self.rate, self.what, stats.reset_time - time.time())
        return None


def _limited(rate: Rate, what: str, wait: float) -> RateLimited:
    return RateLimited(
        f"Rate limit of {rate.limit} requests per {_unit(rate.window)} per {what} exceeded;"
        f" retry after {max(1, math.ceil(wait))} s",
        retry_after=math.ceil(wait),
    )


def _unit(window: float) -> str:
    return "second" if window == 1.0 else "minute"


class RateLimits:
    """The limiters of one app, from its settings; a limiter is None when its limit is off.
    With ``redis_url``, they count in Redis (call :meth:`aclose` when done)."""

    def __init__(self, per_principal: str, per_scope: str, redis_url: str = "") -> None:
        principal, scope = Rate.parse(per_principal), Rate.parse(per_scope)
        self._pool = self._windows = None
        if redis_url and (principal or scope):
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import MovingWindowRateLimiter
            from redis.asyncio import ConnectionPool

            self._pool = ConnectionPool.from_url(
                redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
            )
            self._windows = MovingWindowRateLimiter(RedisStorage(
                "async+redis://", implementation="redispy", connection_pool=self._pool,
                key_prefix="memvault",
            ))  # fmt: skip
        self.principal = self._limiter(principal, "principal")
        self.scope = self._limiter(scope, "scope")

    def _limiter(
        self, rate: Rate | None, what: str
    ) -> SlidingWindowLimiter | SharedWindowLimiter | None:
        if rate is None:
            return None
        if self._windows is not None:
            return SharedWindowLimiter(rate, what, self._windows)
        return SlidingWindowLimiter(rate, what)

    async def admit_scope(self, scope: object) -> None:
        """Count one request naming ``scope`` (a malformed scope is left to validation)."""
        if self.scope is not None and isinstance(scope, str):
            await self.scope.admit(scope)

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()


def request_limits(request: Request) -> RateLimits | None:
    return getattr(request.app.state, "rate_limits", None)


async def limit_principal(request: Request) -> None:
    """App-wide dependency, after the key check: counts the request against its principal."""
    limits = request_limits(request)
    if limits is None or limits.principal is None or request.url.path in OPEN_PATHS:
        return
    await limits.principal.admit(caller(request).name)
