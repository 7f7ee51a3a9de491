"""memvault side by side with Mem0 OSS: search latency, ingest rate, throughput under 32
concurrent clients, in one run on the same machine with the same embedding model.

    python -m bench --only peers [--quick] --output /tmp/peers.md

Mem0 (``mem0ai``, the ``bench`` extra) runs in this process with its defaults (local Qdrant on
disk, SQLite history, ``infer=False``) and memvault's local model as its embedder
(:mod:`bench.mem0_side`). memvault runs in this process (``MemoryService`` over a real SQLite
store, as the server builds it) and over HTTP (a live ``memvault serve``). Large scopes are seeded
in bulk with precomputed embeddings on both sides. Ratios are memvault's speed over Mem0's: above
1 means memvault is faster.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench import mem0_side
from bench.corpus import FreshTexts, memories, queries
from bench.http_api import percentile
from bench.updates import CONVERSATION
from memvault.engine.service import MemoryService
from memvault.models import MemoryKind, NewMemory
from memvault.providers.registry import EmbeddingProviders, shared_local_embedder
from memvault.settings import Settings
from memvault.storage import open_store
from memvault.testing import LiveServer

TOP_K = 10
SEED_CHUNK = 2_000
AIM = 5.0  # issue 8: at least 5x Mem0's search speed and ingest rate


@dataclass
class Plan:
    sizes: list[int]
    distinct: int  # distinct (text, embedding) pairs embedded for seeding
    searches: int
    mem0_search_seconds: float  # Mem0's searches per size stop after this long (20 at least)
    sequential_adds: int
    concurrent_adds: int
    window: float  # seconds of each 32-client run
    updates: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls([1_000, 10_000], 3_000, 100, 5.0, 100, 240, 3.0, 10)
        return cls([1_000, 10_000, 100_000], 10_000, 300, 30.0, 300, 800, 10.0, 30)


@dataclass
class Load:
    """What one 32-client run did."""

    ops: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time during the run
    latencies: list[float] = field(default_factory=list)
    first_error: str = ""

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / max(1, self.ops + self.errors)


@dataclass
class Results:
    seeding: dict[str, float] = field(default_factory=dict)
    search: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    ingest: dict[tuple[str, str], float] = field(default_factory=dict)
    ingest_errors: dict[tuple[str, str], str] = field(default_factory=dict)
    load: dict[tuple[str, str], Load] = field(default_factory=dict)
    updates: list[float] = field(default_factory=list)
    query_embedding_p50: float = 0.0
    model_rates: dict[int, float] = field(default_factory=dict)  # batch size -> texts/s


def scope_corpus(texts: list[str], vectors: np.ndarray, size: int) -> tuple[list[str], np.ndarray]:
    """``size`` memories built from the embedded pairs: past the distinct ones each pair comes
    back with a ``(#n)`` marker appended to its text (its embedding is the unmarked text's)."""
    distinct = len(texts)
    out = [texts[i % distinct] + (f" (#{i // distinct})" if i >= distinct else "")
           for i in range(size)]
    return out, vectors[np.arange(size) % distinct]


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


# -- memvault in process -----------------------------------------------------------------------


async def memvault_in_process(plan: Plan, data_dir: Path, corpus: tuple[list[str], np.ndarray],
                              fresh: FreshTexts, out: Results) -> None:
    settings = Settings(data_dir=data_dir)
    store = await open_store(settings.resolved_database_url, settings)
    embeddings = EmbeddingProviders(settings)
    try:
        await embeddings.warm_up()
        service = MemoryService(store, embeddings, settings)
        ms = await service.create_store("default", "bench")
        started = time.perf_counter()
        # The 32-client runs add memories: they get a copy of the smallest scope of their own.
        for scope, size in [*((f"scale-{size}", size) for size in plan.sizes),
                            (f"load-{plan.sizes[0]}", plan.sizes[0])]:
            texts, vectors = scope_corpus(*corpus, size)
            for start in range(0, size, SEED_CHUNK):
                await store.add_memories(ms.id, scope, [
                    NewMemory(kind=MemoryKind.USER_PROFILE, content=text, embedding=vector,
                              created_by="bench")
                    for text, vector in zip(texts[start:start + SEED_CHUNK],
                                            vectors[start:start + SEED_CHUNK])
                ])
        out.seeding["memvault"] = (sum(plan.sizes) + plan.sizes[0]) / (
            time.perf_counter() - started)

        for size in plan.sizes:
            scope = f"scale-{size}"
            batch = queries(plan.searches + 10, seed=size, tag=f"in{size}-")
            for text in batch[:10]:  # loads the scope's vector index
                await service.search(ms, scope, text, max_memories=TOP_K)
            latencies = []
            for text in batch[10:]:
                started = time.perf_counter()
                await service.search(ms, scope, text, max_memories=TOP_K)
                latencies.append((time.perf_counter() - started) * 1000)
            out.search[("memvault", size)] = latencies

        async def add(text: str) -> None:
            await service.add_memory(ms, "ingest", MemoryKind.USER_PROFILE, text)

        out.ingest[("memvault", "sequential")] = await _async_rate(
            add, fresh.memories(plan.sequential_adds), workers=1)
        out.ingest[("memvault", "concurrent")] = await _async_rate(
            add, fresh.memories(plan.concurrent_adds), workers=8)

        scope = f"load-{plan.sizes[0]}"

        async def call(op: str, text: str) -> None:
            if op == "add":
                await service.add_memory(ms, scope, MemoryKind.USER_PROFILE, text)
            else:
                await service.search(ms, scope, text, max_memories=TOP_K)

        pool, adds = queries(20_000, seed=5, tag="load-in-"), fresh.memories(2_000)
        for mix in ("search", "mixed"):
            out.load[("memvault", mix)] = await _async_load(
                call, pool, adds, mixed=mix == "mixed", seconds=plan.window)
    finally:
        await embeddings.aclose()
        await store.close()


async def _async_rate(call: Callable[[str], Awaitable[object]], texts: list[str], *,
                      workers: int) -> float:
    queue = list(texts)

    async def worker() -> None:
        while queue:
            await call(queue.pop())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return len(texts) / (time.perf_counter() - started)


# -- memvault over HTTP ------------------------------------------------------------------------


def memvault_http(plan: Plan, data_dir: Path, fresh: FreshTexts, out: Results) -> None:
    with LiveServer(data_dir) as server, \
            httpx.Client(base_url=server.project_endpoint, timeout=60) as client:
        base = server.project_endpoint

        def search(scope: str, text: str) -> None:
            client.post("/memory_stores/bench:search_memories", json={
                "scope": scope, "items": text, "options": {"max_memories": TOP_K},
            }).raise_for_status()

        def create(text: str) -> None:
            client.post("/memory_stores/bench/items",
                        json={"scope": "ingest-http", "content": text}).raise_for_status()

        for text in fresh.memories(50):  # first allocations, thread pools
            client.post("/memory_stores/bench/items",
                        json={"scope": "warm-up", "content": text}).raise_for_status()
        for size in plan.sizes:
            scope = f"scale-{size}"
            batch = queries(plan.searches + 10, seed=size, tag=f"http{size}-")
            for text in batch[:10]:
                search(scope, text)
            out.search[("memvault-http", size)] = [timed(lambda t=t: search(scope, t))
                                                   for t in batch[10:]]

        texts = fresh.memories(plan.sequential_adds)
        started = time.perf_counter()
        for text in texts:
            create(text)
        out.ingest[("memvault-http", "sequential")] = len(texts) / (time.perf_counter() - started)
        out.ingest[("memvault-http", "concurrent")] = asyncio.run(
            _http_creates(base, fresh.memories(plan.concurrent_adds), clients=8))

        pool = queries(20_000, seed=5, tag="load-")
        adds = fresh.memories(2_000)
        for mix in ("search", "mixed"):
            out.load[("memvault-http", mix)] = asyncio.run(
                _http_load(base, f"load-{plan.sizes[0]}", pool, adds, mixed=mix == "mixed",
                           seconds=plan.window))
        out.updates = _update_latencies(client, plan.updates)


async def _http_creates(base: str, texts: list[str], *, clients: int) -> float:
    queue = list(texts)

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            response = await client.post("/memory_stores/bench/items",
                                         json={"scope": "ingest-http", "content": queue.pop()})
            response.raise_for_status()

    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=clients)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        return len(texts) / (time.perf_counter() - started)


