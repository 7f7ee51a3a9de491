"""PostgreSQL + pgvector: search and item creation over HTTP at 100k and 1M memories, and the
HNSW index's recall against the exact scan, on real embeddings.

    python -m bench --only postgres [--quick]
    python -m bench.postgres [--quick] [--large N]     # N memories in the large store (1M)

The database is the embedded PostgreSQL the tests start (``tests/support/postgres.py``, run as a
non-root user), given memory for a large table and its index; a ``memvault serve``
(:class:`~memvault.testing.LiveServer`) on it answers real HTTP requests. Commits are durable
(``fsync``, full-page writes, synchronous commit) while anything is measured, and off while the
data is loaded.

Data: a pool of distinct memory texts (:func:`bench.corpus.memories`) embedded once
with the local model (cached on disk between runs: a million texts would take half an hour at
about 600 texts/s). The one-scope store and the 100k store use each pooled text once; the 1M
store reuses each in ten scopes. Rows are loaded the way an operator bulk-loads: a sample
through ``Store.add_memories`` (to measure it), the rest with ``COPY`` as the superuser (``COPY
FROM`` refuses a table under row-level security) with the HNSW index dropped first and built
again afterwards, then ``VACUUM ANALYZE`` (what autovacuum would have done by then).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psycopg

from bench.corpus import FreshTexts, memories, queries
from bench.http_api import concurrent_creates, percentile, timed_requests
from memvault.models import MemoryKind, NewMemory, new_id, now
from memvault.providers.registry import shared_local_embedder
from memvault.settings import Settings
from memvault.storage import open_store
from memvault.storage.postgres import vector_index_sql
from memvault.testing import LiveServer
from tests.support.postgres import TEMPLATE, EmbeddedPostgres

DIM = 384
STORE = "bench"  # bench.http_api.concurrent_creates posts to this store's name
TARGET_P95_MS = 20.0
TARGET_RECALL = 0.95
INDEX = f"memories_embedding_{DIM}"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "memvault-bench"
# Durability off while loading, on while measuring; set in postgresql.auto.conf (ALTER SYSTEM),
# so they are left out of the command line, which would override the file.
SERVER_OPTIONS = (
    "-c max_connections=300 -c shared_buffers=4GB -c effective_cache_size=16GB"
    " -c max_wal_size=8GB -c max_parallel_maintenance_workers=1"
    " -c log_min_messages=warning -c log_min_error_statement=panic"
)
BUILD_MEMORY = "6GB"  # maintenance_work_mem for the index build: the 1M graph fits in it
DURABILITY = ("fsync", "full_page_writes", "synchronous_commit")
COPY_CHUNK = 100_000
STORE_BATCH = 2_000


@dataclass(frozen=True)
class Sizes:
    pool: int  # distinct embedded texts
    one_scope: int  # memories in the one-scope store
    spread: int  # memories in the first many-scope store
    large: int  # memories in the many-scope store once grown
    scopes: int
    via_store: int  # of the one-scope store's rows, loaded through Store.add_memories
    searches: int  # HTTP searches per case
    exact_searches: int  # HTTP searches with the HNSW path off
    recall_queries: int
    ef_searches: tuple[int, ...]
    creates_sequential: int
    creates_concurrent: int
    seed_budget: float  # seconds of COPY for the large store before stopping short


FULL = Sizes(
    pool=100_000, one_scope=100_000, spread=100_000, large=1_000_000, scopes=1_000,
    via_store=10_000, searches=300, exact_searches=60, recall_queries=300,
    ef_searches=(40, 100, 200, 400, 800), creates_sequential=400, creates_concurrent=1_600,
    seed_budget=300,
)  # fmt: skip
QUICK = Sizes(
    pool=15_000, one_scope=15_000, spread=15_000, large=40_000, scopes=1_000,
    via_store=2_000, searches=100, exact_searches=20, recall_queries=100,
    ef_searches=(100, 200, 400), creates_sequential=100, creates_concurrent=400,
    seed_budget=60,
)  # fmt: skip


@dataclass
class Case:
    """What one store measured."""

    label: str
    in_store: int
    in_scope: int
    search_cold: list[float] = field(default_factory=list)  # right after loading
    search: list[float] = field(default_factory=list)  # after pg_prewarm
    vector: list[float] = field(default_factory=list)
    text: list[float] = field(default_factory=list)
    sequential: float = 0.0
    concurrent: float = 0.0


@dataclass
class Recall:
    label: str
    ef_search: int | None
    at10: float
    at30: float
    latencies: list[float]
    lost: int = 0  # queries that found fewer than half of their exact top 30


@dataclass
class Report:
    sizes: Sizes
    pool_note: str = ""
    versions: str = ""
    floor: float = 0.0
    embed_one: float = 0.0
    sizes_note: str = ""
    recall_queries: int = 0
    model_8: float = 0.0  # the local model's texts/s at batch 8 (8 clients fill batches of 8)
    cases: list[Case] = field(default_factory=list)
    exact_http: list[float] = field(default_factory=list)
    recalls: list[Recall] = field(default_factory=list)
    loads: list[tuple[str, int, float]] = field(default_factory=list)  # step, rows, seconds
    notes: list[str] = field(default_factory=list)
    fresh: FreshTexts = field(default_factory=FreshTexts)  # creation texts: never seen before

    def load(self, step: str, rows: int, seconds: float) -> None:
        self.loads.append((step, rows, seconds))
        progress(f"{step}: {rows:,} rows in {seconds:.1f} s")


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """A line on stderr: where a long run is."""
    print(f"[postgres {time.perf_counter() - _STARTED:5.0f} s] {message}", file=sys.stderr,
          flush=True)  # fmt: skip


# -- data -----------------------------------------------------------------------------------------


def embedded_pool(texts: list[str]) -> tuple[np.ndarray, str]:
    """The local model's embeddings of ``texts``, from the on-disk cache when they are there
    (checked against a fresh embedding of a few); returns them and how they were had."""
    embedder = shared_local_embedder()
    digest = hashlib.sha256("\n".join([embedder.model, *texts]).encode()).hexdigest()[:16]
    path = CACHE / f"pool-{len(texts)}-{digest}.npy"
    if path.exists():
        vectors = np.load(path)
        probe = embedder.embed(texts[:16])
        if vectors.shape == (len(texts), DIM) and np.abs(vectors[:16] - probe).max() < 1e-4:
            return vectors, f"read from the cache ({path})"
    started = time.perf_counter()
    vectors = np.concatenate([embedder.embed(texts[i:i + 64]) for i in range(0, len(texts), 64)])
    elapsed = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    np.save(partial, vectors)
    partial.replace(path)
    return vectors, f"embedded in this run in {elapsed:.0f} s ({len(texts) / elapsed:.0f} texts/s)"


def scope_name(index: int) -> str:
    return f"user-{index:04d}"


def spread_rows(start: int, stop: int, scopes: int, pool: int) -> Iterator[tuple[str, int]]:
    """(scope, pooled text) of rows ``start:stop`` of a store spread over ``scopes``: row ``r``
    is the ``r // scopes``-th memory of scope ``r % scopes``, so each scope's rows are strewn
    over the table as if its user came back day after day. Scope ``s`` takes consecutive pooled
    texts from ``s * pool // scopes``: no text twice in one scope, and at ``pool`` rows every
    text exactly once in the store."""
    stride = pool // scopes
    for row in range(start, stop):
        scope, nth = row % scopes, row // scopes
        yield scope_name(scope), (scope * stride + nth) % pool


# -- the database ---------------------------------------------------------------------------------


def set_durable(server: EmbeddedPostgres, durable: bool) -> None:
    """Durable commits (on) for measuring, none (off) for loading; on also checkpoints, so that
    flushing the load is not measured."""
    value = "on" if durable else "off"
    with server.admin() as conn:
        for name in DURABILITY:
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")  # type: ignore[arg-type]
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)  # backends pick the new values up between statements
        if durable:
            conn.execute("CHECKPOINT")


def copy_rows(
    server: EmbeddedPostgres,
    database: str,
    store_id: str,
    rows: Iterable[tuple[str, int]],
    texts: list[str],
    vectors: np.ndarray,
) -> int:
    """Load ``rows`` with one ``COPY`` (as the superuser: COPY refuses row-level security).
    Returns the number of rows."""
    from pgvector.psycopg import register_vector

    ts, count = now(), 0
    with server.admin(database) as conn:
        register_vector(conn)
        with conn.cursor() as cursor, cursor.copy(
            "COPY memories (store_id, id, scope, kind, content, embedding, created_by,"
            " created_at, updated_at) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "text", "text", "text", "vector", "text", "int8",
                            "int8"])  # fmt: skip
            for scope, index in rows:
                copy.write_row((store_id, new_id("mem"), scope, "user_profile", texts[index],
                                vectors[index], "bench", ts, ts))  # fmt: skip
                count += 1
    return count


def drop_index(server: EmbeddedPostgres, database: str) -> None:
    with server.admin(database) as conn:
        conn.execute(f"DROP INDEX IF EXISTS {INDEX}")  # type: ignore[arg-type]


def build_index(server: EmbeddedPostgres, database: str) -> float:
    """Build the dimension's HNSW index as the store does (not concurrently: nothing else runs
    meanwhile); returns the seconds it took."""
    with server.admin(database) as conn:
        conn.execute(f"SET maintenance_work_mem = '{BUILD_MEMORY}'")  # type: ignore[arg-type]
        started = time.perf_counter()
        conn.execute(vector_index_sql(DIM).replace(" CONCURRENTLY", ""))  # type: ignore[arg-type]
        return time.perf_counter() - started


def vacuum(server: EmbeddedPostgres, database: str) -> float:
    with server.admin(database) as conn:
        started = time.perf_counter()
        conn.execute("VACUUM (ANALYZE) memories")
        return time.perf_counter() - started


def prewarm(server: EmbeddedPostgres, database: str) -> float:
    """Read the table and its btree indexes into ``shared_buffers`` (the steady state of a
    server whose data fits in memory); returns seconds."""
    with server.admin(database) as conn:
        started = time.perf_counter()
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        conn.execute("SELECT pg_prewarm('memories'), pg_prewarm('memories_by_scope'),"
                     " pg_prewarm('memories_pkey')")  # fmt: skip
        return time.perf_counter() - started


def sizes_note(server: EmbeddedPostgres, database: str, rows: int) -> str:
    with server.admin(database) as conn:
        row = conn.execute(
            "SELECT pg_table_size('memories'), pg_relation_size(%s::regclass),"
            " pg_indexes_size('memories') - pg_relation_size(%s::regclass)",
            (INDEX, INDEX),
        ).fetchone()
    assert row is not None
    table, hnsw, other = (value / 2**30 for value in row)
    return (f"At {rows:,} memories the table takes {table:.1f} GiB, its HNSW index"
            f" {hnsw:.1f} GiB and its other indexes {other:.1f} GiB.")


def versions(server: EmbeddedPostgres) -> str:
    with server.admin(TEMPLATE) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version'), extversion FROM pg_extension"
            " WHERE extname = 'vector'"
        ).fetchone()
    assert row is not None
    return f"PostgreSQL {row[0].split()[0]}, pgvector {row[1]}"


# -- measuring ------------------------------------------------------------------------------------


async def add_through_store(url: str, store_id: str, scope: str, indexes: list[int],
                            texts: list[str], vectors: np.ndarray) -> float:  # fmt: skip
    """Load rows through ``Store.add_memories`` (``STORE_BATCH`` a call); returns seconds."""
    store = await open_store(url, Settings())
    try:
        started = time.perf_counter()
        for start in range(0, len(indexes), STORE_BATCH):
            await store.add_memories(store_id, scope, [
                NewMemory(kind=MemoryKind.USER_PROFILE, content=texts[i], embedding=vectors[i],
                          created_by="bench")
                for i in indexes[start:start + STORE_BATCH]
            ])  # fmt: skip
        return time.perf_counter() - started
    finally:
        await store.close()


async def store_halves(url: str, store_id: str, scopes: list[str], texts: list[str],
                       vectors: np.ndarray) -> tuple[list[float], list[float]]:  # fmt: skip
    """In-process latencies of the two halves of a search (what the HTTP search asks the store
    for: 30 candidates each), in ms."""
    store = await open_store(url, Settings())
    vector, text = [], []
    try:
        for i, (query, embedding) in enumerate(zip(texts, vectors, strict=True)):
            scope = scopes[i % len(scopes)]
            started = time.perf_counter()
            await store.search_candidates(store_id, scope, text="", embedding=embedding,
                                          kinds=list(MemoryKind), limit=30)  # fmt: skip
            vector.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await store.search_candidates(store_id, scope, text=query, embedding=None,
                                          kinds=list(MemoryKind), limit=30)  # fmt: skip
            text.append((time.perf_counter() - started) * 1000)
    finally:
        await store.close()
    return vector[5:], text[5:]  # the first few warm the pool and the caches


async def nearest(url: str, settings: Settings, store_id: str, scope: str,
                  vectors: np.ndarray) -> tuple[list[list[str]], list[float]]:  # fmt: skip
    """The 30 nearest memory ids for each query vector, and each search's ms."""
    store = await open_store(url, settings)
    found, latencies = [], []
    try:
        for embedding in vectors[:5]:  # warm-up
            await store.search_candidates(store_id, scope, text="", embedding=embedding,
                                          kinds=list(MemoryKind), limit=30)  # fmt: skip
        for embedding in vectors:
            started = time.perf_counter()
            hits = await store.search_candidates(store_id, scope, text="", embedding=embedding,
                                                 kinds=list(MemoryKind), limit=30)  # fmt: skip
            latencies.append((time.perf_counter() - started) * 1000)
            found.append([hit.memory.id for hit in hits.by_vector])
    finally:
        await store.close()
    return found, latencies


