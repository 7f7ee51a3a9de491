"""``GET /metrics``: the Prometheus exposition of this process's metrics
(:mod:`memvault.observability.metrics`) and of the database's state, read at scrape time so that
every replica reports the same numbers however many servers and workers share the database::

    memvault_update_jobs{status}        updates in each status (queued, in_progress, ...)
    memvault_memories{project, store}   memories and memory entries stored (any status,
                                        including expired memories not yet purged)
    memvault_database_up                1 when the counts above could be read, else 0

Both counts read indexes only. ``/metrics`` needs an admin key like the admin API, unless
``MEMVAULT_METRICS_PUBLIC`` opens it to anyone who can reach the port.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.responses import PlainTextResponse, Response

from memvault.api.auth import caller
from memvault.api.openapi import FOUNDRY
from memvault.errors import Forbidden
from memvault.observability.metrics import scrape_source

log = logging.getLogger(__name__)

PATH = "/metrics"


class _Scrape:
    """What one scrape exposes: the registry, then the families read from the database."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from scrape_source().collect()
        yield from self.families


async def database_families(store: Any) -> list[Metric]:
    """The gauges read from the database (``memvault_database_up`` 0 when it cannot be read)."""
    up = GaugeMetricFamily(
        "memvault_database_up", "Whether this scrape could read the database (1) or not (0)."
    )
    if store is None:
        up.add_metric([], 0)
        return [up]
    try:
        updates = await store.count_updates_per_status()
        memories = await store.count_memories_per_store()
    except Exception:
        log.warning("metrics: cannot read the database", exc_info=True)
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    jobs = GaugeMetricFamily(
        "memvault_update_jobs", "Updates (update_memories jobs) in each status.",
        labels=["status"],
    )  # fmt: skip
    for status, count in sorted(updates.items(), key=lambda item: item[0].value):
        jobs.add_metric([status.value], count)
    stored = GaugeMetricFamily(
        "memvault_memories",
        "Memories and memory entries stored per memory store (any status, including expired"
        " memories not yet purged).",
        labels=["project", "store"],
    )
    for (project, name), count in sorted(memories.items()):
        stored.add_metric([project, name], count)
    return [up, jobs, stored]


async def metrics(request: Request) -> Response:
    settings = request.app.state.settings
    if not settings.metrics_public and not caller(request).admin:
        raise Forbidden("/metrics needs an admin key (or set MEMVAULT_METRICS_PUBLIC=true)")
    service = getattr(request.app.state, "service", None)
    families = await database_families(getattr(service, "store", None))
    return Response(generate_latest(_Scrape(families)), media_type=CONTENT_TYPE_LATEST)


def install_metrics(app: FastAPI, *, public: bool) -> None:
    """Serve ``/metrics``. Public, it is a plain route that no authentication dependency
    reaches; otherwise an API route behind the app's authentication (admins only)."""
    if public:
        app.add_route(PATH, metrics, methods=["GET"], include_in_schema=False)
    else:
        app.add_api_route(PATH, metrics, methods=["GET"], response_class=PlainTextResponse,
                          response_model=None, responses={
            200: {"description": "The Prometheus text exposition"},
            **FOUNDRY.errors([401, 403, 429]),
        })  # fmt: skip
