"""Retrieval quality of memvault's search on a retrieval set written for it.

    python -m bench.quality [--quick]

``conversations.json`` holds eight people's dated sessions (2023-2024, 320 turns), 40 lines of
everyday chatter added to every scope as distractors, and 136 questions labelled single-hop,
multi-hop or temporal, each with the turns that hold its evidence. Scopes ``maya``..``raj`` are
the development half (the search changes were designed on them); ``sofia``..``tom`` are held out.

Ingestion, the way a memvault user gets such memories: each user turn is one memory whose text is
what the user said and whose ``created_at`` is the session's date, which is what a memory written
during that session carries. They enter through memvault's import path
(:func:`memvault.engine.transfer.import_lines`, the same as ``memvault import``), which keeps
timestamps and embeds each text with the local model. The filler lines take the dates of the
scope's sessions in turn.

Methods, all on the same SQLite store (the baselines embed queries in float32):

* **BM25 only**: the backend's full-text list alone (bm25 over the query's words, from the
  SQLite backend's in-memory word index);
* **dense only**: the backend's vector list alone (cosine on all-MiniLM-L6-v2);
* **hybrid before**: reciprocal-rank fusion of both lists, memvault's search before the temporal
  and second-round changes (reproduced here as it was);
* **memvault**: :meth:`MemoryService.search` as it is now (queries in int8, the default);
* **memvault, float32 queries**: the same with ``MEMVAULT_QUERY_EMBEDDING_PRECISION=float32``.

Metrics per question, averaged: recall@k = evidence turns in the top k / evidence turns;
nDCG@10 with binary relevance. The latency part times the search paths in-process on one scope
of 10,000 memories (the set's texts with jittered vectors and dates over two years).
"""

from __future__ import annotations

import asyncio
import calendar
import json
import math
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from memvault.engine.service import MemoryService
from memvault.engine.transfer import import_lines
from memvault.models import (
    Memory,
    MemoryKind,
    MemoryRecord,
    ScoredMemory,
    SearchCandidates,
    new_id,
)
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage.sqlite import SQLiteStore

DATA = Path(__file__).with_name("conversations.json")
TYPES = ("single", "multi", "temporal")
TYPE_NAMES = {"single": "single-hop", "multi": "multi-hop", "temporal": "temporal"}
METHODS = ("BM25 only", "dense only", "hybrid before", "memvault", "memvault, float32 queries")
LIMIT = 10

Search = Callable[[str, str], Awaitable[list[str]]]

# "hybrid before": the reciprocal-rank fusion memvault's search used before its current ranking.
# 60 is the constant of Cormack et al. (2009); text matches counted 0.8 of a vector neighbour.
RRF_K = 60
TEXT_WEIGHT = 0.8


def fuse(candidates: SearchCandidates, limit: int) -> list[ScoredMemory]:
    """Reciprocal-rank fusion of both candidate lists; best first, at most ``limit``.

    A memory found by both lists outranks one found by either alone; ties keep vector order.
    """
    scores: dict[str, float] = {}
    memories = {}
    for rank, hit in enumerate(candidates.by_vector):
        scores[hit.memory.id] = scores.get(hit.memory.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        memories[hit.memory.id] = hit.memory
    for rank, hit in enumerate(candidates.by_text):
        scores[hit.memory.id] = scores.get(hit.memory.id, 0.0) + TEXT_WEIGHT / (RRF_K + rank + 1)
        memories.setdefault(hit.memory.id, hit.memory)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:limit]
    return [ScoredMemory(memories[memory_id], score) for memory_id, score in ranked]


def load() -> dict:
    return json.loads(DATA.read_text())


def _day(date: str, turn: int) -> int:
    """Noon UTC of ``date``, plus a minute per turn (turns of a session keep their order)."""
    start = datetime.strptime(date, "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
    return calendar.timegm(start.timetuple()) + 60 * turn


def export_lines(data: dict) -> list[str]:
    """The set as a memvault export (format version 1) without embeddings."""
    header = {"format": "memvault-export", "version": 1, "scope": None, "embeddings": False,
              "store": {"project": "bench", "name": "quality"}}
    lines = [json.dumps(header)]
    count = 0
    for person in data["people"]:
        scope, sessions = person["scope"], person["sessions"]
        dated = [(session["date"], turn_id, text, index)
                 for session in sessions
                 for index, (turn_id, text) in enumerate(session["turns"])]
        dated += [(sessions[i % len(sessions)]["date"], f"f{i + 1:02d}", text, 10 + i)
                  for i, text in enumerate(data["filler"])]
        for date, turn_id, text, index in dated:
            ts = _day(date, index)
            lines.append(json.dumps({
                "type": "memory", "id": f"mem_{scope}_{turn_id}", "scope": scope,
                "kind": MemoryKind.CHAT_SUMMARY.value, "content": text, "status": "active",
                "version": 1, "created_at": ts, "updated_at": ts, "created_by": "bench",
            }))
            count += 1
    lines.append(json.dumps({"type": "end", "memories": count, "entries": 0}))
    return lines


def questions(data: dict) -> list[dict]:
    found = []
    for person in data["people"]:
        for number, (kind, text, evidence) in enumerate(person["questions"], start=1):
            found.append({
                "id": f"{person['scope']}-q{number}", "scope": person["scope"], "type": kind,
                "text": text, "evidence": [f"mem_{person['scope']}_{e}" for e in evidence],
                "dev": person["scope"] in data["dev_scopes"],
            })
    return found


def recall(ranked: list[str], evidence: list[str], k: int) -> float:
    return len(set(ranked[:k]) & set(evidence)) / len(evidence)


def ndcg(ranked: list[str], evidence: list[str], k: int = 10) -> float:
    gain = sum(1 / math.log2(i + 2) for i, mid in enumerate(ranked[:k]) if mid in evidence)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(evidence))))
    return gain / ideal


