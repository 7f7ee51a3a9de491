"""Admission control for searches: past its capacity, a server process refuses the excess
quickly instead of letting every search slow down together.

Without it, a load above what the cores can serve queues every search (event loop, reader
threads, embedding batcher) and all of them wait longer and longer, until none answers within
a client's timeout. With it, at most ``MEMVAULT_MAX_CONCURRENT_SEARCHES`` searches run at once
(default: twice the cores, see
:attr:`memvault.settings.Settings.resolved_max_concurrent_searches`); the next ones wait in
line, first come first served. A search that finds ``MEMVAULT_MAX_QUEUED_SEARCHES`` already
waiting, or gets no slot within ``MEMVAULT_SEARCH_QUEUE_TIMEOUT_MS``, is refused with
:class:`~memvault.errors.Overloaded` (503, ``Retry-After: 1``, in the face's error shape)
before it has read the database or embedded anything.

Why a bounded line rather than a short wait: a burst (an agent fanning out searches, a client
pool of 24 connections on a busy box) must wait its turn, not fail; what has to be refused is
arrivals that outrun the service for good, since their line grows without end. The line's
length tells the two apart: a client with N connections never has more than N searches
waiting, while an open-loop overload fills any line at once. The default, 32, holds about a
second of searches on 2 cores (docs/benchmarks.md); so an admitted search waits at most about
that long, and the excess is refused the moment it arrives, at the cost of a parsed request.
The timeout (10 s) only guards against searches that stall (a remote embedding model hanging):
a search should not wait longer than its client will.

The gate is per process, like the rate limits (:mod:`memvault.api.limits`): N replicas run up
to N times the slots. Routes wrap the work of a search in ``async with admit_search(request):``,
after authentication (whose key lookup is cached), rate limits and body validation, all
cheap, and before anything else.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import Request

from memvault.errors import Overloaded
from memvault.observability.metrics import SEARCHES_IN_FLIGHT, SEARCHES_QUEUED, SEARCHES_SHED
from memvault.settings import Settings

RETRY_AFTER_SECONDS = 1


class AdmissionGate:
    """At most ``slots`` holders at once; up to ``max_queued`` others wait, first come first
    served, for at most ``queue_timeout`` seconds; the rest get ``Overloaded`` at once, and so
    does a waiter whose time runs out. Belongs to one event loop.

    A freed slot passes straight to the oldest waiter, so a newcomer never overtakes the line.
    A waiter cancelled while it waits (its client went away) takes nothing with it: if the slot
    had just been handed to it, it passes the slot on.

    Example::

        gate = AdmissionGate(slots=4, max_queued=32, queue_timeout=10)
        async with gate.admit():        # or raises Overloaded, having held nothing
            ...
    """

    def __init__(
        self, slots: int, max_queued: int, queue_timeout: float, *, what: str = "searches"
    ) -> None:
        if slots < 1 or max_queued < 0:
            raise ValueError("an admission gate needs at least one slot and max_queued >= 0")
        self.slots = slots
        self.max_queued = max_queued
        self.queue_timeout = max(0.0, queue_timeout)
        self.what = what
        self._in_flight = 0
        self._queued = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def in_flight(self) -> int:
        """Holders of a slot (including a waiter it was just handed to)."""
        return self._in_flight

    @property
    def queued(self) -> int:
        """Waiters still waiting for a slot."""
        return self._queued

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold a slot for the body of the ``async with``."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def acquire(self) -> None:
        """Take a slot, waiting in line at most ``queue_timeout``; raises ``Overloaded``."""
        # Waiters are queued only while every slot is held, and a freed slot goes to a waiter
        # before it counts as free: a free slot means nobody is waiting.
        if self._in_flight < self.slots:
            self._take()
            return
        if self.queue_timeout <= 0 or self._queued >= self.max_queued:
            raise self._refusal(waited=False)
        grant: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(grant)
        self._queued += 1
        SEARCHES_QUEUED.inc()
        try:
            async with asyncio.timeout(self.queue_timeout):
                await grant
        except TimeoutError:
            # The slot may have been handed over just as the time ran out: then it is ours.
            if not _granted(grant):
                raise self._refusal(waited=True) from None
        except BaseException:
            if _granted(grant):
                self.release()  # cancelled after the handover: pass the slot on
            raise
        finally:
            self._queued -= 1
            SEARCHES_QUEUED.dec()
            if not grant.done():
                grant.cancel()
            if grant in self._waiters:
                self._waiters.remove(grant)

    def release(self) -> None:
        """Free a slot: hand it to the oldest waiter still waiting, else give it back."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; in_flight stays
                return
        self._in_flight -= 1
        SEARCHES_IN_FLIGHT.dec()

    def _take(self) -> None:
        self._in_flight += 1
        SEARCHES_IN_FLIGHT.inc()

    def _refusal(self, *, waited: bool) -> Overloaded:
        SEARCHES_SHED.inc()
        if waited:
            why = f"none finished within {self.queue_timeout * 1000:g} ms"
        else:
            why = f"{self._queued} more already wait"
        return Overloaded(
            f"The server is at its capacity of {self.slots} concurrent {self.what} and {why};"
            f" retry after {RETRY_AFTER_SECONDS} s",
            retry_after=RETRY_AFTER_SECONDS,
        )


def _granted(grant: asyncio.Future[None]) -> bool:
    return grant.done() and not grant.cancelled()


def search_gate(settings: Settings) -> AdmissionGate:
    """The search gate of an app, from its settings."""
    return AdmissionGate(
        settings.resolved_max_concurrent_searches,
        settings.max_queued_searches,
        settings.search_queue_timeout_ms / 1000,
    )


def admit_search(request: Request) -> AbstractAsyncContextManager[None]:
    """``async with admit_search(request):`` holds one of the app's search slots, or raises
    ``Overloaded`` having done nothing."""
    gate: AdmissionGate = request.app.state.search_gate
    return gate.admit()
