"""Fixtures for the engine tests: the real local embedding model, loaded once."""

from __future__ import annotations

import numpy as np
import pytest

from memvault.models import Memory, MemoryKind


@pytest.fixture(scope="session")
def embedder():
    from memvault.providers.local_minilm import MiniLMEmbedder

    return MiniLMEmbedder()


def make_memory(content: str, kind: MemoryKind = MemoryKind.USER_PROFILE, *,
                memory_id: str | None = None, embedding: np.ndarray | None = None) -> Memory:
    return Memory(id=memory_id or f"mem_{abs(hash(content)) % 10**8:08d}", store_id="ms_1",
                  scope="user_1", kind=kind, content=content, created_at=1, updated_at=1,
                  embedding=embedding)