def recall(found: list[list[str]], exact: list[list[str]], k: int) -> float:
    """The mean share of the exact top ``k`` found in the top ``k``."""
    pairs = zip(found, exact, strict=True)
    return statistics.mean(len(set(f[:k]) & set(e[:k])) / k for f, e in pairs)


def http_searches(
    client: httpx.Client, scopes: list[str], count: int, tag: str
) -> list[float]:
    """``count`` searches over HTTP (query embedding included, distinct queries) in random
    ``scopes``, after 10 that warm the server up; returns their ms."""
    rng = random.Random(tag)
    search = [("POST", f"/memory_stores/{STORE}:search_memories",
               {"scope": rng.choice(scopes), "items": text, "options": {"max_memories": 10}})
              for text in queries(count + 10, seed=len(tag), tag=f"{tag}-")]  # fmt: skip
    timed_requests(client, search[:10])
    return timed_requests(client, search[10:])


def http_creates(case: Case, client: httpx.Client, base: str, scopes: list[str], sizes: Sizes,
                 fresh: FreshTexts) -> None:  # fmt: skip
    """Item creation from one client and from 8, with texts the server has never seen (no
    embedding-cache hits)."""
    create = [("POST", f"/memory_stores/{STORE}/items", {"scope": scopes[0], "content": text})
              for text in fresh.memories(sizes.creates_sequential)]  # fmt: skip
    started = time.perf_counter()
    timed_requests(client, create)
    case.sequential = sizes.creates_sequential / (time.perf_counter() - started)
    case.concurrent = asyncio.run(concurrent_creates(
        base, scopes[-1], fresh.memories(sizes.creates_concurrent), clients=8
    ))  # fmt: skip
    progress(f"{case.label}: search p95 {percentile(case.search_cold, 95):.1f} ms at first"
             f" touch, {percentile(case.search, 95):.1f} ms warm; creation {case.sequential:.0f}/s,"
             f" {case.concurrent:.0f}/s")  # fmt: skip


