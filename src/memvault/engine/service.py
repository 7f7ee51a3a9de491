"""The memory engine: the operations every API face is built on.

The service validates input, embeds text, and calls the Store; it holds no state of its own
beyond the store and the embedding providers, so any number of server replicas can share a
database.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from memvault.engine import retrieval, temporal, validation
from memvault.engine.updates import OFFLINE_CHAT_MODEL, submit_update
from memvault.errors import InvalidRequest, ModelUnavailable
from memvault.models import (
    Memory,
    MemoryKind,
    MemoryRevision,
    MemoryStore,
    NewMemory,
    Page,
    ScopeSummary,
    ScoredMemory,
    SearchCandidates,
    StoreOptions,
    UpdateJob,
    new_id,
    now,
)
from memvault.providers.registry import EmbeddingProviders
from memvault.settings import Settings
from memvault.storage.audit import AuditEntry
from memvault.storage.base import Order, Store

DEFAULT_SEARCH_LIMIT = 10
STATIC_SEARCH_LIMIT = 100
MAX_SEARCH_LIMIT = 100
# Of a long conversation, the newest text says most about what is relevant now.
MAX_QUERY_CHARS = 2_000
# How long a search may reuse a store's definition read by an earlier search in this process.
STORE_REUSE_SECONDS = 1.0


@dataclass(frozen=True)
class SearchOutcome:
    memories: list[ScoredMemory]
    static: bool


class MemoryService:
    """Example::

        service = MemoryService(store, EmbeddingProviders(settings), settings)
        ms = await service.create_store("default", "notes", chat_model="gpt-4.1",
                                        embedding_model="text-embedding-3-small")
        await service.add_memory(ms, "user_1", MemoryKind.USER_PROFILE, "Likes green tea")
        hits = await service.search(ms, "user_1", "what tea do I like?")
    """

    def __init__(self, store: Store, embeddings: EmbeddingProviders, settings: Settings) -> None:
        self.store = store
        self.embeddings = embeddings
        self.settings = settings
        self.update_listeners: list[Callable[[], None]] = []
        """Called when an update is queued that is due at once (an in-process worker wakes)."""
        self._recent_stores: dict[tuple[str, str], tuple[float, MemoryStore]] = {}
        self._store_changes = 0
        """Store updates and deletes this service has finished (see ``get_store``)."""

    # -- memory stores ---------------------------------------------------------------------

    async def create_store(
        self,
        project: str,
        name: str,
        *,
        chat_model: str | None = None,
        embedding_model: str | None = None,
        options: StoreOptions | None = None,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        owner: str | None = None,
    ) -> MemoryStore:
        """Create a store, choosing the embedding model it will use for life. ``owner`` (the
        creating principal's name) holds every privilege on it.

        Raises ``InvalidRequest`` (bad fields, or an unreachable model with strict models on) and
        ``StoreAlreadyExists``.
        """
        validation.validate_name(project, "project")
        validation.validate_name(name)
        description = validation.validate_description(description)
        metadata = validation.validate_metadata(metadata)
        options = options or StoreOptions()
        if options.default_ttl_seconds < 0:
            raise InvalidRequest(
                "'default_ttl_seconds' must be 0 (never) or positive",
                param="definition.options.default_ttl_seconds",
            )
        notices = []
        if chat_model:
            reason = await self._chat_model_problem(chat_model)
            if reason:
                message = f"chat model {chat_model!r} is not reachable: {reason}"
                if self.settings.strict_models:
                    raise ModelUnavailable(message, param="definition.chat_model")
                notices.append(message)
        choice = await self.embeddings.choose(embedding_model)
        if choice.notice:
            notices.append(choice.notice)
        created = now()
        store = MemoryStore(
            id=new_id("memstore"),
            project=project,
            name=name,
            chat_model=chat_model or OFFLINE_CHAT_MODEL,
            requested_embedding_model=embedding_model or choice.model,
            embedding_model=choice.model,
            embedding_dimension=choice.dimension,
            options=options,
            description=description,
            metadata=metadata,
            notices=tuple(notices),
            created_at=created,
            updated_at=created,
            owner=owner,
        )
        return await self.store.create_store(store)

    async def _chat_model_problem(self, chat_model: str) -> str | None:
        """Why ``chat_model`` cannot extract this store's memories, or None when it can."""
        if self.settings.resolved_extractor == "offline":
            if self.settings.llm_configured:
                return None  # the operator chose the offline extractor
            return "no LLM is configured; memories are extracted by the built-in offline extractor"
        from memvault.engine.llm import probe_chat_model

        return await probe_chat_model(self.settings, chat_model)

    async def get_store(self, project: str, name: str, *, recent: bool = False) -> MemoryStore:
        """The store named ``name`` (``StoreNotFound``). ``recent``: a definition this process
        read up to ``STORE_REUSE_SECONDS`` ago will do (for searches, which look their store
        up on every call: one storage round trip less). This process's own changes to the
        store take effect at once; another process's within that time (a store it deleted
        is still found that long, and its searches find nothing: its memories went with it)."""
        key = (project, name)
        if recent:
            seen = self._recent_stores.get(key)
            if seen is not None and time.monotonic() - seen[0] < STORE_REUSE_SECONDS:
                return seen[1]
        changes = self._store_changes
        store = await self.store.get_store(project, name)
        # A read that overlapped one of this service's store changes may hold the old
        # definition: it is returned, not kept.
        if changes == self._store_changes:
            if len(self._recent_stores) >= 1_000:
                self._recent_stores.clear()
            self._recent_stores[key] = (time.monotonic(), store)
        return store

    def _forget_store(self, project: str, name: str) -> None:
        self._store_changes += 1
        self._recent_stores.pop((project, name), None)

    async def update_store(
        self,
        project: str,
        name: str,
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> MemoryStore:
        description = validation.validate_description(description)
        if metadata is not None:
            metadata = validation.validate_metadata(metadata)
        try:
            return await self.store.update_store(
                project, name, description=description, metadata=metadata
            )
        finally:  # after: a search meanwhile may have read the definition before the change
            self._forget_store(project, name)

    async def list_stores(
        self,
        project: str,
        *,
        limit: int | None = None,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[MemoryStore]:
        limit = validation.validate_limit(limit)
        return await self.store.list_stores(
            project, limit=limit, order=order, after=after, before=before
        )

    async def delete_store(self, project: str, name: str, *, actor: str = "system") -> None:
        """Delete the store and everything in it; audited as ``store.delete`` by ``actor``."""
        try:
            await self.store.delete_store(project, name, actor=actor)
        finally:
            self._forget_store(project, name)

    async def list_scopes(
        self, store: MemoryStore, *, limit: int | None = None, after: str | None = None
    ) -> Page[ScopeSummary]:
        """One page of the scopes holding memories, by name (``after`` a scope, exclusive),
        with their counts. Raises ``InvalidRequest`` for a bad ``limit`` or ``after``."""
        limit = validation.validate_limit(limit, default=100)
        if after is not None and "\x00" in after:
            raise InvalidRequest("'after' must not contain NUL characters", param="after")
        return await self.store.list_scopes(store.id, limit=limit, after=after)

    # -- memories --------------------------------------------------------------------------

    def expiry(self, store: MemoryStore) -> int | None:
        ttl = store.options.default_ttl_seconds
        return now() + ttl if ttl else None

    async def add_memory(
        self,
        store: MemoryStore,
        scope: str,
        kind: object,
        content: object,
        *,
        created_by: str = "api",
    ) -> Memory:
        """Embed and insert one memory. Raises ``InvalidRequest`` for a bad scope/kind/content."""
        scope = validation.validate_scope(scope, self.settings)
        kind = validation.validate_kind(kind)
        content = validation.validate_content(content, self.settings)
        [embedding] = await self.embeddings.embed(store.embedding_model, [content])
        [memory] = await self.store.add_memories(
            store.id,
            scope,
            [
                NewMemory(
                    kind=kind,
                    content=content,
                    embedding=embedding,
                    created_by=created_by,
                    expires_at=self.expiry(store),
                )
            ],
        )
        return memory

    async def get_memory(self, store: MemoryStore, memory_id: str) -> Memory:
        return await self.store.find_memory_in_store(store.id, memory_id)

    async def update_memory(
        self, store: MemoryStore, memory_id: str, content: object, *, updated_by: str = "api"
    ) -> Memory:
        content = validation.validate_content(content, self.settings)
        current = await self.store.find_memory_in_store(store.id, memory_id)
        [embedding] = await self.embeddings.embed(store.embedding_model, [content])
        return await self.store.update_memory(
            store.id,
            current.scope,
            memory_id,
            content=content,
            embedding=embedding,
            updated_by=updated_by,
            expires_at=self.expiry(store),
        )

    async def delete_memory(
        self, store: MemoryStore, memory_id: str, *, actor: str = "system"
    ) -> Memory:
        """Delete one memory; audited as ``memory.delete`` by ``actor``."""
        current = await self.store.find_memory_in_store(store.id, memory_id)
        return await self.store.delete_memory(store.id, current.scope, memory_id, actor=actor)

    async def list_memories(
        self,
        store: MemoryStore,
        scope: object,
        *,
        kind: object = None,
        limit: int | None = None,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Memory]:
        scope = validation.validate_scope(scope, self.settings)
        kind = validation.validate_kind(kind) if kind is not None else None
        limit = validation.validate_limit(limit)
        return await self.store.list_memories(
            store.id, scope, kind=kind, limit=limit, order=order, after=after, before=before
        )

    async def memory_history(self, store: MemoryStore, memory_id: str) -> list[MemoryRevision]:
        current = await self.store.find_memory_in_store(store.id, memory_id)
        return await self.store.memory_history(store.id, current.scope, memory_id)

    # -- updates ---------------------------------------------------------------------------

    async def submit_update(
        self,
        store: MemoryStore,
        scope: object,
        messages: Sequence[tuple[str, str]],
        *,
        update_delay: int | None = None,
        previous_update_id: str | None = None,
    ) -> UpdateJob:
        """Durably queue an update (see :func:`memvault.engine.updates.submit_update`)."""
        job = await submit_update(
            self.store,
            self.settings,
            store,
            scope,
            messages,
            update_delay=update_delay,
            previous_update_id=previous_update_id,
        )
        if job.run_at <= now():
            for listener in self.update_listeners:
                listener()
        return job

    async def get_update(self, store: MemoryStore, update_id: str) -> UpdateJob:
        return await self.store.get_update(store.id, update_id)

    async def delete_scope(
        self, store: MemoryStore, scope: object, *, actor: str = "system"
    ) -> int:
        """Delete the scope's memories; audited as ``scope.delete`` by ``actor``."""
        scope = validation.validate_scope(scope, self.settings)
        return await self.store.delete_scope(store.id, scope, actor=actor)

    # -- the audit log ---------------------------------------------------------------------

    async def list_audit(
        self, *, after_seq: int | None = None, limit: int | None = None
    ) -> Page[AuditEntry]:
        """Rows of the audit log after ``after_seq`` (default 0), oldest first; ``limit``
        1-1000 (default 100). Raises ``InvalidRequest``."""
        after_seq = 0 if after_seq is None else after_seq
        if after_seq < 0:
            raise InvalidRequest("'after_seq' must be 0 or more", param="after_seq")
        limit = validation.validate_limit(limit, default=100, maximum=1000)
        return await self.store.list_audit(after_seq=after_seq, limit=limit)

    # -- search ----------------------------------------------------------------------------

    async def search(
        self,
        store: MemoryStore,
        scope: object,
        query: str | None,
        *,
        max_memories: int | None = None,
        kinds: Sequence[MemoryKind] = tuple(MemoryKind),
    ) -> SearchOutcome:
        """The memories most relevant to ``query``, or, with no query, the scope's static
        (user profile) memories, newest first."""
        scope = validation.validate_scope(scope, self.settings)
        if max_memories is not None and not 1 <= max_memories <= MAX_SEARCH_LIMIT:
            raise InvalidRequest(
                f"'max_memories' must be between 1 and {MAX_SEARCH_LIMIT}",
                param="options.max_memories",
            )
        query = (query or "").strip()
        if not query:
            page = await self.store.list_memories(
                store.id,
                scope,
                kind=MemoryKind.USER_PROFILE,
                limit=max_memories or STATIC_SEARCH_LIMIT,
                order="desc",
            )
            return SearchOutcome([ScoredMemory(m, 1.0) for m in page.items], static=True)
        query = query[-MAX_QUERY_CHARS:]
        limit = max_memories or DEFAULT_SEARCH_LIMIT
        periods = temporal.query_periods(query, today=temporal.today_utc(now()))
        # A named period reaches deeper: its memories may rank low on words and meaning alone.
        depth = max(limit * 3, 20) if not periods else max(limit * 5, retrieval.PERIOD_DEPTH)
        # The second round searches the names the best memories add to the query (see
        # retrieval's docstring) for up to this many matches.
        second_limit = max(limit, 10)
        text_hits: list[ScoredMemory] | None = None
        if self.store.text_search_in_memory:
            # One call, one snapshot: both halves, then the second round.
            embedding = await self.embeddings.embed_query(store.embedding_model, query)
        else:
            # The full-text half (which needs no embedding) runs on a connection of its own
            # while the query is embedded; the vector half and the second round share one call.
            by_text = asyncio.ensure_future(self.store.search_candidates(
                store.id, scope, text=query, embedding=None, kinds=kinds, limit=depth
            ))
            try:
                embedding = await self.embeddings.embed_query(store.embedding_model, query)
            finally:
                text_hits = (await by_text).by_text
        ranking = retrieval.Ranking(embedding, periods)

        def second_round(first: SearchCandidates) -> tuple[str, int] | None:
            if text_hits is not None:
                first = SearchCandidates(first.by_vector, text_hits)
            names = ranking.add_first_round(first, query)
            return (names, second_limit) if names else None

        found = await self.store.search_candidates(
            store.id, scope, text=query if text_hits is None else "", embedding=embedding,
            kinds=kinds, limit=depth, follow=second_round,
        )  # fmt: skip
        ranking.add_second_round(found.followed)
        return SearchOutcome(ranking.top(limit), static=False)