async def _async_load(call: Callable[[str, str], Awaitable[None]], pool: list[str],
                      adds: list[str], *, mixed: bool, seconds: float,
                      clients: int = 32) -> Load:
    """``clients`` tasks calling ``call("search", query)`` (or, mixed, 1 in 10
    ``call("add", text)``) until ``seconds`` have passed."""
    load = Load()
    rng = random.Random(3)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline and pool and adds:
            op = "add" if mixed and rng.random() < 0.1 else "search"
            text = adds.pop() if op == "add" else pool.pop()
            began = time.perf_counter()
            try:
                await call(op, text)
            except Exception as exc:
                load.errors += 1
                load.first_error = load.first_error or repr(exc)[:200]
                continue
            load.latencies.append((time.perf_counter() - began) * 1000)
            load.ops += 1

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(clients)))
    load.seconds = time.perf_counter() - started
    load.cpu_seconds = time.process_time() - cpu
    return load


async def _http_load(base: str, scope: str, pool: list[str], adds: list[str], *, mixed: bool,
                     seconds: float, clients: int = 32) -> Load:
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 limits=httpx.Limits(max_connections=clients)) as client:

        async def call(op: str, text: str) -> None:
            if op == "add":
                response = await client.post("/memory_stores/bench/items",
                                             json={"scope": scope, "content": text})
            else:
                response = await client.post("/memory_stores/bench:search_memories", json={
                    "scope": scope, "items": text, "options": {"max_memories": TOP_K}})
            response.raise_for_status()

        return await _async_load(call, pool, adds, mixed=mixed, seconds=seconds,
                                 clients=clients)


