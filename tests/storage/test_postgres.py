"""What only the PostgreSQL backend has: its migrations (a fresh schema equals the replayed
migrations), row-level security as a second guard, the per-dimension HNSW indexes and the search
that uses them, URLs and the ``memvault migrate`` command. Everything of the Store protocol
itself runs in the conformance suite."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from memvault.errors import MemvaultError, ServiceUnavailable
from memvault.models import MemoryKind, UpdateMessage, new_id, now
from memvault.settings import Settings
from memvault.storage import display_url, migrate, open_store
from memvault.storage.migrations import apply_postgres, load_migrations
from memvault.storage.postgres import INDEXED_SEARCH_SQL, Guard, PostgresStore
from tests.storage.conftest import memory_store, new_memory, unit_vector, unit_vectors
from tests.support.postgres import (  # noqa: F401 (fixture)
    APP_ROLE,
    EmbeddedPostgres,
    postgres_server,
)

SETTINGS = Settings(postgres_pool_size=4)
ALL_KINDS = list(MemoryKind)


@pytest.fixture
def pg_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    with postgres_server.database() as url:
        yield url


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[PostgresStore]:
    store = PostgresStore(pg_url, SETTINGS)
    await store.open()
    yield store
    await store.close()


async def connect(url: str) -> psycopg.AsyncConnection:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


# -- migrations ----------------------------------------------------------------------------

CATALOG = {
    "tables": """
        SELECT c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               c.relpersistence
        FROM pg_class AS c
        WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
        ORDER BY 1""",
    "columns": """
        SELECT table_name, ordinal_position, column_name, data_type, udt_name, is_nullable,
               column_default, is_generated, generation_expression, is_identity,
               identity_generation, collation_name, character_maximum_length
        FROM information_schema.columns WHERE table_schema = 'public'
        ORDER BY 1, 2""",
    "indexes": "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2""",
    "policies": """
        SELECT tablename, policyname, permissive, roles::text, cmd, qual, with_check
        FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
        FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2""",
    "functions": """
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid)
        FROM pg_proc AS p
        WHERE p.pronamespace = 'public'::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = p.oid AND d.deptype = 'e')
        ORDER BY 1, 2""",
    "extensions": "SELECT extname FROM pg_extension ORDER BY 1",
    "migrations": "SELECT version, name FROM schema_migrations ORDER BY 1",
}


async def catalog(url: str) -> dict[str, list[tuple]]:
    async with await connect(url) as conn:
        dump = {}
        for name, sql in CATALOG.items():
            cursor = await conn.execute(sql)  # type: ignore[arg-type]
            dump[name] = await cursor.fetchall()
        return dump


async def test_fresh_schema_equals_replayed_migrations(postgres_server: EmbeddedPostgres) -> None:
    with postgres_server.database(migrated=False) as fresh, \
            postgres_server.database(migrated=False) as replayed:  # fmt: skip
        versions = [migration.version for migration in load_migrations("postgres")]
        async with await connect(fresh) as conn:
            assert await apply_postgres(conn) == versions
        async with await connect(replayed) as conn:
            assert await apply_postgres(conn, use_schema=False) == versions
        built, replay = await catalog(fresh), await catalog(replayed)
        assert built["tables"] and built["policies"] and built["indexes"]
        for part in CATALOG:
            assert built[part] == replay[part], part


async def test_migrating_twice_or_at_once_applies_each_migration_once(
    postgres_server: EmbeddedPostgres,
) -> None:
    with postgres_server.database(migrated=False) as url:
        applied = await asyncio.gather(migrate(url), migrate(url), migrate(url))
        versions = [migration.version for migration in load_migrations("postgres")]
        assert sorted(applied, key=len) == [[], [], versions]
        assert await migrate(url) == []


async def test_a_database_from_a_newer_memvault_is_refused(pg_url: str) -> None:
    async with await connect(pg_url) as conn:
        await conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'x', 0)"
        )
    with pytest.raises(MemvaultError, match="9999"):
        await open_store(pg_url, SETTINGS)


async def test_unreachable_server_is_unavailable_with_the_reason() -> None:
    with pytest.raises(ServiceUnavailable) as raised:
        await open_store("postgresql://memvault@127.0.0.1:9/memvault?connect_timeout=2", SETTINGS)
    assert "127.0.0.1" in raised.value.message or "connect" in raised.value.message


def test_passwords_stay_out_of_logs() -> None:
    assert display_url("postgresql://app:s3cret@db:5432/mv") == "postgresql://app:***@db:5432/mv"
    assert display_url("postgres://app@db/mv") == "postgres://app@db/mv"
    assert display_url("sqlite:///data/memvault.db") == "sqlite:///data/memvault.db"


