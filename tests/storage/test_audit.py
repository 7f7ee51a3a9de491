"""The audit log: every deletion appends a hash-chained row in the transaction of the deletion,
on each backend (see ``conftest.py``); and the chain's hashing and verification themselves."""

from __future__ import annotations

import asyncio
import json

import pytest

from memvault.errors import MemoryNotFound, MemvaultError, StoreNotFound, VersionConflict
from memvault.models import PlannedOperation, UpdateMessage, new_id, now
from memvault.storage import Store
from memvault.storage.audit import (
    GENESIS_HASH,
    ChainHead,
    canonical_encoding,
    entry_hash,
    make_entry,
    verify_chain,
)
from tests.storage.audit_support import audit_rows, execute, head, verify
from tests.storage.conftest import OpenStore, memory_store, new_memory

# -- hashing and verification (pure) ------------------------------------------------------------

EMPTY = ChainHead(0, GENESIS_HASH)


def chain(count: int) -> list[tuple]:
    rows, last = [], EMPTY
    for i in range(count):
        entry = make_entry(
            last, at=1_700_000_000 + i, actor="alice", action="memory.delete",
            target={"store_id": "memstore_1", "scope": "u", "memory_id": f"mem_{i}"},
        )  # fmt: skip
        rows.append((entry.seq, entry.at, entry.actor, entry.action, entry.target,
                     entry.prev_hash, entry.hash))  # fmt: skip
        last = ChainHead(entry.seq, entry.hash)
    return rows


def test_the_encoding_does_not_depend_on_key_order_or_storage() -> None:
    one = canonical_encoding(1, 5, "alice", "scope.delete", {"a": 1, "b": "é"}, GENESIS_HASH)
    other = canonical_encoding(1, 5, "alice", "scope.delete", {"b": "é", "a": 1}, GENESIS_HASH)
    assert one == other
    assert entry_hash(1, 5, "alice", "scope.delete", {"a": 1}, GENESIS_HASH) != entry_hash(
        1, 5, "alice", "scope.delete", {"a": 2}, GENESIS_HASH
    )


def test_a_chain_verifies_and_every_change_to_it_is_found() -> None:
    rows = chain(4)
    good = verify_chain(rows, ChainHead(4, rows[-1][6]))
    assert good.ok and good.rows == 4 and "4 rows" in good.summary()
    assert verify_chain([], EMPTY).ok

    edited = [*rows[:2], (3, rows[2][1], "mallory", *rows[2][3:]), rows[3]]
    assert verify_chain(edited, ChainHead(4, rows[-1][6])).bad_seq == 3
    assert verify_chain(rows[:3], ChainHead(4, rows[-1][6])).bad_seq == 4
    assert verify_chain([rows[0], rows[2], rows[3]], ChainHead(4, rows[-1][6])).bad_seq == 2
    swapped = [rows[0], (2, *rows[2][1:]), (3, *rows[1][1:]), rows[3]]
    assert verify_chain(swapped, ChainHead(4, rows[-1][6])).bad_seq == 2
    assert not verify_chain(rows, None).ok


@pytest.mark.parametrize(
    "target", [{"x": 1.5}, {1: "x"}, ["x"], {"x": object()}], ids=["float", "key", "list", "obj"]
)
def test_targets_are_json_objects_without_floats(target: object) -> None:
    with pytest.raises(ValueError):
        make_entry(EMPTY, at=1, actor="a", action="b", target=target)  # type: ignore[arg-type]


def test_actor_and_action_are_required() -> None:
    with pytest.raises(ValueError):
        make_entry(EMPTY, at=1, actor="", action="b", target={})
    with pytest.raises(ValueError):
        make_entry(EMPTY, at=1, actor="a", action="", target={})


# -- what the backends record -------------------------------------------------------------------


async def entries(store: Store) -> list[tuple[str, str, dict]]:
    page = await store.list_audit(after_seq=0, limit=1000)
    assert not page.has_more
    assert [entry.seq for entry in page.items] == list(range(1, len(page.items) + 1))
    return [(entry.actor, entry.action, entry.target) for entry in page.items]


async def test_a_new_database_has_an_empty_intact_log(store: Store, database_url: str) -> None:
    assert await entries(store) == []
    assert await head(database_url) == (0, GENESIS_HASH)
    verdict = await verify(database_url)
    assert verdict.ok and verdict.summary() == "audit log intact: empty"


async def test_every_deletion_is_recorded_with_who_and_what(
    store: Store, database_url: str
) -> None:
    store_id = (await store.create_store(memory_store("notes"))).id
    first, second = await store.add_memories(
        store_id, "user-1", [new_memory("likes tea", seed=1), new_memory("likes jazz", seed=2)]
    )
    await store.add_memories(store_id, "user-2", [new_memory("a", seed=3), new_memory("b")])
    await store.add_memories(store_id, "user-3", [new_memory("c", seed=4)])
    await store.add_memories(
        store_id, "user-3", [new_memory("stale", seed=5, expires_at=now() - 10)]
    )
    where = {"store_id": store_id, "project": "default", "store": "notes"}

    await store.delete_memory(store_id, "user-1", first.id, actor="alice")
    assert await store.delete_scope(store_id, "user-2", actor="bob") == 2
    assert await store.purge_expired(now()) == 1
    assert await store.purge_expired(now()) == 0  # nothing purged: nothing recorded
    await store.delete_store("default", "notes", actor="carol")

    cutoff = (await entries(store))[2][2]["expired_before"]
    assert await entries(store) == [
        ("alice", "memory.delete", {**where, "scope": "user-1", "memory_id": first.id}),
        ("bob", "scope.delete", {**where, "scope": "user-2", "memories_deleted": 2}),
        ("system", "memory.purge", {"expired_before": cutoff, "memories_deleted": 1}),
        ("carol", "store.delete", {**where, "memories_deleted": 2}),
    ]
    assert second.id  # went with the store
    assert (await verify(database_url)).ok