def _update_latencies(client: httpx.Client, runs: int, poll: float = 0.005) -> list[float]:
    """Submit -> completed as the client sees it: POST update_memories (update_delay 0), then
    GET the update every ``poll`` seconds until it is finished."""
    items = [{"type": "message", "role": role, "content": text} for role, text in CONVERSATION]
    latencies = []
    for run in range(runs):
        started = time.perf_counter()
        response = client.post("/memory_stores/bench:update_memories",
                               json={"scope": f"update-{run}", "items": items, "update_delay": 0})
        response.raise_for_status()
        update_id = response.json()["update_id"]
        while True:
            status = client.get(f"/memory_stores/bench/updates/{update_id}").json()["status"]
            if status not in ("queued", "in_progress"):
                break
            time.sleep(poll)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != "completed":
            raise RuntimeError(f"update {update_id} ended {status}")
    return latencies


# -- Mem0 --------------------------------------------------------------------------------------


def mem0_runs(plan: Plan, directory: Path, corpus: tuple[list[str], np.ndarray],
              fresh: FreshTexts, out: Results) -> None:
    seeded, seeding = 0, 0.0
    for size in plan.sizes:
        # One collection per size: Qdrant's local mode filters every point of the collection,
        # so the other scopes would slow this one down.
        with mem0_side.Mem0Side(directory / f"scale-{size}") as mem0:
            texts, vectors = scope_corpus(*corpus, size)
            started = time.perf_counter()
            mem0.seed(f"scale-{size}", texts, vectors)
            seeding += time.perf_counter() - started
            seeded += size
            batch = queries(plan.searches + 3, seed=size, tag=f"mem0{size}-")
            for text in batch[:3]:
                mem0.search(text, f"scale-{size}", limit=TOP_K)
            latencies: list[float] = []
            stop = time.perf_counter() + plan.mem0_search_seconds
            for text in batch[3:]:
                if len(latencies) >= 20 and time.perf_counter() > stop:
                    break
                latencies.append(timed(lambda t=text: mem0.search(t, f"scale-{size}",
                                                                  limit=TOP_K)))
            out.search[("mem0", size)] = latencies
            if size == plan.sizes[0]:
                pool = queries(20_000, seed=5, tag="load-")
                adds = fresh.memories(2_000)
                for mix in ("search", "mixed"):
                    out.load[("mem0", mix)] = _thread_load(
                        mem0, f"scale-{size}", pool, adds, mixed=mix == "mixed",
                        seconds=plan.window)
    out.seeding["mem0"] = seeded / seeding

    with mem0_side.Mem0Side(directory / "ingest") as mem0:
        for mode, threads, count in (("sequential", 1, plan.sequential_adds),
                                     ("concurrent", 8, plan.concurrent_adds)):
            rate, errors = _thread_rate(lambda text: mem0.add(text, "ingest"),
                                        fresh.memories(count), threads=threads)
            out.ingest[("mem0", mode)] = rate
            if errors:
                out.ingest_errors[("mem0", mode)] = errors