def test_migrate_command(postgres_server: EmbeddedPostgres, tmp_path: Path) -> None:
    memvault = Path(sys.executable).with_name("memvault")
    command = [str(memvault)] if memvault.exists() else [sys.executable, "-m", "memvault.cli"]
    with postgres_server.database(migrated=False) as url:
        env = {"PATH": "/usr/bin:/bin", "MEMVAULT_DATABASE_URL": url, "HOME": str(tmp_path)}
        first = subprocess.run([*command, "migrate"], env=env, capture_output=True, text=True,
                               timeout=60)  # fmt: skip
        assert first.returncode == 0, first.stderr
        assert "applied migrations 0001, 0002, 0003, 0004" in first.stdout
        again = subprocess.run([*command, "migrate"], env=env, capture_output=True, text=True,
                               timeout=60)  # fmt: skip
        assert again.returncode == 0 and "up to date" in again.stdout
    bad = subprocess.run([*command, "migrate", "--database-url", "mysql://x"], env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 1 and "unsupported database URL" in bad.stderr


# -- row-level security --------------------------------------------------------------------

SCOPED_TABLES = ("memories", "memory_history", "updates")


async def fill_two_stores(store: PostgresStore) -> tuple[str, str]:
    """Two stores, each with memories (one revised), and updates in scopes "u", "" and "%"."""
    ids = []
    for name in ("one", "two"):
        store_id = (await store.create_store(memory_store(name))).id
        for scope in ("u", "", "%"):
            [memory] = await store.add_memories(store_id, scope, [new_memory(f"{scope} tea")])
            await store.update_memory(
                store_id, scope, memory.id, content=f"{scope} coffee", embedding=unit_vector(1)
            )
            update_id = new_id("upd")
            await store.enqueue_update(
                store_id, scope, update_id=update_id, run_at=now(),
                messages=[UpdateMessage("user", "hello", update_id)],
            )  # fmt: skip
        ids.append(store_id)
    return ids[0], ids[1]


async def visible(conn: psycopg.AsyncConnection, guard: Guard) -> dict[str, set[tuple]]:
    """What a raw ``SELECT *`` (no WHERE clause) sees of each scoped table under ``guard``."""
    seen = {}
    async with conn.transaction():
        await guard.apply(conn)  # type: ignore[arg-type]
        for table in SCOPED_TABLES:
            cursor = await conn.execute(f"SELECT store_id, scope FROM {table}")  # type: ignore[arg-type]
            seen[table] = set(await cursor.fetchall())
    return seen


async def test_the_app_role_cannot_bypass_row_level_security(
    pg_store: PostgresStore, pg_url: str
) -> None:
    async with await connect(pg_url) as conn:
        cursor = await conn.execute(
            "SELECT current_user, rolsuper, rolbypassrls FROM pg_roles"
            " WHERE rolname = current_user"
        )
        assert await cursor.fetchone() == (APP_ROLE, False, False)
        cursor = await conn.execute(
            "SELECT relname, relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner)"
            " FROM pg_class WHERE relname = ANY(%s) ORDER BY 1",
            (list(SCOPED_TABLES),),
        )
        # The app role owns the tables, and FORCE binds owners too.
        assert await cursor.fetchall() == [
            (table, True, True, APP_ROLE) for table in sorted(SCOPED_TABLES)
        ]


async def test_a_scoped_transaction_sees_only_its_scope(
    pg_store: PostgresStore, pg_url: str
) -> None:
    one, two = await fill_two_stores(pg_store)
    async with await connect(pg_url) as conn:
        for scope in ("u", "", "%"):
            seen = await visible(conn, Guard.scoped(one, scope))
            assert seen == {table: {(one, scope)} for table in SCOPED_TABLES}
        # Every scope of one store; every row; and nothing at all without a guard.
        seen = await visible(conn, Guard.store(two))
        assert seen == {table: {(two, s) for s in ("u", "", "%")} for table in SCOPED_TABLES}
        seen = await visible(conn, Guard.everything())
        assert seen == {
            table: {(s, c) for s in (one, two) for c in ("u", "", "%")} for table in SCOPED_TABLES
        }
        assert await visible(conn, Guard.nothing()) == {table: set() for table in SCOPED_TABLES}
        # Settings are transaction-local: the next transaction on the connection sees nothing.
        async with conn.transaction():
            await Guard.scoped(one, "u").apply(conn)  # type: ignore[arg-type]
        cursor = await conn.execute("SELECT count(*) FROM memories")
        assert await cursor.fetchone() == (0,)


async def test_a_scoped_transaction_cannot_change_another_scope(
    pg_store: PostgresStore, pg_url: str
) -> None:
    one, two = await fill_two_stores(pg_store)
    async with await connect(pg_url) as conn:
        async with conn.transaction(force_rollback=True):
            await Guard.scoped(one, "u").apply(conn)  # type: ignore[arg-type]
            cursor = await conn.execute("UPDATE memories SET content = 'hijacked'")
            assert cursor.rowcount == 1
            cursor = await conn.execute("DELETE FROM updates")
            assert cursor.rowcount == 1
        for store_id, scope in ((one, "v"), (two, "u")):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
                async with conn.transaction():
                    await Guard.scoped(one, "u").apply(conn)  # type: ignore[arg-type]
                    await conn.execute(
                        "INSERT INTO memory_history (store_id, memory_id, scope, version,"
                        " content, changed_at) VALUES (%s, 'mem_x', %s, 1, 'x', 0)",
                        (store_id, scope),
                    )
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            async with conn.transaction():
                await Guard.scoped(one, "u").apply(conn)  # type: ignore[arg-type]
                await conn.execute("UPDATE memories SET scope = 'v'")
    # Nothing changed.
    for store_id in (one, two):
        for scope in ("u", "", "%"):
            [memory] = (await pg_store.list_memories(store_id, scope)).items
            assert memory.content == f"{scope} coffee"


# -- vector indexes and search -------------------------------------------------------------


async def index_names(url: str) -> dict[str, bool]:
    async with await connect(url) as conn:
        cursor = await conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_index AS i"
            " JOIN pg_class AS c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'memories'::regclass AND c.relname LIKE 'memories_embedding_%'"
        )
        return dict(await cursor.fetchall())