# -- the cases ------------------------------------------------------------------------------------


def serve(data: Path, url: str, **env: str) -> LiveServer:
    return LiveServer(data, env={"MEMVAULT_DATABASE_URL": url, **env})


def create_store(client: httpx.Client) -> str:
    response = client.post("/memory_stores", json={"name": STORE})
    response.raise_for_status()
    return response.json()["id"]


def one_scope(
    report: Report,
    server: EmbeddedPostgres,
    tmp: Path,
    texts: list[str],
    vectors: np.ndarray,
    query_texts: list[str],
    query_vectors: np.ndarray,
) -> None:
    """100k memories in one scope: loading, recall against the exact scan, HTTP numbers."""
    sizes = report.sizes
    database = server.create_database()
    url, scope = server.url(database), "one-scope"
    with serve(tmp / "one", url) as live, httpx.Client(base_url=live.project_endpoint,
                                                        timeout=300) as client:  # fmt: skip
        store_id = create_store(client)
        report.floor = statistics.median(
            timed_requests(client, [("GET", f"{live.url}/healthz", None)] * 200)
        )
        set_durable(server, False)
        seconds = asyncio.run(add_through_store(
            url, store_id, scope, list(range(sizes.via_store)), texts, vectors
        ))  # fmt: skip
        report.load("`Store.add_memories`, 2,000 a call, HNSW index maintained", sizes.via_store,
                    seconds)  # fmt: skip
        drop_index(server, database)
        started = time.perf_counter()
        rows = copy_rows(server, database, store_id,
                         ((scope, i) for i in range(sizes.via_store, sizes.one_scope)),
                         texts, vectors)  # fmt: skip
        report.load("`COPY`, one scope, no HNSW index", rows, time.perf_counter() - started)
        report.load("HNSW index build, one scope", sizes.one_scope, build_index(server, database))
        report.load("`VACUUM ANALYZE`", sizes.one_scope, vacuum(server, database))
        set_durable(server, True)
        case = Case(f"{sizes.one_scope:,} memories in one scope", sizes.one_scope, sizes.one_scope)
        case.search_cold = http_searches(client, [scope], sizes.searches, "one-cold")
        prewarm(server, database)

        # Recall and latency of the vector half, in-process: exact, then HNSW at each ef_search.
        exact, exact_ms = asyncio.run(nearest(
            url, Settings(postgres_exact_search_rows=10**9), store_id, scope, query_vectors
        ))  # fmt: skip
        report.recalls.append(Recall("exact scan (HNSW path off)", None, 1.0, 1.0, exact_ms))
        report.recall_queries = len(exact)
        progress(f"exact scan: {len(exact)} queries")
        for ef in sizes.ef_searches:
            found, ms = asyncio.run(nearest(
                url, Settings(postgres_ef_search=ef), store_id, scope, query_vectors
            ))  # fmt: skip
            lost = sum(len(set(f) & set(e)) < 15 for f, e in zip(found, exact, strict=True))
            report.recalls.append(Recall(f"HNSW, ef_search {ef}", ef, recall(found, exact, 10),
                                         recall(found, exact, 30), ms, lost))  # fmt: skip
            progress(f"ef_search {ef}: recall@30 {report.recalls[-1].at30:.3f}")

        case.vector, case.text = asyncio.run(store_halves(
            url, store_id, [scope], query_texts[:100], query_vectors[:100]
        ))  # fmt: skip
        case.search = http_searches(client, [scope], sizes.searches, "one")
        http_creates(case, client, live.project_endpoint, [scope], sizes, report.fresh)
        report.cases.append(case)
    with serve(tmp / "exact", url, MEMVAULT_POSTGRES_EXACT_SEARCH_ROWS=str(10**9)) as live, \
            httpx.Client(base_url=live.project_endpoint, timeout=300) as client:  # fmt: skip
        search = [("POST", f"/memory_stores/{STORE}:search_memories",
                   {"scope": scope, "items": text, "options": {"max_memories": 10}})
                  for text in queries(sizes.exact_searches + 5, seed=5, tag="exact-")]  # fmt: skip
        timed_requests(client, search[:5])
        report.exact_http = timed_requests(client, search[5:])
    server.drop_database(database)


