"""Benchmark of the SQLite backend: write throughput (group commit), search latency, cold load,
the update queue's claim cost as finished jobs pile up.

    python -m bench.storage [--quick]

Synthetic data: 384-dimensional random unit vectors (the local model's size) and short texts
drawn from a 2,000-word vocabulary, all in one scope.
"""

from __future__ import annotations

import asyncio
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from memvault.models import (
    MemoryKind,
    MemoryStore,
    NewMemory,
    StoreOptions,
    UpdateMessage,
    new_id,
    now,
)
from memvault.settings import Settings
from memvault.storage.sqlite import SQLiteStore

DIM = 384
KINDS = list(MemoryKind)
_rng = np.random.default_rng(7)
VOCABULARY = [f"w{i}" for i in range(2_000)]


def unit_vectors(count: int) -> np.ndarray:
    vectors = _rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def sentence(words: int = 10) -> str:
    return " ".join(VOCABULARY[i] for i in _rng.integers(0, len(VOCABULARY), size=words))


def new_memories(count: int) -> list[NewMemory]:
    vectors = unit_vectors(count)
    return [
        NewMemory(kind=KINDS[i % 3], content=sentence(), embedding=vectors[i])
        for i in range(count)
    ]


def store_definition() -> MemoryStore:
    return MemoryStore(
        id=new_id("memstore"),
        project="bench",
        name=new_id("bench"),
        chat_model="none",
        requested_embedding_model="none",
        embedding_model="bench",
        embedding_dimension=DIM,
        options=StoreOptions(),
    )


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q))


async def opened(path: Path, **kwargs: object) -> SQLiteStore:
    store = SQLiteStore(path, Settings(), **kwargs)  # type: ignore[arg-type]
    await store.open()
    return store


async def insert_rate(directory: Path, *, writers: int, group_commit: bool, total: int) -> float:
    """Rows per second, one row per `add_memories` call, from ``writers`` concurrent tasks."""
    store = await opened(directory / f"insert-{writers}-{group_commit}.db",
                         group_commit=group_commit)  # fmt: skip
    try:
        ms = await store.create_store(store_definition())
        rows = new_memories(total)
        per_writer = total // writers

        async def writer(offset: int) -> None:
            for row in rows[offset : offset + per_writer]:
                await store.add_memories(ms.id, "user", [row])

        start = time.perf_counter()
        await asyncio.gather(*(writer(w * per_writer) for w in range(writers)))
        return per_writer * writers / (time.perf_counter() - start)
    finally:
        await store.close()


async def search_latencies(
    store: SQLiteStore, store_id: str, queries: int, *, text: bool, vector: bool
) -> list[float]:
    vectors = unit_vectors(queries)
    samples = []
    for i in range(queries):
        start = time.perf_counter()
        await store.search_candidates(
            store_id, "user", text=sentence(3) if text else "",
            embedding=vectors[i] if vector else None, kinds=KINDS, limit=30,
        )  # fmt: skip
        samples.append((time.perf_counter() - start) * 1000)
    return samples


async def scope_numbers(directory: Path, size: int, queries: int) -> dict[str, float]:
    path = directory / f"search-{size}.db"
    store = await opened(path)
    try:
        ms = await store.create_store(store_definition())
        elapsed = 0.0
        for offset in range(0, size, 1_000):
            batch = new_memories(min(1_000, size - offset))
            start = time.perf_counter()
            await store.add_memories(ms.id, "user", batch)
            elapsed += time.perf_counter() - start
        bulk = size / elapsed
    finally:
        await store.close()

    store = await opened(path)
    try:
        start = time.perf_counter()
        await store.search_candidates(
            ms.id, "user", text="", embedding=unit_vectors(1)[0], kinds=KINDS, limit=30
        )
        cold = (time.perf_counter() - start) * 1000
        vector = await search_latencies(store, ms.id, queries, text=False, vector=True)
        hybrid = await search_latencies(store, ms.id, queries, text=True, vector=True)
        index = store.vector_cache.get((ms.id, "user"))
        assert index is not None
        query = unit_vectors(1)[0]
        numpy_samples = []
        for _ in range(queries):
            start = time.perf_counter()
            index.search(query, kinds=KINDS, now=0, limit=30)
            numpy_samples.append((time.perf_counter() - start) * 1000)
    finally:
        await store.close()
    return {
        "bulk": bulk,
        "cold": cold,
        "index_p50": statistics.median(numpy_samples),
        "vector_p50": percentile(vector, 50),
        "vector_p95": percentile(vector, 95),
        "hybrid_p50": percentile(hybrid, 50),
        "hybrid_p95": percentile(hybrid, 95),
    }


