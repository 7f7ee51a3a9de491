"""Quotas on each backend: memories per scope and scopes per store, enforced inside the write
transaction (exact under concurrency), refusing with ``QuotaExceeded`` and changing nothing."""

from __future__ import annotations

import asyncio

import pytest

from memvault.errors import QuotaExceeded
from memvault.models import NewEntry, PlannedOperation, UpdateMessage, new_id, now
from memvault.settings import Settings
from memvault.storage import Store
from memvault.storage.base import MemoryRecord
from tests.storage.conftest import OpenStore, memory_store, new_memory, unit_vector

MAX_MEMORIES = 3
MAX_SCOPES = 2


@pytest.fixture
def settings() -> Settings:
    return Settings(vector_cache_mb=64, sqlite_synchronous="NORMAL",
                    max_memories_per_scope=MAX_MEMORIES, max_scopes_per_store=MAX_SCOPES)


async def count(store: Store, store_id: str, scope: str) -> int:
    return await store.count_memories(store_id, scope)


async def test_a_full_scope_refuses_more_and_keeps_what_it_has(store: Store) -> None:
    store_id = (await store.create_store(memory_store())).id
    await store.add_memories(store_id, "alice", [new_memory(f"fact {i}", seed=i) for i in range(2)])
    with pytest.raises(QuotaExceeded) as refused:
        # Two more would pass the quota: neither is written.
        await store.add_memories(store_id, "alice", [new_memory("a", seed=7),
                                                     new_memory("b", seed=8)])
    assert refused.value.code == "quota_exceeded" and refused.value.status_code == 403
    assert refused.value.details == {"limit": MAX_MEMORIES, "current": MAX_MEMORIES}
    assert str(MAX_MEMORIES) in refused.value.message
    assert await count(store, store_id, "alice") == 2

    await store.add_memories(store_id, "alice", [new_memory("the last one", seed=9)])
    with pytest.raises(QuotaExceeded):
        await store.create_entry(store_id, "alice", NewEntry("/memories/a.md", "d", "c",
                                                             unit_vector(3)))
    assert await count(store, store_id, "alice") == MAX_MEMORIES


async def test_concurrent_writers_cannot_both_take_the_last_slot(
    store: Store, open_another: OpenStore
) -> None:
    store_id = (await store.create_store(memory_store())).id
    other = await open_another()
    await store.add_memories(store_id, "alice", [new_memory("first", seed=1)])

    results = await asyncio.gather(*(
        (store if i % 2 else other).add_memories(store_id, "alice", [new_memory(f"m{i}", seed=i)])
        for i in range(16)
    ), return_exceptions=True)  # fmt: skip
    written = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(written) == MAX_MEMORIES - 1 and len(refused) == 16 - len(written)
    assert await count(store, store_id, "alice") == MAX_MEMORIES


async def test_scopes_per_store_refuses_a_new_scope_not_an_old_one(
    store: Store, open_another: OpenStore
) -> None:
    store_id = (await store.create_store(memory_store())).id
    other_store_id = (await store.create_store(memory_store("other"))).id
    await store.add_memories(store_id, "alice", [new_memory("a", seed=1)])

    # Two new scopes at once: one fits, the other does not.
    other = await open_another()
    results = await asyncio.gather(
        store.add_memories(store_id, "bob", [new_memory("b", seed=2)]),
        other.add_memories(store_id, "carol", [new_memory("c", seed=3)]),
        return_exceptions=True,
    )
    assert sum(isinstance(r, QuotaExceeded) for r in results) == 1
    with pytest.raises(QuotaExceeded) as refused:
        await store.add_memories(store_id, "dave", [new_memory("d", seed=4)])
    assert refused.value.details == {"limit": MAX_SCOPES, "current": MAX_SCOPES}
    assert await count(store, store_id, "dave") == 0

    # A scope that has memories takes more; another store counts its own scopes.
    await store.add_memories(store_id, "alice", [new_memory("a2", seed=5)])
    await store.add_memories(other_store_id, "dave", [new_memory("d", seed=6)])


async def test_an_update_that_would_pass_the_quota_applies_nothing(store: Store) -> None:
    store_id = (await store.create_store(memory_store())).id
    await store.add_memories(store_id, "alice", [new_memory(f"m{i}", seed=i) for i in range(2)])
    update_id = new_id("upd")
    await store.enqueue_update(store_id, "alice", update_id=update_id,
                               messages=[UpdateMessage("user", "hi", update_id)], run_at=now())
    job = await store.claim_update("w1", now=now(), lease_seconds=30)
    assert job is not None
    with pytest.raises(QuotaExceeded):
        await store.complete_update(
            store_id, "alice", job.id, "w1", usage={},
            operations=[PlannedOperation(kind="create", new=new_memory("x", seed=7)),
                        PlannedOperation(kind="create", new=new_memory("y", seed=8))],
        )  # fmt: skip
    assert await count(store, store_id, "alice") == 2


async def test_an_import_past_the_quota_imports_nothing(store: Store) -> None:
    source_id = (await store.create_store(memory_store("source"))).id
    target_id = (await store.create_store(memory_store("target"))).id
    await store.add_memories(source_id, "alice", [new_memory(f"m{i}", seed=i) for i in range(3)])
    await store.add_memories(target_id, "alice", [new_memory("already", seed=9)])
    exported = await store.export_memories(source_id, limit=100)
    records = exported.items
    assert len(records) == 3 and all(isinstance(r, MemoryRecord) for r in records)
    with pytest.raises(QuotaExceeded):
        await store.import_memories(target_id, records)
    assert await count(store, target_id, "alice") == 1