def many_scopes(
    report: Report,
    server: EmbeddedPostgres,
    tmp: Path,
    texts: list[str],
    vectors: np.ndarray,
    query_texts: list[str],
    query_vectors: np.ndarray,
) -> None:
    """One store over 1,000 scopes, at 100k memories and grown to 1M: HTTP numbers."""
    sizes = report.sizes
    database = server.create_database()
    url = server.url(database)
    scopes = [scope_name(i) for i in range(sizes.scopes)]
    with serve(tmp / "many", url) as live, httpx.Client(base_url=live.project_endpoint,
                                                         timeout=300) as client:  # fmt: skip
        store_id = create_store(client)
        loaded = 0
        for target in (sizes.spread, sizes.large):
            set_durable(server, False)
            drop_index(server, database)
            started = time.perf_counter()
            while loaded < target:
                loaded += copy_rows(
                    server, database, store_id,
                    spread_rows(loaded, min(target, loaded + COPY_CHUNK), sizes.scopes,
                                sizes.pool),
                    texts, vectors,
                )  # fmt: skip
                if target == sizes.large and time.perf_counter() - started > sizes.seed_budget:
                    break
            report.load(f"`COPY`, {sizes.scopes:,} scopes, no HNSW index",
                        loaded - (sizes.spread if target == sizes.large else 0),
                        time.perf_counter() - started)  # fmt: skip
            if loaded < target:
                report.notes.append(
                    f"The large store stopped at {loaded:,} memories: loading it took longer"
                    f" than the {sizes.seed_budget:.0f} s budget (`--large` sets the size)."
                )
            report.load(f"HNSW index build, {loaded:,} memories", loaded,
                        build_index(server, database))  # fmt: skip
            report.load("`VACUUM ANALYZE`", loaded, vacuum(server, database))
            set_durable(server, True)
            per_scope = loaded // sizes.scopes
            case = Case(f"{loaded:,} memories over {sizes.scopes:,} scopes", loaded, per_scope)
            case.search_cold = http_searches(client, scopes, sizes.searches, f"cold{loaded}")
            prewarm(server, database)
            case.vector, case.text = asyncio.run(store_halves(
                url, store_id, scopes[::7], query_texts[:200], query_vectors[:200]
            ))  # fmt: skip
            case.search = http_searches(client, scopes, sizes.searches, f"warm{loaded}")
            http_creates(case, client, live.project_endpoint, scopes, sizes, report.fresh)
            report.cases.append(case)
            if loaded < target:
                break
        report.sizes_note = sizes_note(server, database, loaded)
    server.drop_database(database)


