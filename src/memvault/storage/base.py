"""The Store protocol: everything the engine asks of a storage backend.

Rules every backend keeps (``tests/storage/test_conformance.py`` checks them):

* Memory calls take ``store_id`` and ``scope`` as required arguments and never read, return,
  change or delete a memory of another scope or store. The only calls that span scopes say so in
  their name (``find_memory_in_store``, ``delete_store``).
* A write, its history row and its provenance commit together; a call returns only after commit,
  and an exception leaves nothing behind.
* Every deletion (``delete_memory``, ``delete_scope``, ``delete_store``, ``purge_expired`` when it
  deleted something, and the deletes a completed update applies) appends its row to the audit log
  (``memvault.storage.audit``) in the same transaction. ``actor`` names who asked: a principal's
  name, or ``"system"``/``"worker"`` for background work.
* Reads never return expired memories (``expires_at <= now``). Search never returns quarantined
  ones; ``list_memories`` returns them only when asked for by ``status``.
* Lists are ordered by id (ids are time-ordered); ``after``/``before`` are ids, exclusive, and
  follow the list order: ``after`` gives the page that follows that id in ``order``, ``before`` the
  page that precedes it (the items nearest it, still in ``order``); ``has_more`` says whether more
  items lie beyond the page in the direction of travel.
* Memory entries (``*_entry`` calls; the Databricks-style face) share the memories' tables and
  their scope isolation, but memory calls never return, count or change an entry, and entry
  calls never see a memory. ``delete_scope`` and ``delete_store`` delete both.
* Timestamps are integer Unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from memvault.models import (
    EntryCandidates,
    EntryRecord,
    EntryRevision,
    Memory,
    MemoryEntry,
    MemoryKind,
    MemoryRecord,
    MemoryRevision,
    MemoryStatus,
    MemoryStore,
    NewEntry,
    NewMemory,
    Page,
    PlannedOperation,
    ScopeSummary,
    SearchCandidates,
    UpdateJob,
    UpdateMessage,
    UpdateStatus,
)
from memvault.storage.audit import AuditEntry

Order = Literal["asc", "desc"]
FollowUp = Callable[[SearchCandidates], "tuple[str, int] | None"]
"""Given a search's two lists, the text of a follow-up full-text query and how many matches it
wants, or None (see ``Store.search_candidates``)."""


@runtime_checkable
class Store(Protocol):
    """Persistent memory stores and their memories.

    Example::

        store = await open_store("sqlite:///data/memvault.db")
        ms = await store.create_store(memory_store)
        [mem] = await store.add_memories(ms.id, "user_123", [NewMemory(...)])
        page = await store.list_memories(ms.id, "user_123", limit=20)
        await store.close()
    """

    text_search_in_memory: bool
    """Whether a full-text search is cheaper than a hop to another thread (SQLite ranks words
    in memory; PostgreSQL's takes milliseconds). The engine runs a search's text half beside the
    query embedding only when it is not, and otherwise asks for both halves in one call."""

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and apply pending migrations. Called once before any other method."""

    async def close(self) -> None:
        """Release connections and threads. Idempotent."""

    # -- memory stores ---------------------------------------------------------------------

    async def create_store(self, store: MemoryStore) -> MemoryStore:
        """Insert ``store``. Raises ``StoreAlreadyExists`` when its project already has that name."""

    async def get_store(self, project: str, name: str) -> MemoryStore:
        """Raises ``StoreNotFound``."""

    async def find_store_by_id(self, store_id: str) -> MemoryStore:
        """Lookup by id, across projects (workers know a job's store id only).
        Raises ``StoreNotFound``."""

    async def update_store(
        self,
        project: str,
        name: str,
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> MemoryStore:
        """Change the fields given (``None`` leaves a field as it is); bumps ``updated_at``.
        Raises ``StoreNotFound``."""

    async def list_stores(
        self,
        project: str,
        *,
        limit: int,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[MemoryStore]:
        """One page of the project's stores ordered by id; ``after``/``before`` are store ids."""

    async def delete_store(self, project: str, name: str, *, actor: str = "system") -> None:
        """Delete the store, every memory of every scope in it, and its updates; audited as
        ``store.delete`` by ``actor``. Raises ``StoreNotFound``."""

    async def list_scopes(
        self, store_id: str, *, limit: int, after: str | None = None
    ) -> Page[ScopeSummary]:
        """Store-wide: one page of the scopes that hold unexpired memories (of any status;
        memory entries are not counted), ordered by scope, code point by code point on every
        backend; ``after`` is a scope, exclusive. An unknown store has no scopes.

        Example::

            page = await store.list_scopes(ms.id, limit=100)
            while page.has_more:
                page = await store.list_scopes(ms.id, limit=100, after=page.items[-1].scope)
        """

    # -- memories (always within one scope) ------------------------------------------------

    async def add_memories(
        self, store_id: str, scope: str, memories: Sequence[NewMemory]
    ) -> list[Memory]:
        """Insert ``memories`` into ``scope`` in one transaction; returns them with ids."""

    async def get_memory(self, store_id: str, scope: str, memory_id: str) -> Memory:
        """Raises ``MemoryNotFound`` when the id is absent, expired, or in another scope."""

    async def find_memory_in_store(self, store_id: str, memory_id: str) -> Memory:
        """Store-wide lookup by id (the Foundry item API addresses memories by id alone).
        Raises ``MemoryNotFound``."""

    async def update_memory(
        self,
        store_id: str,
        scope: str,
        memory_id: str,
        *,
        content: str,
        embedding: np.ndarray,
        updated_by: str | None = None,
        source: Sequence[dict] = (),
        expires_at: int | None = None,
        expected_version: int | None = None,
    ) -> Memory:
        """Replace the content, keep the old text as a revision, bump ``version``.

        The revision keeps the old text with the time and author that wrote it. ``expires_at=None``
        keeps the current expiry. ``source`` entries are appended to the memory's provenance.
        With ``expected_version``, raises ``VersionConflict`` unless the stored version still
        equals it. Raises ``MemoryNotFound``.
        """

    async def delete_memory(
        self, store_id: str, scope: str, memory_id: str, *, actor: str = "system"
    ) -> Memory:
        """Delete and return the memory; audited as ``memory.delete`` by ``actor``.
        Raises ``MemoryNotFound``."""

    async def list_memories(
        self,
        store_id: str,
        scope: str,
        *,
        kind: MemoryKind | None = None,
        status: MemoryStatus = MemoryStatus.ACTIVE,
        limit: int = 20,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Memory]:
        """One page of the scope's memories ordered by id."""

    async def count_memories(self, store_id: str, scope: str) -> int:
        """Active, unexpired memories in the scope."""

    async def memory_history(
        self, store_id: str, scope: str, memory_id: str
    ) -> list[MemoryRevision]:
        """Earlier texts of the memory, oldest first. Raises ``MemoryNotFound``."""

    async def search_candidates(
        self,
        store_id: str,
        scope: str,
        *,
        text: str,
        embedding: np.ndarray | None,
        kinds: Sequence[MemoryKind],
        limit: int,
        follow: FollowUp | None = None,
    ) -> SearchCandidates:
        """Up to ``limit`` active memories of ``kinds`` nearest to ``embedding`` (cosine) and up
        to ``limit`` best full-text matches for ``text``. Embeddings are unit length, and every
        memory found carries its own (the engine scores text matches by it). Empty ``kinds``
        finds nothing; ``text`` without a word gives no text matches.

        ``follow`` is called once with the two lists (on whatever thread the backend reads
        on); when it returns ``(text, limit)``, the best full-text matches for that text are
        found in the same snapshot and returned as ``followed``: a search's second round
        rides on its first read."""

    async def delete_scope(self, store_id: str, scope: str, *, actor: str = "system") -> int:
        """Delete every memory and memory entry of the scope; returns how many there were
        (unexpired, any status, entries included). In the same transaction every unfinished
        update of the scope becomes ``failed`` with error code ``scope_deleted``, so a pending
        update cannot bring deleted memories back, and the deletion is audited as
        ``scope.delete`` by ``actor`` (even when the scope was empty)."""

    async def purge_expired(self, now: int, *, actor: str = "system") -> int:
        """Store-wide: delete memories whose ``expires_at`` has passed; returns how many. A run
        that deleted any is audited as one ``memory.purge`` row with the count."""

    # -- memory entries (always within one scope, identified by path) ----------------------

    async def create_entry(self, store_id: str, scope: str, entry: NewEntry) -> MemoryEntry:
        """Insert ``entry`` at version 1. Raises ``EntryAlreadyExists`` when the scope has an
        entry at its path, ``StoreNotFound``.

        Example::

            entry = await store.create_entry(ms.id, "user-123", NewEntry(
                path="/memories/preferences.md", description="Prefers email",
                contents="", embedding=vector))
        """

    async def get_entry(self, store_id: str, scope: str, path: str) -> MemoryEntry:
        """The entry at ``path``, with its embedding. Raises ``EntryNotFound``."""

    async def list_entries(
        self, store_id: str, scope: str, *, limit: int, after: str | None = None
    ) -> Page[MemoryEntry]:
        """One page of the scope's entries ordered by path (bytewise), those after the path
        ``after`` (exclusive); without embeddings."""

    async def update_entry(
        self,
        store_id: str,
        scope: str,
        path: str,
        *,
        description: str,
        contents: str,
        embedding: np.ndarray,
        updated_by: str | None = None,
        expected_version: int | None = None,
    ) -> MemoryEntry:
        """Replace the description and contents, keep the old ones as a revision, bump
        ``version``. With ``expected_version``, raises ``VersionConflict`` unless the stored
        version still equals it. Raises ``EntryNotFound``."""

    async def delete_entry(
        self, store_id: str, scope: str, path: str, *, actor: str = "system"
    ) -> MemoryEntry:
        """Delete the entry with its revisions and return it as it was; audited as
        ``entry.delete`` by ``actor``. Raises ``EntryNotFound``."""

    async def entry_history(self, store_id: str, scope: str, path: str) -> list[EntryRevision]:
        """Earlier versions of the entry, oldest first. Raises ``EntryNotFound``."""

    async def search_entry_candidates(
        self, store_id: str, scope: str, *, text: str, embedding: np.ndarray | None, limit: int
    ) -> EntryCandidates:
        """Up to ``limit`` of the scope's entries nearest to ``embedding`` (cosine) and up to
        ``limit`` best full-text matches for ``text`` (over :func:`memvault.models.entry_text`),
        each with its embedding. ``text`` without a word gives no text matches."""

    # -- the audit log ---------------------------------------------------------------------

    async def list_audit(self, *, after_seq: int = 0, limit: int = 100) -> Page[AuditEntry]:
        """Rows of the audit log after ``after_seq``, oldest first (see
        ``memvault.storage.audit``). Raises ``InvalidRequest`` for ``limit < 1``.

        Example::

            page = await store.list_audit(after_seq=0, limit=100)
            next_page = await store.list_audit(after_seq=page.items[-1].seq, limit=100)
        """

    # -- export, import and statistics (store-wide, so named) -----------------------------

    async def export_memories(
        self,
        store_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        scope: str | None = None,
    ) -> Page[MemoryRecord]:
        """Store-wide: one page of the store's unexpired memories of every status (with their
        embeddings and earlier texts), ordered by ``(scope, id)``; ``after`` is the
        ``(scope, id)`` of the last memory of the previous page. ``scope`` keeps to one scope.

        Example::

            page = await store.export_memories(ms.id, limit=500)
            while page.has_more:
                last = page.items[-1].memory
                page = await store.export_memories(ms.id, limit=500, after=(last.scope, last.id))
        """

    async def import_memories(
        self, store_id: str, records: Sequence[MemoryRecord]
    ) -> list[Memory]:
        """Store-wide: insert exported memories as they were, in one transaction.

        Each memory keeps its id, scope, kind, content, embedding (which must have the store's
        dimension), status, version, expiry, authors, provenance and timestamps; its earlier
        texts become its history. A memory whose id this store already holds is skipped (so
        importing a file twice adds nothing); one whose id another store holds (SQLite keeps ids
        unique across stores) takes an id derived from it, the same on every import, so that
        importing it again still skips it. Returns the inserted memories.
        Raises ``StoreNotFound``, ``InvalidRequest`` (a missing or misshapen embedding).
        """

    async def export_entries(
        self,
        store_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        scope: str | None = None,
    ) -> Page[EntryRecord]:
        """Store-wide: one page of the store's memory entries (with their embeddings and earlier
        versions), ordered by ``(scope, path)``; ``after`` is the ``(scope, path)`` of the last
        entry of the previous page. ``scope`` keeps to one scope."""

    async def import_entries(
        self, store_id: str, records: Sequence[EntryRecord]
    ) -> list[MemoryEntry]:
        """Store-wide: insert exported entries as they were (id, path, description, contents,
        embedding, version, authors, timestamps, earlier versions), in one transaction. An entry
        whose scope already has an entry at its path is skipped; an id held elsewhere is
        replaced as :meth:`import_memories` does. Returns the inserted entries."""

    async def count_memories_per_store(self) -> dict[tuple[str, str], int]:
        """Database-wide, for metrics: ``(project, store name)`` -> memories and memory entries
        stored (any status, including expired memories not yet purged), for every store. Reads
        indexes only."""

    async def count_updates_per_status(self) -> dict[UpdateStatus, int]:
        """Database-wide, for metrics: how many updates are in each status (every status is a
        key)."""

    # -- updates: the durable job queue behind update_memories -----------------------------

    async def enqueue_update(
        self,
        store_id: str,
        scope: str,
        *,
        update_id: str,
        messages: Sequence[UpdateMessage],
        run_at: int,
        previous_update_id: str | None = None,
    ) -> UpdateJob:
        """Commit a new ``queued`` update of ``scope``, due at ``run_at``.

        In the same transaction every update of this store and scope that is still ``queued``
        becomes ``superseded`` (``superseded_by=update_id``) and its messages are carried into
        the new update, oldest first and before the new messages, so nothing a user sent is
        dropped. Updates already ``in_progress`` are left alone.
        """

    async def get_update(self, store_id: str, update_id: str) -> UpdateJob:
        """Store-wide lookup by id (the poll URL carries no scope). Raises ``UpdateNotFound``."""

    async def claim_update(
        self, worker_id: str, *, now: int, lease_seconds: int
    ) -> UpdateJob | None:
        """Queue-wide: claim the job due longest, or None.

        Due means ``queued`` with ``run_at <= now``, or ``in_progress`` with an expired lease (its
        worker died). Never claims a job of a scope that has another job in progress under a live
        lease, or an older unfinished job (one waiting for a retry), so one scope's updates run
        one at a time, in order. The claimed job is
        ``in_progress``, ``lease_owner=worker_id``, ``lease_until=now+lease_seconds``,
        ``attempts+1``. Two workers never hold the same job.
        """

    async def renew_lease(self, update_id: str, worker_id: str, *, lease_until: int) -> bool:
        """Extend the lease; False when ``worker_id`` no longer holds the job."""

    async def complete_update(
        self,
        store_id: str,
        scope: str,
        update_id: str,
        worker_id: str,
        *,
        operations: Sequence[PlannedOperation],
        usage: dict,
    ) -> UpdateJob:
        """Apply ``operations`` to the scope and complete the job, in one transaction.

        Raises ``LeaseLost`` (nothing applied) unless the job is ``in_progress`` under
        ``worker_id``; raises ``VersionConflict`` (nothing applied) when a target memory's
        version moved since it was read. The completed job's ``result`` lists the reported
        operations (``create``/``update``/``delete``, not ``touch``, not quarantined creates)
        with the memory after each.
        """

    async def fail_update(
        self, update_id: str, worker_id: str, *, error: dict, retry_at: int | None = None
    ) -> UpdateJob:
        """Give the job up: with ``retry_at``, back to ``queued`` then; otherwise ``failed``
        with ``error`` (``{"code", "message"}``). Raises ``LeaseLost`` unless ``worker_id`` holds
        it."""
