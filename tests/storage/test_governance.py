"""The GovernanceStore protocol (principals and grants), run against every backend: a SQLite file,
or a fresh database on the session's embedded PostgreSQL server (the ``store`` fixture of
``tests/storage/conftest.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib

import pytest

from memvault.errors import PrincipalAlreadyExists, PrincipalNotFound
from memvault.storage import Store
from memvault.storage.governance import GovernanceStore, GrantChange, open_governance_store
from tests.storage.conftest import OpenStore, memory_store

READ, WRITE, MANAGE = "READ_MEMORY_STORE", "WRITE_MEMORY_STORE", "MANAGE"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
def governance(store: Store) -> GovernanceStore:
    governance = open_governance_store(store)
    assert isinstance(governance, GovernanceStore)
    return governance


async def add(governance: GovernanceStore, name: str, *, admin: bool = False,
              scope: str | None = None, at: int = 1_700_000_000) -> None:
    await governance.create_principal(name, key_hash=digest(f"key-of-{name}"), admin=admin,
                                      scope=scope, created_at=at, actor="tester")


async def actions(store: Store) -> list[tuple[str, str, dict]]:
    page = await store.list_audit(after_seq=0, limit=100)
    return [(entry.actor, entry.action, entry.target) for entry in page.items]


async def test_principals_are_created_found_by_key_hash_and_listed(
    store: Store, governance: GovernanceStore
) -> None:
    assert not await governance.has_principals()
    await add(governance, "zoe@example.com", admin=True)
    await add(governance, "alice", scope="user-ü/%_")

    alice = await governance.get_principal("alice")
    assert (alice.name, alice.admin, alice.scope, alice.created_at, alice.revoked_at) == (
        "alice", False, "user-ü/%_", 1_700_000_000, None)
    assert alice.active and alice.principal.scope == "user-ü/%_"
    found = await governance.principal_by_key_hash(digest("key-of-zoe@example.com"))
    assert found is not None and found.name == "zoe@example.com" and found.admin
    assert await governance.principal_by_key_hash(digest("key-of-nobody")) is None
    assert [p.name for p in await governance.list_principals()] == ["alice", "zoe@example.com"]
    assert await governance.has_principals()
    assert [(a, act) for a, act, _ in await actions(store)] == [
        ("tester", "key.create"), ("tester", "key.create")]
    assert (await actions(store))[1][2] == {"principal": "alice", "admin": False,
                                            "scope": "user-ü/%_"}


async def test_a_taken_name_is_refused_and_changes_nothing(
    store: Store, governance: GovernanceStore
) -> None:
    await add(governance, "alice")
    with pytest.raises(PrincipalAlreadyExists):
        await governance.create_principal("alice", key_hash=digest("another key"), admin=True,
                                          scope=None, created_at=1, actor="tester")
    alice = await governance.get_principal("alice")
    assert not alice.admin
    assert await governance.principal_by_key_hash(digest("another key")) is None
    assert len(await actions(store)) == 1
    with pytest.raises(PrincipalNotFound):
        await governance.get_principal("bob")


async def test_revocation_keeps_the_principal_and_its_first_time(
    store: Store, governance: GovernanceStore
) -> None:
    await add(governance, "alice")
    revoked = await governance.revoke_principal("alice", revoked_at=1_800_000_000, actor="admin")
    assert revoked.revoked_at == 1_800_000_000 and not revoked.active
    again = await governance.revoke_principal("alice", revoked_at=1_900_000_000, actor="admin")
    assert again.revoked_at == 1_800_000_000
    found = await governance.principal_by_key_hash(digest("key-of-alice"))
    assert found is not None and not found.active
    assert await governance.has_principals(), "a revoked principal still counts"
    with pytest.raises(PrincipalAlreadyExists):
        await add(governance, "alice")
    with pytest.raises(PrincipalNotFound):
        await governance.revoke_principal("bob", revoked_at=1, actor="admin")
    assert [(a, act, t) for a, act, t in await actions(store)][1:] == [
        ("admin", "key.revoke", {"principal": "alice"})]


async def test_grants_are_added_removed_and_read_back(
    store: Store, governance: GovernanceStore
) -> None:
    await add(governance, "alice")
    await add(governance, "bob")
    grants = await governance.update_grants(
        "memory_store", "memstore_1",
        [GrantChange("bob", add=(READ, WRITE)), GrantChange("alice", add=(READ,))],
        actor="owner", at=1_700_000_100,
    )
    assert [(g.principal, g.privilege) for g in grants] == [
        ("alice", READ), ("bob", READ), ("bob", WRITE)]
    assert grants[0].granted_by == "owner" and grants[0].granted_at == 1_700_000_100
    # Adding a held privilege and removing one not held change nothing.
    grants = await governance.update_grants(
        "memory_store", "memstore_1",
        [GrantChange("bob", add=(READ,), remove=(WRITE, MANAGE))], actor="owner", at=2,
    )
    assert [(g.principal, g.privilege, g.granted_at) for g in grants] == [
        ("alice", READ, 1_700_000_100), ("bob", READ, 1_700_000_100)]
    assert await governance.privileges("bob", "memory_store", "memstore_1") == {READ}
    assert await governance.privileges("bob", "memory_store", "memstore_2") == frozenset()
    assert await governance.privileges("bob", "schema", "memstore_1") == frozenset()
    await governance.update_grants("schema", "main.default",
                                   [GrantChange("bob", add=("CREATE_MEMORY_STORE",))],
                                   actor="admin", at=3)
    assert await governance.granted_securables("bob", "memory_store") == {"memstore_1"}
    assert await governance.granted_securables("bob", "schema") == {"main.default"}
    assert [g.privilege for g in await governance.list_grants(
        "memory_store", "memstore_1", principal="alice")] == [READ]
    audit = [t for _, action, t in await actions(store) if action == "grant.change"]
    assert audit[0] == {"securable_type": "memory_store", "securable": "memstore_1", "changes": [
        {"principal": "bob", "add": [READ, WRITE], "remove": []},
        {"principal": "alice", "add": [READ], "remove": []}]}
    assert len(audit) == 3


async def test_a_change_naming_an_unknown_principal_changes_nothing(
    store: Store, governance: GovernanceStore
) -> None:
    await add(governance, "alice")
    with pytest.raises(PrincipalNotFound):
        await governance.update_grants(
            "memory_store", "memstore_1",
            [GrantChange("alice", add=(READ,)), GrantChange("nobody", add=(READ,))],
            actor="owner", at=1,
        )
    assert await governance.list_grants("memory_store", "memstore_1") == []
    assert [action for _, action, _ in await actions(store)] == ["key.create"]


async def test_a_stores_owner_is_kept_and_its_grants_go_with_it(
    store: Store, governance: GovernanceStore
) -> None:
    await add(governance, "alice")
    doomed = await store.create_store(dataclasses.replace(memory_store("doomed"), owner="bob"))
    kept = await store.create_store(memory_store("kept"))
    assert (await store.get_store("default", "doomed")).owner == "bob"
    assert (await store.get_store("default", "kept")).owner is None
    for target in (doomed, kept):
        await governance.update_grants("memory_store", target.id,
                                       [GrantChange("alice", add=(READ,))], actor="bob", at=1)
    await store.delete_store("default", "doomed", actor="bob")
    assert await governance.list_grants("memory_store", doomed.id) == []
    assert await governance.granted_securables("alice", "memory_store") == {kept.id}
    # A new store under the old name inherits nothing.
    reborn = await store.create_store(memory_store("doomed"))
    assert await governance.privileges("alice", "memory_store", reborn.id) == frozenset()


async def test_concurrent_grant_changes_all_land(
    open_another: OpenStore, governance: GovernanceStore
) -> None:
    """Writers in two store objects (two processes, or two replicas) change one securable."""
    names = [f"p{i}" for i in range(6)]
    for name in names:
        await add(governance, name)
    other = open_governance_store(await open_another())
    assert other is not None
    await asyncio.gather(*(
        (governance if i % 2 else other).update_grants(
            "memory_store", "memstore_1", [GrantChange(name, add=(READ, WRITE))],
            actor="owner", at=1)
        for i, name in enumerate(names)
    ))  # fmt: skip
    grants = await governance.list_grants("memory_store", "memstore_1")
    assert len(grants) == 2 * len(names)