async def test_each_dimension_gets_one_hnsw_index(pg_store: PostgresStore, pg_url: str) -> None:
    assert await index_names(pg_url) == {}
    await pg_store.create_store(memory_store("a", dim=8))
    await pg_store.create_store(memory_store("b", dim=8))
    await pg_store.create_store(memory_store("c", dim=16))
    await pg_store.create_store(memory_store("large", dim=3072))  # halfvec
    await pg_store.create_store(memory_store("huge", dim=5000))  # no index type takes it
    assert await index_names(pg_url) == {
        "memories_embedding_8": True, "memories_embedding_16": True,
        "memories_embedding_3072": True,
    }  # fmt: skip
    # A second replica finds them at open.
    other = PostgresStore(pg_url, SETTINGS)
    await other.open()
    try:
        await other.create_store(memory_store("d", dim=16))
        assert await index_names(pg_url) == await index_names(pg_url)
        huge = (await other.get_store("default", "huge")).id
        vectors = unit_vectors(3, dim=5000)
        added = await other.add_memories(
            huge, "u", [new_memory(embedding=vector) for vector in vectors]
        )
        hits = await other.search_candidates(
            huge, "u", text="", embedding=vectors[1], kinds=ALL_KINDS, limit=1
        )
        assert [h.memory.id for h in hits.by_vector] == [added[1].id]
    finally:
        await other.close()


