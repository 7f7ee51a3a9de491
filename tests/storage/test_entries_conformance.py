"""The memory-entry calls of the Store protocol, run against each backend (see ``conftest.py``).

Entries share the memories' tables; these tests pin that they share scope isolation and the
deletes of delete_scope and delete_store, and that no memory call ever sees one (nor an entry
call a memory).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from memvault.errors import (
    EntryAlreadyExists,
    EntryNotFound,
    InvalidRequest,
    MemoryNotFound,
    StoreNotFound,
    VersionConflict,
)
from memvault.models import MemoryKind, MemoryStatus, NewEntry
from memvault.storage import Store
from tests.storage.conftest import DIM, OpenStore, memory_store, new_memory, unit_vector

ALL_KINDS = list(MemoryKind)


async def make_store(store: Store, name: str = "assistant") -> str:
    return (await store.create_store(memory_store(name))).id


def new_entry(
    path: str = "/memories/preferences.md",
    description: str = "Prefers short answers",
    contents: str = "Keep replies under five sentences.",
    *,
    seed: int = 0,
) -> NewEntry:
    return NewEntry(
        path=path, description=description, contents=contents, embedding=unit_vector(seed),
        created_by="api",
    )  # fmt: skip


async def paths(store: Store, store_id: str, scope: str) -> list[str]:
    page = await store.list_entries(store_id, scope, limit=1000)
    assert not page.has_more
    return [entry.path for entry in page.items]


async def test_create_get_and_read_back(store: Store) -> None:
    store_id = await make_store(store)
    new = new_entry(seed=3)
    created = await store.create_entry(store_id, "user-123", new)
    assert created.id.startswith("entry_")
    assert (created.store_id, created.scope, created.path) == (
        store_id, "user-123", "/memories/preferences.md",
    )  # fmt: skip
    assert (created.description, created.contents) == (new.description, new.contents)
    assert (created.version, created.created_by, created.updated_by) == (1, "api", None)
    assert created.created_at == created.updated_at > 0
    fetched = await store.get_entry(store_id, "user-123", "/memories/preferences.md")
    assert fetched == created
    assert fetched.embedding is not None
    np.testing.assert_allclose(fetched.embedding, new.embedding, rtol=1e-6)


async def test_a_taken_path_conflicts_within_its_scope_only(store: Store) -> None:
    store_id = await make_store(store)
    other_store = await make_store(store, "other")
    await store.create_entry(store_id, "u1", new_entry(contents="first"))
    with pytest.raises(EntryAlreadyExists):
        await store.create_entry(store_id, "u1", new_entry(contents="second"))
    assert (await store.get_entry(store_id, "u1", "/memories/preferences.md")).contents == "first"
    # The same path is free in another scope and in another store.
    await store.create_entry(store_id, "u2", new_entry(contents="u2's"))
    await store.create_entry(other_store, "u1", new_entry(contents="other store's"))
    assert (await store.get_entry(store_id, "u2", "/memories/preferences.md")).contents == "u2's"


async def test_concurrent_creates_of_one_path_make_one_entry(
    store: Store, open_another: OpenStore
) -> None:
    store_id = await make_store(store)
    second = await open_another()
    outcomes = await asyncio.gather(
        *(s.create_entry(store_id, "u", new_entry(contents=f"writer {i}"))
          for i, s in enumerate([store, second] * 4)),
        return_exceptions=True,
    )  # fmt: skip
    created = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(created) == 1
    assert all(isinstance(o, EntryAlreadyExists) for o in outcomes if o not in created)
    assert await paths(store, store_id, "u") == ["/memories/preferences.md"]


async def test_create_in_missing_store(store: Store) -> None:
    with pytest.raises(StoreNotFound):
        await store.create_entry("memstore_missing", "u", new_entry())


async def test_embedding_of_wrong_dimension_is_refused(store: Store) -> None:
    store_id = await make_store(store)
    bad = NewEntry("/memories/a.md", "d", "c", unit_vector(0, DIM + 1))
    with pytest.raises(InvalidRequest):
        await store.create_entry(store_id, "u", bad)
    await store.create_entry(store_id, "u", new_entry())
    with pytest.raises(InvalidRequest):
        await store.update_entry(
            store_id, "u", "/memories/preferences.md", description="d", contents="c",
            embedding=unit_vector(0, DIM - 1),
        )  # fmt: skip
    assert await paths(store, store_id, "u") == ["/memories/preferences.md"]


async def test_entries_are_scoped(store: Store) -> None:
    store_id = await make_store(store)
    other_store = await make_store(store, "other")
    await store.create_entry(store_id, "u1", new_entry())
    for store_, scope in ((store_id, "u2"), (other_store, "u1")):
        with pytest.raises(EntryNotFound):
            await store.get_entry(store_, scope, "/memories/preferences.md")
        with pytest.raises(EntryNotFound):
            await store.update_entry(
                store_, scope, "/memories/preferences.md", description="x", contents="x",
                embedding=unit_vector(1),
            )  # fmt: skip
        with pytest.raises(EntryNotFound):
            await store.delete_entry(store_, scope, "/memories/preferences.md")
        with pytest.raises(EntryNotFound):
            await store.entry_history(store_, scope, "/memories/preferences.md")
        assert await paths(store, store_, scope) == []
        found = await store.search_entry_candidates(
            store_, scope, text="short answers", embedding=unit_vector(0), limit=10
        )
        assert found.by_vector == [] and found.by_text == []
    entry = await store.get_entry(store_id, "u1", "/memories/preferences.md")
    assert (entry.version, entry.contents) == (1, new_entry().contents)


@pytest.mark.parametrize("scope", ["u_1", "u%1", "u/1", "Ü 1", "u'1"])
async def test_scope_names_that_look_like_patterns_isolate(store: Store, scope: str) -> None:
    store_id = await make_store(store)
    await store.create_entry(store_id, scope, new_entry())
    for other in ("u11", "uX1", "u_1x", "u1", "%"):
        if other != scope:
            assert await paths(store, store_id, other) == []
    assert await paths(store, store_id, scope) == ["/memories/preferences.md"]


async def test_list_is_ordered_by_path_and_pages(store: Store) -> None:
    store_id = await make_store(store)
    names = ["/memories/b.md", "/memories/a/z.md", "/memories/a.md", "/memories/B.md",
             "/memories/a/b.md", "/memories/c.md", "/memories/ä.md"]  # fmt: skip
    for i, path in enumerate(names):
        await store.create_entry(store_id, "u", new_entry(path, seed=i))
    expected = sorted(names, key=lambda p: p.encode())
    assert await paths(store, store_id, "u") == expected
    seen, after = [], None
    while True:
        page = await store.list_entries(store_id, "u", limit=3, after=after)
        seen += [entry.path for entry in page.items]
        if not page.has_more:
            break
        after = page.items[-1].path
    assert seen == expected
    first = (await store.list_entries(store_id, "u", limit=1)).items[0]
    assert first.description == new_entry().description and first.contents
    with pytest.raises(InvalidRequest):
        await store.list_entries(store_id, "u", limit=0)


async def test_update_keeps_history_and_checks_the_version(store: Store) -> None:
    store_id = await make_store(store)
    path = "/memories/preferences.md"
    created = await store.create_entry(store_id, "u", new_entry(seed=1))
    updated = await store.update_entry(
        store_id, "u", path, description="Prefers email", contents="Email, not calls.",
        embedding=unit_vector(2), updated_by="api", expected_version=1,
    )  # fmt: skip
    assert (updated.id, updated.version, updated.description, updated.contents) == (
        created.id, 2, "Prefers email", "Email, not calls.",
    )  # fmt: skip
    assert updated.created_at == created.created_at and updated.updated_at >= created.updated_at
    assert updated.updated_by == "api"
    np.testing.assert_allclose(updated.embedding, unit_vector(2), rtol=1e-6)
    assert await store.get_entry(store_id, "u", path) == updated

    with pytest.raises(VersionConflict):
        await store.update_entry(
            store_id, "u", path, description="stale", contents="stale",
            embedding=unit_vector(3), expected_version=1,
        )  # fmt: skip
    assert await store.get_entry(store_id, "u", path) == updated

    await store.update_entry(
        store_id, "u", path, description="Prefers chat", contents="", embedding=unit_vector(4)
    )
    history = await store.entry_history(store_id, "u", path)
    assert [(r.version, r.description, r.contents) for r in history] == [
        (1, created.description, created.contents),
        (2, "Prefers email", "Email, not calls."),
    ]
    assert history[0].changed_by == "api" and history[0].changed_at == created.updated_at


async def test_delete_returns_the_entry_and_frees_the_path(store: Store) -> None:
    store_id = await make_store(store)
    path = "/memories/preferences.md"
    created = await store.create_entry(store_id, "u", new_entry(seed=1))
    await store.update_entry(
        store_id, "u", path, description="d2", contents="c2", embedding=unit_vector(2)
    )
    deleted = await store.delete_entry(store_id, "u", path, actor="alice")
    assert (deleted.id, deleted.version, deleted.contents) == (created.id, 2, "c2")
    with pytest.raises(EntryNotFound):
        await store.get_entry(store_id, "u", path)
    with pytest.raises(EntryNotFound):
        await store.delete_entry(store_id, "u", path)
    found = await store.search_entry_candidates(
        store_id, "u", text="c2 d2", embedding=unit_vector(2), limit=5
    )
    assert found.by_vector == [] and found.by_text == []
    again = await store.create_entry(store_id, "u", new_entry(contents="fresh"))
    assert again.version == 1 and again.id != created.id
    assert await store.entry_history(store_id, "u", path) == []


async def test_search_finds_entries_by_vector_and_by_text(store: Store) -> None:
    store_id = await make_store(store)
    await store.create_entry(store_id, "u", new_entry(
        "/memories/preferences.md", "User communication preferences", "Prefers email",
        seed=1,
    ))  # fmt: skip
    await store.create_entry(store_id, "u", new_entry(
        "/memories/projects/apollo.md", "Project Apollo", "Launch in March", seed=2,
    ))  # fmt: skip
    await store.create_entry(store_id, "u", new_entry(
        "/memories/food.md", "Diet", "Vegetarian, no nuts", seed=3,
    ))  # fmt: skip
    found = await store.search_entry_candidates(
        store_id, "u", text="", embedding=unit_vector(2), limit=2
    )
    assert [hit.entry.path for hit in found.by_vector][0] == "/memories/projects/apollo.md"
    assert len(found.by_vector) == 2 and found.by_text == []
    assert found.by_vector[0].score == pytest.approx(1.0, abs=1e-5)
    assert found.by_vector[0].score >= found.by_vector[1].score
    assert found.by_vector[0].entry.embedding is not None

    # The text half matches description, contents and the words of the path.
    for text, path in (("communication", "/memories/preferences.md"),
                       ("vegetarian", "/memories/food.md"),
                       ("apollo launch", "/memories/projects/apollo.md"),
                       ("projects", "/memories/projects/apollo.md")):  # fmt: skip
        found = await store.search_entry_candidates(
            store_id, "u", text=text, embedding=None, limit=5
        )
        assert [hit.entry.path for hit in found.by_text] == [path], text
        assert found.by_vector == [] and found.by_text[0].score > 0
        assert found.by_text[0].entry.embedding is not None
    found = await store.search_entry_candidates(store_id, "u", text="?!", embedding=None, limit=5)
    assert found.by_text == []
    with pytest.raises(InvalidRequest):
        await store.search_entry_candidates(
            store_id, "u", text="", embedding=unit_vector(0, DIM + 1), limit=5
        )


async def test_edits_reach_the_indexes(store: Store, open_another: OpenStore) -> None:
    store_id = await make_store(store)
    path = "/memories/preferences.md"
    await store.create_entry(store_id, "u", new_entry(path, "Drinks", "Likes tea", seed=1))
    # A search first, so a backend with a cached index has it loaded before the edit.
    before = await store.search_entry_candidates(
        store_id, "u", text="tea", embedding=unit_vector(1), limit=5
    )
    assert [h.entry.path for h in before.by_text] == [path]
    await store.update_entry(
        store_id, "u", path, description="Drinks", contents="Likes coffee",
        embedding=unit_vector(5),
    )  # fmt: skip
    for reader in (store, await open_another()):
        assert (await reader.search_entry_candidates(
            store_id, "u", text="tea", embedding=None, limit=5)).by_text == []  # fmt: skip
        found = await reader.search_entry_candidates(
            store_id, "u", text="coffee", embedding=unit_vector(5), limit=5
        )
        assert [h.entry.path for h in found.by_text] == [path]
        assert found.by_vector[0].score == pytest.approx(1.0, abs=1e-5)


async def test_memory_calls_never_see_entries(store: Store) -> None:
    store_id = await make_store(store)
    [memory] = await store.add_memories(store_id, "u", [new_memory("likes green tea", seed=1)])
    entry = await store.create_entry(store_id, "u", new_entry(
        "/memories/tea.md", "likes green tea", "green tea", seed=1,
    ))  # fmt: skip

    page = await store.list_memories(store_id, "u", limit=100)
    assert [m.id for m in page.items] == [memory.id]
    for status in MemoryStatus:
        assert entry.id not in [m.id for m in (await store.list_memories(
            store_id, "u", status=status, limit=100)).items]  # fmt: skip
    assert await store.count_memories(store_id, "u") == 1
    found = await store.search_candidates(
        store_id, "u", text="green tea", embedding=unit_vector(1), kinds=ALL_KINDS, limit=10
    )
    assert [h.memory.id for h in found.by_vector] == [memory.id]
    assert [h.memory.id for h in found.by_text] == [memory.id]
    with pytest.raises(MemoryNotFound):
        await store.find_memory_in_store(store_id, entry.id)
    with pytest.raises(MemoryNotFound):
        await store.get_memory(store_id, "u", entry.id)
    with pytest.raises(MemoryNotFound):
        await store.update_memory(store_id, "u", entry.id, content="x", embedding=unit_vector(2))
    with pytest.raises(MemoryNotFound):
        await store.delete_memory(store_id, "u", entry.id)
    with pytest.raises(MemoryNotFound):
        await store.memory_history(store_id, "u", entry.id)
    assert await store.get_entry(store_id, "u", "/memories/tea.md") == entry

    # And entry calls never see memories.
    assert await paths(store, store_id, "u") == ["/memories/tea.md"]
    found_entries = await store.search_entry_candidates(
        store_id, "u", text="green tea", embedding=unit_vector(1), limit=10
    )
    assert [h.entry.id for h in found_entries.by_vector] == [entry.id]
    assert [h.entry.id for h in found_entries.by_text] == [entry.id]


async def test_entry_text_search_finds_entries_behind_many_memory_matches(store: Store) -> None:
    # Memories share the full-text index and match "tea" better than any entry does; the
    # entries must still fill the page.
    store_id = await make_store(store)
    await store.add_memories(
        store_id, "u", [new_memory("tea tea tea", seed=i) for i in range(12)]
    )
    wanted = [
        await store.create_entry(store_id, "u", new_entry(
            f"/memories/drinks/{i}.md", f"once had tea with friend number {i}",
            "a long afternoon in the garden with cake", seed=20 + i,
        ))  # fmt: skip
        for i in range(4)
    ]
    found = await store.search_entry_candidates(
        store_id, "u", text="tea", embedding=None, limit=3
    )
    assert len(found.by_text) == 3
    assert {hit.entry.id for hit in found.by_text} <= {entry.id for entry in wanted}


async def test_delete_scope_deletes_entries_of_that_scope_only(store: Store) -> None:
    store_id = await make_store(store)
    await store.add_memories(store_id, "u1", [new_memory(seed=1)])
    for scope in ("u1", "u2"):
        await store.create_entry(store_id, scope, new_entry(seed=2))
        await store.create_entry(store_id, scope, new_entry("/memories/b.md", seed=3))
    # Load the scope's vectors (a backend may cache them) before deleting it.
    await store.search_entry_candidates(store_id, "u1", text="x", embedding=unit_vector(2), limit=5)

    assert await store.delete_scope(store_id, "u1") == 3

    assert await paths(store, store_id, "u1") == []
    with pytest.raises(EntryNotFound):
        await store.get_entry(store_id, "u1", "/memories/preferences.md")
    found = await store.search_entry_candidates(
        store_id, "u1", text="short answers", embedding=unit_vector(2), limit=5
    )
    assert found.by_vector == [] and found.by_text == []
    assert await paths(store, store_id, "u2") == ["/memories/b.md", "/memories/preferences.md"]
    # The scope works again afterwards, with no trace of the old entries.
    await store.create_entry(store_id, "u1", new_entry(contents="new"))
    assert await store.entry_history(store_id, "u1", "/memories/preferences.md") == []


async def test_delete_store_deletes_its_entries(store: Store) -> None:
    doomed = await make_store(store, "doomed")
    kept = await make_store(store, "kept")
    for store_id in (doomed, kept):
        await store.create_entry(store_id, "u", new_entry(seed=1))
    await store.delete_store("default", "doomed")
    assert await paths(store, doomed, "u") == []
    with pytest.raises(EntryNotFound):
        await store.get_entry(doomed, "u", "/memories/preferences.md")
    assert await paths(store, kept, "u") == ["/memories/preferences.md"]
    recreated = await make_store(store, "doomed")
    assert await paths(store, recreated, "u") == []