class Methods:
    """The search methods over one store; ``float32`` is a service embedding queries in float32
    (for the "memvault, float32 queries" method only)."""

    def __init__(self, service: MemoryService, store, float32: MemoryService | None = None) -> None:
        self.service, self.store, self.float32 = service, store, float32
        self.vectors: dict[str, np.ndarray] = {}

    async def embedding(self, query: str) -> np.ndarray:
        if query not in self.vectors:
            [self.vectors[query]] = await self.service.embeddings.embed(
                self.store.embedding_model, [query]
            )
        return self.vectors[query]

    async def bm25(self, scope: str, query: str) -> list[str]:
        found = await self.service.store.search_candidates(
            self.store.id, scope, text=query, embedding=None, kinds=tuple(MemoryKind), limit=LIMIT
        )
        return [hit.memory.id for hit in found.by_text]

    async def dense(self, scope: str, query: str) -> list[str]:
        found = await self.service.store.search_candidates(
            self.store.id, scope, text="", embedding=await self.embedding(query),
            kinds=tuple(MemoryKind), limit=LIMIT,
        )
        return [hit.memory.id for hit in found.by_vector]

    async def hybrid_before(self, scope: str, query: str) -> list[str]:
        """memvault's search before this benchmark's changes: RRF of depth-30 lists."""
        depth = max(LIMIT * 3, 20)
        store, kinds = self.service.store, tuple(MemoryKind)
        by_text = asyncio.ensure_future(store.search_candidates(
            self.store.id, scope, text=query, embedding=None, kinds=kinds, limit=depth
        ))
        [embedding] = await self.service.embeddings.embed(self.store.embedding_model, [query])
        by_vector = await store.search_candidates(
            self.store.id, scope, text="", embedding=embedding, kinds=kinds, limit=depth
        )
        text_hits = await by_text
        fused = fuse(SearchCandidates(by_vector.by_vector, text_hits.by_text), LIMIT)
        return [hit.memory.id for hit in fused]

    async def memvault(self, scope: str, query: str) -> list[str]:
        outcome = await self.service.search(self.store, scope, query, max_memories=LIMIT)
        return [hit.memory.id for hit in outcome.memories]

    async def memvault_float32(self, scope: str, query: str) -> list[str]:
        assert self.float32 is not None
        outcome = await self.float32.search(self.store, scope, query, max_memories=LIMIT)
        return [hit.memory.id for hit in outcome.memories]

    def table(self) -> dict[str, Search]:
        return dict(zip(METHODS, (self.bm25, self.dense, self.hybrid_before, self.memvault,
                                  self.memvault_float32), strict=True))


async def _open(data_dir: Path) -> tuple[MemoryService, SQLiteStore]:
    settings = Settings(data_dir=data_dir)
    backend = SQLiteStore(data_dir / "quality.db", settings)
    await backend.open()
    providers = EmbeddingProviders(settings)
    await providers.warm_up()
    return MemoryService(backend, providers, settings), backend


async def evaluate(data: dict) -> dict[str, dict[str, list[float]]]:
    """Per method, per question id: [recall@5, recall@10, nDCG@10]."""
    with tempfile.TemporaryDirectory() as tmp:
        service, backend = await _open(Path(tmp))
        settings = Settings(data_dir=Path(tmp), query_embedding_precision="float32")
        float32 = MemoryService(backend, EmbeddingProviders(settings), settings)
        try:
            summary = await import_lines(service, export_lines(data))
            methods = Methods(service, summary.store, float32).table()
            scores: dict[str, dict[str, list[float]]] = {name: {} for name in METHODS}
            for question in questions(data):
                for name, search in methods.items():
                    ranked = await search(question["scope"], question["text"])
                    evidence = question["evidence"]
                    scores[name][question["id"]] = [
                        recall(ranked, evidence, 5), recall(ranked, evidence, 10),
                        ndcg(ranked, evidence),
                    ]
            return scores
        finally:
            await float32.embeddings.aclose()
            await service.embeddings.aclose()
            await backend.close()


def _mean(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}" if values else "-"


