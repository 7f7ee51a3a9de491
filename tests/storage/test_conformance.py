"""Every behaviour of the Store protocol, run against each backend (see ``conftest.py``)."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import numpy as np
import pytest

from memvault.errors import (
    InvalidRequest,
    MemoryNotFound,
    StoreAlreadyExists,
    StoreNotFound,
    VersionConflict,
)
from memvault.models import Memory, MemoryKind, MemoryStatus, MemoryStore, SearchCandidates, now
from memvault.storage import Store
from tests.storage.conftest import (
    DIM,
    OpenStore,
    memory_store,
    new_memory,
    unit_vector,
    unit_vectors,
)

ALL_KINDS = list(MemoryKind)


async def make_store(store: Store, name: str = "assistant", project: str = "default") -> str:
    created = await store.create_store(memory_store(name, project))
    return created.id


async def all_ids(store: Store, store_id: str, scope: str, **filters: object) -> list[str]:
    page = await store.list_memories(store_id, scope, limit=1000, order="asc", **filters)
    assert not page.has_more
    return [memory.id for memory in page.items]


def test_backend_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


# -- memory stores -------------------------------------------------------------------------


async def test_create_and_get_store(store: Store) -> None:
    definition = memory_store("notes")
    created = await store.create_store(definition)
    assert created.created_at > 0 and created.updated_at == created.created_at
    assert created == dataclasses.replace(
        definition, created_at=created.created_at, updated_at=created.updated_at
    )
    assert await store.get_store("default", "notes") == created


async def test_find_store_by_id(store: Store) -> None:
    created = await store.create_store(memory_store("notes"))
    other = await store.create_store(memory_store("notes", project="another"))
    assert await store.find_store_by_id(created.id) == created
    assert await store.find_store_by_id(other.id) == other
    with pytest.raises(StoreNotFound):
        await store.find_store_by_id("memstore_missing")
    await store.delete_store("default", "notes")
    with pytest.raises(StoreNotFound):
        await store.find_store_by_id(created.id)


async def test_get_missing_store(store: Store) -> None:
    await make_store(store, "notes")
    with pytest.raises(StoreNotFound):
        await store.get_store("default", "other")
    with pytest.raises(StoreNotFound):
        await store.get_store("other-project", "notes")


async def test_duplicate_name_conflicts_within_a_project_only(store: Store) -> None:
    await make_store(store, "notes")
    with pytest.raises(StoreAlreadyExists):
        await make_store(store, "notes")
    other = await store.create_store(memory_store("notes", project="another"))
    assert (await store.get_store("another", "notes")).id == other.id
    page = await store.list_stores("default", limit=10)
    assert [s.name for s in page.items] == ["notes"]


async def test_update_store_changes_only_given_fields(store: Store) -> None:
    created = await store.create_store(memory_store("notes"))
    updated = await store.update_store("default", "notes", description="new text")
    assert updated.description == "new text"
    assert updated.metadata == created.metadata
    assert updated.updated_at >= created.updated_at
    updated = await store.update_store("default", "notes", metadata={"a": "b"})
    assert (updated.description, updated.metadata) == ("new text", {"a": "b"})
    assert await store.get_store("default", "notes") == updated
    unchanged = await store.update_store("default", "notes")
    assert (unchanged.description, unchanged.metadata) == ("new text", {"a": "b"})
    with pytest.raises(StoreNotFound):
        await store.update_store("default", "missing", description="x")


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_list_stores_pages_walk_forward_and_back(store: Store, order: str) -> None:
    ids = [await make_store(store, f"store-{i}") for i in range(5)]
    await make_store(store, "elsewhere", project="another")
    expected = ids if order == "asc" else ids[::-1]

    first = await store.list_stores("default", limit=2, order=order)
    assert [s.id for s in first.items] == expected[:2] and first.has_more
    everything = await store.list_stores("default", limit=10, order=order)
    assert [s.id for s in everything.items] == expected and not everything.has_more

    seen, after = [], None
    while True:
        page = await store.list_stores("default", limit=1, order=order, after=after)
        seen += [s.id for s in page.items]
        if not page.has_more:
            break
        after = page.items[-1].id
    assert seen == expected

    seen, before = [], expected[-1]
    while True:
        page = await store.list_stores("default", limit=1, order=order, before=before)
        seen = [s.id for s in page.items] + seen
        if not page.has_more:
            break
        before = page.items[0].id
    assert seen == expected[:-1]


async def test_delete_store_deletes_only_that_store(store: Store) -> None:
    doomed = await make_store(store, "doomed")
    kept = await make_store(store, "kept")
    for store_id in (doomed, kept):
        for scope in ("u1", "u2"):
            await store.add_memories(store_id, scope, [new_memory(seed=1), new_memory(seed=2)])
    [kept_memory] = await store.add_memories(kept, "u1", [new_memory("kept", seed=3)])
    doomed_memory = (await store.list_memories(doomed, "u1")).items[0]

    await store.delete_store("default", "doomed")

    with pytest.raises(StoreNotFound):
        await store.get_store("default", "doomed")
    with pytest.raises(StoreNotFound):
        await store.delete_store("default", "doomed")
    with pytest.raises(MemoryNotFound):
        await store.find_memory_in_store(doomed, doomed_memory.id)
    for scope in ("u1", "u2"):
        assert await store.count_memories(doomed, scope) == 0
        hits = await store.search_candidates(
            doomed, scope, text="tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=10
        )
        assert hits.by_vector == [] and hits.by_text == []
    assert await store.count_memories(kept, "u1") == 3
    assert await store.count_memories(kept, "u2") == 2
    assert (await store.get_memory(kept, "u1", kept_memory.id)).content == "kept"
    # The name is free again.
    await make_store(store, "doomed")


# -- memories ------------------------------------------------------------------------------


async def test_add_and_get_memory(store: Store) -> None:
    store_id = await make_store(store)
    new = new_memory("likes green tea", seed=7, kind=MemoryKind.PROCEDURAL)
    [added] = await store.add_memories(store_id, "user_1", [new])
    assert added.id.startswith("mem_")
    assert (added.store_id, added.scope, added.kind, added.content) == (
        store_id, "user_1", MemoryKind.PROCEDURAL, "likes green tea",
    )  # fmt: skip
    assert (added.version, added.status, added.created_by) == (1, MemoryStatus.ACTIVE, "upd_test")
    assert added.source == new.source
    assert added.created_at == added.updated_at > 0
    fetched = await store.get_memory(store_id, "user_1", added.id)
    assert fetched == added
    assert fetched.embedding is not None
    np.testing.assert_allclose(fetched.embedding, new.embedding, rtol=1e-6)
    assert await store.find_memory_in_store(store_id, added.id) == added


async def test_add_many_in_order(store: Store) -> None:
    store_id = await make_store(store)
    added = await store.add_memories(
        store_id, "u", [new_memory(f"fact {i}", seed=i) for i in range(10)]
    )
    assert [m.content for m in added] == [f"fact {i}" for i in range(10)]
    assert await all_ids(store, store_id, "u") == [m.id for m in added]
    assert await store.add_memories(store_id, "u", []) == []


async def test_get_memory_is_scoped(store: Store) -> None:
    store_id = await make_store(store)
    other_store = await make_store(store, "other")
    [memory] = await store.add_memories(store_id, "u1", [new_memory()])
    with pytest.raises(MemoryNotFound):
        await store.get_memory(store_id, "u2", memory.id)
    with pytest.raises(MemoryNotFound):
        await store.get_memory(other_store, "u1", memory.id)
    with pytest.raises(MemoryNotFound):
        await store.find_memory_in_store(other_store, memory.id)
    with pytest.raises(MemoryNotFound):
        await store.get_memory(store_id, "u1", "mem_missing")


async def test_add_to_missing_store(store: Store) -> None:
    with pytest.raises(StoreNotFound):
        await store.add_memories("memstore_missing", "u", [new_memory()])


async def test_embedding_of_wrong_dimension_is_refused(store: Store) -> None:
    store_id = await make_store(store)
    with pytest.raises(InvalidRequest):
        await store.add_memories(store_id, "u", [new_memory(embedding=unit_vector(0, DIM + 1))])
    [memory] = await store.add_memories(store_id, "u", [new_memory()])
    with pytest.raises(InvalidRequest):
        await store.update_memory(
            store_id, "u", memory.id, content="x", embedding=unit_vector(0, DIM - 1)
        )
    with pytest.raises(InvalidRequest):
        await store.search_candidates(
            store_id, "u", text="", embedding=unit_vector(0, DIM + 1), kinds=ALL_KINDS, limit=5
        )


async def test_update_keeps_revision_and_bumps_version(store: Store) -> None:
    store_id = await make_store(store)
    [original] = await store.add_memories(store_id, "u", [new_memory("likes tea", seed=1)])
    updated = await store.update_memory(
        store_id, "u", original.id, content="likes coffee", embedding=unit_vector(2),
        updated_by="upd_2", source=[{"update_id": "upd_2", "role": "user", "text": "coffee"}],
    )  # fmt: skip
    assert (updated.id, updated.content, updated.version) == (original.id, "likes coffee", 2)
    assert updated.updated_by == "upd_2" and updated.created_by == original.created_by
    assert updated.created_at == original.created_at
    assert updated.updated_at >= original.updated_at
    assert updated.source == (*original.source, {"update_id": "upd_2", "role": "user",
                                                  "text": "coffee"})  # fmt: skip
    np.testing.assert_allclose(updated.embedding, unit_vector(2), rtol=1e-6)
    assert await store.get_memory(store_id, "u", original.id) == updated

    again = await store.update_memory(
        store_id, "u", original.id, content="likes water", embedding=unit_vector(3),
        expected_version=2,
    )  # fmt: skip
    assert again.version == 3
    history = await store.memory_history(store_id, "u", original.id)
    assert [(r.version, r.content) for r in history] == [(1, "likes tea"), (2, "likes coffee")]
    assert [r.changed_by for r in history] == ["upd_test", "upd_2"]
    assert all(r.memory_id == original.id for r in history)


async def test_update_expiry(store: Store) -> None:
    store_id = await make_store(store)
    later = now() + 3600
    [memory] = await store.add_memories(store_id, "u", [new_memory(expires_at=later)])
    kept = await store.update_memory(
        store_id, "u", memory.id, content="x", embedding=unit_vector(1)
    )
    assert kept.expires_at == later
    moved = await store.update_memory(
        store_id, "u", memory.id, content="y", embedding=unit_vector(1), expires_at=later + 60
    )
    assert moved.expires_at == later + 60


async def test_version_conflict_changes_nothing(store: Store) -> None:
    store_id = await make_store(store)
    [memory] = await store.add_memories(store_id, "u", [new_memory("likes tea", seed=1)])
    with pytest.raises(VersionConflict):
        await store.update_memory(
            store_id, "u", memory.id, content="likes coffee", embedding=unit_vector(2),
            expected_version=5,
        )  # fmt: skip
    assert await store.get_memory(store_id, "u", memory.id) == memory
    assert await store.memory_history(store_id, "u", memory.id) == []
    hits = await store.search_candidates(
        store_id, "u", text="coffee", embedding=unit_vector(1), kinds=ALL_KINDS, limit=5
    )
    assert hits.by_text == []
    assert [h.memory.id for h in hits.by_vector] == [memory.id]
    assert hits.by_vector[0].score == pytest.approx(1.0, abs=1e-5)


async def test_update_and_history_are_scoped(store: Store) -> None:
    store_id = await make_store(store)
    [memory] = await store.add_memories(store_id, "u1", [new_memory("likes tea")])
    with pytest.raises(MemoryNotFound):
        await store.update_memory(
            store_id, "u2", memory.id, content="hijacked", embedding=unit_vector(1)
        )
    with pytest.raises(MemoryNotFound):
        await store.memory_history(store_id, "u2", memory.id)
    with pytest.raises(MemoryNotFound):
        await store.delete_memory(store_id, "u2", memory.id)
    with pytest.raises(MemoryNotFound):
        await store.update_memory(
            store_id, "u1", "mem_missing", content="x", embedding=unit_vector(1)
        )
    assert await store.get_memory(store_id, "u1", memory.id) == memory


async def test_delete_memory(store: Store) -> None:
    store_id = await make_store(store)
    [doomed, kept] = await store.add_memories(
        store_id, "u", [new_memory("likes tea", seed=1), new_memory("likes cake", seed=2)]
    )
    await store.update_memory(store_id, "u", doomed.id, content="likes tea a lot",
                              embedding=unit_vector(1))  # fmt: skip
    deleted = await store.delete_memory(store_id, "u", doomed.id)
    assert (deleted.id, deleted.content, deleted.version) == (doomed.id, "likes tea a lot", 2)
    with pytest.raises(MemoryNotFound):
        await store.get_memory(store_id, "u", doomed.id)
    with pytest.raises(MemoryNotFound):
        await store.memory_history(store_id, "u", doomed.id)
    with pytest.raises(MemoryNotFound):
        await store.delete_memory(store_id, "u", doomed.id)
    assert await all_ids(store, store_id, "u") == [kept.id]
    hits = await store.search_candidates(
        store_id, "u", text="tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=5
    )
    assert [h.memory.id for h in hits.by_vector] == [kept.id]
    assert hits.by_text == []


async def test_list_filters_by_kind_and_status(store: Store) -> None:
    store_id = await make_store(store)
    added = await store.add_memories(
        store_id,
        "u",
        [
            new_memory("a", kind=MemoryKind.USER_PROFILE),
            new_memory("b", kind=MemoryKind.CHAT_SUMMARY),
            new_memory("c", kind=MemoryKind.USER_PROFILE, status=MemoryStatus.QUARANTINED),
            new_memory("d", kind=MemoryKind.PROCEDURAL),
        ],
    )
    a, b, c, d = (m.id for m in added)
    assert await all_ids(store, store_id, "u") == [a, b, d]
    assert await all_ids(store, store_id, "u", kind=MemoryKind.USER_PROFILE) == [a]
    assert await all_ids(store, store_id, "u", kind=MemoryKind.CHAT_SUMMARY) == [b]
    assert await all_ids(store, store_id, "u", status=MemoryStatus.QUARANTINED) == [c]
    assert await all_ids(
        store, store_id, "u", kind=MemoryKind.PROCEDURAL, status=MemoryStatus.QUARANTINED
    ) == []
    assert await store.count_memories(store_id, "u") == 3
    # Quarantined memories are still addressable by id.
    assert (await store.get_memory(store_id, "u", c)).status is MemoryStatus.QUARANTINED


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_list_memories_pagination(store: Store, order: str) -> None:
    store_id = await make_store(store)
    added = await store.add_memories(store_id, "u", [new_memory(f"m{i}") for i in range(7)])
    await store.add_memories(store_id, "other", [new_memory("x") for _ in range(3)])
    ids = [m.id for m in added]
    expected = ids if order == "asc" else ids[::-1]

    default = await store.list_memories(store_id, "u", order=order)
    assert [m.id for m in default.items] == expected and not default.has_more
    page = await store.list_memories(store_id, "u", limit=3, order=order)
    assert [m.id for m in page.items] == expected[:3] and page.has_more

    # Forward with `after`, limit 1: no repeats, no gaps.
    seen, after = [], None
    while True:
        page = await store.list_memories(store_id, "u", limit=1, order=order, after=after)
        assert len(page.items) == 1
        seen.append(page.items[0].id)
        if not page.has_more:
            break
        after = page.items[0].id
    assert seen == expected

    # Backward with `before`: the page nearest the cursor, in list order.
    page = await store.list_memories(store_id, "u", limit=2, order=order, before=expected[4])
    assert [m.id for m in page.items] == expected[2:4] and page.has_more
    seen, before = [], expected[-1]
    while True:
        page = await store.list_memories(store_id, "u", limit=1, order=order, before=before)
        seen = [m.id for m in page.items] + seen
        if not page.has_more:
            break
        before = page.items[0].id
    assert seen == expected[:-1]

    # Both cursors: strictly between.
    page = await store.list_memories(
        store_id, "u", limit=10, order=order, after=expected[1], before=expected[5]
    )
    assert [m.id for m in page.items] == expected[2:5] and not page.has_more
    page = await store.list_memories(store_id, "u", limit=1, order=order, after=expected[-1])
    assert page.items == [] and not page.has_more


async def test_bad_list_arguments(store: Store) -> None:
    store_id = await make_store(store)
    with pytest.raises(InvalidRequest):
        await store.list_memories(store_id, "u", limit=0)
    with pytest.raises(InvalidRequest):
        await store.list_stores("default", limit=5, order="sideways")  # type: ignore[arg-type]


async def test_expired_memories_are_invisible_and_purged(store: Store) -> None:
    store_id = await make_store(store)
    other_store = await make_store(store, "other")
    past, future = now() - 10, now() + 3600
    [expired, live, later] = await store.add_memories(
        store_id,
        "u",
        [
            new_memory("expired tea", seed=1, expires_at=past),
            new_memory("live tea", seed=2),
            new_memory("later tea", seed=3, expires_at=future),
        ],
    )
    [other_expired] = await store.add_memories(
        other_store, "v", [new_memory("old", expires_at=past)]
    )
    with pytest.raises(MemoryNotFound):
        await store.get_memory(store_id, "u", expired.id)
    with pytest.raises(MemoryNotFound):
        await store.find_memory_in_store(store_id, expired.id)
    with pytest.raises(MemoryNotFound):
        await store.update_memory(store_id, "u", expired.id, content="x", embedding=unit_vector(1))
    with pytest.raises(MemoryNotFound):
        await store.delete_memory(store_id, "u", expired.id)
    assert await all_ids(store, store_id, "u") == [live.id, later.id]
    assert await store.count_memories(store_id, "u") == 2
    hits = await store.search_candidates(
        store_id, "u", text="tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=10
    )
    assert {h.memory.id for h in hits.by_vector} == {live.id, later.id}
    assert {h.memory.id for h in hits.by_text} == {live.id, later.id}

    assert await store.purge_expired(now()) == 2
    assert await store.purge_expired(now()) == 0
    assert await all_ids(store, store_id, "u") == [live.id, later.id]
    with pytest.raises(MemoryNotFound):
        await store.find_memory_in_store(other_store, other_expired.id)
    # `now` is the caller's clock: purging "in the future" removes what will have expired.
    assert await store.purge_expired(future) == 1
    assert await all_ids(store, store_id, "u") == [live.id]


async def test_count_memories(store: Store) -> None:
    store_id = await make_store(store)
    assert await store.count_memories(store_id, "u") == 0
    await store.add_memories(store_id, "u", [new_memory(seed=i) for i in range(4)])
    await store.add_memories(store_id, "u", [new_memory(status=MemoryStatus.QUARANTINED)])
    await store.add_memories(store_id, "v", [new_memory()])
    assert await store.count_memories(store_id, "u") == 4
    assert await store.count_memories(store_id, "v") == 1


async def test_delete_scope_deletes_only_that_scope(store: Store) -> None:
    store_id = await make_store(store)
    other_store = await make_store(store, "other")
    await store.add_memories(store_id, "u1", [new_memory("tea", seed=i) for i in range(3)])
    await store.add_memories(store_id, "u1", [new_memory(status=MemoryStatus.QUARANTINED)])
    [kept] = await store.add_memories(store_id, "u2", [new_memory("tea", seed=0)])
    [kept_elsewhere] = await store.add_memories(other_store, "u1", [new_memory("tea", seed=0)])

    assert await store.delete_scope(store_id, "u1") == 4
    assert await store.delete_scope(store_id, "u1") == 0
    assert await store.count_memories(store_id, "u1") == 0
    assert await all_ids(store, store_id, "u1", status=MemoryStatus.QUARANTINED) == []
    empty = await store.search_candidates(
        store_id, "u1", text="tea", embedding=unit_vector(0), kinds=ALL_KINDS, limit=5
    )
    assert empty.by_vector == [] and empty.by_text == []
    assert await all_ids(store, store_id, "u2") == [kept.id]
    assert await all_ids(store, other_store, "u1") == [kept_elsewhere.id]
    hits = await store.search_candidates(
        store_id, "u2", text="tea", embedding=unit_vector(0), kinds=ALL_KINDS, limit=5
    )
    assert [h.memory.id for h in hits.by_vector] == [kept.id]
    assert [h.memory.id for h in hits.by_text] == [kept.id]

    # The scope can be used again afterwards.
    [again] = await store.add_memories(store_id, "u1", [new_memory("tea", seed=5)])
    hits = await store.search_candidates(
        store_id, "u1", text="tea", embedding=unit_vector(5), kinds=ALL_KINDS, limit=5
    )
    assert [h.memory.id for h in hits.by_vector] == [again.id]
    assert [h.memory.id for h in hits.by_text] == [again.id]


async def test_list_scopes_counts_and_pages_in_code_point_order(store: Store) -> None:
    store_id = await make_store(store)
    other_store = await make_store(store, "other")
    # Names that trip LIKE patterns, path handling, case folding and locale collations.
    names = ["u_1", "u%1", "a/b", "Zed", "zed", "ü", "日本", "u1"]
    for i, scope in enumerate(names):
        await store.add_memories(store_id, scope, [new_memory(seed=i)])
    procedure = new_memory("more", seed=9, kind=MemoryKind.PROCEDURAL)
    await store.add_memories(store_id, "u1", [procedure])
    await store.add_memories(store_id, "u1", [new_memory(status=MemoryStatus.QUARANTINED)])
    await store.add_memories(store_id, "held", [new_memory(status=MemoryStatus.QUARANTINED)])
    await store.add_memories(store_id, "gone", [new_memory(expires_at=now() - 10)])
    await store.add_memories(other_store, "elsewhere", [new_memory()])
    expected = sorted([*names, "held"])  # Python compares str by code point

    page = await store.list_scopes(store_id, limit=100)
    assert [s.scope for s in page.items] == expected and not page.has_more
    summaries = {s.scope: s for s in page.items}
    assert (summaries["u1"].memory_count, summaries["u1"].quarantined_count) == (2, 1)
    assert (summaries["held"].memory_count, summaries["held"].quarantined_count) == (0, 1)
    assert (summaries["ü"].memory_count, summaries["ü"].quarantined_count) == (1, 0)
    newest = (await store.list_memories(store_id, "u1", limit=1)).items[0]
    assert summaries["u1"].updated_at >= newest.updated_at > 0

    walked, after = [], None
    while True:
        page = await store.list_scopes(store_id, limit=3, after=after)
        walked += [s.scope for s in page.items]
        if not page.has_more:
            break
        after = page.items[-1].scope
    assert walked == expected
    # A cursor need not be a scope that exists.
    page = await store.list_scopes(store_id, limit=100, after="u")
    assert [s.scope for s in page.items] == [s for s in expected if s > "u"]

    assert [s.scope for s in (await store.list_scopes(other_store, limit=10)).items] == [
        "elsewhere"
    ]
    assert (await store.list_scopes("memstore_missing", limit=10)).items == []
    with pytest.raises(InvalidRequest):
        await store.list_scopes(store_id, limit=0)


async def test_list_scopes_follows_deletes(store: Store) -> None:
    store_id = await make_store(store)
    [first, second] = await store.add_memories(
        store_id, "u1", [new_memory(seed=1), new_memory(seed=2)]
    )
    await store.add_memories(store_id, "u2", [new_memory(seed=3)])

    await store.delete_memory(store_id, "u1", first.id)
    [u1, u2] = (await store.list_scopes(store_id, limit=10)).items
    assert (u1.scope, u1.memory_count, u2.scope, u2.memory_count) == ("u1", 1, "u2", 1)
    await store.delete_memory(store_id, "u1", second.id)
    assert [s.scope for s in (await store.list_scopes(store_id, limit=10)).items] == ["u2"]
    await store.delete_scope(store_id, "u2")
    assert (await store.list_scopes(store_id, limit=10)).items == []


# -- search --------------------------------------------------------------------------------


async def test_vector_search_matches_brute_force(store: Store) -> None:
    store_id = await make_store(store)
    vectors = unit_vectors(200, seed=42)
    kinds = [ALL_KINDS[i % 3] for i in range(200)]
    added = await store.add_memories(
        store_id,
        "u",
        [new_memory(f"m{i}", kind=kinds[i], embedding=vectors[i]) for i in range(200)],
    )
    await store.add_memories(store_id, "neighbour", [new_memory(embedding=v) for v in vectors])
    query = unit_vector(99)
    scores = vectors @ query

    hits = await store.search_candidates(
        store_id, "u", text="", embedding=query, kinds=ALL_KINDS, limit=15
    )
    expected = np.argsort(-scores)[:15]
    assert [h.memory.id for h in hits.by_vector] == [added[i].id for i in expected]
    np.testing.assert_allclose([h.score for h in hits.by_vector], scores[expected], rtol=1e-5)
    assert hits.by_text == []

    wanted = [MemoryKind.CHAT_SUMMARY, MemoryKind.PROCEDURAL]
    hits = await store.search_candidates(
        store_id, "u", text="", embedding=query, kinds=wanted, limit=15
    )
    allowed = [i for i in np.argsort(-scores) if kinds[i] in wanted][:15]
    assert [h.memory.id for h in hits.by_vector] == [added[i].id for i in allowed]

    hits = await store.search_candidates(
        store_id, "u", text="", embedding=query, kinds=ALL_KINDS, limit=500
    )
    assert len(hits.by_vector) == 200


async def test_text_search_ranks_matches(store: Store) -> None:
    store_id = await make_store(store)
    [both, one, none, other_kind] = await store.add_memories(
        store_id,
        "u",
        [
            new_memory("The user drinks green tea every morning", seed=1),
            new_memory("The user visited a green park", seed=2),
            new_memory("The user owns a bicycle", seed=3),
            new_memory("Brew green tea for four minutes", seed=4, kind=MemoryKind.PROCEDURAL),
        ],
    )
    await store.add_memories(store_id, "u", [new_memory("filler", seed=i) for i in range(5, 12)])
    await store.add_memories(store_id, "v", [new_memory("green tea lovers", seed=1)])

    hits = await store.search_candidates(
        store_id, "u", text="green tea?", embedding=None, kinds=ALL_KINDS, limit=10
    )
    assert hits.by_vector == []
    ids = [h.memory.id for h in hits.by_text]
    assert set(ids) == {both.id, one.id, other_kind.id}
    assert ids[-1] == one.id  # matches one word of two
    assert hits.by_text[0].score >= hits.by_text[1].score >= hits.by_text[2].score

    profile_only = await store.search_candidates(
        store_id, "u", text="green tea", embedding=None, kinds=[MemoryKind.USER_PROFILE],
        limit=10,
    )  # fmt: skip
    assert [h.memory.id for h in profile_only.by_text] == [both.id, one.id]
    limited = await store.search_candidates(
        store_id, "u", text="green tea", embedding=None, kinds=ALL_KINDS, limit=1
    )
    assert len(limited.by_text) == 1
    # Stemming: "drinking" finds "drinks".
    stemmed = await store.search_candidates(
        store_id, "u", text="drinking", embedding=None, kinds=ALL_KINDS, limit=10
    )
    assert [h.memory.id for h in stemmed.by_text] == [both.id]
    assert none.id not in ids


async def test_a_follow_up_query_runs_on_the_first_rounds_lists(store: Store) -> None:
    # A search's second round (engine/retrieval.py) rides on its first read.
    store_id = await make_store(store)
    [jonah, moving, other] = await store.add_memories(store_id, "u", [
        new_memory("My coworker Jonah recommended a novel", seed=1),
        new_memory("Jonah is moving to Portland", seed=2),
        new_memory("The user owns a bike", seed=3),
    ])  # fmt: skip
    await store.add_memories(store_id, "v", [new_memory("Jonah lives next door", seed=4)])
    seen: list[tuple[list[str], list[str]]] = []

    def follow(first: SearchCandidates) -> tuple[str, int]:
        seen.append(([h.memory.id for h in first.by_vector], [h.memory.id for h in first.by_text]))
        return "jonah portland", 5

    hits = await store.search_candidates(
        store_id, "u", text="novel recommended", embedding=unit_vector(3), kinds=ALL_KINDS,
        limit=1, follow=follow,
    )  # fmt: skip
    assert seen == [([other.id], [jonah.id])]
    assert [h.memory.id for h in hits.by_vector] == [other.id]
    assert [h.memory.id for h in hits.by_text] == [jonah.id]
    # Both matches, the better one first, nothing from scope "v", each with its embedding.
    assert [h.memory.id for h in hits.followed] == [moving.id, jonah.id]
    assert hits.followed[0].score >= hits.followed[1].score
    np.testing.assert_allclose(hits.followed[0].memory.embedding, unit_vector(2), atol=1e-6)

    declined = await store.search_candidates(
        store_id, "u", text="novel", embedding=None, kinds=ALL_KINDS, limit=5,
        follow=lambda first: None,
    )  # fmt: skip
    assert declined.followed == []
    limited = await store.search_candidates(
        store_id, "u", text="novel", embedding=None, kinds=ALL_KINDS, limit=5,
        follow=lambda first: ("jonah", 1),
    )  # fmt: skip
    assert len(limited.followed) == 1


async def test_search_candidates_carry_their_embeddings(store: Store) -> None:
    # The engine scores text matches by their cosine to the query (engine/retrieval.py).
    store_id = await make_store(store)
    [tea, bike] = await store.add_memories(store_id, "u", [
        new_memory("The user drinks green tea", seed=1), new_memory("The user owns a bike", seed=2),
    ])  # fmt: skip
    hits = await store.search_candidates(
        store_id, "u", text="green tea", embedding=unit_vector(2), kinds=ALL_KINDS, limit=5
    )
    assert [h.memory.id for h in hits.by_text] == [tea.id]
    assert hits.by_vector[0].memory.id == bike.id
    for hit in [*hits.by_text, *hits.by_vector]:
        seed = 1 if hit.memory.id == tea.id else 2
        np.testing.assert_allclose(hit.memory.embedding, unit_vector(seed), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "?!", '"', "*", "OR", "NEAR(", 'tea" OR "x', "sk : s1", "content:tea", "tea*",
     "AND NOT", "^tea", "(tea", "{sk content}: tea", "\\", "'; DROP TABLE memories; --"],
)  # fmt: skip
async def test_text_search_is_injection_safe(store: Store, text: str) -> None:
    store_id = await make_store(store)
    await store.add_memories(store_id, "u", [new_memory("tea and OR and NEAR words")])
    await store.add_memories(store_id, "v", [new_memory("tea sk s1 content")])
    hits = await store.search_candidates(
        store_id, "u", text=text, embedding=None, kinds=ALL_KINDS, limit=5
    )
    assert all(h.memory.scope == "u" for h in hits.by_text)
    assert await store.count_memories(store_id, "u") == 1


async def test_search_never_returns_quarantined(store: Store) -> None:
    store_id = await make_store(store)
    [bad] = await store.add_memories(
        store_id, "u", [new_memory("green tea", seed=1, status=MemoryStatus.QUARANTINED)]
    )
    [good] = await store.add_memories(store_id, "u", [new_memory("green tea", seed=2)])
    hits = await store.search_candidates(
        store_id, "u", text="green tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=10
    )
    assert [h.memory.id for h in hits.by_vector] == [good.id]
    assert [h.memory.id for h in hits.by_text] == [good.id]
    # Updating a quarantined memory does not let it into search either.
    await store.update_memory(store_id, "u", bad.id, content="green tea", embedding=unit_vector(1))
    hits = await store.search_candidates(
        store_id, "u", text="green tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=10
    )
    assert [h.memory.id for h in hits.by_vector] == [good.id]
    assert [h.memory.id for h in hits.by_text] == [good.id]


async def test_text_search_finds_matches_behind_many_filtered_ones(store: Store) -> None:
    # The best text matches are all quarantined, expired or of another kind; the matches that
    # may be returned rank below them and must still fill the page.
    store_id = await make_store(store)
    past = int(time.time()) - 10
    await store.add_memories(store_id, "u", [
        *(new_memory("tea tea tea", seed=i, status=MemoryStatus.QUARANTINED) for i in range(8)),
        *(new_memory("tea tea tea", seed=i, expires_at=past) for i in range(8, 16)),
        *(new_memory("tea tea tea", seed=i, kind=MemoryKind.PROCEDURAL) for i in range(16, 24)),
    ])
    wanted = await store.add_memories(store_id, "u", [
        new_memory(f"the user once had tea with friend number {i}", seed=30 + i)
        for i in range(5)
    ])
    hits = await store.search_candidates(
        store_id, "u", text="tea", embedding=None, kinds=[MemoryKind.USER_PROFILE], limit=4
    )
    assert len(hits.by_text) == 4
    assert {h.memory.id for h in hits.by_text} <= {m.id for m in wanted}


async def test_search_limits_and_empty_inputs(store: Store) -> None:
    store_id = await make_store(store)
    await store.add_memories(store_id, "u", [new_memory("tea", seed=i) for i in range(5)])
    hits = await store.search_candidates(
        store_id, "u", text="tea", embedding=unit_vector(0), kinds=ALL_KINDS, limit=3
    )
    assert len(hits.by_vector) == 3 and len(hits.by_text) == 3
    nothing = await store.search_candidates(
        store_id, "u", text="tea", embedding=unit_vector(0), kinds=[], limit=3
    )
    assert nothing.by_vector == [] and nothing.by_text == []
    unknown = await store.search_candidates(
        store_id, "never-written", text="tea", embedding=unit_vector(0), kinds=ALL_KINDS, limit=3
    )
    assert unknown.by_vector == [] and unknown.by_text == []


async def test_search_follows_updates(store: Store) -> None:
    store_id = await make_store(store)
    [memory] = await store.add_memories(store_id, "u", [new_memory("likes tea", seed=1)])
    await store.add_memories(store_id, "u", [new_memory("filler", seed=i) for i in range(2, 6)])
    await store.search_candidates(
        store_id, "u", text="tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=1
    )
    await store.update_memory(
        store_id, "u", memory.id, content="likes coffee", embedding=unit_vector(9)
    )
    hits = await store.search_candidates(
        store_id, "u", text="coffee", embedding=unit_vector(9), kinds=ALL_KINDS, limit=1
    )
    assert [h.memory.id for h in hits.by_vector] == [memory.id]
    assert hits.by_vector[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.memory.id for h in hits.by_text] == [memory.id]
    assert hits.by_text[0].memory.content == "likes coffee"


# -- transactions and durability -----------------------------------------------------------


async def test_failed_write_leaves_nothing_behind(store: Store) -> None:
    store_id = await make_store(store)
    bad_batch = [new_memory("first", seed=1), new_memory("second", embedding=np.ones(DIM + 2))]
    with pytest.raises(InvalidRequest):
        await store.add_memories(store_id, "u", bad_batch)
    assert await store.count_memories(store_id, "u") == 0
    nan = np.full(DIM, np.nan, dtype=np.float32)
    with pytest.raises(InvalidRequest):
        await store.add_memories(store_id, "u", [new_memory("x"), new_memory(embedding=nan)])
    hits = await store.search_candidates(
        store_id, "u", text="first", embedding=unit_vector(1), kinds=ALL_KINDS, limit=5
    )
    assert hits.by_vector == [] and hits.by_text == []


async def test_text_that_is_not_unicode_is_refused(store: Store) -> None:
    store_id = await make_store(store)
    with pytest.raises(InvalidRequest):
        await store.add_memories(store_id, "u", [new_memory("bad \ud800 text")])
    with pytest.raises(InvalidRequest):
        await store.add_memories(store_id, "bad \udfff scope", [new_memory()])
    with pytest.raises(InvalidRequest):
        await store.count_memories(store_id, "\ud800")
    assert await store.count_memories(store_id, "u") == 0


async def test_concurrent_writes_fail_alone(store: Store) -> None:
    """Writes issued together (and so likely committed together) succeed or fail one by one."""
    store_id = await make_store(store)
    [target] = await store.add_memories(store_id, "u", [new_memory("v1", seed=0)])
    good_batches = [[new_memory(f"good {i}", seed=i)] for i in range(1, 20)]
    bad = [new_memory("bad one", seed=50), new_memory("bad two", embedding=np.ones(3))]
    results = await asyncio.gather(
        *(store.add_memories(store_id, "u", batch) for batch in good_batches[:10]),
        store.add_memories(store_id, "u", bad),
        store.update_memory(store_id, "u", target.id, content="v2", embedding=unit_vector(0),
                            expected_version=7),  # fmt: skip
        store.add_memories("memstore_missing", "u", [new_memory()]),
        *(store.add_memories(store_id, "u", batch) for batch in good_batches[10:]),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert [type(e) for e in errors] == [InvalidRequest, VersionConflict, StoreNotFound]
    contents = {m.content for m in (await store.list_memories(store_id, "u", limit=100)).items}
    assert contents == {"v1"} | {f"good {i}" for i in range(1, 20)}
    assert (await store.get_memory(store_id, "u", target.id)).version == 1


async def test_data_survives_reopen(store: Store, open_another: OpenStore) -> None:
    store_id = await make_store(store)
    [memory] = await store.add_memories(store_id, "u", [new_memory("likes tea", seed=1)])
    await store.update_memory(
        store_id, "u", memory.id, content="likes green tea", embedding=unit_vector(2)
    )
    await store.close()
    await store.close()  # idempotent

    reopened = await open_another()
    assert (await reopened.get_store("default", "assistant")).id == store_id
    fetched = await reopened.get_memory(store_id, "u", memory.id)
    assert (fetched.content, fetched.version) == ("likes green tea", 2)
    assert [r.content for r in await reopened.memory_history(store_id, "u", memory.id)] == [
        "likes tea"
    ]
    hits = await reopened.search_candidates(
        store_id, "u", text="green", embedding=unit_vector(2), kinds=ALL_KINDS, limit=5
    )
    assert [h.memory.id for h in hits.by_vector] == [memory.id]
    assert [h.memory.id for h in hits.by_text] == [memory.id]


async def search_ids(store: Store, store_id: str, seed: int, text: str = "") -> list[str]:
    hits = await store.search_candidates(
        store_id, "u", text=text, embedding=unit_vector(seed), kinds=ALL_KINDS, limit=3
    )
    return [h.memory.id for h in hits.by_vector]


async def test_second_store_object_sees_writes(store: Store, open_another: OpenStore) -> None:
    """Two Store objects on one database (the server and a worker process)."""
    other = await open_another()
    store_id = await make_store(store)
    [first] = await store.add_memories(store_id, "u", [new_memory("tea", seed=1)])
    # Both load (and cache) the scope's vectors.
    assert (await search_ids(store, store_id, 1))[:1] == [first.id]
    assert (await search_ids(other, store_id, 1))[:1] == [first.id]

    [second] = await other.add_memories(store_id, "u", [new_memory("coffee", seed=2)])
    assert (await search_ids(store, store_id, 2))[:1] == [second.id]
    assert (await store.get_memory(store_id, "u", second.id)).content == "coffee"

    await store.update_memory(store_id, "u", second.id, content="cocoa", embedding=unit_vector(3))
    assert (await search_ids(other, store_id, 3))[:1] == [second.id]

    await other.delete_memory(store_id, "u", first.id)
    assert first.id not in await search_ids(store, store_id, 1)
    await store.add_memories(store_id, "u", [new_memory("tea again", seed=1)])
    await other.delete_scope(store_id, "u")
    assert await search_ids(store, store_id, 1) == []
    [third] = await other.add_memories(store_id, "u", [new_memory("juice", seed=4)])
    assert await search_ids(store, store_id, 4) == [third.id]
    assert await search_ids(other, store_id, 4) == [third.id]

    await store.add_memories(store_id, "u", [new_memory("short-lived", seed=5,
                                                         expires_at=now() - 1)])  # fmt: skip
    await search_ids(other, store_id, 5)
    assert await other.purge_expired(now()) == 1
    assert await search_ids(store, store_id, 5) == [third.id]

    await other.delete_store("default", "assistant")
    assert await search_ids(store, store_id, 4) == []
    with pytest.raises(StoreNotFound):
        await store.get_store("default", "assistant")


async def test_memory_objects_are_complete(store: Store) -> None:
    store_id = await make_store(store)
    [added] = await store.add_memories(store_id, "u", [new_memory("tea", seed=1)])
    listed = (await store.list_memories(store_id, "u")).items[0]
    found = (
        await store.search_candidates(
            store_id, "u", text="tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=1
        )
    ).by_vector[0].memory
    for memory in (listed, found):
        assert isinstance(memory, Memory)
        assert memory == added


async def test_store_fields_round_trip(store: Store) -> None:
    definition = dataclasses.replace(
        memory_store("full"),
        metadata={"ünïcode": "✓", "k": ""},
        notices=("one", "two"),
        description=None,
    )
    created = await store.create_store(definition)
    fetched = await store.get_store("default", "full")
    assert fetched == created
    assert isinstance(fetched, MemoryStore)
    assert fetched.options == definition.options