# -- the report -----------------------------------------------------------------------------------


def ms(values: list[float]) -> str:
    return f"{percentile(values, 50):.1f} / {percentile(values, 95):.1f} ms"


def render(report: Report) -> str:
    sizes = report.sizes
    largest = max(report.cases, key=lambda case: case.in_store)
    p95 = percentile(largest.search, 95)  # warm: the steady state the target is about
    default_ef = Settings().postgres_ef_search
    default = next((r for r in report.recalls if r.ef_search == default_ef), None)
    lines = [
        "## PostgreSQL + pgvector: search, item creation and HNSW recall over HTTP",
        "",
        f"{report.versions}; the embedded server of the tests (`tests/support/postgres.py`) with"
        " `shared_buffers` 4 GB; durable commits (`fsync`, full-page writes, synchronous"
        " commit) while measuring. A `memvault serve` on it answers real HTTP requests; the"
        " clients, the server, its embedding model and PostgreSQL share the same 2 cores.",
        f"Data: {sizes.pool:,} distinct memory texts (`bench.corpus.memories`), real"
        f" embeddings from the local model ({report.pool_note}). The"
        f" {sizes.large:,}-memory store **reuses each embedding (and its text) in up to"
        f" {-(-sizes.large // sizes.pool)} scopes**: embedding a million texts here would take"
        " about half an hour. No scope holds one twice.",
        f"Baselines in this run: `GET /healthz` round trip p50 {report.floor:.2f} ms (the HTTP"
        f" floor); embedding one query in-process p50 {report.embed_one:.2f} ms; the model"
        f" alone at batch 8 {report.model_8:.0f} texts/s (8 clients fill batches of 8 at most);"
        " the exact scan against the HNSW index in the same scope (tables below).",
        "",
        "### Search and item creation over HTTP",
        "",
        f"Search: {sizes.searches} distinct queries over HTTP, `max_memories` 10, query"
        " embedding included, in random scopes of the store: at first touch (right after"
        " loading) and warm (after `pg_prewarm` of the table and its btree indexes). The vector"
        " and text halves are the store's two queries (30 candidates each), warm, timed"
        " in-process. Creation:"
        f" {sizes.creates_sequential} items from one sequential client,"
        f" {sizes.creates_concurrent} from 8 concurrent clients, texts never seen before.",
        "",
        "| store | memories in the scope | search p50 / p95, first touch | search p50 / p95,"
        " warm | p95 target | vector half p50 / p95 | text half p50 / p95 | create, 1 client |"
        " create, 8 clients | 8 clients / model at batch 8 |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for case in report.cases:
        target = ""
        if case is largest and case.in_store >= 1_000_000:
            met = "met" if p95 <= TARGET_P95_MS else "**missed**"
            target = f"<= {TARGET_P95_MS:.0f} ms (warm): {met}"
        lines.append(
            f"| {case.label} | {case.in_scope:,} | {ms(case.search_cold)} | {ms(case.search)}"
            f" | {target} | {ms(case.vector)}"
            f" | {ms(case.text)} | {case.sequential:.0f}/s | {case.concurrent:.0f}/s"
            f" | {case.concurrent / report.model_8:.2f} |"
        )
    if report.exact_http:
        lines.append(
            f"| {sizes.one_scope:,} memories in one scope, HNSW path off (exact scan) |"
            f" {sizes.one_scope:,} | | {ms(report.exact_http)} | | | | | | |"
        )
    lines += [
        "",
        f"### HNSW recall: {sizes.one_scope:,} memories in one scope",
        "",
        f"{len(report.recalls[0].latencies)} real queries (`bench.corpus.queries`, embedded by"
        " the local model); the store's vector half (30 results) through the HNSW index"
        f" (`MEMVAULT_POSTGRES_EF_SEARCH`, default {default_ef}: also the number of candidates"
        " re-ranked by exact distance) against the same search with the HNSW path off"
        " (`MEMVAULT_POSTGRES_EXACT_SEARCH_ROWS` above the scope's size). Recall@10 is over the"
        f" first 10 of the 30. Target: recall >= {TARGET_RECALL}.",
        "",
        "| vector search | recall@10 | recall@30 | queries finding < half their top 30 | p50 |"
        " p95 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in report.recalls:
        mark = " (default)" if r.ef_search == default_ef else ""
        lines.append(
            f"| {r.label}{mark} | {r.at10:.3f} | {r.at30:.3f} | {r.lost} of"
            f" {report.recall_queries} | {percentile(r.latencies, 50):.1f} ms"
            f" | {percentile(r.latencies, 95):.1f} ms |"
        )
    lines += [
        "",
        "### Loading the data",
        "",
        "| step | rows | time | rate |",
        "|---|---:|---:|---:|",
    ]
    for step, rows, seconds in report.loads:
        lines.append(f"| {step} | {rows:,} | {seconds:.1f} s | {rows / seconds:,.0f} rows/s |")
    if report.sizes_note:
        lines += ["", report.sizes_note]
    lines += ["", "### Against the targets", ""]
    lines.append(
        f"- Search p95 over HTTP with {largest.in_store:,} memories in the store:"
        f" {percentile(largest.search_cold, 95):.1f} ms at first touch,"
        f" {percentile(largest.search, 95):.1f} ms warm, against <= {TARGET_P95_MS:.0f} ms"
        " at 1M, warm:"
        f" {'met' if p95 <= TARGET_P95_MS else 'missed'}"
        + ("" if largest.in_store >= 1_000_000 else "; this store is smaller than 1M")
        + "."
    )
    if default is not None:
        at = min(default.at10, default.at30)
        lines.append(
            f"- HNSW recall at the default ef_search {default_ef}: {default.at10:.3f} (top 10),"
            f" {default.at30:.3f} (top 30) against >= {TARGET_RECALL}:"
            f" {'met' if at >= TARGET_RECALL else 'missed'}."
        )
    lines += ["", "Notes:", ""]
    lines += [f"- {note}" for note in [*report.notes, *notes(report)]]
    return "\n".join(lines) + "\n"


def notes(report: Report) -> list[str]:
    """What the tables do not say by themselves."""
    out = []
    loads = {step: rows / seconds for step, rows, seconds in report.loads}
    via_store = next((rate for step, rate in loads.items() if "add_memories" in step), None)
    copy = max((rate for step, rate in loads.items() if "COPY" in step), default=None)
    if via_store and copy:
        out.append(
            "Loading: `COPY` as the superuser with the HNSW index dropped, then the index built"
            f" in one statement (`maintenance_work_mem` {BUILD_MEMORY}, one parallel worker),"
            f" durability off. `Store.add_memories` with the index in place loads"
            f" {via_store:,.0f} rows/s ({copy / via_store:.0f}x slower than `COPY`): a million"
            f" rows would take {1e6 / via_store / 60:.0f} minutes that way."
        )
    one = next((case for case in report.cases if case.in_scope == report.sizes.one_scope), None)
    exact = next((r for r in report.recalls if r.ef_search is None), None)
    if one is not None and exact is not None:
        out.append(
            f"In the {one.in_scope:,}-memory scope the vector half takes"
            f" {percentile(one.vector, 50):.1f} ms through HNSW against"
            f" {percentile(exact.latencies, 50):.0f} ms for the exact scan, but the text half"
            f" takes {percentile(one.text, 50):.0f} ms: under row-level security `@@` (not"
            " leakproof) cannot use the GIN index, so every row of the scope is tested"
            " (docs/deployment.md §6). It, not the vector search, sets the search latency of"
            " large scopes."
        )
    out.append(
        "First touch: `COPY` and `VACUUM` go around `shared_buffers`, so right after loading a"
        " scope's rows come from the OS page cache on their first search. Each scope's"
        " memories are strewn over the table (about one page each), as when users come back"
        " day after day."
    )
    if report.sizes.large > report.sizes.pool:
        out.append(
            f"The {report.sizes.large:,}-memory store holds each of the {report.sizes.pool:,}"
            " pooled embeddings in several rows, and pgvector's HNSW index keeps identical"
            " vectors as one element (up to 10 rows each): its index, build time and insert"
            f" cost are those of a {report.sizes.pool:,}-vector graph, not of"
            f" {report.sizes.large:,} distinct vectors. Searches in its scopes are exact scans"
            " (each scope is under `MEMVAULT_POSTGRES_EXACT_SEARCH_ROWS`) and do not use it."
        )
    default = next((r for r in report.recalls if r.ef_search == Settings().postgres_ef_search),
                   None)  # fmt: skip
    if default is not None:
        out.append(
            "Recall depends on the index build (random levels, parallel build order): the same"
            " 100k-memory scope of the full run gave between 0.955 and 0.986 at ef_search 200 in"
            " nine builds made while this benchmark was written. The misses are not spread evenly: a few queries per hundred, asked"
            " between two clusters (\"What should I cook, given I like jazz?\"), descend into the"
            " wrong one and find almost none of their top 30; a wider search (ef_search) gets"
            " them out. The 0.91-0.93 in docs/deployment.md §6 was measured on synthetic vectors"
            " repeated over the store."
        )
    return out


def run(quick: bool = False, large: int | None = None) -> str:
    """The section's Markdown. ``large``: memories in the large store (default 1M; the
    ``BENCH_POSTGRES_LARGE`` variable sets it too)."""
    sizes = QUICK if quick else FULL
    large = large or int(os.environ.get("BENCH_POSTGRES_LARGE", "0")) or sizes.large
    sizes = Sizes(**{**sizes.__dict__, "large": max(large, sizes.spread)})
    report = Report(sizes)
    # memories() numbers a few repeats "(#n)" once its combinations run short: leave them out.
    texts = [text for text in memories(sizes.pool + 1_000, seed=41) if "(#" not in text]
    texts = texts[:sizes.pool]
    vectors, report.pool_note = embedded_pool(texts)
    progress(f"pool of {len(texts):,} embeddings {report.pool_note}")
    embedder = shared_local_embedder()
    query_texts = queries(sizes.recall_queries, seed=43, tag="recall-")
    query_vectors = embedder.embed(query_texts)
    singles = []
    for text in queries(60, seed=47, tag="one-"):
        started = time.perf_counter()
        embedder.embed([text])
        singles.append((time.perf_counter() - started) * 1000)
    report.embed_one = statistics.median(singles[10:])
    sample = memories(512, seed=49)
    started = time.perf_counter()
    for start in range(0, len(sample), 8):
        embedder.embed(sample[start:start + 8])
    report.model_8 = len(sample) / (time.perf_counter() - started)

    server = EmbeddedPostgres(SERVER_OPTIONS).start()
    try:
        report.versions = versions(server)
        with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
            one_scope(report, server, Path(tmp), texts, vectors, query_texts, query_vectors)
            many_scopes(report, server, Path(tmp), texts, vectors, query_texts, query_vectors)
    finally:
        server.stop()
    return render(report)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    size = int(arguments[arguments.index("--large") + 1]) if "--large" in arguments else None
    print(run(quick="--quick" in arguments, large=size))
