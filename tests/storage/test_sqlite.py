"""What only the SQLite backend has: URLs, migrations, the writer thread, the vector cache."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from memvault.errors import InvalidRequest, MemvaultError, ServiceUnavailable
from memvault.models import MemoryKind, UpdateMessage, new_id, now
from memvault.settings import Settings
from memvault.storage import open_store, sqlite_path
from memvault.storage.migrations import apply_sqlite, load_migrations, split_sqlite_statements
from memvault.storage.sqlite import CLAIM_UPDATE_SQL, SQLiteStore
from tests.storage.conftest import DIM, memory_store, new_memory, unit_vector

SETTINGS = Settings(sqlite_synchronous="NORMAL", vector_cache_mb=64)


async def opened(path: Path, settings: Settings = SETTINGS, **kwargs: object) -> SQLiteStore:
    store = SQLiteStore(path, settings, **kwargs)  # type: ignore[arg-type]
    await store.open()
    return store


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["postgresql:localhost", "mysql://x", "memvault.db", "", "sqlite://relative.db",
     "sqlite:///", "sqlite:///:memory:", "sqlite:///file:x.db?mode=ro", "sqlite:///x.db?cache=1"],
)  # fmt: skip
async def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        await open_store(url, SETTINGS)
    assert url in raised.value.message


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:///data/memvault.db") == Path("data/memvault.db")
    assert sqlite_path("sqlite:////var/lib/memvault.db") == Path("/var/lib/memvault.db")


async def test_relative_url_creates_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///nested/dir/memvault.db", SETTINGS)
    await store.close()
    assert (tmp_path / "nested" / "dir" / "memvault.db").is_file()


async def test_default_database_url_works(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", sqlite_synchronous="NORMAL")
    store = await open_store(settings.resolved_database_url, settings)
    await store.close()
    assert (tmp_path / "data" / "memvault.db").is_file()


# -- migrations ----------------------------------------------------------------------------


def test_migrations_are_numbered() -> None:
    migrations = load_migrations("sqlite")
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "0001_initial.sql"


def test_migrations_apply_once(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        assert apply_sqlite(conn) == [m.version for m in load_migrations("sqlite")]
        assert apply_sqlite(conn) == []
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"memory_stores", "memories", "memory_history", "scopes", "memories_fts",
                "updates", "schema_migrations"} <= tables  # fmt: skip
    finally:
        conn.close()


async def test_database_from_a_newer_memvault_is_refused(tmp_path: Path) -> None:
    store = await opened(tmp_path / "m.db")
    await store.close()
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    conn.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0)")
    conn.close()
    with pytest.raises(MemvaultError, match="9999"):
        await opened(tmp_path / "m.db")


async def test_text_index_of_an_earlier_version_is_rebuilt_in_scoped_words(
    tmp_path: Path,
) -> None:
    """0008 rewrites the shared-vocabulary index (``sk`` token column) that databases written
    before it hold: text search finds the same memories afterwards, each in its own scope."""
    path = tmp_path / "old.db"
    store = await opened(path)
    ms = await store.create_store(memory_store())
    texts = {"a": ["the user drinks green tea", "the user's cat is called Miso"],
             "b": ["the user drinks black coffee", "green tea gives the user headaches"]}
    for scope, contents in texts.items():
        await store.add_memories(ms.id, scope, [new_memory(c, seed=i) for i, c in
                                                enumerate(contents)])
    await store.close()
    # The index as the version before 0008 wrote it.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript("""
        DROP TABLE memories_fts;
        CREATE VIRTUAL TABLE memories_fts USING fts5 (
            sk, content, tokenize = 'porter unicode61 remove_diacritics 2');
        INSERT INTO memories_fts (rowid, sk, content)
        SELECT m.seq, 's' || s.id, m.content FROM memories AS m
        JOIN scopes AS s ON s.store_id = m.store_id AND s.scope = m.scope;
        DELETE FROM schema_migrations WHERE version >= 8;
    """)
    conn.close()

    store = await opened(path)
    try:
        for scope, query, expected in [("a", "green tea", ["the user drinks green tea"]),
                                       ("b", "green tea", ["green tea gives the user headaches"]),
                                       ("a", "cats", ["the user's cat is called Miso"]),
                                       ("a", "coffee", [])]:
            hits = await store.search_candidates(
                ms.id, scope, text=query, embedding=None, kinds=list(MemoryKind), limit=5
            )
            assert [hit.memory.content for hit in hits.by_text] == expected, (scope, query)
        # New writes land in the rebuilt index.
        await store.add_memories(ms.id, "b", [new_memory("coffee cake on Sundays", seed=5)])
        hits = await store.search_candidates(
            ms.id, "b", text="cake", embedding=None, kinds=list(MemoryKind), limit=5
        )
        assert [hit.memory.content for hit in hits.by_text] == ["coffee cake on Sundays"]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(memories_fts)")]
    assert columns == ["words"]
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


def test_claim_query_uses_the_indexes(tmp_path: Path) -> None:
    """Claiming must not scan the finished updates, which pile up."""
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        apply_sqlite(conn)
        params = {"worker": "w", "now": 1, "until": 2, "ts": 1}
        plan = " | ".join(
            row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {CLAIM_UPDATE_SQL}", params)
        )
        assert "updates_by_due" in plan and "updates_by_scope" in plan
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
    finally:
        conn.close()


def test_statement_splitting() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE a (x TEXT DEFAULT 'semi;colon');
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        UPDATE a SET x = 'y;' WHERE rowid = new.rowid;
    END;
    /* trailing; comment */
    """
    statements = split_sqlite_statements(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(MemvaultError):
        split_sqlite_statements("CREATE TABLE b (x INTEGER); SELECT 1")


# -- writer and readers --------------------------------------------------------------------


@pytest.mark.parametrize("group_commit", [True, False])
async def test_group_commit_shares_transactions(tmp_path: Path, group_commit: bool) -> None:
    store = await opened(tmp_path / "g.db", group_commit=group_commit)
    try:
        ms = await store.create_store(memory_store())
        before = store.database.stats.transactions
        await asyncio.gather(
            *(store.add_memories(ms.id, "u", [new_memory(seed=i)]) for i in range(40))
        )
        transactions = store.database.stats.transactions - before
        if group_commit:
            assert transactions < 40
        else:
            assert transactions == 40
        assert await store.count_memories(ms.id, "u") == 40
    finally:
        await store.close()


async def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    with pytest.raises(ServiceUnavailable):
        await SQLiteStore(tmp_path / "never-opened.db", SETTINGS).create_store(memory_store())
    store = await opened(tmp_path / "c.db")
    await store.close()
    with pytest.raises(ServiceUnavailable):
        await store.create_store(memory_store())
    with pytest.raises(ServiceUnavailable):
        await store.count_memories("memstore_x", "u")


async def test_close_finishes_queued_writes(tmp_path: Path) -> None:
    store = await opened(tmp_path / "q.db")
    ms = await store.create_store(memory_store())
    writes = [
        asyncio.ensure_future(store.add_memories(ms.id, "u", [new_memory(seed=i)]))
        for i in range(20)
    ]
    await asyncio.sleep(0)
    await store.close()
    await asyncio.gather(*writes)
    reopened = await opened(tmp_path / "q.db")
    try:
        assert await reopened.count_memories(ms.id, "u") == 20
    finally:
        await reopened.close()


async def test_cancelled_write_that_has_not_started_does_nothing(tmp_path: Path) -> None:
    store = await opened(tmp_path / "x.db")
    try:
        ms = await store.create_store(memory_store())
        busy = asyncio.ensure_future(store.database.write(lambda tx: time.sleep(0.3)))
        await asyncio.sleep(0.1)  # the writer is inside `busy` now
        add = asyncio.ensure_future(store.add_memories(ms.id, "u", [new_memory()]))
        await asyncio.sleep(0)
        add.cancel()
        await busy
        with pytest.raises(asyncio.CancelledError):
            await add
        assert await store.count_memories(ms.id, "u") == 0
        await store.add_memories(ms.id, "u", [new_memory()])
        assert await store.count_memories(ms.id, "u") == 1
    finally:
        await store.close()


async def test_readers_cannot_write(tmp_path: Path) -> None:
    store = await opened(tmp_path / "r.db")
    try:
        with pytest.raises(MemvaultError, match="readonly|read-only|query_only"):
            await store.database.read(
                lambda conn: conn.execute("DELETE FROM memory_stores").fetchall()
            )
    finally:
        await store.close()


async def test_other_process_holding_the_write_lock(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "l.db", SETTINGS)
    store.database.busy_timeout_ms = 100
    await store.open()
    blocker = sqlite3.connect(tmp_path / "l.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(ServiceUnavailable):
            await store.create_store(memory_store())
        blocker.execute("ROLLBACK")
        await store.create_store(memory_store())
    finally:
        blocker.close()
        await store.close()


async def held_elsewhere(path: Path) -> tuple[sqlite3.Connection, SQLiteStore]:
    """An existing database (in WAL mode) that a connection of "another process" keeps everyone
    else out of until closed, and an unopened store on it that waits 100 ms a statement."""
    await (await opened(path)).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("CREATE TABLE IF NOT EXISTS other (x)")  # takes the lock
    store = SQLiteStore(path, SETTINGS)
    store.database.busy_timeout_ms = 100
    return holder, store


async def test_start_waits_for_a_database_busy_longer_than_the_busy_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    holder, store = await held_elsewhere(tmp_path / "b.db")
    loop = asyncio.get_running_loop()
    loop.call_later(1.0, holder.close)
    started = time.monotonic()
    await store.open()  # a server or worker starting now waits, where it used to exit
    try:
        assert time.monotonic() - started >= 0.9
        assert "b.db is busy (SQLITE_BUSY" in caplog.text
        await store.create_store(memory_store())
    finally:
        await store.close()


async def test_start_gives_up_on_a_database_that_stays_busy(tmp_path: Path) -> None:
    holder, store = await held_elsewhere(tmp_path / "b.db")
    store.database.start_timeout = 0.5
    try:
        with pytest.raises(ServiceUnavailable, match="busy"):
            await store.open()
    finally:
        holder.close()


_UNCLOSED = """
import asyncio, sys
from memvault.settings import Settings
from memvault.storage.sqlite import SQLiteStore
from tests.storage.conftest import memory_store, new_memory

async def main():
    store = SQLiteStore(sys.argv[1], Settings(sqlite_synchronous="NORMAL"))
    await store.open()
    ms = await store.create_store(memory_store())
    await store.add_memories(ms.id, "u", [new_memory(seed=i) for i in range(5)])
    print(ms.id, flush=True)  # and the store is never closed

asyncio.run(main())
"""


async def test_a_program_that_never_closes_its_store_exits_and_keeps_its_writes(
    tmp_path: Path,
) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _UNCLOSED, str(tmp_path / "u.db"),
        cwd=Path(__file__).parents[2], stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(child.communicate(), timeout=60)
    finally:
        if child.returncode is None:
            child.kill()
    assert child.returncode == 0
    store = await opened(tmp_path / "u.db")
    try:
        assert await store.count_memories(out.decode().strip(), "u") == 5
    finally:
        await store.close()


_WORKER = """
import asyncio, sys
from memvault.settings import Settings
from memvault.storage.sqlite import CLAIM_UPDATE_SQL, SQLiteStore
from tests.storage.conftest import new_memory

async def main():
    store = SQLiteStore(sys.argv[1], Settings(sqlite_synchronous="NORMAL"))
    await store.open()
    for i in range(40):
        await store.add_memories(sys.argv[2], "u", [new_memory(f"from worker {i}", seed=100 + i)])
    await store.close()

asyncio.run(main())
"""


async def test_another_process_writing_the_same_file(tmp_path: Path) -> None:
    store = await opened(tmp_path / "p.db")
    try:
        ms = await store.create_store(memory_store())
        await store.add_memories(ms.id, "u", [new_memory(seed=1)])
        kinds = list(MemoryKind)
        await store.search_candidates(  # caches the scope's vectors
            ms.id, "u", text="", embedding=unit_vector(1), kinds=kinds, limit=1
        )
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _WORKER, str(tmp_path / "p.db"), ms.id,
            cwd=Path(__file__).parents[2],
        )  # fmt: skip
        for i in range(40):
            await store.add_memories(ms.id, "u", [new_memory(f"from server {i}", seed=200 + i)])
        assert await worker.wait() == 0
        assert await store.count_memories(ms.id, "u") == 81
        for seed in (100, 139, 200, 239):
            hits = await store.search_candidates(
                ms.id, "u", text="", embedding=unit_vector(seed), kinds=kinds, limit=1
            )
            assert hits.by_vector[0].score == pytest.approx(1.0, abs=1e-5)
        hits = await store.search_candidates(
            ms.id, "u", text="worker", embedding=None, kinds=kinds, limit=100
        )
        assert len(hits.by_text) == 40
    finally:
        await store.close()


_CLAIMER = """
import asyncio, sys
from memvault.models import now
from memvault.settings import Settings
from memvault.storage.sqlite import SQLiteStore

async def main():
    store = SQLiteStore(sys.argv[1], Settings(sqlite_synchronous="NORMAL"))
    await store.open()
    print("ready", flush=True)
    while (job := await store.claim_update("child", now=now(), lease_seconds=60)) is not None:
        print(job.id, flush=True)
        await asyncio.sleep(0.001)
    await store.close()

asyncio.run(main())
"""


async def test_two_processes_claiming_from_one_queue(tmp_path: Path) -> None:
    store = await opened(tmp_path / "j.db")
    try:
        ms = await store.create_store(memory_store())
        enqueued = set()
        for i in range(200):
            update_id = new_id("upd")
            await store.enqueue_update(
                ms.id, f"user_{i}", update_id=update_id,
                messages=[UpdateMessage("user", "hello", update_id)], run_at=now(),
            )  # fmt: skip
            enqueued.add(update_id)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CLAIMER, str(tmp_path / "j.db"),
            cwd=Path(__file__).parents[2], stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert child.stdout is not None
        assert await child.stdout.readline() == b"ready\n"
        mine = []
        while (job := await store.claim_update("parent", now=now(), lease_seconds=60)) is not None:
            mine.append(job.id)
            # A pause between claims, as a worker processing the job would take: without one,
            # either process could take every job while the other sleeps off a busy lock.
            await asyncio.sleep(0.001)
        output, _ = await child.communicate()
        assert child.returncode == 0
        theirs = output.decode().split()
        assert len(mine) + len(theirs) == len(enqueued)
        assert set(mine) | set(theirs) == enqueued
        assert mine and theirs  # both took part
    finally:
        await store.close()


# -- vector cache --------------------------------------------------------------------------


async def test_vector_cache_stays_within_budget(tmp_path: Path) -> None:
    store = await opened(tmp_path / "v.db")
    try:
        ms = await store.create_store(memory_store())
        for scope in ("a", "b"):
            await store.add_memories(ms.id, scope, [new_memory(seed=i) for i in range(20)])
        # Room for the index of one 20-memory scope (vectors and words), not two.
        await store.search_candidates(
            ms.id, "a", text="", embedding=unit_vector(3), kinds=list(MemoryKind), limit=1
        )
        one = store.vector_cache.nbytes
        assert one > 20 * DIM * 4
        store.vector_cache.clear()
        store.vector_cache.max_bytes = one * 3 // 2
        for scope in ("a", "b", "a"):
            hits = await store.search_candidates(
                ms.id, scope, text="", embedding=unit_vector(3), kinds=list(MemoryKind), limit=1
            )
            assert hits.by_vector[0].score == pytest.approx(1.0, abs=1e-5)
            assert len(store.vector_cache) == 1
            assert store.vector_cache.get((ms.id, scope)) is not None
            assert store.vector_cache.nbytes <= store.vector_cache.max_bytes
        # A scope bigger than the whole budget is searched without being cached.
        await store.add_memories(ms.id, "big", [new_memory(seed=i) for i in range(200)])
        hits = await store.search_candidates(
            ms.id, "big", text="", embedding=unit_vector(7), kinds=list(MemoryKind), limit=1
        )
        assert hits.by_vector[0].score == pytest.approx(1.0, abs=1e-5)
        assert store.vector_cache.get((ms.id, "big")) is None
    finally:
        await store.close()


async def test_writes_update_the_cached_index_in_place(tmp_path: Path) -> None:
    store = await opened(tmp_path / "w.db")
    try:
        ms = await store.create_store(memory_store())
        [first] = await store.add_memories(ms.id, "u", [new_memory(seed=1)])
        await store.search_candidates(
            ms.id, "u", text="", embedding=unit_vector(1), kinds=list(MemoryKind), limit=1
        )
        index = store.vector_cache.get((ms.id, "u"))
        assert index is not None and len(index) == 1
        await store.add_memories(ms.id, "u", [new_memory(seed=2), new_memory(seed=3)])
        await store.delete_memory(ms.id, "u", first.id)
        await store.add_memories(ms.id, "u", [new_memory(seed=4, expires_at=now() - 1)])
        assert store.vector_cache.get((ms.id, "u")) is index  # not reloaded
        assert len(index) == 3
        hits = await store.search_candidates(
            ms.id, "u", text="", embedding=unit_vector(4), kinds=list(MemoryKind), limit=5
        )
        assert len(hits.by_vector) == 2  # the expired one is masked out
        assert store.vector_cache.get((ms.id, "u")) is index
    finally:
        await store.close()


async def test_wrong_dimension_store(tmp_path: Path) -> None:
    store = await opened(tmp_path / "d.db")
    try:
        ms = await store.create_store(memory_store(dim=DIM * 2))
        with pytest.raises(InvalidRequest):
            await store.add_memories(ms.id, "u", [new_memory()])
    finally:
        await store.close()


async def test_search_reads_every_field_of_its_rows(tmp_path: Path) -> None:
    """A search builds its memories from positional rows: each field lands where it belongs."""
    store = await open_store(f"sqlite:///{tmp_path / 'm.db'}", Settings(data_dir=tmp_path))
    try:
        ms = await store.create_store(memory_store())
        [added] = await store.add_memories(ms.id, "u", [new_memory(
            "the user keeps bees", seed=3, kind=MemoryKind.PROCEDURAL, expires_at=now() + 3_600,
        )])  # fmt: skip
        assert added.source and added.created_by and added.expires_at
        found = await store.search_candidates(
            ms.id, "u", text="bees", embedding=unit_vector(3), kinds=list(MemoryKind), limit=5
        )
        assert [hit.memory for hit in found.by_vector] == [added]
        assert [hit.memory for hit in found.by_text] == [added]
        assert found.by_vector[0].memory.embedding.tolist() == unit_vector(3).tolist()
    finally:
        await store.close()