async def queue_numbers(directory: Path, finished: int, jobs: int) -> dict[str, float]:
    """Claim latency and the enqueue -> claim -> complete rate of one worker, with ``finished``
    completed jobs already in the table (spread over 1,000 scopes)."""
    store = await opened(directory / f"queue-{finished}.db")
    try:
        ms = await store.create_store(store_definition())
        ts = now()
        rows = [
            (new_id("upd"), ms.id, f"user_{i % 1_000}", ts - 100, ts - 100, ts - 100)
            for i in range(finished)
        ]
        await store.database.write(
            lambda tx: tx.conn.executemany(
                "INSERT INTO updates (id, store_id, scope, status, messages, run_at, created_at,"
                " updated_at, result) VALUES (?, ?, ?, 'completed', '[]', ?, ?, ?, '{}')",
                rows,
            )
        )
        # Reopen, so that checkpointing the bulk insert's WAL is not counted below.
        await store.close()
        store = await opened(directory / f"queue-{finished}.db")
        claims = []
        start = time.perf_counter()
        for i in range(jobs):
            update_id = new_id("upd")
            await store.enqueue_update(
                ms.id, f"user_{i % 1_000}", update_id=update_id,
                messages=[UpdateMessage("user", sentence(), update_id)], run_at=now(),
            )  # fmt: skip
            began = time.perf_counter()
            job = await store.claim_update("bench", now=now(), lease_seconds=60)
            claims.append((time.perf_counter() - began) * 1000)
            assert job is not None
            await store.complete_update(
                ms.id, job.scope, job.id, "bench", operations=[], usage={}
            )
        rate = jobs / (time.perf_counter() - start)
    finally:
        await store.close()
    return {"claim_p50": percentile(claims, 50), "claim_p95": percentile(claims, 95),
            "rate": rate}  # fmt: skip


async def _run(quick: bool) -> str:
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    inserts = 256 if quick else 1_024
    queries = 100 if quick else 300
    out = [
        "## Storage: SQLite backend",
        "",
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, numpy"
        f" {np.__version__}, {platform.machine()}; `synchronous=FULL` (the default), WAL;"
        f" {DIM}-dimensional vectors.",
        "",
        f"### Single-row inserts ({inserts} rows, one `add_memories` call each)",
        "",
        "| concurrent writers | one commit per write | group commit | gain |",
        "|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        directory = Path(tmp)
        for writers in (1, 8):
            alone = await insert_rate(directory, writers=writers, group_commit=False,
                                      total=inserts)  # fmt: skip
            grouped = await insert_rate(directory, writers=writers, group_commit=True,
                                        total=inserts)  # fmt: skip
            out.append(
                f"| {writers} | {alone:,.0f} rows/s | {grouped:,.0f} rows/s"
                f" | {grouped / alone:.1f}x |"
            )
        out += [
            "",
            "### One scope of N memories",
            "",
            "Search asks for 30 candidates of each kind of list. *Cold load*: the first search on a"
            " freshly opened store, which reads the scope's vectors into memory.",
            "",
            "| N | bulk insert (1,000 rows a call) | cold load | index only p50"
            " | vector search p50 / p95 | hybrid search p50 / p95 |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for size in sizes:
            n = await scope_numbers(directory, size, queries)
            out.append(
                f"| {size:,} | {n['bulk']:,.0f} rows/s | {n['cold']:.0f} ms"
                f" | {n['index_p50']:.2f} ms | {n['vector_p50']:.2f} / {n['vector_p95']:.2f} ms"
                f" | {n['hybrid_p50']:.2f} / {n['hybrid_p95']:.2f} ms |"
            )
        jobs = 200 if quick else 1_000
        out += [
            "",
            f"### Update queue ({jobs} jobs, one worker: enqueue, claim, complete)",
            "",
            "Claims walk only the queued and running jobs (an index on status), so finished jobs"
            " piling up should not slow them down.",
            "",
            "| finished jobs in the table | claim p50 / p95 | round trips | vs. empty table |",
            "|---:|---:|---:|---:|",
        ]
        empty_rate = 0.0
        for finished in [0, 10_000] if quick else [0, 10_000, 100_000]:
            q = await queue_numbers(directory, finished, jobs)
            empty_rate = empty_rate or q["rate"]
            out.append(
                f"| {finished:,} | {q['claim_p50']:.2f} / {q['claim_p95']:.2f} ms"
                f" | {q['rate']:,.0f} jobs/s | {q['rate'] / empty_rate:.2f}x |"
            )
    out.append("")
    return "\n".join(out)


def run(quick: bool = False) -> str:
    """The benchmark's Markdown section (``quick``: 1k and 10k memories only, fewer samples)."""
    return asyncio.run(_run(quick))


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
