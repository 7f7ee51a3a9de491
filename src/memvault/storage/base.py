"""The Store protocol: everything the engine asks of a storage backend.

Rules every backend keeps (``tests/storage/test_conformance.py`` checks them):

* Memory calls take ``store_id`` and ``scope`` as required arguments and never read, return,
  change or delete a memory of another scope or store. The only calls that span scopes say so in
  their name (``find_memory_in_store``, ``delete_store``).
* A write, its history row and its provenance commit together; a call returns only after commit,
  and an exception leaves nothing behind.
* Reads never return expired memories (``expires_at <= now``). Search never returns quarantined
  ones; ``list_memories`` returns them only when asked for by ``status``.
* Lists are ordered by id (ids are time-ordered); ``after``/``before`` are ids, exclusive, and
  follow the list order: ``after`` gives the page that follows that id in ``order``, ``before`` the
  page that precedes it (the items nearest it, still in ``order``); ``has_more`` says whether more
  items lie beyond the page in the direction of travel.
* Timestamps are integer Unix seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from memvault.models import (
    Memory,
    MemoryKind,
    MemoryRevision,
    MemoryStatus,
    MemoryStore,
    NewMemory,
    Page,
    PlannedOperation,
    SearchCandidates,
    UpdateJob,
    UpdateMessage,
)

Order = Literal["asc", "desc"]


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

    async def delete_store(self, project: str, name: str) -> None:
        """Delete the store, every memory of every scope in it, and its updates.
        Raises ``StoreNotFound``."""

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

    async def delete_memory(self, store_id: str, scope: str, memory_id: str) -> Memory:
        """Delete and return the memory. Raises ``MemoryNotFound``."""

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
    ) -> SearchCandidates:
        """Up to ``limit`` active memories of ``kinds`` nearest to ``embedding`` (cosine) and up
        to ``limit`` best full-text matches for ``text``. Embeddings are unit length. Empty
        ``kinds`` finds nothing; ``text`` without a word gives no text matches."""

    async def delete_scope(self, store_id: str, scope: str) -> int:
        """Delete every memory of the scope; returns how many there were (unexpired, any
        status). In the same transaction every unfinished update of the scope becomes
        ``failed`` with error code ``scope_deleted``, so a pending update cannot bring deleted
        memories back."""

    async def purge_expired(self, now: int) -> int:
        """Store-wide: delete memories whose ``expires_at`` has passed; returns how many."""

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
