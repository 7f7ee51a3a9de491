"""update_memories: accepting an update, and turning a claimed update into memory operations.

Accepting (:func:`submit_update`) only validates and commits a durable job; the answer (202)
goes out after that commit. Processing (:class:`UpdatePipeline`) runs in a worker:

1. extract candidates from the job's messages (one LLM call at most);
2. quarantine candidates that carry instructions aimed at the agent;
3. embed the rest in one batch and find each one's nearest memories of its kind in the scope;
4. consolidate (one LLM call at most) into create / update / delete / noop decisions;
5. plan the operations with the versions they were decided against.

The worker commits the plan atomically with the job's completion; when a memory moved in the
meantime (``VersionConflict``) it plans again from fresh neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from memvault.engine import validation
from memvault.engine.consolidation import (
    Consolidator,
    Decision,
    Neighbour,
    OfflineConsolidator,
)
from memvault.engine.extraction.base import Candidate, ChatMessage, Extractor, Usage
from memvault.engine.extraction.offline import OfflineExtractor
from memvault.engine.poisoning import check_poisoning
from memvault.errors import InvalidRequest
from memvault.models import (
    MemoryKind,
    MemoryStatus,
    MemoryStore,
    NewMemory,
    PlannedOperation,
    UpdateJob,
    UpdateMessage,
    new_id,
    now,
)
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage.base import Store

OFFLINE_CHAT_MODEL = "memvault-offline"
"""The chat model of a store created without one: its memories are extracted offline."""
DEFAULT_UPDATE_DELAY = 300
MAX_UPDATE_DELAY = 86_400
MAX_MESSAGES = 200
NEIGHBOURS = 5


@dataclass(frozen=True)
class Plan:
    operations: list[PlannedOperation]
    quarantined: int
    usage: Usage
    """Tokens the consolidation spent (the extraction's are counted by the caller)."""


async def submit_update(
    store: Store,
    settings: Settings,
    memory_store: MemoryStore,
    scope: object,
    messages: Sequence[tuple[str, str]],
    *,
    update_delay: int | None = None,
    previous_update_id: str | None = None,
) -> UpdateJob:
    """Validate and durably queue an update; returns the committed job.

    Raises ``InvalidRequest`` (bad scope, no usable message, bad delay, a previous update of
    another scope) and ``UpdateNotFound`` (unknown ``previous_update_id``).
    """
    scope = validation.validate_scope(scope, settings)
    if not messages:
        raise InvalidRequest(
            "'items' must contain at least one message with text (type 'message', role user,"
            " assistant, system or developer)",
            param="items",
        )
    if len(messages) > MAX_MESSAGES:
        raise InvalidRequest(f"at most {MAX_MESSAGES} messages per update", param="items")
    for _, text in messages:
        if len(text) > settings.max_content_chars * 4:
            raise InvalidRequest(
                f"a message is longer than {settings.max_content_chars * 4} characters",
                param="items",
            )
    delay = DEFAULT_UPDATE_DELAY if update_delay is None else update_delay
    if not 0 <= delay <= MAX_UPDATE_DELAY:
        raise InvalidRequest(
            f"'update_delay' must be between 0 and {MAX_UPDATE_DELAY} seconds",
            param="update_delay",
        )
    if previous_update_id is not None:
        previous = await store.get_update(memory_store.id, previous_update_id)
        if previous.scope != scope:
            raise InvalidRequest(
                "'previous_update_id' names an update of another scope",
                param="previous_update_id",
            )
    update_id = new_id("upd")
    return await store.enqueue_update(
        memory_store.id,
        scope,
        update_id=update_id,
        messages=[UpdateMessage(role, text, update_id) for role, text in messages],
        run_at=now() + delay,
        previous_update_id=previous_update_id,
    )


class UpdatePipeline:
    """Plans the memory operations of one update. Holds no state between calls.

    A store created without a chat model (``chat_model == OFFLINE_CHAT_MODEL``) is always served
    by the offline extractor and consolidator, whatever ``extractor`` and ``consolidator`` are.
    """

    def __init__(
        self,
        store: Store,
        embeddings: EmbeddingProviders,
        extractor: Extractor,
        consolidator: Consolidator,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.extractor = extractor
        self.consolidator = consolidator
        self._offline = (OfflineExtractor(), OfflineConsolidator())

    def _parts(self, memory_store: MemoryStore) -> tuple[Extractor, Consolidator]:
        if memory_store.chat_model == OFFLINE_CHAT_MODEL:
            return self._offline
        return self.extractor, self.consolidator

    async def aclose(self) -> None:
        """Close the extractor's and consolidator's clients (an LLM's HTTP connections)."""
        for part in (self.extractor, self.consolidator):
            close = getattr(part, "aclose", None)
            if close is not None:
                await close()

    async def extract(self, memory_store: MemoryStore, job: UpdateJob) -> tuple[
        list[Candidate], Usage
    ]:
        messages = [ChatMessage(m.role, m.text) for m in job.messages]  # type: ignore[arg-type]
        extractor, _ = self._parts(memory_store)
        extraction = await extractor.extract(
            messages, memory_store.options, model=memory_store.chat_model
        )
        enabled = _enabled_kinds(memory_store)
        return [c for c in extraction.candidates if c.kind in enabled], extraction.usage

    async def plan(
        self, memory_store: MemoryStore, job: UpdateJob, candidates: Sequence[Candidate]
    ) -> Plan:
        """Plan the operations for ``candidates`` against the scope as it is now."""
        expires_at = now() + memory_store.options.default_ttl_seconds if (
            memory_store.options.default_ttl_seconds
        ) else None
        if not candidates:
            return Plan([], 0, Usage())
        vectors = await self.embeddings.embed(
            memory_store.embedding_model, [c.content for c in candidates]
        )
        clean: list[tuple[Candidate, np.ndarray]] = []
        operations: list[PlannedOperation] = []
        for candidate, vector in zip(candidates, vectors, strict=True):
            reason = check_poisoning(candidate.content) if candidate.action == "remember" else None
            if reason is None:
                clean.append((candidate, vector))
                continue
            operations.append(PlannedOperation(
                kind="create",
                new=NewMemory(
                    kind=candidate.kind,
                    content=candidate.content,
                    embedding=vector,
                    created_by=job.id,
                    source=_sources(job, candidate) + ({"quarantine_reason": reason},),
                    status=MemoryStatus.QUARANTINED,
                    expires_at=expires_at,
                ),
            ))
        quarantined = len(operations)
        if not clean:
            return Plan(operations, quarantined, Usage())
        neighbours = [
            await self._neighbours(memory_store, job.scope, candidate, vector)
            for candidate, vector in clean
        ]
        _, consolidator = self._parts(memory_store)
        consolidation = await consolidator.consolidate(
            [c for c, _ in clean], neighbours, model=memory_store.chat_model
        )
        by_content = {candidate.content: vector for candidate, vector in clean}
        for decision in consolidation.decisions:
            operation = await self._operation(
                memory_store, job, decision, by_content, expires_at
            )
            if operation is not None:
                operations.append(operation)
        return Plan(operations, quarantined, consolidation.usage)

    async def _neighbours(
        self, memory_store: MemoryStore, scope: str, candidate: Candidate, vector: np.ndarray
    ) -> list[Neighbour]:
        found = await self.store.search_candidates(
            memory_store.id,
            scope,
            text="",
            embedding=vector,
            kinds=[candidate.kind],
            limit=NEIGHBOURS,
        )
        return [Neighbour(hit.memory, hit.score) for hit in found.by_vector]

    async def _operation(
        self,
        memory_store: MemoryStore,
        job: UpdateJob,
        decision: Decision,
        vectors: dict[str, np.ndarray],
        expires_at: int | None,
    ) -> PlannedOperation | None:
        candidate, target = decision.candidate, decision.target
        if decision.op == "noop":
            if target is not None and expires_at is not None:
                return PlannedOperation(kind="touch", memory_id=target.id, expires_at=expires_at)
            return None
        if decision.op == "delete":
            assert target is not None
            return PlannedOperation(
                kind="delete", memory_id=target.id, expected_version=target.version
            )
        content = decision.content or candidate.content
        vector = vectors.get(content)
        if vector is None:
            [vector] = await self.embeddings.embed(memory_store.embedding_model, [content])
        if decision.op == "update":
            assert target is not None
            return PlannedOperation(
                kind="update",
                memory_id=target.id,
                expected_version=target.version,
                content=content,
                embedding=vector,
                source=_sources(job, candidate),
                expires_at=expires_at,
            )
        return PlannedOperation(
            kind="create",
            new=NewMemory(
                kind=candidate.kind,
                content=content,
                embedding=vector,
                created_by=job.id,
                source=_sources(job, candidate),
                expires_at=expires_at,
            ),
        )


def _enabled_kinds(memory_store: MemoryStore) -> set[MemoryKind]:
    options = memory_store.options
    kinds = set()
    if options.user_profile_enabled:
        kinds.add(MemoryKind.USER_PROFILE)
    if options.chat_summary_enabled:
        kinds.add(MemoryKind.CHAT_SUMMARY)
    if options.procedural_memory_enabled:
        kinds.add(MemoryKind.PROCEDURAL)
    return kinds


def _sources(job: UpdateJob, candidate: Candidate) -> tuple[dict, ...]:
    """Provenance: the messages the candidate came from, with the update each was sent in."""
    indexes = candidate.source_indexes or ()
    return tuple(
        {"update_id": job.messages[i].update_id, "role": job.messages[i].role,
         "text": job.messages[i].text}
        for i in indexes
        if 0 <= i < len(job.messages)
    )


def default_pipeline(
    store: Store, embeddings: EmbeddingProviders, settings: Settings
) -> UpdatePipeline:
    """The pipeline the settings ask for: offline rules, or an OpenAI-compatible LLM."""
    if settings.resolved_extractor == "llm":
        from memvault.engine.llm import llm_extractor_and_consolidator

        extractor, consolidator = llm_extractor_and_consolidator(settings)
    else:
        extractor, consolidator = OfflineExtractor(), OfflineConsolidator()
    return UpdatePipeline(store, embeddings, extractor, consolidator)
