"""The ASGI application: one FastAPI app serving every API face over one engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel
from starlette.responses import JSONResponse

from memvault import __version__
from memvault.api.admin import router as admin_router
from memvault.api.admission import search_gate
from memvault.api.agents.routes import router as agents_router
from memvault.api.auth import Authenticator, authenticate
from memvault.api.limits import RateLimits, limit_principal
from memvault.api.databricks.conversations import router as conversations_router
from memvault.api.databricks.errors import PREFIX as DATABRICKS_PREFIX
from memvault.api.databricks.errors import databricks_error_body
from memvault.api.databricks.permissions import router as permissions_router
from memvault.api.databricks.routes import router as databricks_router
from memvault.api.errors import install_error_handlers
from memvault.api.foundry.routes import router as foundry_router
from memvault.api.metrics import install_metrics
from memvault.api.middleware import RequestObserver
from memvault.api.openapi import FOUNDRY, install_openapi
from memvault.api.openai.errors import OPENAI_PATHS, openai_error_body
from memvault.api.openai.routes import ga_router as openai_ga_router
from memvault.api.openai.routes import preview_router as openai_preview_router
from memvault.api.ui import inspector_app
from memvault.engine.access import AccessPolicy
from memvault.engine.agents import AgentService
from memvault.engine.llm.generation import ChatGenerator
from memvault.engine.entries import EntryService
from memvault.engine.service import MemoryService
from memvault.errors import InvalidRequest
from memvault.engine.updates import default_pipeline
from memvault.jobs.worker import UpdateWorker
from memvault.providers.openai_client import make_async_openai_client
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import display_url, open_store
from memvault.storage.agents import open_agent_store
from memvault.storage.governance import open_governance_store

log = logging.getLogger(__name__)


async def single_valued_query(request: Request) -> None:
    """App-wide dependency: every query parameter of every operation holds one value, so one
    given twice (``?after=a&after=b``) is refused rather than silently narrowed to the last."""
    seen: set[str] = set()
    for name, _ in request.query_params.multi_items():
        if name in seen:
            raise InvalidRequest(f"query parameter '{name}' is given more than once", param=name)
        seen.add(name)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Storage opens (and migrates) and the local model loads at startup, so
    ``/healthz`` answers 200 only once requests can be served."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(settings.resolved_database_url, settings)
        embeddings = EmbeddingProviders(settings)
        worker: UpdateWorker | None = None
        agents: AgentService | None = None
        try:
            await embeddings.warm_up()
            service = MemoryService(store, embeddings, settings)
            governance = open_governance_store(store)
            app.state.authenticator.governance = governance
            app.state.access = AccessPolicy(governance, settings)
            agents = _agent_service(store, service, settings, app.state.access)
            if settings.worker:
                worker = UpdateWorker(
                    store,
                    default_pipeline(store, embeddings, settings),
                    concurrency=settings.worker_concurrency,
                    lease_seconds=settings.job_lease_seconds,
                )
                service.update_listeners.append(worker.wake)
                await worker.start()
            app.state.service = service
            app.state.entries = EntryService(service)
            app.state.agents = agents
            app.state.ready = True
            log.info("memvault %s ready on %s", __version__,
                     display_url(settings.resolved_database_url))
            yield
        finally:
            app.state.ready = False
            if worker is not None:
                await worker.stop()
            if agents is not None:
                await agents.aclose()
            await embeddings.aclose()
            await app.state.rate_limits.aclose()
            await store.close()

    app = FastAPI(
        title="memvault",
        version=__version__,
        lifespan=lifespan,
        dependencies=[
            Depends(authenticate), Depends(limit_principal), Depends(single_valued_query)
        ],
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(
        settings.auth, settings.api_key_list, None, cache_seconds=settings.auth_cache_seconds
    )
    app.state.rate_limits = RateLimits(
        settings.rate_limit_per_principal, settings.rate_limit_per_scope,
        settings.rate_limit_redis_url,
    )
    app.state.search_gate = search_gate(settings)
    app.state.ready = False
    app.state.error_renderers = {DATABRICKS_PREFIX: databricks_error_body,
                                 OPENAI_PATHS: openai_error_body}
    install_error_handlers(app)
    app.include_router(foundry_router)
    app.include_router(agents_router)
    app.include_router(openai_ga_router)
    app.include_router(openai_preview_router)
    app.include_router(databricks_router)
    app.include_router(conversations_router)
    app.include_router(permissions_router)
    app.include_router(admin_router)
    install_metrics(app, public=settings.metrics_public)
    app.mount("/ui", inspector_app(), name="ui")
    app.add_middleware(RequestObserver, log_requests=settings.access_log)

    @app.get("/healthz", response_model=None, responses={
        200: {"model": Health, "description": "Ready to serve requests"},
        503: {"model": Health, "description": "Starting (or stopping)"},
        **FOUNDRY.errors([429]),
    })  # fmt: skip
    async def healthz(request: Request) -> JSONResponse:
        ready = bool(getattr(request.app.state, "ready", False))
        return JSONResponse(
            {"status": "ok" if ready else "starting", "version": __version__},
            status_code=200 if ready else 503,
        )

    install_openapi(app)
    return app


class Health(BaseModel):
    status: Literal["ok", "starting"]
    version: str


def create_app_from_environment() -> FastAPI:
    """:func:`create_app` with settings from the environment: what each process of
    ``memvault serve --processes N`` runs."""
    return create_app(Settings())


def _agent_service(
    store: object, service: MemoryService, settings: Settings, access: AccessPolicy
) -> AgentService | None:
    """Agents live in the memory store's database (None on a backend without an AgentStore);
    they generate with the configured chat endpoint, if any."""
    agent_store = open_agent_store(store)
    if agent_store is None:
        log.warning("agents, conversations and responses are not available on this backend")
        return None
    client = make_async_openai_client(settings)
    generator = ChatGenerator(client, timeout=settings.chat_timeout) if client else None
    return AgentService(agent_store, service, settings, generator, access=access)
