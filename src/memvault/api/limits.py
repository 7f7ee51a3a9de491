"""Rate limits: how many requests one principal, or one scope, may make per second or minute.

``MEMVAULT_RATE_LIMIT_PER_PRINCIPAL`` and ``MEMVAULT_RATE_LIMIT_PER_SCOPE`` (``N/second`` or
``N/minute``; empty: no limit) are counted in a sliding window per key: a request is admitted
when fewer than N were admitted in the window before it, so no window of that length ever holds
more than N, however many requests arrive at once. Over the limit is a ``RateLimited`` (429,
``Retry-After`` in whole seconds, at least 1) in the face's error shape.

The counters live in the server process: each replica (and each ``memvault serve`` process)
counts its own requests, so N replicas admit up to N times the limit together.

The principal is the one the key check found (``anonymous`` when authentication is off); the
scope is the one a request names, counted when the face checks the caller may use it
(:meth:`memvault.api.access.RequestAccess.require_scope`), across stores.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from memvault.api.auth import OPEN_PATHS, caller
from memvault.errors import RateLimited

WINDOWS = {"second": 1.0, "minute": 60.0}
# Keys whose window emptied are dropped once this many are held.
_SWEEP_AT = 10_000


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

    def admit(self, key: str) -> None:
        """Count one call of ``key``, or raise ``RateLimited`` (the call is not counted)."""
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
                wait = times[0] + window - now
                raise RateLimited(
                    f"Rate limit of {limit} requests per {_unit(window)} per {self.what} exceeded;"
                    f" retry after {max(1, math.ceil(wait))} s",
                    retry_after=math.ceil(wait),
                )
            times.append(now)

    def _sweep(self, now: float) -> None:
        window = self.rate.window
        self._admitted = {k: v for k, v in self._admitted.items() if v and v[-1] > now - window}


def _unit(window: float) -> str:
    return "second" if window == 1.0 else "minute"


def _limiter(rate: Rate | None, what: str) -> SlidingWindowLimiter | None:
    return SlidingWindowLimiter(rate, what) if rate is not None else None


class RateLimits:
    """The limiters of one app, from its settings; a limiter is None when its limit is off."""

    def __init__(self, per_principal: str, per_scope: str) -> None:
        self.principal = _limiter(Rate.parse(per_principal), "principal")
        self.scope = _limiter(Rate.parse(per_scope), "scope")

    def admit_scope(self, scope: object) -> None:
        """Count one request naming ``scope`` (a malformed scope is left to validation)."""
        if self.scope is not None and isinstance(scope, str):
            self.scope.admit(scope)


def request_limits(request: Request) -> RateLimits | None:
    return getattr(request.app.state, "rate_limits", None)


async def limit_principal(request: Request) -> None:
    """App-wide dependency, after the key check: counts the request against its principal."""
    limits = request_limits(request)
    if limits is None or limits.principal is None or request.url.path in OPEN_PATHS:
        return
    limits.principal.admit(caller(request).name)
