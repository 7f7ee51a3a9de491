"""Searches reuse a store's definition for a moment; the service's own changes show at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memvault.engine.service import MemoryService
from memvault.errors import StoreNotFound
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import open_store


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[tuple[MemoryService, MemoryService]]:
    """Two services on one database: two server processes."""
    settings = Settings(data_dir=tmp_path)
    backends = [await open_store(settings.resolved_database_url, settings) for _ in range(2)]
    embeddings = EmbeddingProviders(settings)
    try:
        yield MemoryService(backends[0], embeddings, settings), MemoryService(
            backends[1], embeddings, settings
        )
    finally:
        await embeddings.aclose()
        for backend in backends:
            await backend.close()


async def test_own_changes_show_at_once(services: tuple[MemoryService, MemoryService]) -> None:
    service, _ = services
    await service.create_store("default", "notes")
    assert (await service.get_store("default", "notes", recent=True)).description is None
    await service.update_store("default", "notes", description="team notes")
    store = await service.get_store("default", "notes", recent=True)
    assert store.description == "team notes"
    await service.delete_store("default", "notes")
    with pytest.raises(StoreNotFound):
        await service.get_store("default", "notes", recent=True)


async def test_a_plain_read_sees_another_process_change_and_searches_then_reuse_it(
    services: tuple[MemoryService, MemoryService],
) -> None:
    here, there = services
    await here.create_store("default", "notes")
    await here.get_store("default", "notes", recent=True)
    await there.update_store("default", "notes", description="edited elsewhere")
    fresh = await here.get_store("default", "notes")  # not a search: read afresh
    assert fresh.description == "edited elsewhere"
    assert (await here.get_store("default", "notes", recent=True)).description == fresh.description