def quality_table(data: dict, scores: dict[str, dict[str, list[float]]], dev: bool) -> list[str]:
    chosen = [q for q in questions(data) if q["dev"] == dev]
    groups = [(TYPE_NAMES[t], [q for q in chosen if q["type"] == t]) for t in TYPES]
    groups.append(("all", chosen))
    head = "| method | " + " | ".join(
        f"{name} ({len(qs)}) R@5 / R@10 / nDCG@10" for name, qs in groups
    ) + " |"
    lines = [head, "|---" * (len(groups) + 1) + "|"]
    for method in METHODS:
        cells = []
        for _, qs in groups:
            cols = [[scores[method][q["id"]][i] for q in qs] for i in range(3)]
            cells.append(" / ".join(_mean(col) for col in cols))
        name = f"**{method}**" if method == "memvault" else method
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


# -- latency at 10k memories ------------------------------------------------------------------


async def latency(data: dict, size: int, repeats: int) -> tuple[float, float, float]:
    """p50 seconds of (BM25+dense RRF before, memvault search now) on one scope of ``size``
    memories, measured interleaved in this process; and the p50 of embedding one query."""
    texts = [turn for p in data["people"] for s in p["sessions"] for _, turn in s["turns"]]
    texts += data["filler"]
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        service, backend = await _open(Path(tmp))
        try:
            store = await service.create_store("bench", "latency")
            base = await service.embeddings.embed(store.embedding_model, texts)
            start, span = _day("2023-01-01", 0), 2 * 365 * 86_400
            records = []
            for i in range(size):
                vector = base[i % len(texts)] + rng.normal(0, 0.02, base.shape[1])
                vector = (vector / np.linalg.norm(vector)).astype(np.float32)
                ts = start + int(rng.integers(0, span))
                records.append(MemoryRecord(Memory(
                    id=new_id("mem"), store_id=store.id, scope="big",
                    kind=MemoryKind.CHAT_SUMMARY, content=texts[i % len(texts)],
                    created_at=ts, updated_at=ts, embedding=vector,
                )))
            for chunk in range(0, size, 1000):
                await backend.import_memories(store.id, records[chunk:chunk + 1000])
            methods = Methods(service, store)
            queries = [q["text"] for q in questions(data)]
            # Every query's embedding is in the provider's cache before timing, so both paths
            # time search work alone; the model's own time is measured apart.
            for query in queries:
                await methods.hybrid_before("big", query)
                await methods.memvault("big", query)
            embedder = service.embeddings.local_query_embedder()
            before, after, embed = [], [], []
            for _ in range(repeats):
                for query in queries:
                    started = time.perf_counter()
                    await methods.hybrid_before("big", query)
                    before.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    await methods.memvault("big", query)
                    after.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    embedder.embed([query])
                    embed.append(time.perf_counter() - started)
            return statistics.median(before), statistics.median(after), statistics.median(embed)
        finally:
            await service.embeddings.aclose()
            await backend.close()


def run(quick: bool = False) -> str:
    data = load()
    scores = asyncio.run(evaluate(data))
    size = 10_000
    before, after, embed = asyncio.run(latency(data, size, repeats=1 if quick else 3))
    people = len(data["people"])
    turns = sum(len(s["turns"]) for p in data["people"] for s in p["sessions"])
    asked = questions(data)
    counts = ", ".join(f"{sum(q['type'] == t for q in asked)} {TYPE_NAMES[t]}" for t in TYPES)
    lines = [
        "## Retrieval quality",
        "",
        f"A retrieval set written for memvault (`bench/quality/conversations.json`): {people}"
        f" people, {turns} dated turns in {sum(len(p['sessions']) for p in data['people'])}"
        f" sessions over 2023-2024, plus {len(data['filler'])} lines of everyday chatter in every"
        f" scope; {len(asked)} questions"
        f" ({counts}),"
        " each with its evidence turns. Each turn is one memory (its text as the user said it,"
        " `created_at` = the session date), imported through memvault's import path and embedded"
        " with the local model into a real SQLite store. BM25 only and dense only are the"
        " backend's full-text and vector lists alone; hybrid before is the reciprocal-rank"
        " fusion memvault used before (all three embed queries in float32); memvault is"
        " `MemoryService.search` now (queries embedded in int8, the default), also with its"
        " queries in float32 (`MEMVAULT_QUERY_EMBEDDING_PRECISION=float32`). Same store,"
        " same run. R@k = share of evidence turns in the top k; nDCG@10 with binary relevance.",
        "",
        f"Development half (scopes {', '.join(data['dev_scopes'])}: the changes were designed"
        " on these):",
        "",
        *quality_table(data, scores, dev=True),
        "",
        "Held-out half (the other four scopes, not looked at while designing):",
        "",
        *quality_table(data, scores, dev=False),
        "",
        f"Latency in-process, one scope of {size:,} memories, p50 over {len(asked)} questions"
        " (the query's embedding cached for both, as the provider's LRU does for a repeated"
        " query; a query embedded afresh adds the model's time to both):",
        "",
        "| path | p50 ms | ratio |",
        "|---|---|---|",
        f"| hybrid before (text + vector, RRF) | {before * 1000:.1f} | 1.00 |",
        f"| memvault now | {after * 1000:.1f} | {after / before:.2f} |",
        f"| query embedding by the model (int8, the default), uncached | {embed * 1000:.1f} | - |",
    ]
    return "\n".join(lines) + "\n"
