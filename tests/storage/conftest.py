"""Fixtures for the storage suite: every test taking ``store`` runs against each backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from memvault.models import MemoryKind, MemoryStatus, MemoryStore, NewMemory, StoreOptions, new_id
from memvault.settings import Settings
from memvault.storage import Store, open_store
from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)

DIM = 8

BACKENDS = ["sqlite", "postgres"]

OpenStore = Callable[[], Awaitable[Store]]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each backend: a SQLite file, or a PostgreSQL database on the
    session's embedded server (``tests/support/postgres.py``)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'memvault.db'}"
        return
    server: EmbeddedPostgres = request.getfixturevalue("postgres_server")
    with server.database() as url:
        yield url


@pytest.fixture
def settings() -> Settings:
    # NORMAL skips the fsync per commit: durability on power loss is not what these tests check.
    return Settings(vector_cache_mb=64, sqlite_synchronous="NORMAL")


@pytest.fixture
async def open_another(database_url: str, settings: Settings) -> AsyncIterator[OpenStore]:
    """Opens more Store objects on the test's database (another process, or a restart); all are
    closed after the test."""
    opened: list[Store] = []

    async def open_() -> Store:
        store = await open_store(database_url, settings)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_another: OpenStore) -> Store:
    return await open_another()


def unit_vectors(count: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """``count`` deterministic random unit vectors, float32."""
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def unit_vector(seed: int, dim: int = DIM) -> np.ndarray:
    return unit_vectors(1, dim, seed)[0]


def new_memory(
    content: str = "the user likes green tea",
    *,
    seed: int = 0,
    kind: MemoryKind = MemoryKind.USER_PROFILE,
    status: MemoryStatus = MemoryStatus.ACTIVE,
    expires_at: int | None = None,
    embedding: np.ndarray | None = None,
) -> NewMemory:
    return NewMemory(
        kind=kind,
        content=content,
        embedding=unit_vector(seed) if embedding is None else embedding,
        created_by="upd_test",
        source=({"update_id": "upd_test", "role": "user", "text": content},),
        status=status,
        expires_at=expires_at,
    )


def memory_store(name: str = "assistant", project: str = "default", dim: int = DIM) -> MemoryStore:
    return MemoryStore(
        id=new_id("memstore"),
        project=project,
        name=name,
        chat_model="gpt-4.1",
        requested_embedding_model="text-embedding-3-small",
        embedding_model="all-minilm-l6-v2",
        embedding_dimension=dim,
        options=StoreOptions(user_profile_details="food preferences"),
        description="test store",
        metadata={"team": "qa"},
        notices=("embedding model replaced by the local default",),
    )
