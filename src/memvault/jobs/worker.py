"""The worker: claims due updates from the durable queue and processes them.

It runs inside ``memvault serve`` and standalone as ``memvault worker``; any number of workers
may share a database. A claimed job carries a lease that a heartbeat renews; a job whose worker
died is claimed again once its lease expires. A job's memory operations commit in the same
transaction as its completion, and only while the worker still holds the lease, so a job that
is retried never applies its extraction twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import uuid

from memvault.engine.updates import UpdatePipeline
from memvault.errors import ExtractionFailed, LeaseLost, MemvaultError, ServiceUnavailable, VersionConflict
from memvault.models import UpdateJob, now
from memvault.storage.base import Store

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
POLL_SECONDS = 0.5
PURGE_EVERY_SECONDS = 60
MAX_ATTEMPTS = 3
CAS_ATTEMPTS = 5


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class UpdateWorker:
    """Example::

        worker = UpdateWorker(store, pipeline)
        await worker.start()
        worker.wake()      # after queueing an update that is due now
        ...
        await worker.stop()
    """

    def __init__(
        self,
        store: Store,
        pipeline: UpdatePipeline,
        *,
        concurrency: int = 2,
        lease_seconds: int = LEASE_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or new_worker_id()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """An update became due in this process: look now rather than at the next poll."""
        self._wake.set()

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(index), name=f"memvault-worker-{index}")
            for index in range(self.concurrency)
        ]
        self._tasks.append(asyncio.create_task(self._purge_loop(), name="memvault-purge"))

    async def stop(self) -> None:
        """Stop claiming; jobs in hand finish first (a hard kill is covered by leases). Then
        close the pipeline's clients."""
        self._stopping.set()
        self._wake.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.pipeline.aclose()

    async def _loop(self, index: int) -> None:
        while not self._stopping.is_set():
            try:
                worked = await self.run_once()
            except Exception:  # keep the loop alive; the job's lease covers it
                log.exception("worker %s loop error", self.worker_id)
                worked = False
            if worked:
                continue
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)

    async def _purge_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                purged = await self.store.purge_expired(now())
                if purged:
                    log.info("purged %d expired memories", purged)
            except Exception:
                log.exception("purging expired memories failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), PURGE_EVERY_SECONDS)

    async def run_once(self) -> bool:
        """Claim and process one due job; False when none was due."""
        job = await self.store.claim_update(
            self.worker_id, now=now(), lease_seconds=self.lease_seconds
        )
        if job is None:
            return False
        heartbeat = asyncio.create_task(self._heartbeat(job))
        try:
            await self._process(job)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        return True

    async def _heartbeat(self, job: UpdateJob) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            held = await self.store.renew_lease(
                job.id, self.worker_id, lease_until=now() + self.lease_seconds
            )
            if not held:
                log.warning("lost the lease on %s", job.id)
                return

    async def _process(self, job: UpdateJob) -> None:
        try:
            memory_store = await self.store.find_store_by_id(job.store_id)
            candidates, usage = await self.pipeline.extract(memory_store, job)
            for _ in range(CAS_ATTEMPTS):
                plan = await self.pipeline.plan(memory_store, job, candidates)
                try:
                    await self.store.complete_update(
                        job.store_id, job.scope, job.id, self.worker_id,
                        operations=plan.operations,
                        usage=dataclasses.asdict(usage + plan.usage)
                        | {"quarantined": plan.quarantined},
                    )  # fmt: skip
                    return
                except VersionConflict:
                    log.info("update %s raced another writer; planning again", job.id)
            raise ServiceUnavailable("the scope kept changing while this update was applied")
        except LeaseLost:
            log.warning("update %s was taken over by another worker; dropping this run", job.id)
        except Exception as exc:
            await self._give_up(job, exc)

    async def _give_up(self, job: UpdateJob, exc: Exception) -> None:
        retryable = (
            not isinstance(exc, MemvaultError)
            or isinstance(exc, ServiceUnavailable)
            or (isinstance(exc, ExtractionFailed) and bool(exc.details.get("retryable")))
        )
        if retryable and job.attempts < MAX_ATTEMPTS:
            log.warning("update %s attempt %d failed (%s); retrying", job.id, job.attempts, exc)
            retry_at = now() + 2 ** job.attempts
            error = None
        else:
            log.error("update %s failed: %s", job.id, exc)
            retry_at = None
            code = exc.code if isinstance(exc, MemvaultError) else "server_error"
            error = {"code": code, "message": str(exc) or type(exc).__name__}
        with contextlib.suppress(LeaseLost):
            await self.store.fail_update(
                job.id, self.worker_id, error=error or {}, retry_at=retry_at
            )