def _thread_rate(call: Callable[[str], object], texts: list[str], *,
                 threads: int) -> tuple[float, str]:
    """Successful calls per second from ``threads`` threads sharing ``texts``; and the errors
    (how many, and the first), if any."""
    queue, lock = list(texts), threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                text = queue.pop()
            try:
                call(text)
            except Exception as exc:
                with lock:
                    errors.append(repr(exc)[:200])

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as executor:
        for future in [executor.submit(worker) for _ in range(threads)]:
            future.result()
    rate = (len(texts) - len(errors)) / (time.perf_counter() - started)
    return rate, f"{len(errors)} errors, first: {errors[0]}" if errors else ""


def _thread_load(mem0: mem0_side.Mem0Side, scope: str, pool: list[str], adds: list[str], *,
                 mixed: bool, seconds: float, threads: int = 32) -> Load:
    load, lock = Load(), threading.Lock()
    rng = random.Random(3)
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        while time.perf_counter() < deadline:
            with lock:
                if not (pool and adds):
                    return
                if mixed and rng.random() < 0.1:
                    call = (mem0.add, adds.pop(), scope)
                else:
                    call = (lambda q, s: mem0.search(q, s, limit=TOP_K), pool.pop(), scope)
            began = time.perf_counter()
            try:
                call[0](call[1], call[2])
            except Exception as exc:
                with lock:
                    load.errors += 1
                    load.first_error = load.first_error or repr(exc)[:200]
                continue
            with lock:
                load.latencies.append((time.perf_counter() - began) * 1000)
                load.ops += 1

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(threads) as executor:
        for future in [executor.submit(worker) for _ in range(threads)]:
            future.result()
    load.seconds = time.perf_counter() - started
    load.cpu_seconds = time.process_time() - cpu
    return load


# -- the section -------------------------------------------------------------------------------


