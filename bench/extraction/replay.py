"""Replays conversations through memvault's real update pipeline: the update is queued with
``MemoryService.submit_update`` and processed by ``UpdateWorker.run_once`` (extract, quarantine
poisoned candidates, embed, find neighbours, consolidate, commit) on a real SQLite store, one
scope per conversation. The extractor is whatever the settings choose: offline by default, the
configured LLM when ``MEMVAULT_EXTRACTOR=llm`` (with ``MEMVAULT_BENCH_CHAT_MODEL`` as the
store's chat model)."""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from memvault.engine.service import MemoryService
from memvault.engine.updates import default_pipeline
from memvault.jobs.worker import UpdateWorker
from memvault.models import Memory, MemoryStatus, StoreOptions
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage import open_store


@dataclass
class Scope:
    """The memories a conversation left in its scope: active ones (searchable) and quarantined
    ones, and how long each update took end to end (embedding included)."""

    active: list[Memory] = field(default_factory=list)
    quarantined: list[Memory] = field(default_factory=list)
    update_seconds: list[float] = field(default_factory=list)


class Replayer:
    """``async with Replayer() as replayer: scope = await replayer.replay(...)``."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.settings = Settings(data_dir=Path(self._tmp.name), sqlite_synchronous="NORMAL")
        self.chat_model = (os.environ.get("MEMVAULT_BENCH_CHAT_MODEL")
                           if self.settings.resolved_extractor == "llm" else None)

    @property
    def extractor_name(self) -> str:
        return f"LLM extractor ({self.chat_model})" if self.chat_model else "offline extractor"

    async def __aenter__(self) -> Replayer:
        self.store = await open_store(self.settings.resolved_database_url, self.settings)
        self.embeddings = EmbeddingProviders(self.settings)
        self.service = MemoryService(self.store, self.embeddings, self.settings)
        self.worker = UpdateWorker(self.store, default_pipeline(self.store, self.embeddings,
                                                                self.settings), worker_id="bench")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.worker.pipeline.aclose()
        await self.embeddings.aclose()
        await self.store.close()
        self._tmp.cleanup()

    async def replay(self, name: str, updates: Sequence[Sequence[tuple[str, str]]],
                     options: StoreOptions) -> Scope:
        memory_store = await self.service.create_store(
            "bench", re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:100],
            chat_model=self.chat_model, options=options,
        )
        scope = Scope()
        for messages in updates:
            await self.service.submit_update(memory_store, "user", list(messages), update_delay=0)
            started = time.perf_counter()
            while await self.worker.run_once():
                pass
            scope.update_seconds.append(time.perf_counter() - started)
        for status, bucket in ((MemoryStatus.ACTIVE, scope.active),
                               (MemoryStatus.QUARANTINED, scope.quarantined)):
            page = await self.store.list_memories(memory_store.id, "user", status=status,
                                                  limit=100, order="asc")
            bucket.extend(page.items)
        return scope
