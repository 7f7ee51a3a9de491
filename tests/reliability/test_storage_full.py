"""A full database at the Store level (SQLite's ``max_page_count``, set by
``MEMVAULT_SQLITE_MAX_PAGES``): a write that does not fit fails with ``StorageFull`` and leaves
nothing behind (no row, no text-index row, no vector, no audit row), the writes grouped in the same
commit with it still succeed, reads go on, and writes succeed again once space returns."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from memvault.errors import StorageFull
from memvault.models import MemoryKind
from memvault.settings import Settings
from memvault.storage.sqlite import SQLiteStore
from tests.storage.conftest import memory_store, new_memory, unit_vector

SCOPE = "user-1"


def page_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("PRAGMA page_count").fetchone()[0]


async def capped_store(path: Path, headroom: int) -> tuple[SQLiteStore, str]:
    """A store whose database may grow by ``headroom`` pages past its size once set up."""
    setup = SQLiteStore(path, Settings())
    await setup.open()
    store_id = (await setup.create_store(memory_store("notes"))).id
    await setup.add_memories(store_id, SCOPE, [new_memory("the first memory", seed=1)])
    await setup.close()
    store = SQLiteStore(path, Settings(sqlite_max_pages=page_count(path) + headroom))
    await store.open()
    return store, store_id


async def fill(store: SQLiteStore, store_id: str) -> int:
    """Add memories until the database is full; returns how many fitted."""
    for n in range(10_000):
        try:
            await store.add_memories(store_id, SCOPE, [new_memory(f"filler {n} " + "x" * 3_000)])
        except StorageFull:
            return n
    raise AssertionError("the database never filled up")


async def search(store: SQLiteStore, store_id: str, text: str, seed: int) -> list[str]:
    found = await store.search_candidates(
        store_id, SCOPE, text=text, embedding=unit_vector(seed),
        kinds=list(MemoryKind), limit=5,
    )
    return [c.memory.content for c in found.by_text] + [c.memory.content for c in found.by_vector]


async def test_a_write_past_the_cap_fails_cleanly_and_keeps_nothing(tmp_path: Path) -> None:
    store, store_id = await capped_store(tmp_path / "db.sqlite", headroom=40)
    try:
        assert await search(store, store_id, "first", seed=1)  # the vector index is loaded
        fitted = await fill(store, store_id)
        assert fitted > 0
        count = await store.count_memories(store_id, SCOPE)
        audit = (await store.list_audit(limit=1000)).items

        huge = new_memory("zanzibar " + "z" * 200_000, seed=99)
        with pytest.raises(StorageFull) as raised:
            await store.add_memories(store_id, SCOPE, [huge])
        assert raised.value.status_code == 507

        assert await store.count_memories(store_id, SCOPE) == count
        assert (await store.list_audit(limit=1000)).items == audit
        hits = await search(store, store_id, "zanzibar", seed=99)
        assert not any(content.startswith("zanzibar") for content in hits)
        # Reads go on.
        assert "the first memory" in await search(store, store_id, "first", seed=1)
    finally:
        await store.close()


async def test_one_write_too_big_does_not_fail_the_writes_committed_with_it(
    tmp_path: Path,
) -> None:
    store, store_id = await capped_store(tmp_path / "db.sqlite", headroom=60)
    try:
        small = [new_memory(f"small note {i}", seed=100 + i) for i in range(20)]
        huge = new_memory("zanzibar " + "z" * 400_000, seed=99)
        calls = [store.add_memories(store_id, SCOPE, [m]) for m in small[:10]]
        calls.append(store.add_memories(store_id, SCOPE, [huge]))
        calls += [store.add_memories(store_id, SCOPE, [m]) for m in small[10:]]
        results = await asyncio.gather(*calls, return_exceptions=True)

        assert isinstance(results[10], StorageFull)
        others = results[:10] + results[11:]
        assert all(isinstance(r, list) and len(r) == 1 for r in others), others
        contents = {m.content for m in (await store.list_memories(
            store_id, SCOPE, limit=1000, order="asc")).items}
        assert {m.content for m in small} <= contents
        assert not any(c.startswith("zanzibar") for c in contents)
        for i, memory in enumerate(small):
            assert memory.content in await search(store, store_id, memory.content, seed=100 + i)
    finally:
        await store.close()


async def test_writes_succeed_again_once_space_returns(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    store, store_id = await capped_store(path, headroom=40)
    try:
        await fill(store, store_id)
        page = await store.list_memories(store_id, SCOPE, limit=1000, order="asc")
        fillers = [m for m in page.items if m.content.startswith("filler")]
        for memory in fillers[: len(fillers) // 2 + 1]:
            await store.delete_memory(store_id, SCOPE, memory.id)
        added = await store.add_memories(store_id, SCOPE, [new_memory("after deleting", seed=7)])
        assert added[0].content == "after deleting"
        assert "after deleting" in await search(store, store_id, "deleting", seed=7)
    finally:
        await store.close()

    # A larger cap (a restart with a new MEMVAULT_SQLITE_MAX_PAGES) makes room too.
    store = SQLiteStore(path, Settings(sqlite_max_pages=page_count(path) + 40))
    await store.open()
    try:
        await fill(store, store_id)
        await store.close()
        store = SQLiteStore(path, Settings(sqlite_max_pages=page_count(path) + 400))
        await store.open()
        added = await store.add_memories(store_id, SCOPE, [new_memory("after raising", seed=8)])
        assert added[0].content == "after raising"
    finally:
        await store.close()
