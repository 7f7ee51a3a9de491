"""Property: no operation in one scope ever reads, returns, changes or deletes another scope's
memories, whatever the scope names (SQL wildcards, path tricks, quotes, FTS5 syntax, control
characters, very long names).

Each example creates two fresh memory stores in one database shared by every example, picks a
few adversarial scope names (used in both stores), runs a generated sequence of operations, and
after each one compares every (store, scope) with a model of what it must hold.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memvault.errors import MemoryNotFound
from memvault.models import MemoryKind, MemoryStatus, new_id, now
from memvault.storage import Store
from memvault.storage.fts import query_terms
from tests.storage.conftest import memory_store, new_memory, unit_vector

ADVERSARIAL_SCOPES = [
    "", "_", "__", "%", "%%", "%_", "user_%", "/", "..", "../u", "u/..", "./u", "u",
    "U", "u ", " u", "'", "''", '"', '""', "\\", "\\\\", "\\%", "'; DROP TABLE memories; --",
    "OR", "AND", "NOT", "NEAR", "NEAR(u u)", "*", "u*", '"u"', "sk", "s1", "s2", "sk : s1",
    "content", "{sk content}", "^u", "ü", "u\u0308", "日本語", "🙂", "\t", "\n", "\x01",
    "\x1f\x7f", "a\rb", "x" * 1000, "x" * 999, "y" * 1000,
]  # fmt: skip
WORDS = ["tea", "coffee", "OR", "NEAR", "AND", "NOT", "*", '"', "sk", "s1", "s2", "content",
         "%", "_", "u", "drinks", "green", "日本語"]  # fmt: skip
KINDS = list(MemoryKind)

scope_names = st.sampled_from(ADVERSARIAL_SCOPES) | st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40
)
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
seeds = st.integers(0, 5)  # few vectors, so equal vectors sit in many scopes

Target = tuple[int, int]  # (store index, scope index)


@dataclass
class Model:
    content: str
    kind: MemoryKind
    status: MemoryStatus
    version: int
    seed: int
    expired: bool = False


@dataclass
class World:
    store_ids: list[str]
    scopes: list[str]
    memories: dict[Target, dict[str, Model]] = field(default_factory=dict)

    @property
    def targets(self) -> list[Target]:
        return [(s, c) for s in range(len(self.store_ids)) for c in range(len(self.scopes))]

    def address(self, target: Target) -> tuple[str, str]:
        return self.store_ids[target[0]], self.scopes[target[1]]

    def of(self, target: Target) -> dict[str, Model]:
        return self.memories.setdefault(target, {})

    def visible(self, target: Target, status: MemoryStatus = MemoryStatus.ACTIVE) -> list[str]:
        return sorted(
            memory_id
            for memory_id, model in self.of(target).items()
            if model.status is status and not model.expired
        )

    def owner(self, memory_id: str) -> Target | None:
        for target, memories in self.memories.items():
            if memory_id in memories:
                return target
        return None

    def all_ids(self) -> list[str]:
        return sorted(memory_id for memories in self.memories.values() for memory_id in memories)


operations = st.one_of(
    st.tuples(
        st.just("add"),
        st.integers(0, 1), st.integers(0, 3),
        st.lists(
            st.tuples(texts, st.sampled_from(KINDS), seeds,
                      st.sampled_from(["active", "active", "quarantined", "expired"])),
            min_size=1, max_size=3,
        ),
    ),
    st.tuples(st.just("update"), st.integers(0, 1), st.integers(0, 3), st.integers(0, 50),
              texts, seeds),
    st.tuples(st.just("delete"), st.integers(0, 1), st.integers(0, 3), st.integers(0, 50)),
    st.tuples(st.just("delete_scope"), st.integers(0, 1), st.integers(0, 3)),
    st.tuples(st.just("cross"), st.integers(0, 1), st.integers(0, 3), st.integers(0, 50)),
    st.just(("purge",)),
)  # fmt: skip


async def check(store: Store, world: World) -> None:
    """Every read of every (store, scope) shows exactly the model."""
    for target in world.targets:
        store_id, scope = world.address(target)
        assert await store.count_memories(store_id, scope) == len(world.visible(target))
        for status in MemoryStatus:
            page = await store.list_memories(
                store_id, scope, status=status, limit=1000, order="asc"
            )
            assert [m.id for m in page.items] == world.visible(target, status)
            for memory in page.items:
                model = world.of(target)[memory.id]
                assert (memory.store_id, memory.scope) == (store_id, scope)
                assert (memory.content, memory.kind, memory.version) == (
                    model.content, model.kind, model.version,
                )  # fmt: skip
        for seed in {model.seed for model in world.of(target).values()} | {0}:
            hits = await store.search_candidates(
                store_id, scope, text=" ".join(WORDS), embedding=unit_vector(seed),
                kinds=KINDS, limit=50,
            )  # fmt: skip
            expected = set(world.visible(target))
            assert {h.memory.id for h in hits.by_vector} == expected
            searched = set(query_terms(" ".join(WORDS)))
            assert {h.memory.id for h in hits.by_text} == {
                i for i in expected
                if searched & {w.casefold() for w in re.findall(r"\w+", world.of(target)[i].content)}
            }
            for hit in hits.by_vector + hits.by_text:
                assert (hit.memory.store_id, hit.memory.scope) == (store_id, scope)
            if hits.by_vector:
                best = world.of(target)[hits.by_vector[0].memory.id]
                holders = {world.of(target)[i].seed for i in expected}
                assert (best.seed == seed) == (seed in holders)


async def run(store: Store, world: World, operation: tuple) -> None:
    name = operation[0]
    if name == "purge":
        expired = sum(m.expired for ms in world.memories.values() for m in ms.values())
        # Earlier examples may have left expired memories of their own stores behind.
        assert await store.purge_expired(now()) >= expired
        for memories in world.memories.values():
            for memory_id in [i for i, m in memories.items() if m.expired]:
                del memories[memory_id]
        return
    target = (operation[1], operation[2] % len(world.scopes))
    store_id, scope = world.address(target)
    if name == "add":
        batch = [
            new_memory(
                text, kind=kind, seed=seed,
                status=MemoryStatus.QUARANTINED if state == "quarantined" else MemoryStatus.ACTIVE,
                expires_at=now() - 1 if state == "expired" else None,
            )
            for text, kind, seed, state in operation[3]
        ]  # fmt: skip
        added = await store.add_memories(store_id, scope, batch)
        for memory, (_, _, seed, state) in zip(added, operation[3], strict=True):
            assert (memory.store_id, memory.scope) == (store_id, scope)
            world.of(target)[memory.id] = Model(
                memory.content, memory.kind, memory.status, 1, seed, expired=state == "expired"
            )
        return
    live = [i for i, m in world.of(target).items() if not m.expired]
    if name == "delete_scope":
        assert await store.delete_scope(store_id, scope) == len(live)
        world.memories[target] = {}
    elif name in ("update", "delete") and live:
        memory_id = live[operation[3] % len(live)]
        model = world.of(target)[memory_id]
        if name == "update":
            text, seed = operation[4], operation[5]
            updated = await store.update_memory(
                store_id, scope, memory_id, content=text, embedding=unit_vector(seed),
                expected_version=model.version,
            )  # fmt: skip
            assert (updated.scope, updated.version) == (scope, model.version + 1)
            model.content, model.seed, model.version = text, seed, model.version + 1
        else:
            assert (await store.delete_memory(store_id, scope, memory_id)).id == memory_id
            del world.of(target)[memory_id]
    elif name == "cross":
        # Address memories of every other scope through this one: all must fail, none change.
        for memory_id in world.all_ids():
            owner = world.owner(memory_id)
            if owner == target:
                continue
            with pytest.raises(MemoryNotFound):
                await store.get_memory(store_id, scope, memory_id)
            with pytest.raises(MemoryNotFound):
                await store.update_memory(
                    store_id, scope, memory_id, content="hijacked", embedding=unit_vector(0)
                )
            with pytest.raises(MemoryNotFound):
                await store.delete_memory(store_id, scope, memory_id)
            with pytest.raises(MemoryNotFound):
                await store.memory_history(store_id, scope, memory_id)
            assert owner is not None
            if owner[0] != target[0]:
                with pytest.raises(MemoryNotFound):
                    await store.find_memory_in_store(store_id, memory_id)
            elif not world.of(owner)[memory_id].expired:
                assert (await store.find_memory_in_store(store_id, memory_id)).scope == (
                    world.scopes[owner[1]]
                )


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    scopes=st.lists(scope_names, min_size=2, max_size=4, unique=True),
    steps=st.lists(operations, min_size=2, max_size=12),
)
async def test_scopes_are_isolated(store: Store, scopes: list[str], steps: list[tuple]) -> None:
    # Stores of earlier examples stay, holding the same scope names: more to leak from.
    world = World(
        store_ids=[(await store.create_store(memory_store(new_id("iso")))).id for _ in range(2)],
        scopes=scopes,
    )
    for operation in steps:
        await run(store, world, operation)
        await check(store, world)
