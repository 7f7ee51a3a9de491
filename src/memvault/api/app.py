"""The ASGI application: one FastAPI app serving every API face over one engine."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from starlette.responses import JSONResponse

from memvault import __version__
from memvault.api.auth import require_api_key
from memvault.api.errors import install_error_handlers
from memvault.api.foundry.routes import router as foundry_router
from memvault.engine.service import MemoryService
from memvault.engine.updates import default_pipeline
from memvault.jobs.worker import UpdateWorker
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import open_store

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Storage opens (and migrates) and the local model loads at startup, so
    ``/healthz`` answers 200 only once requests can be served."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = await open_store(settings.resolved_database_url, settings)
        embeddings = EmbeddingProviders(settings)
        worker: UpdateWorker | None = None
        try:
            await embeddings.warm_up()
            service = MemoryService(store, embeddings, settings)
            if settings.worker:
                worker = UpdateWorker(
                    store,
                    default_pipeline(store, embeddings, settings),
                    concurrency=settings.worker_concurrency,
                )
                service.update_listeners.append(worker.wake)
                await worker.start()
            app.state.service = service
            app.state.ready = True
            log.info("memvault %s ready on %s", __version__, settings.resolved_database_url)
            yield
        finally:
            app.state.ready = False
            if worker is not None:
                await worker.stop()
            await embeddings.aclose()
            await store.close()

    app = FastAPI(
        title="memvault",
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(require_api_key)],
    )
    app.state.settings = settings
    app.state.ready = False
    app.state.error_renderers = {}
    install_error_handlers(app)
    app.include_router(foundry_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        ready = bool(getattr(request.app.state, "ready", False))
        return JSONResponse(
            {"status": "ok" if ready else "starting", "version": __version__},
            status_code=200 if ready else 503,
        )

    return app