async def test_replicas_creating_stores_of_a_new_dimension_build_its_index_once(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    replicas = [PostgresStore(pg_url, SETTINGS) for _ in range(3)]
    for replica in replicas:
        await replica.open()
    try:
        await asyncio.gather(*(
            replica.create_store(memory_store(f"s{i}", dim=24))
            for i, replica in enumerate(replicas)
        ))  # fmt: skip
        assert await index_names(pg_url) == {"memories_embedding_24": True}
        assert all(24 in replica._indexed for replica in replicas)
        assert "could not build" not in caplog.text
    finally:
        for replica in replicas:
            await replica.close()


async def test_an_index_left_invalid_by_a_dead_build_is_built_again(
    postgres_server: EmbeddedPostgres, pg_store: PostgresStore, pg_url: str
) -> None:
    await pg_store.create_store(memory_store("a", dim=8))
    database = pg_url.rsplit("/", 1)[1]
    with postgres_server.admin(database) as conn:  # what a build killed half-way leaves
        conn.execute("UPDATE pg_index SET indisvalid = false"
                     " WHERE indexrelid = 'memories_embedding_8'::regclass")  # fmt: skip
    other = PostgresStore(pg_url, SETTINGS)
    await other.open()
    try:
        assert 8 not in other._indexed
        await other.create_store(memory_store("b", dim=8))
        assert 8 in other._indexed
        assert await index_names(pg_url) == {"memories_embedding_8": True}
    finally:
        await other.close()


async def load_scope(store: PostgresStore, store_id: str, scope: str, vectors: np.ndarray,
                     kinds: list[MemoryKind] | None = None) -> list[str]:  # fmt: skip
    ids = []
    for start in range(0, len(vectors), 200):
        batch = [
            new_memory(f"m{i}", embedding=vectors[i],
                       kind=kinds[i] if kinds else MemoryKind.USER_PROFILE)
            for i in range(start, min(start + 200, len(vectors)))
        ]  # fmt: skip
        ids += [memory.id for memory in await store.add_memories(store_id, scope, batch)]
    return ids


async def test_large_scopes_search_through_the_index(pg_url: str) -> None:
    """Above ``postgres_exact_search_rows`` the search goes through the HNSW index under
    row-level security, filtered by scope with iterative scans, and still finds the best
    matches; small scopes and too-selective filters are searched exactly."""
    store = PostgresStore(pg_url, Settings(postgres_exact_search_rows=100))
    await store.open()
    try:
        store_id = (await store.create_store(memory_store())).id
        vectors = unit_vectors(600, seed=3)
        kinds = [MemoryKind.PROCEDURAL if i % 100 == 0 else MemoryKind.USER_PROFILE
                 for i in range(600)]  # fmt: skip
        ids = await load_scope(store, store_id, "big", vectors, kinds)
        await load_scope(store, store_id, "neighbour", unit_vectors(600, seed=4))
        small = await load_scope(store, store_id, "small", vectors[:50])
        async with await connect(pg_url) as conn:
            await conn.execute("ANALYZE memories")

        query = unit_vector(77)
        order = np.argsort(-(vectors @ query))
        hits = await store.search_candidates(
            store_id, "big", text="", embedding=query, kinds=ALL_KINDS, limit=20
        )
        found = [h.memory.id for h in hits.by_vector]
        assert len(found) == 20 and all(h.memory.scope == "big" for h in hits.by_vector)
        assert len(set(found) & {ids[i] for i in order[:20]}) >= 18  # HNSW recall
        scores = [h.score for h in hits.by_vector]
        assert scores == sorted(scores, reverse=True)

        # Six procedural memories in a scope of 600: the iterative scan may stop short of them
        # all, and then the exact search answers.
        hits = await store.search_candidates(
            store_id, "big", text="", embedding=query, kinds=[MemoryKind.PROCEDURAL], limit=10
        )
        assert [h.memory.id for h in hits.by_vector] == [
            ids[i] for i in order if kinds[i] is MemoryKind.PROCEDURAL
        ]
        hits = await store.search_candidates(
            store_id, "small", text="", embedding=query, kinds=ALL_KINDS, limit=5
        )
        assert [h.memory.id for h in hits.by_vector] == [
            small[i] for i in np.argsort(-(vectors[:50] @ query))[:5]
        ]

        # The plan: the dimension's HNSW index, under the scope's row-level security.
        async with await connect(pg_url) as conn, conn.transaction(force_rollback=True):
            await Guard.scoped(store_id, "big").apply(conn)  # type: ignore[arg-type]
            await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            sql = INDEXED_SEARCH_SQL.format(cast="vector(8)", dim=8)
            cursor = await conn.execute(
                ("EXPLAIN " + sql).encode(),  # type: ignore[arg-type]
                {"store_id": store_id, "scope": "big", "now": now(), "limit": 20, "candidates": 40,
                 "kinds": [kind.value for kind in ALL_KINDS], "query": str(query.tolist())},
            )  # fmt: skip
            plan = "\n".join(row[0] for row in await cursor.fetchall())
        assert "memories_embedding_8" in plan, plan
    finally:
        await store.close()


# -- the queue across Store objects (replicas) ---------------------------------------------


async def test_enqueues_racing_through_two_replicas_keep_one_queued_update(pg_url: str) -> None:
    """Updates of one scope accepted at once by two replicas: each later one supersedes the
    queued one, whatever the interleaving, and carries every message exactly once."""
    replicas = [PostgresStore(pg_url, SETTINGS) for _ in range(2)]
    for replica in replicas:
        await replica.open()
    try:
        store_id = (await replicas[0].create_store(memory_store())).id

        async def send(i: int) -> str:
            update_id = new_id("upd")
            await replicas[i % 2].enqueue_update(
                store_id, "u", update_id=update_id, run_at=now() + 60,
                messages=[UpdateMessage("user", f"message {i}", update_id)],
            )  # fmt: skip
            return update_id

        sent = await asyncio.gather(*(send(i) for i in range(40)))
        jobs = [await replicas[0].get_update(store_id, update_id) for update_id in sent]
        queued = [job for job in jobs if job.superseded_by is None]
        assert len(queued) == 1
        [last] = queued
        assert sorted(m.text for m in last.messages) == sorted(f"message {i}" for i in range(40))
        # The supersede chain runs through every update once, ending at the queued one.
        successors = {job.id: job.superseded_by for job in jobs}
        [first] = set(sent) - set(successors.values())
        chain = [first]
        while successors[chain[-1]] is not None:
            chain.append(successors[chain[-1]])  # type: ignore[arg-type]
        assert len(chain) == 40 and chain[-1] == last.id
        # Messages ride along in the order their updates were committed.
        assert [m.update_id for m in last.messages] == chain
    finally:
        for replica in replicas:
            await replica.close()