def run(quick: bool = False, *, plan: Plan | None = None) -> str:
    """The benchmark's Markdown section (``quick``: 1k and 10k memories, shorter runs; ``plan``:
    other sizes, as the tests' tiny ones)."""
    mem0_side.import_mem0()
    plan = plan or Plan.of(quick)
    out = Results()
    embedder = shared_local_embedder()
    embedder.embed(["warm up"] * 8)
    probes = queries(100, seed=98, tag="probe-")
    out.query_embedding_p50 = statistics.median(
        timed(lambda p=p: embedder.embed([p])) for p in probes)
    sample = memories(256, seed=1)
    for batch in (1, 8):
        started = time.perf_counter()
        for start in range(0, len(sample), batch):
            embedder.embed(sample[start:start + batch])
        out.model_rates[batch] = len(sample) / (time.perf_counter() - started)
    texts = memories(plan.distinct, seed=plan.distinct)
    started = time.perf_counter()
    vectors = embedder.embed(texts)
    embedding_seconds = time.perf_counter() - started
    corpus = (texts, vectors)
    fresh = FreshTexts()  # no text is embedded twice: memvault's embedding cache never answers
    timings = {}
    with tempfile.TemporaryDirectory(prefix="memvault-peers-") as tmp:
        data_dir = Path(tmp) / "memvault"
        started = time.perf_counter()
        asyncio.run(memvault_in_process(plan, data_dir, corpus, fresh, out))
        timings["memvault in process"] = time.perf_counter() - started
        started = time.perf_counter()
        memvault_http(plan, data_dir, fresh, out)
        timings["memvault over HTTP"] = time.perf_counter() - started
        started = time.perf_counter()
        mem0_runs(plan, Path(tmp) / "mem0", corpus, fresh, out)
        timings["Mem0"] = time.perf_counter() - started
    return render(plan, out, embedding_seconds=embedding_seconds, timings=timings)


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value >= 10 else f"{value:.2f} ms"


def _ratio(mine: float, theirs: float) -> str:
    if not mine or not theirs:
        return "n/a"
    text = f"{mine / theirs:.1f}x"
    return f"**{text}**" if mine / theirs >= AIM else text