async def test_deleting_an_empty_scope_is_recorded_too(store: Store) -> None:
    store_id = (await store.create_store(memory_store("notes"))).id
    assert await store.delete_scope(store_id, "nobody", actor="alice") == 0
    [(actor, action, target)] = await entries(store)
    assert (actor, action, target["scope"], target["memories_deleted"]) == (
        "alice", "scope.delete", "nobody", 0
    )  # fmt: skip


async def test_deletes_applied_by_an_update_are_recorded_as_the_worker(store: Store) -> None:
    store_id = (await store.create_store(memory_store("notes"))).id
    [old] = await store.add_memories(store_id, "u", [new_memory("likes tea")])
    update_id = new_id("upd")
    await store.enqueue_update(
        store_id, "u", update_id=update_id, run_at=now(),
        messages=[UpdateMessage("user", "forget that I like tea", update_id)],
    )  # fmt: skip
    job = await store.claim_update("w1", now=now(), lease_seconds=30)
    assert job is not None
    await store.complete_update(
        store_id, "u", job.id, "w1", usage={},
        operations=[PlannedOperation("delete", memory_id=old.id, expected_version=1),
                    PlannedOperation("create", new=new_memory("likes coffee", seed=2))],
    )  # fmt: skip
    [(actor, action, target)] = await entries(store)
    assert (actor, action) == ("worker", "memory.delete")
    assert target == {
        "store_id": store_id, "project": "default", "store": "notes", "scope": "u",
        "memory_id": old.id, "update_id": job.id, "worker_id": "w1",
    }  # fmt: skip


# -- a deletion and its row commit together -----------------------------------------------------


async def test_a_failing_deletion_leaves_no_row(store: Store, database_url: str) -> None:
    store_id = (await store.create_store(memory_store("notes"))).id
    [memory] = await store.add_memories(store_id, "u", [new_memory()])
    with pytest.raises(MemoryNotFound):
        await store.delete_memory(store_id, "u", "mem_missing", actor="alice")
    with pytest.raises(MemoryNotFound):
        await store.delete_memory(store_id, "other-scope", memory.id, actor="alice")
    with pytest.raises(StoreNotFound):
        await store.delete_store("default", "missing", actor="alice")
    update_id = new_id("upd")
    await store.enqueue_update(
        store_id, "u", update_id=update_id, run_at=now(),
        messages=[UpdateMessage("user", "forget it", update_id)],
    )  # fmt: skip
    job = await store.claim_update("w1", now=now(), lease_seconds=30)
    assert job is not None
    with pytest.raises(VersionConflict):
        await store.complete_update(
            store_id, "u", job.id, "w1", usage={},
            operations=[PlannedOperation("delete", memory_id=memory.id, expected_version=7)],
        )  # fmt: skip
    assert await entries(store) == []
    assert await audit_rows(database_url) == []
    assert (await store.get_memory(store_id, "u", memory.id)).id == memory.id


async def test_a_deletion_that_cannot_be_recorded_does_not_happen(
    store: Store, database_url: str
) -> None:
    store_id = (await store.create_store(memory_store("notes"))).id
    [memory] = await store.add_memories(store_id, "u", [new_memory()])
    await execute(database_url, "DELETE FROM audit_head")  # appends now fail

    with pytest.raises(MemvaultError, match="chain head"):
        await store.delete_memory(store_id, "u", memory.id, actor="alice")
    with pytest.raises(MemvaultError, match="chain head"):
        await store.delete_scope(store_id, "u", actor="alice")
    with pytest.raises(MemvaultError, match="chain head"):
        await store.delete_store("default", "notes", actor="alice")
    assert (await store.get_memory(store_id, "u", memory.id)).content == memory.content
    assert (await store.get_store("default", "notes")).id == store_id
    assert await audit_rows(database_url) == []


async def test_concurrent_deletions_from_several_stores_keep_one_chain(
    store: Store, open_another: OpenStore, database_url: str
) -> None:
    other = await open_another()
    store_id = (await store.create_store(memory_store("notes"))).id
    memories = await store.add_memories(
        store_id, "u", [new_memory(f"fact {i}", seed=i) for i in range(24)]
    )
    await asyncio.gather(*(
        (store if i % 2 else other).delete_memory(store_id, "u", memory.id, actor=f"p{i}")
        for i, memory in enumerate(memories)
    ))  # fmt: skip
    rows = await audit_rows(database_url)
    assert [row[0] for row in rows] == list(range(1, 25))
    recorded = {json.loads(r[4])["memory_id"] if isinstance(r[4], str) else r[4]["memory_id"]
                for r in rows}  # fmt: skip
    assert recorded == {memory.id for memory in memories}
    verdict = await verify(database_url)
    assert verdict.ok and verdict.rows == 24
    assert await head(database_url) == (24, rows[-1][6])


async def test_list_audit_pages_by_seq(store: Store) -> None:
    store_id = (await store.create_store(memory_store("notes"))).id
    for i in range(5):
        await store.delete_scope(store_id, f"s{i}", actor="alice")
    first = await store.list_audit(after_seq=0, limit=2)
    assert [e.seq for e in first.items] == [1, 2] and first.has_more
    rest = await store.list_audit(after_seq=2, limit=10)
    assert [e.seq for e in rest.items] == [3, 4, 5] and not rest.has_more
    assert [e.target["scope"] for e in rest.items] == ["s2", "s3", "s4"]
    assert rest.items[0].prev_hash == first.items[-1].hash
    assert (await store.list_audit(after_seq=5, limit=10)).items == []
