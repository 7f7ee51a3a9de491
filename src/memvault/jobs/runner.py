"""``memvault worker``: the update worker as a process of its own."""

from __future__ import annotations

import asyncio
import logging
import signal

from memvault.engine.updates import default_pipeline
from memvault.jobs.worker import UpdateWorker
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import open_store

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Process updates until ``stop`` is set, or SIGINT/SIGTERM arrives."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    store = await open_store(settings.resolved_database_url, settings)
    embeddings = EmbeddingProviders(settings)
    worker = UpdateWorker(
        store,
        default_pipeline(store, embeddings, settings),
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.job_lease_seconds,
    )
    metrics_server = None
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        from memvault.observability.metrics import REGISTRY

        metrics_server, _ = start_http_server(
            settings.worker_metrics_port, addr=settings.host, registry=REGISTRY
        )
        log.info("worker metrics on http://%s:%s/metrics", settings.host,
                 settings.worker_metrics_port)
    try:
        await embeddings.warm_up()
        await worker.start()
        log.info("worker %s started", worker.worker_id)
        await stop.wait()
    finally:
        await worker.stop()
        await embeddings.aclose()
        await store.close()
        if metrics_server is not None:
            metrics_server.shutdown()
            metrics_server.server_close()