def render(plan: Plan, out: Results, *, embedding_seconds: float,
           timings: dict[str, float]) -> str:
    versions = {name: importlib.metadata.version(name) for name in ("mem0ai", "qdrant-client")}
    outbound = mem0_side.outbound_connections()
    largest = plan.sizes[-1]
    lines = [
        "## Peers: memvault and Mem0 OSS",
        "",
        f"Mem0 OSS is `mem0ai` {versions['mem0ai']} from PyPI with its defaults: Qdrant"
        f" (`qdrant-client` {versions['qdrant-client']}) in local mode, on disk, and its SQLite"
        " history database; every add with `infer=False` (no LLM). It runs in this process and"
        " embeds with memvault's own all-MiniLM-L6-v2 (wrapped as a Mem0 `EmbeddingBase`; one"
        " text per call, calls from several threads take turns on the model), so both sides pay"
        " the same embedding cost. The `mem0ai` package has no server, so Mem0 has no HTTP"
        " figures: memvault over HTTP is compared with Mem0 in process (Mem0 pays no HTTP at"
        " all). memvault in process is `MemoryService` over a SQLite store, as the server builds"
        " it; over HTTP, a live `memvault serve` on the same data. Mem0 telemetry off"
        f" (`MEM0_TELEMETRY=False`); non-loopback connections or name lookups attempted during"
        f" the run: {len(outbound)}{' (' + ', '.join(outbound[:3]) + ')' if outbound else ''}.",
        "",
        f"Seeding: {plan.distinct:,} distinct memory texts (`bench.corpus.memories`) embedded once"
        f" in this run ({embedding_seconds:.0f} s, {plan.distinct / embedding_seconds:.0f}"
        " texts/s) and loaded in bulk on both sides: memvault through `Store.add_memories`"
        f" ({SEED_CHUNK:,} a call, {out.seeding.get('memvault', 0):,.0f} rows/s), Mem0 through its"
        " vector store's `insert` (1,000 points a call) with the payload `Memory.add` writes"
        f" ({out.seeding.get('mem0', 0):,.0f} rows/s; local Qdrant commits every point, and"
        " syncs and journals to disk off while seeding, restored after)."
        + (f" A scope larger than {plan.distinct:,} reuses each pair, its text marked `(#n)`."
           if largest > plan.distinct else "")
        + " Each Mem0 scope size has a Qdrant collection of its own (local Qdrant tests every"
        " point of a collection against the filter, so other users' memories would slow it"
        " further); memvault's scopes share one database.",
        "",
        "Mem0's default install has neither spaCy nor fastembed, so its search is vector-only"
        " (no BM25, no entity boost); memvault's is hybrid (full text and vector, fused). Result"
        " quality is compared elsewhere (bench/quality*).",
        "",
        f"### Search latency (top {TOP_K}, query embedding included)",
        "",
        f"Distinct queries, one at a time: {plan.searches} per size for memvault; Mem0's stop"
        f" after {plan.mem0_search_seconds:.0f} s per size (20 at least; n below). Embedding one"
        f" query alone, in this process: p50 {_ms(out.query_embedding_p50)}. Speed ratio:"
        " Mem0's latency over memvault's.",
        "",
        "| memories in scope | | memvault, in process | memvault, HTTP | Mem0, in process"
        " | ratio, in process | ratio, HTTP vs Mem0 in process |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size in plan.sizes:
        mine, http, theirs = (out.search[(side, size)]
                              for side in ("memvault", "memvault-http", "mem0"))
        for pct in (50, 95, 99):
            a, b, c = (percentile(values, pct) for values in (mine, http, theirs))
            label = f"{size:,}" if pct == 50 else ""
            n = f" (n={len(theirs)})" if pct == 50 else ""
            lines.append(f"| {label} | p{pct} | {_ms(a)} | {_ms(b)} | {_ms(c)}{n} |"
                         f" {_ratio(c, a)} | {_ratio(c, b)} |")
    lines += [
        "",
        "### Ingest through each product's add path",
        "",
        "One memory a call, texts never seen before, into a scope that starts empty (sequential"
        " adds first): memvault"
        " `MemoryService.add_memory` in process and `POST .../items` over HTTP, Mem0"
        f" `Memory.add(text, user_id=..., infer=False)`. Sequential: {plan.sequential_adds} adds"
        f" from one caller. Concurrent: {plan.concurrent_adds} adds from 8 callers (memvault: 8"
        " asyncio tasks in process, 8 HTTP clients; Mem0: 8 threads). Both embed with the same"
        f" model, which alone, in this process, embeds {out.model_rates[1]:.0f} texts/s one at a"
        f" time (Mem0's ceiling: it embeds one text per add) and {out.model_rates[8]:.0f}"
        " texts/s 8 at a time (memvault's ceiling with 8 callers: it batches their texts).",
        "",
        "| callers | memvault, in process | memvault, HTTP | Mem0, in process"
        " | ratio, in process | ratio, HTTP vs Mem0 in process |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for mode in ("sequential", "concurrent"):
        a, b, c = (out.ingest[(side, mode)] for side in ("memvault", "memvault-http", "mem0"))
        errors = out.ingest_errors.get(("mem0", mode))
        lines.append(f"| {'1' if mode == 'sequential' else '8'} | {a:.0f}/s | {b:.0f}/s |"
                     f" {c:.0f}/s{' (' + errors + ')' if errors else ''} | {_ratio(a, c)} |"
                     f" {_ratio(b, c)} |")
    lines += [
        "",
        f"### 32 concurrent clients, {plan.window:.0f} s each, on the {plan.sizes[0]:,}-memory"
        " scope",
        "",
        "memvault over HTTP: 32 HTTP clients (asyncio tasks in the benchmark's process, on the"
        " same 2 cores as the server; client CPU below). memvault in process: 32 asyncio tasks"
        " calling `MemoryService`. Mem0: 32 threads in process. Mixed: 90% searches, 10% adds"
        " of new texts. An error is any exception or non-2xx answer. Ratio: memvault's"
        " successful operations per second over Mem0's.",
        "",
        "| workload | | ops/s | errors | latency p50 / p95 | ratio |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for mix in ("search", "mixed"):
        theirs = out.load[("mem0", mix)]
        for side, name in (("memvault-http", "memvault, HTTP"), ("memvault", "memvault, in process"),
                           ("mem0", "Mem0, in process")):
            load = out.load[(side, mix)]
            latency = (f"{_ms(percentile(load.latencies, 50))} /"
                       f" {_ms(percentile(load.latencies, 95))}" if load.latencies else "n/a")
            label = "" if side != "memvault-http" else (
                "searches" if mix == "search" else "90% search, 10% add")
            ratio = "" if side == "mem0" else _ratio(load.rate, theirs.rate)
            lines.append(f"| {label} | {name} | {load.rate:.0f} | {load.error_rate:.1%} |"
                         f" {latency} | {ratio} |")
    http = [out.load[("memvault-http", mix)] for mix in ("search", "mixed")]
    lines += ["", "The HTTP clients alone used "
              + " and ".join(f"{load.cpu_seconds / load.seconds:.0%}" for load in http)
              + " of one core (searches, mixed) of the 2 the server also runs on."]
    first_errors = [f"{side}: {load.first_error}" for (side, _), load in out.load.items()
                    if load.first_error]
    if first_errors:
        lines += ["", "First errors: " + "; ".join(first_errors)]
    lines += [
        "",
        "### update_memories end to end (memvault only)",
        "",
        f"{len(out.updates)} updates of the 10-message conversation of bench/updates.py into"
        " empty scopes over HTTP, offline extractor: `POST :update_memories` (`update_delay` 0)"
        " until a `GET` of the update (every 5 ms) reads `completed`: p50"
        f" {_ms(statistics.median(out.updates))}, p95 {_ms(percentile(out.updates, 95))}."
        " Mem0's counterpart, `Memory.add` with `infer=True`, needs an LLM: not measured.",
        "",
        *verdict(plan, out),
        "",
        "Time: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
        + ".",
    ]
    return "\n".join(lines) + "\n"


def verdict(plan: Plan, out: Results) -> list[str]:
    """Each figure against the issue-8 aim (5x Mem0), with the most the shared embedding model
    allows: Mem0's figure against the model's own time for the same texts."""
    def mark(ratio: float) -> str:
        return f"{ratio:.1f}x, {'met' if ratio >= AIM else 'missed'}"

    lines = [f"Against the aim of issue 8 (at least {AIM:.0f}x Mem0's search speed and ingest"
             " rate), memvault over HTTP (its own product) against Mem0 in process. *Model"
             " bound*: the ratio a product would reach if embedding were its only work (Mem0's"
             " latency over embedding one query; the model's rate over Mem0's rate), measured in"
             " this run:", ""]
    for size in plan.sizes:
        mem0 = out.search[("mem0", size)]
        http = out.search[("memvault-http", size)]
        bound = percentile(mem0, 50) / out.query_embedding_p50
        lines.append(f"- search at {size:,} memories, p50: "
                     f"{mark(percentile(mem0, 50) / percentile(http, 50))} (model bound"
                     f" {bound:.1f}x); p95: {mark(percentile(mem0, 95) / percentile(http, 95))}.")
    for mode, batch in (("sequential", 1), ("concurrent", 8)):
        ratio = out.ingest[("memvault-http", mode)] / out.ingest[("mem0", mode)]
        bound = out.model_rates[batch] / out.ingest[("mem0", mode)]
        lines.append(f"- ingest, {mode}: {mark(ratio)} (model bound at batch {batch}:"
                     f" {bound:.1f}x).")
    for mix in ("search", "mixed"):
        ratio = out.load[("memvault-http", mix)].rate / max(1e-9, out.load[("mem0", mix)].rate)
        lines.append(f"- 32 clients, {mix}: {mark(ratio)}.")
    return lines
