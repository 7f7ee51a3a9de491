"""Server-side overhead of an update beyond the LLM's own time, and LLM calls per update.

A 10-message update goes through the real pipeline (extraction, poisoning check, embedding,
neighbour search, consolidation, atomic commit with the job's completion) on a real SQLite store
that already holds memories. The LLM is a scripted OpenAI-compatible server on 127.0.0.1
answering at once; the time its round trips take is measured on the client side and subtracted,
so what remains is memvault's own work. The offline extractor is measured the same way (it has no
LLM time at all).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.corpus import memories
from memvault.engine.updates import UpdatePipeline, default_pipeline
from memvault.jobs.worker import UpdateWorker
from memvault.models import MemoryKind, NewMemory
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import open_store
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion

CONVERSATION = [
    ("user", "Hi! I'm planning my week."),
    ("assistant", "Happy to help. What is on your mind?"),
    ("user", "I prefer dark roast coffee and usually drink it in the morning."),
    ("assistant", "Noted. Anything else?"),
    ("user", "I play tennis on Saturdays and I'm learning Japanese."),
    ("assistant", "Great combination."),
    ("user", "I work as a data engineer in Lisbon."),
    ("assistant", "Sounds interesting."),
    ("user", "Please always answer in bullet points."),
    ("assistant", "Will do."),
]


def _extraction_reply() -> dict:
    return chat_completion(json.dumps({"memories": [
        {"kind": "user_profile", "action": "remember", "topic": "coffee", "source_indexes": [2],
         "content": "Prefers dark roast coffee, usually in the morning"},
        {"kind": "user_profile", "action": "remember", "topic": "tennis", "source_indexes": [4],
         "content": "Plays tennis on Saturdays"},
        {"kind": "user_profile", "action": "remember", "topic": "languages",
         "source_indexes": [4], "content": "Is learning Japanese"},
        {"kind": "user_profile", "action": "remember", "topic": "job", "source_indexes": [6],
         "content": "Works as a data engineer in Lisbon"},
        {"kind": "procedural", "action": "remember", "topic": "format", "source_indexes": [8],
         "content": "Wants answers in bullet points"},
    ]}))


def _consolidation_reply() -> dict:
    return chat_completion(json.dumps({"decisions": [
        {"candidate": i, "op": "create", "target": None, "content": None} for i in range(5)]}))


class TimedTransport(httpx.AsyncHTTPTransport):
    """Counts the LLM's round trips and the time spent in them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.seconds = 0.0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = await super().handle_async_request(request)
        await response.aread()
        self.seconds += time.perf_counter() - started
        self.calls += 1
        return response


async def _measure(pipeline: UpdatePipeline, store, embeddings, settings: Settings,
                   transport: TimedTransport | None, runs: int) -> tuple[list[float], list[int]]:
    from memvault.engine.service import MemoryService

    service = MemoryService(store, embeddings, settings)
    memory_store = await service.create_store(
        "bench", f"updates-{time.time_ns()}", chat_model="gpt-4.1" if transport else None
    )
    worker = UpdateWorker(store, pipeline, worker_id="bench")
    overheads, calls = [], []
    for run in range(runs):
        scope = f"user-{run}"
        texts = memories(200, seed=run)
        vectors = await embeddings.embed(memory_store.embedding_model, texts)
        await store.add_memories(memory_store.id, scope, [
            NewMemory(kind=MemoryKind.USER_PROFILE, content=t, embedding=v)
            for t, v in zip(texts, vectors)])
        job = await service.submit_update(memory_store, scope, CONVERSATION, update_delay=0)
        before_calls = transport.calls if transport else 0
        before_llm = transport.seconds if transport else 0.0
        started = time.perf_counter()
        assert await worker.run_once()
        elapsed = time.perf_counter() - started
        done = await store.get_update(memory_store.id, job.id)
        assert done.status.value == "completed", done
        llm = (transport.seconds - before_llm) if transport else 0.0
        overheads.append((elapsed - llm) * 1000)
        calls.append((transport.calls - before_calls) if transport else 0)
    return overheads, calls


def run(quick: bool = False) -> str:
    runs = 20 if quick else 60
    return asyncio.run(_run(runs))


async def _run(runs: int) -> str:
    from memvault.engine.llm import LLMConsolidator, LLMExtractor
    from openai import AsyncOpenAI

    rows = []
    with tempfile.TemporaryDirectory() as tmp, ScriptedOpenAIServer() as llm:
        settings = Settings(data_dir=Path(tmp) / "data")
        store = await open_store(settings.resolved_database_url, settings)
        embeddings = EmbeddingProviders(settings)
        try:
            offline = default_pipeline(store, embeddings, settings)
            overheads, _ = await _measure(offline, store, embeddings, settings, None, runs)
            rows.append(("offline extractor", overheads, [0]))

            llm.set_default("chat.completions", lambda request: (
                _consolidation_reply() if "decisions" in json.dumps(
                    request.json.get("response_format", {})) else _extraction_reply()))
            transport = TimedTransport()
            client = AsyncOpenAI(base_url=llm.base_url, api_key="bench",
                                 http_client=httpx.AsyncClient(transport=transport))
            pipeline = UpdatePipeline(store, embeddings, LLMExtractor(client, model="gpt-4.1"),
                                      LLMConsolidator(client, model="gpt-4.1"))
            overheads, calls = await _measure(pipeline, store, embeddings, settings, transport,
                                              runs)
            rows.append(("LLM extractor (scripted LLM, its time subtracted)", overheads, calls))
            await pipeline.aclose()
        finally:
            await embeddings.aclose()
            await store.close()

    lines = [
        "## update_memories: server-side overhead per update",
        "",
        f"{runs} updates of 10 messages (5 facts) each, into scopes already holding 200"
        " memories; time from claim to committed completion, minus the LLM's round trips.",
        "",
        "| extractor | overhead p50 | overhead p95 | LLM calls per update (max) |",
        "|---|---:|---:|---:|",
    ]
    for name, overheads, calls in rows:
        ordered = sorted(overheads)
        p95 = ordered[min(len(ordered) - 1, int(0.95 * (len(ordered) - 1) + 0.5))]
        lines.append(f"| {name} | {statistics.median(overheads):.1f} ms | {p95:.1f} ms |"
                     f" {max(calls)} |")
    return "\n".join(lines) + "\n"
