"""The Store protocol on one SQLite file.

* Tables: ``memory_stores``, ``scopes``, ``memories``, ``memory_history``, ``memories_fts``,
  ``updates`` (``migrations/sqlite/``). Embeddings are float32 BLOBs in ``memories``, the source
  of truth.
* Writes: one writer thread, group commit (``sqlite_threads``). Every write bumps the
  ``generation`` of each scope it touches, in its own transaction. Every memory write, whether
  from the item API or from a completed update, goes through :class:`ScopeWrite`, so both paths
  run the same SQL.
* Updates: a job queue in the ``updates`` table. The writer thread (and ``BEGIN IMMEDIATE``
  across processes) serialises claims, so one ``UPDATE … WHERE id = (SELECT …) RETURNING`` claims
  a job atomically; see :meth:`SQLiteStore.claim_update` for the order and the per-scope rule.
* Vector search: an in-process index per scope (``vector_index``), loaded from the BLOBs on first
  use, updated by this process's writes after they commit, and reloaded when the stored
  ``(scope id, generation)`` differs from the cached one, i.e. when another process (the worker)
  wrote the scope. Checking costs one indexed lookup per search.
* Text search: bm25 over each scope's words, in the same per-scope index (``term_index``),
  loaded from ``memories_fts``. That FTS5 table holds every row's words glued to its scope's
  prefix (``fts``); it is the words' stored copy, no longer what ranks a search.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from memvault import models
from memvault.errors import (
    EntryAlreadyExists,
    EntryNotFound,
    InvalidRequest,
    LeaseLost,
    MemoryNotFound,
    StoreAlreadyExists,
    StoreNotFound,
    UpdateNotFound,
    VersionConflict,
)
from memvault.models import (
    ENTRY_KIND,
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
    ScoredEntry,
    ScoredMemory,
    SearchCandidates,
    UpdateJob,
    UpdateMessage,
    UpdateStatus,
    entry_text,
    memory_to_dict,
    new_id,
    now,
)
from memvault.settings import Settings, available_cores
from memvault.storage import fts
from memvault.storage.audit import AuditEntry, append_audit_sqlite, list_audit_sqlite
from memvault.storage.base import FollowUp, Order
from memvault.storage.migrations import apply_sqlite
from memvault.storage.operations import check_operation, gone
from memvault.storage.quotas import NO_QUOTAS, Quotas
from memvault.storage.rows import (
    check_limit,
    dump_json,
    embedding_blob,
    memory_of,
    messages_json,
    plan_page,
    row_to_entry,
    row_to_entry_revision,
    row_to_memory,
    row_to_revision,
    row_to_store,
    row_to_update,
    scope_summary,
    source_json,
    store_params,
)
from memvault.storage.sqlite_threads import SQLiteDatabase, WriteContext
from memvault.storage.vector_index import (
    KIND_CODES,
    NO_EXPIRY,
    ScopeVectors,
    ScopeView,
    Version,
    VectorCache,
    VectorRow,
    stack_embeddings,
)

MEMORY_COLUMNS = (
    "seq, id, store_id, scope, kind, content, embedding, status, version, expires_at,"
    " created_by, updated_by, source, created_at, updated_at"
)
_VISIBLE = "(expires_at IS NULL OR expires_at > ?)"
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# Memory calls skip entries (rows of ENTRY_KIND; see migrations/sqlite/0004_entries.sql).
_NOT_ENTRY = f"kind <> '{ENTRY_KIND}'"
ENTRY_COLUMNS = (
    "seq, id, store_id, scope, path, description, content, embedding, version, created_by,"
    " updated_by, created_at, updated_at"
)

ScopeKey = tuple[str, str]
Scored = TypeVar("Scored", ScoredMemory, ScoredEntry)


def _index_text(conn: sqlite3.Connection, seq: int, scope_id: int, text: str) -> None:
    """Index ``text`` as row ``seq`` of ``memories_fts``, in words of its scope
    (:func:`memvault.storage.fts.scoped_words`)."""
    conn.execute(
        "INSERT INTO memories_fts (rowid, words) VALUES (?, ?)",
        (seq, fts.scoped_words(fts.scope_prefix(scope_id), text)),
    )


def _reindex_text(conn: sqlite3.Connection, seq: int, scope_id: int, text: str) -> None:
    conn.execute(
        "UPDATE memories_fts SET words = ? WHERE rowid = ?",
        (fts.scoped_words(fts.scope_prefix(scope_id), text), seq),
    )


class SQLiteStore:
    """Memory stores in one SQLite file (see the module docstring for the design).

    ``group_commit=False`` commits every write on its own (for comparison in benchmarks).
    ``readers``: reader threads, by default one per core (at least two). A search's reading is
    mostly Python under the interpreter lock, so more threads than cores only contend for it:
    on 2 cores, 4 readers held 110 searches/s at p99 125-163 ms where 2 held it at 31-50 ms.
    Several ``SQLiteStore`` objects, in one process or several, may share a file.
    """

    text_search_in_memory = True

    def __init__(
        self,
        path: str | os.PathLike[str],
        settings: Settings | None = None,
        *,
        readers: int | None = None,
        group_commit: bool = True,
    ) -> None:
        settings = settings or Settings()
        readers = readers or max(2, available_cores())
        self.path = Path(path)
        self._db = SQLiteDatabase(
            self.path,
            synchronous=settings.sqlite_synchronous,
            readers=readers,
            max_batch=64 if group_commit else 1,
            max_pages=settings.sqlite_max_pages,
            setup=apply_sqlite,
        )
        self._vectors = VectorCache(settings.vector_cache_mb * 1024 * 1024)
        self._quotas = Quotas.from_settings(settings)
        self._load_locks = [threading.Lock() for _ in range(16)]

    @property
    def database(self) -> SQLiteDatabase:
        return self._db

    @property
    def vector_cache(self) -> VectorCache:
        return self._vectors

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._db.start()

    async def close(self) -> None:
        await self._db.close()
        self._vectors.clear()

    # -- memory stores ---------------------------------------------------------------------

    async def create_store(self, store: MemoryStore) -> MemoryStore:
        ts = now()
        store = dataclasses.replace(
            store, created_at=store.created_at or ts, updated_at=store.updated_at or ts
        )
        params = store_params(store)

        def create(tx: WriteContext) -> MemoryStore:
            taken = tx.conn.execute(
                "SELECT 1 FROM memory_stores WHERE project = ? AND name = ?",
                (store.project, store.name),
            ).fetchone()
            if taken is not None:
                raise StoreAlreadyExists(
                    f"a memory store named {store.name!r} already exists", param="name"
                )
            columns = ", ".join(params)
            tx.conn.execute(
                f"INSERT INTO memory_stores ({columns}) VALUES ({_marks(len(params))})",
                tuple(params.values()),
            )
            return store

        return await self._db.write(create)

    async def get_store(self, project: str, name: str) -> MemoryStore:
        def get(conn: sqlite3.Connection) -> MemoryStore:
            return row_to_store(_store_row(conn, project, name))

        return await self._db.read(get)

    async def find_store_by_id(self, store_id: str) -> MemoryStore:
        def find(conn: sqlite3.Connection) -> MemoryStore:
            row = conn.execute("SELECT * FROM memory_stores WHERE id = ?", (store_id,)).fetchone()
            if row is None:
                raise StoreNotFound(f"no memory store with id {store_id!r}", param="store_id")
            return row_to_store(row)

        return await self._db.read(find)

    async def update_store(
        self,
        project: str,
        name: str,
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> MemoryStore:
        def update(tx: WriteContext) -> MemoryStore:
            row = _store_row(tx.conn, project, name)
            tx.conn.execute(
                "UPDATE memory_stores SET description = ?, metadata = ?, updated_at = ?"
                " WHERE id = ?",
                (
                    row["description"] if description is None else description,
                    row["metadata"] if metadata is None else dump_json(dict(metadata)),
                    max(now(), row["updated_at"]),
                    row["id"],
                ),
            )
            return row_to_store(_store_row(tx.conn, project, name))

        return await self._db.write(update)

    async def list_stores(
        self,
        project: str,
        *,
        limit: int,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[MemoryStore]:
        check_limit(limit)

        def list_(conn: sqlite3.Connection) -> Page[MemoryStore]:
            rows, has_more = _page_rows(
                conn, "SELECT * FROM memory_stores", ["project = ?"], [project],
                limit=limit, order=order, after=after, before=before,
            )  # fmt: skip
            return Page([row_to_store(row) for row in rows], has_more=has_more)

        return await self._db.read(list_)

    async def delete_store(self, project: str, name: str, *, actor: str = "system") -> None:
        def delete(tx: WriteContext) -> None:
            store_id = _store_row(tx.conn, project, name)["id"]
            target = _audit_target(tx.conn, store_id)
            rows = tx.conn.execute(
                "SELECT seq, id FROM memories WHERE store_id = ?", (store_id,)
            ).fetchall()
            _delete_memory_rows(tx.conn, rows)
            tx.conn.execute("DELETE FROM updates WHERE store_id = ?", (store_id,))
            tx.conn.execute("DELETE FROM scopes WHERE store_id = ?", (store_id,))
            tx.conn.execute(
                "DELETE FROM grants WHERE securable_type = 'memory_store' AND securable = ?",
                (store_id,),
            )
            tx.conn.execute("DELETE FROM memory_stores WHERE id = ?", (store_id,))
            append_audit_sqlite(
                tx.conn, actor=actor, action="store.delete",
                target={**target, "memories_deleted": len(rows)},
            )  # fmt: skip
            tx.on_commit(lambda: self._vectors.drop_store(store_id))

        await self._db.write(delete)

    async def list_scopes(
        self, store_id: str, *, limit: int, after: str | None = None
    ) -> Page[ScopeSummary]:
        """See ``Store.list_scopes``. Scopes compare with SQLite's BINARY collation: bytewise
        UTF-8, which is code point order."""
        check_limit(limit)
        kinds = ", ".join(f"'{kind.value}'" for kind in MemoryKind)
        conditions = ["store_id = ?", _VISIBLE, f"kind IN ({kinds})"]
        params: list[Any] = [store_id, now()]
        if after is not None:
            conditions.append("scope > ?")
            params.append(after)

        def list_(conn: sqlite3.Connection) -> Page[ScopeSummary]:
            rows = conn.execute(
                "SELECT scope, sum(status = 'active') AS active,"
                " sum(status = 'quarantined') AS quarantined, max(updated_at) AS updated_at"
                f" FROM memories WHERE {' AND '.join(conditions)}"
                " GROUP BY scope ORDER BY scope LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
            return Page([scope_summary(row) for row in rows[:limit]], has_more=len(rows) > limit)

        return await self._db.read(list_)

    # -- memories --------------------------------------------------------------------------

    async def add_memories(
        self, store_id: str, scope: str, memories: Sequence[NewMemory]
    ) -> list[Memory]:
        memories = list(memories)
        if not memories:
            return []

        def add(tx: WriteContext) -> list[Memory]:
            write = ScopeWrite(tx.conn, store_id, scope, now(), self._quotas)
            added = [write.insert(memory) for memory in memories]
            self._finish(tx, write)
            return added

        return await self._db.write(add)

    async def get_memory(self, store_id: str, scope: str, memory_id: str) -> Memory:
        def get(conn: sqlite3.Connection) -> Memory:
            return row_to_memory(_memory_row(conn, store_id, scope, memory_id, now()))

        return await self._db.read(get)

    async def find_memory_in_store(self, store_id: str, memory_id: str) -> Memory:
        def find(conn: sqlite3.Connection) -> Memory:
            row = conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ? AND store_id = ?"
                f" AND {_NOT_ENTRY} AND {_VISIBLE}",
                (memory_id, store_id, now()),
            ).fetchone()
            if row is None:
                raise MemoryNotFound(f"no memory {memory_id!r} in this store", param="memory_id")
            return row_to_memory(row)

        return await self._db.read(find)

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
        """See ``Store.update_memory``. ``expires_at=None`` keeps the current expiry. The revision
        kept is the replaced text with the time and author that wrote it."""
        source = [dict(entry) for entry in source]

        def update(tx: WriteContext) -> Memory:
            write = ScopeWrite(tx.conn, store_id, scope, now())
            updated = write.update(
                memory_id, content=content, embedding=embedding, updated_by=updated_by,
                source=source, expires_at=expires_at, expected_version=expected_version,
            )  # fmt: skip
            self._finish(tx, write)
            return updated

        return await self._db.write(update)

    async def delete_memory(
        self, store_id: str, scope: str, memory_id: str, *, actor: str = "system"
    ) -> Memory:
        def delete(tx: WriteContext) -> Memory:
            write = ScopeWrite(tx.conn, store_id, scope, now())
            deleted = write.delete(memory_id)
            append_audit_sqlite(
                tx.conn, actor=actor, action="memory.delete",
                target={**_audit_target(tx.conn, store_id), "scope": scope,
                        "memory_id": memory_id},
            )  # fmt: skip
            self._finish(tx, write)
            return deleted

        return await self._db.write(delete)

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
        check_limit(limit)

        def list_(conn: sqlite3.Connection) -> Page[Memory]:
            conditions = ["store_id = ?", "scope = ?", "status = ?", _NOT_ENTRY, _VISIBLE]
            params: list[Any] = [store_id, scope, MemoryStatus(status).value, now()]
            if kind is not None:
                conditions.append("kind = ?")
                params.append(MemoryKind(kind).value)
            rows, has_more = _page_rows(
                conn, f"SELECT {MEMORY_COLUMNS} FROM memories", conditions, params,
                limit=limit, order=order, after=after, before=before,
            )  # fmt: skip
            return Page([row_to_memory(row) for row in rows], has_more=has_more)

        return await self._db.read(list_)

    async def count_memories(self, store_id: str, scope: str) -> int:
        def count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT count(*) FROM memories WHERE store_id = ? AND scope = ?"
                f" AND status = 'active' AND {_NOT_ENTRY} AND {_VISIBLE}",
                (store_id, scope, now()),
            ).fetchone()
            return int(row[0])

        return await self._db.read(count)

    async def memory_history(
        self, store_id: str, scope: str, memory_id: str
    ) -> list[MemoryRevision]:
        def history(conn: sqlite3.Connection) -> list[MemoryRevision]:
            with _read_transaction(conn):
                _memory_row(conn, store_id, scope, memory_id, now())
                rows = conn.execute(
                    "SELECT * FROM memory_history WHERE memory_id = ? AND store_id = ?"
                    " AND scope = ? ORDER BY version",
                    (memory_id, store_id, scope),
                ).fetchall()
            return [row_to_revision(row) for row in rows]

        return await self._db.read(history)

    def _scope_head(self, conn: sqlite3.Connection, key: ScopeKey) -> tuple[int, int, int] | None:
        """``(scope id, generation, store dimension)`` of the scope, or None when it holds
        nothing (then its cached vectors, if any, are dropped)."""
        head = conn.execute(
            "SELECT s.id, s.generation, ms.embedding_dimension FROM scopes AS s"
            " JOIN memory_stores AS ms ON ms.id = s.store_id"
            " WHERE s.store_id = ? AND s.scope = ?",
            key,
        ).fetchone()
        if head is None:
            self._vectors.drop(key)
        return head

    def _scope_view(
        self,
        conn: sqlite3.Connection,
        key: ScopeKey,
        head: tuple[int, int, int],
        query: np.ndarray | None,
        *,
        kinds: Collection[MemoryKind | str],
        now: int,
    ) -> ScopeView:
        """The scope's index restricted to live rows of ``kinds`` unexpired at ``now``. Raises
        ``InvalidRequest`` on a query embedding of another dimension than the store's."""
        scope_id, generation, dim = head
        if query is not None and query.shape != (dim,):
            raise InvalidRequest(
                f"query embedding has shape {query.shape}, the store's model gives ({dim},)",
                param="embedding",
            )
        index = self._scope_vectors(conn, key, (scope_id, generation), dim)
        return index.view(kinds=kinds, now=now)

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
        """See ``Store.search_candidates``. Text scores are bm25 from the scope's in-memory
        index (:mod:`.term_index`; higher is better); an empty ``kinds`` finds nothing."""
        kinds = [MemoryKind(kind) for kind in kinds]
        query = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        key = (store_id, scope)

        def search(conn: sqlite3.Connection) -> SearchCandidates:
            ts = now()
            with _read_transaction(conn):
                head = self._scope_head(conn, key)
                if head is None or limit < 1 or not kinds:
                    return SearchCandidates(by_vector=[], by_text=[])
                view = self._scope_view(conn, key, head, query, kinds=kinds, now=ts)
                vector_hits = view.nearest(query, limit)
                text_hits = view.best_text(fts.search_terms(text), limit)
                # One read of the rows both lists found (they share about a third).
                found = _active_memories(
                    conn, store_id, scope, {seq for seq, _ in vector_hits + text_hits}, ts
                )
                by_vector = [ScoredMemory(found[seq], s) for seq, s in vector_hits if seq in found]
                first = SearchCandidates(
                    by_vector=_exact_cosines(query, by_vector),
                    by_text=[ScoredMemory(found[seq], s) for seq, s in text_hits if seq in found],
                )
                then = follow(first) if follow is not None else None
                if then is None:
                    return first
                followed = view.best_text(fts.search_terms(then[0]), then[1])
                found |= _active_memories(
                    conn, store_id, scope, {seq for seq, _ in followed} - found.keys(), ts
                )
            return SearchCandidates(
                by_vector=first.by_vector, by_text=first.by_text,
                followed=[ScoredMemory(found[seq], s) for seq, s in followed if seq in found],
            )  # fmt: skip

        return await self._db.read(search)

    async def delete_scope(self, store_id: str, scope: str, *, actor: str = "system") -> int:
        """See ``Store.delete_scope``; the count is of unexpired memories of any status."""
        error = dump_json(
            {"code": "scope_deleted", "message": "the scope was deleted before this update ran"}
        )

        def delete(tx: WriteContext) -> int:
            ts = now()
            tx.conn.execute(
                "UPDATE updates SET status = 'failed', error = ?, lease_owner = NULL,"
                " lease_until = NULL, updated_at = ?"
                " WHERE store_id = ? AND scope = ? AND status IN ('queued', 'in_progress')",
                (error, ts, store_id, scope),
            )
            rows = tx.conn.execute(
                "SELECT seq, id, expires_at FROM memories WHERE store_id = ? AND scope = ?",
                (store_id, scope),
            ).fetchall()
            _delete_memory_rows(tx.conn, rows)
            tx.conn.execute(
                "DELETE FROM scopes WHERE store_id = ? AND scope = ?", (store_id, scope)
            )
            count = sum(1 for row in rows if row["expires_at"] is None or row["expires_at"] > ts)
            append_audit_sqlite(
                tx.conn, actor=actor, action="scope.delete",
                target={**_audit_target(tx.conn, store_id), "scope": scope,
                        "memories_deleted": count},
            )  # fmt: skip
            tx.on_commit(lambda: self._vectors.drop((store_id, scope)))
            return count

        return await self._db.write(delete)

    async def purge_expired(self, now: int, *, actor: str = "system") -> int:
        cutoff = now

        def purge(tx: WriteContext) -> int:
            ts = models.now()  # the parameter `now` hides the function
            rows = tx.conn.execute(
                "SELECT seq, id, store_id, scope FROM memories"
                " WHERE expires_at IS NOT NULL AND expires_at <= ?",
                (cutoff,),
            ).fetchall()
            _delete_memory_rows(tx.conn, rows)
            by_scope: dict[ScopeKey, list[int]] = {}
            for row in rows:
                by_scope.setdefault((row["store_id"], row["scope"]), []).append(row["seq"])
            for key, seqs in by_scope.items():
                before, after = _bump_scope(tx.conn, *key, ts)
                self._after_commit(
                    tx, key, before, after, lambda index, seqs=seqs: index.remove(seqs)
                )
            if rows:
                append_audit_sqlite(
                    tx.conn, actor=actor, action="memory.purge",
                    target={"expired_before": cutoff, "memories_deleted": len(rows)},
                )  # fmt: skip
            return len(rows)

        return await self._db.write(purge)

    # -- updates: the durable job queue ----------------------------------------------------

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
        messages = list(messages)

        def enqueue(tx: WriteContext) -> UpdateJob:
            conn = tx.conn
            ts = now()
            _store_dimension(conn, store_id)  # raises StoreNotFound
            superseded = conn.execute(
                "UPDATE updates SET status = 'superseded', superseded_by = ?, updated_at = ?"
                " WHERE store_id = ? AND scope = ? AND status = 'queued' RETURNING *",
                (update_id, ts, store_id, scope),
            ).fetchall()
            # `upd_` ids are time-ordered: sorting by id carries the oldest messages first.
            carried = [
                message
                for row in sorted(superseded, key=lambda row: row["id"])
                for message in row_to_update(row).messages
            ]
            row = conn.execute(
                "INSERT INTO updates (id, store_id, scope, status, messages, run_at, created_at,"
                " updated_at, previous_update_id) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?)"
                " RETURNING *",
                (
                    update_id, store_id, scope, messages_json([*carried, *messages]), run_at,
                    ts, ts, previous_update_id,
                ),
            ).fetchone()  # fmt: skip
            return row_to_update(row)

        return await self._db.write(enqueue)

    async def get_update(self, store_id: str, update_id: str) -> UpdateJob:
        def get(conn: sqlite3.Connection) -> UpdateJob:
            row = conn.execute(
                "SELECT * FROM updates WHERE id = ? AND store_id = ?", (update_id, store_id)
            ).fetchone()
            if row is None:
                raise UpdateNotFound(f"no update {update_id!r} in this store", param="update_id")
            return row_to_update(row)

        return await self._db.read(get)

    async def claim_update(
        self, worker_id: str, *, now: int, lease_seconds: int
    ) -> UpdateJob | None:
        """See ``Store.claim_update``.

        Due jobs are taken in ``run_at`` order (then id): the one whose request has waited
        longest goes first, whether it is queued or was left behind by a dead worker. A job is
        skipped while another unfinished job of its scope either holds a live lease (the
        protocol's rule) or is older: after a worker dies, or a job is put back for a retry,
        a newer job of the scope waits for the older one, so one scope's updates also run in
        the order they were sent.
        """
        clock = now  # the parameter `now` hides the function

        def claim(tx: WriteContext) -> UpdateJob | None:
            row = tx.conn.execute(CLAIM_UPDATE_SQL, {
                "worker": worker_id, "now": clock, "until": clock + lease_seconds,
                "ts": models.now(),
            }).fetchone()  # fmt: skip
            return None if row is None else row_to_update(row)

        return await self._db.write(claim)

    async def renew_lease(self, update_id: str, worker_id: str, *, lease_until: int) -> bool:
        def renew(tx: WriteContext) -> bool:
            cursor = tx.conn.execute(
                "UPDATE updates SET lease_until = ?, updated_at = ?"
                " WHERE id = ? AND status = 'in_progress' AND lease_owner = ?",
                (lease_until, now(), update_id, worker_id),
            )
            return cursor.rowcount == 1

        return await self._db.write(renew)

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
        """See ``Store.complete_update``. A target memory that is gone (deleted or expired since
        the worker read it) is a ``VersionConflict`` too, so the worker plans again rather than
        failing the update. Updates and touches with ``expires_at=None`` keep the expiry."""
        operations = list(operations)
        usage = dict(usage)

        def complete(tx: WriteContext) -> UpdateJob:
            conn = tx.conn
            _held_update(conn, update_id, worker_id, store_id=store_id, scope=scope)
            ts = now()
            write = ScopeWrite(conn, store_id, scope, ts, self._quotas)
            reported = []
            for operation in operations:
                done = _apply_operation(write, operation, update_id)
                if done is not None:
                    reported.append({"kind": operation.kind, "memory": memory_to_dict(done)})
            row = conn.execute(
                "UPDATE updates SET status = 'completed', result = ?, lease_owner = NULL,"
                " lease_until = NULL, updated_at = ? WHERE id = ? RETURNING *",
                (dump_json({"memory_operations": reported, "usage": usage}), ts, update_id),
            ).fetchone()
            deleted = [op for op in operations if op.kind == "delete"]
            if deleted:
                target = {**_audit_target(conn, store_id), "scope": scope,
                          "update_id": update_id, "worker_id": worker_id}  # fmt: skip
                for operation in deleted:
                    append_audit_sqlite(
                        conn, actor="worker", action="memory.delete",
                        target={**target, "memory_id": operation.memory_id},
                    )  # fmt: skip
            self._finish(tx, write)
            return row_to_update(row)

        return await self._db.write(complete)

    async def fail_update(
        self, update_id: str, worker_id: str, *, error: dict, retry_at: int | None = None
    ) -> UpdateJob:
        """See ``Store.fail_update``. A job put back for a retry keeps no ``error``: it is not
        failed (the worker logs why it gave up)."""
        error_json = dump_json(dict(error))

        def fail(tx: WriteContext) -> UpdateJob:
            conn = tx.conn
            _held_update(conn, update_id, worker_id)
            if retry_at is None:
                row = conn.execute(
                    "UPDATE updates SET status = 'failed', error = ?, lease_owner = NULL,"
                    " lease_until = NULL, updated_at = ? WHERE id = ? RETURNING *",
                    (error_json, now(), update_id),
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE updates SET status = 'queued', run_at = ?, lease_owner = NULL,"
                    " lease_until = NULL, updated_at = ? WHERE id = ? RETURNING *",
                    (retry_at, now(), update_id),
                ).fetchone()
            return row_to_update(row)

        return await self._db.write(fail)

    # -- memory entries --------------------------------------------------------------------

    async def create_entry(self, store_id: str, scope: str, entry: NewEntry) -> MemoryEntry:
        def create(tx: WriteContext) -> MemoryEntry:
            write = ScopeWrite(tx.conn, store_id, scope, now(), self._quotas)
            created = write.insert_entry(entry)
            self._finish(tx, write)
            return created

        return await self._db.write(create)

    async def get_entry(self, store_id: str, scope: str, path: str) -> MemoryEntry:
        def get(conn: sqlite3.Connection) -> MemoryEntry:
            return row_to_entry(_entry_row(conn, store_id, scope, path))

        return await self._db.read(get)

    async def list_entries(
        self, store_id: str, scope: str, *, limit: int, after: str | None = None
    ) -> Page[MemoryEntry]:
        check_limit(limit)

        def list_(conn: sqlite3.Connection) -> Page[MemoryEntry]:
            # `path IS NOT NULL` lets SQLite walk the partial index memories_entry_path.
            rows = conn.execute(
                "SELECT seq, id, store_id, scope, path, description, content, version,"
                " created_by, updated_by, created_at, updated_at FROM memories"
                " WHERE store_id = ? AND scope = ? AND path IS NOT NULL AND path > ?"
                " ORDER BY path LIMIT ?",
                (store_id, scope, after or "", limit + 1),
            ).fetchall()
            return Page([row_to_entry(row) for row in rows[:limit]], has_more=len(rows) > limit)

        return await self._db.read(list_)

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
        def update(tx: WriteContext) -> MemoryEntry:
            write = ScopeWrite(tx.conn, store_id, scope, now())
            updated = write.update_entry(
                path, description=description, contents=contents, embedding=embedding,
                updated_by=updated_by, expected_version=expected_version,
            )  # fmt: skip
            self._finish(tx, write)
            return updated

        return await self._db.write(update)

    async def delete_entry(
        self, store_id: str, scope: str, path: str, *, actor: str = "system"
    ) -> MemoryEntry:
        def delete(tx: WriteContext) -> MemoryEntry:
            write = ScopeWrite(tx.conn, store_id, scope, now())
            deleted = write.delete_entry(path)
            append_audit_sqlite(
                tx.conn, actor=actor, action="entry.delete",
                target={**_audit_target(tx.conn, store_id), "scope": scope, "path": path,
                        "entry_id": deleted.id},
            )  # fmt: skip
            self._finish(tx, write)
            return deleted

        return await self._db.write(delete)

    async def entry_history(self, store_id: str, scope: str, path: str) -> list[EntryRevision]:
        def history(conn: sqlite3.Connection) -> list[EntryRevision]:
            with _read_transaction(conn):
                entry_id = _entry_row(conn, store_id, scope, path)["id"]
                rows = conn.execute(
                    "SELECT * FROM memory_history WHERE memory_id = ? AND store_id = ?"
                    " AND scope = ? ORDER BY version",
                    (entry_id, store_id, scope),
                ).fetchall()
            return [row_to_entry_revision(row, path) for row in rows]

        return await self._db.read(history)

    async def search_entry_candidates(
        self, store_id: str, scope: str, *, text: str, embedding: np.ndarray | None, limit: int
    ) -> EntryCandidates:
        """See ``Store.search_entry_candidates``. Both lists come from the scope's cached index
        (entries are rows of kind ``entry`` in it); text scores are bm25 (higher is better)."""
        query = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        key = (store_id, scope)

        def search(conn: sqlite3.Connection) -> EntryCandidates:
            with _read_transaction(conn):
                head = self._scope_head(conn, key)
                if head is None or limit < 1:
                    return EntryCandidates(by_vector=[], by_text=[])
                ts = now()
                view = self._scope_view(conn, key, head, query, kinds=[ENTRY_KIND], now=ts)
                hits = view.nearest(query, limit)
                by_vector = _exact_cosines(query, _scored_entries(conn, store_id, scope, hits))
                hits = view.best_text(fts.search_terms(text), limit)
                by_text = _scored_entries(conn, store_id, scope, hits)
            return EntryCandidates(by_vector=by_vector, by_text=by_text)

        return await self._db.read(search)

    # -- the audit log ---------------------------------------------------------------------

    async def list_audit(self, *, after_seq: int = 0, limit: int = 100) -> Page[AuditEntry]:
        check_limit(limit)

        def list_(conn: sqlite3.Connection) -> Page[AuditEntry]:
            return list_audit_sqlite(conn, after_seq=after_seq, limit=limit)

        return await self._db.read(list_)

    # -- export, import and statistics ----------------------------------------------------

    async def export_memories(
        self,
        store_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        scope: str | None = None,
    ) -> Page[MemoryRecord]:
        check_limit(limit)
        kinds = ", ".join(f"'{kind.value}'" for kind in MemoryKind)
        conditions = ["store_id = ?", _VISIBLE, f"kind IN ({kinds})"]
        params: list[Any] = [store_id, now()]
        if scope is not None:
            conditions.append("scope = ?")
            params.append(scope)
        if after is not None:
            conditions.append("(scope, id) > (?, ?)")
            params.extend(after)

        def export(conn: sqlite3.Connection) -> Page[MemoryRecord]:
            with _read_transaction(conn):
                rows = conn.execute(
                    f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {' AND '.join(conditions)}"
                    " ORDER BY scope, id LIMIT ?",
                    (*params, limit + 1),
                ).fetchall()
                memories = [row_to_memory(row) for row in rows[:limit]]
                history = _history_rows(conn, store_id, [m.id for m in memories if m.version > 1])
            return Page(
                [
                    MemoryRecord(m, tuple(row_to_revision(r) for r in history.get(m.id, ())))
                    for m in memories
                ],
                has_more=len(rows) > limit,
            )

        return await self._db.read(export)

    async def import_memories(
        self, store_id: str, records: Sequence[MemoryRecord]
    ) -> list[Memory]:
        records = list(records)

        def import_(tx: WriteContext) -> list[Memory]:
            ts = now()
            _store_dimension(tx.conn, store_id)  # raises StoreNotFound
            writes: dict[str, ScopeWrite] = {}
            imported = []
            for record in records:
                memory = record.memory
                holder = tx.conn.execute(
                    "SELECT store_id FROM memories WHERE id = ?", (memory.id,)
                ).fetchone()
                if holder is not None and holder[0] != store_id:
                    # Ids are unique across stores here. The stand-in is derived from the id,
                    # so importing the same memory again finds it and skips it.
                    memory = dataclasses.replace(memory, id=_derived_id(memory.id, store_id))
                    holder = tx.conn.execute(
                        "SELECT store_id FROM memories WHERE id = ?", (memory.id,)
                    ).fetchone()
                if holder is not None:
                    continue
                write = writes.get(memory.scope)
                if write is None:
                    write = writes[memory.scope] = ScopeWrite(
                        tx.conn, store_id, memory.scope, ts, self._quotas
                    )
                imported.append(write.restore(memory, record.history))
            for write in writes.values():
                self._finish(tx, write)
            return imported

        return await self._db.write(import_)

    async def export_entries(
        self,
        store_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        scope: str | None = None,
    ) -> Page[EntryRecord]:
        check_limit(limit)
        conditions = ["store_id = ?", "path IS NOT NULL", f"kind = '{ENTRY_KIND}'"]
        params: list[Any] = [store_id]
        if scope is not None:
            conditions.append("scope = ?")
            params.append(scope)
        if after is not None:
            conditions.append("(scope, path) > (?, ?)")
            params.extend(after)

        def export(conn: sqlite3.Connection) -> Page[EntryRecord]:
            with _read_transaction(conn):
                rows = conn.execute(
                    f"SELECT {ENTRY_COLUMNS} FROM memories WHERE {' AND '.join(conditions)}"
                    " ORDER BY scope, path LIMIT ?",
                    (*params, limit + 1),
                ).fetchall()
                entries = [row_to_entry(row) for row in rows[:limit]]
                history = _history_rows(conn, store_id, [e.id for e in entries if e.version > 1])
            return Page(
                [
                    EntryRecord(
                        e, tuple(row_to_entry_revision(r, e.path) for r in history.get(e.id, ()))
                    )
                    for e in entries
                ],
                has_more=len(rows) > limit,
            )

        return await self._db.read(export)

    async def import_entries(
        self, store_id: str, records: Sequence[EntryRecord]
    ) -> list[MemoryEntry]:
        records = list(records)

        def import_(tx: WriteContext) -> list[MemoryEntry]:
            ts = now()
            _store_dimension(tx.conn, store_id)  # raises StoreNotFound
            writes: dict[str, ScopeWrite] = {}
            imported = []
            for record in records:
                entry = record.entry
                taken = tx.conn.execute(
                    "SELECT 1 FROM memories WHERE store_id = ? AND scope = ? AND path = ?",
                    (store_id, entry.scope, entry.path),
                ).fetchone()
                if taken is not None:
                    continue
                if _id_taken(tx.conn, entry.id):
                    entry = dataclasses.replace(entry, id=_derived_id(entry.id, store_id))
                    if _id_taken(tx.conn, entry.id):
                        entry = dataclasses.replace(entry, id=new_id("entry"))
                write = writes.get(entry.scope)
                if write is None:
                    write = writes[entry.scope] = ScopeWrite(
                        tx.conn, store_id, entry.scope, ts, self._quotas
                    )
                imported.append(write.restore_entry(entry, record.history))
            for write in writes.values():
                self._finish(tx, write)
            return imported

        return await self._db.write(import_)

    async def count_memories_per_store(self) -> dict[tuple[str, str], int]:
        def count(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
            rows = conn.execute(
                "SELECT project, name, (SELECT count(*) FROM memories AS m"
                " WHERE m.store_id = ms.id) FROM memory_stores AS ms"
            ).fetchall()
            return {(project, name): int(n) for project, name, n in rows}

        return await self._db.read(count)

    async def count_updates_per_status(self) -> dict[UpdateStatus, int]:
        def count(conn: sqlite3.Connection) -> dict[UpdateStatus, int]:
            counts = dict.fromkeys(UpdateStatus, 0)
            for status, n in conn.execute("SELECT status, count(*) FROM updates GROUP BY status"):
                counts[UpdateStatus(status)] = int(n)
            return counts

        return await self._db.read(count)

    # -- vector index ----------------------------------------------------------------------

    def _finish(self, tx: WriteContext, write: ScopeWrite) -> None:
        """Once ``tx`` commits, apply ``write``'s changes to the cached index of its scope."""
        if write.versions is not None:
            before, after = write.versions
            self._after_commit(tx, write.key, before, after, write.apply_to)

    def _after_commit(
        self, tx: WriteContext, key: ScopeKey, before: Version | None, after: Version, change: Any
    ) -> None:
        tx.on_commit(lambda: self._vectors.apply(key, before, after, change))

    def _scope_vectors(
        self, conn: sqlite3.Connection, key: ScopeKey, version: Version, dim: int
    ) -> ScopeVectors:
        """The scope's index at ``version``, from the cache or loaded in the caller's read
        transaction (so the rows and ``version`` come from one snapshot)."""
        index = self._vectors.get(key)
        if index is not None and index.version == version and index.dim == dim:
            return index
        # Threads missing the same scope at once wait for one load instead of each reading it.
        with self._load_locks[hash(key) % len(self._load_locks)]:
            index = self._vectors.get(key)
            if index is not None and index.version == version and index.dim == dim:
                return index
            index = load_scope_vectors(conn, *key, version=version, dim=dim)
            self._vectors.put(key, index)
            return index


class ScopeWrite:
    """The memory writes of one write task in one scope, on the task's connection.

    Every memory write runs through one of these, from the item API (``add_memories``,
    ``update_memory``, ``delete_memory``) and from a completed update (``complete_update``)
    alike. The first write bumps the scope's generation (once per task); the vector-index changes
    are collected and applied after commit (:meth:`SQLiteStore._finish`, :meth:`apply_to`).
    """

    def __init__(
        self, conn: sqlite3.Connection, store_id: str, scope: str, ts: int,
        quotas: Quotas = NO_QUOTAS,
    ) -> None:
        self.conn = conn
        self.key: ScopeKey = (store_id, scope)
        self.ts = ts
        self.quotas = quotas
        self.versions: tuple[Version | None, Version] | None = None
        self._dim: int | None = None
        # The final state of each touched row in the index: a row to upsert, or None to remove.
        self._vectors: dict[int, VectorRow | None] = {}

    @property
    def dim(self) -> int:
        """The store's embedding dimension. Raises ``StoreNotFound``."""
        if self._dim is None:
            self._dim = _store_dimension(self.conn, self.key[0])
        return self._dim

    def _take_slot(self) -> None:
        """Room for one more row in the scope, by the quotas. Raises ``QuotaExceeded``."""
        if not self.quotas.limited:
            return
        store_id, scope = self.key
        [held] = self.conn.execute(
            "SELECT COUNT(*) FROM memories WHERE store_id = ? AND scope = ?", (store_id, scope)
        ).fetchone()
        self.quotas.check_scope(scope, held)
        if held == 0 and self.quotas.scopes_per_store:
            [others] = self.conn.execute(
                "SELECT COUNT(DISTINCT scope) FROM memories WHERE store_id = ? AND scope != ?",
                (store_id, scope),
            ).fetchone()
            self.quotas.check_new_scope(scope, others)

    def _bump(self) -> int:
        """Bump the scope's generation (the first time only); returns the scope's row id."""
        if self.versions is None:
            self.versions = _bump_scope(self.conn, *self.key, self.ts)
        return self.versions[1][0]

    def _row(self, memory_id: str, expected_version: int | None) -> sqlite3.Row:
        row = _memory_row(self.conn, *self.key, memory_id, self.ts)
        if expected_version is not None and row["version"] != expected_version:
            raise VersionConflict(
                f"memory {memory_id!r} is at version {row['version']}, not {expected_version}",
                param="expected_version",
                current_version=row["version"],
            )
        return row

    def insert(self, new: NewMemory) -> Memory:
        """Insert ``new`` at version 1."""
        self._take_slot()
        store_id, scope = self.key
        kind, status = MemoryKind(new.kind), MemoryStatus(new.status)
        blob = embedding_blob(new.embedding, self.dim)
        scope_id = self._bump()
        memory_id = new_id("mem")
        source = tuple(dict(entry) for entry in new.source)
        cursor = self.conn.execute(
            "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NULL, ?, ?, ?)",
            (
                memory_id, store_id, scope, kind.value, new.content, blob, status.value,
                new.expires_at, new.created_by, dump_json(list(source)), self.ts, self.ts,
            ),
        )  # fmt: skip
        seq = cursor.lastrowid
        assert seq is not None
        _index_text(self.conn, seq, scope_id, new.content)
        embedding = np.frombuffer(blob, dtype="<f4")
        if status is MemoryStatus.ACTIVE:
            self._vectors[seq] = VectorRow(seq, kind, new.expires_at, embedding, new.content)
        return Memory(
            id=memory_id, store_id=store_id, scope=scope, kind=kind, content=new.content,
            created_at=self.ts, updated_at=self.ts, version=1, status=status,
            expires_at=new.expires_at, created_by=new.created_by, updated_by=None,
            source=source, embedding=embedding,
        )  # fmt: skip

    def restore(self, memory: Memory, history: Sequence[MemoryRevision]) -> Memory:
        """Insert an exported ``memory`` as it was (id, version, timestamps, authors), with its
        earlier texts. Raises ``InvalidRequest`` without a fitting embedding."""
        store_id, scope = self.key
        if memory.embedding is None:
            raise InvalidRequest(f"memory {memory.id!r} has no embedding", param="embedding")
        self._take_slot()
        kind, status = MemoryKind(memory.kind), MemoryStatus(memory.status)
        blob = embedding_blob(memory.embedding, self.dim)
        scope_id = self._bump()
        source = tuple(dict(entry) for entry in memory.source)
        cursor = self.conn.execute(
            "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                memory.id, store_id, scope, kind.value, memory.content, blob, status.value,
                memory.version, memory.expires_at, memory.created_by, memory.updated_by,
                dump_json(list(source)), memory.created_at, memory.updated_at,
            ),
        )  # fmt: skip
        seq = cursor.lastrowid
        assert seq is not None
        _index_text(self.conn, seq, scope_id, memory.content)
        self.conn.executemany(
            "INSERT INTO memory_history (memory_id, store_id, scope, version, content,"
            " changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (memory.id, store_id, scope, r.version, r.content, r.changed_at, r.changed_by)
                for r in history
            ],
        )
        embedding = np.frombuffer(blob, dtype="<f4")
        if status is MemoryStatus.ACTIVE:
            self._vectors[seq] = VectorRow(
                seq, kind, memory.expires_at, embedding, memory.content
            )
        return dataclasses.replace(
            memory, store_id=store_id, scope=scope, kind=kind, status=status, source=source,
            embedding=embedding,
        )  # fmt: skip

    def restore_entry(self, entry: MemoryEntry, history: Sequence[EntryRevision]) -> MemoryEntry:
        """Insert an exported ``entry`` as it was (id, version, timestamps, authors), with its
        earlier versions. Raises ``InvalidRequest`` without a fitting embedding."""
        store_id, scope = self.key
        if entry.embedding is None:
            raise InvalidRequest(f"entry {entry.path!r} has no embedding", param="embedding")
        self._take_slot()
        blob = embedding_blob(entry.embedding, self.dim)
        scope_id = self._bump()
        cursor = self.conn.execute(
            "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at, path,"
            " description) VALUES (?, ?, ?, ?, ?, ?, 'active', ?, NULL, ?, ?, '[]', ?, ?, ?, ?)",
            (
                entry.id, store_id, scope, ENTRY_KIND, entry.contents, blob, entry.version,
                entry.created_by, entry.updated_by, entry.created_at, entry.updated_at,
                entry.path, entry.description,
            ),
        )  # fmt: skip
        seq = cursor.lastrowid
        assert seq is not None
        text = entry_text(entry.path, entry.description, entry.contents)
        _index_text(self.conn, seq, scope_id, text)
        self.conn.executemany(
            "INSERT INTO memory_history (memory_id, store_id, scope, version, content,"
            " description, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (entry.id, store_id, scope, r.version, r.contents, r.description, r.changed_at,
                 r.changed_by)
                for r in history
            ],
        )  # fmt: skip
        embedding = np.frombuffer(blob, dtype="<f4")
        self._vectors[seq] = VectorRow(seq, ENTRY_KIND, None, embedding, text)
        return dataclasses.replace(entry, store_id=store_id, scope=scope, embedding=embedding)

    def update(
        self,
        memory_id: str,
        *,
        content: str,
        embedding: np.ndarray,
        updated_by: str | None,
        source: Sequence[dict],
        expires_at: int | None,
        expected_version: int | None,
    ) -> Memory:
        """New content and embedding; the old text becomes a revision; ``version + 1``.
        Raises ``MemoryNotFound``, ``VersionConflict``."""
        store_id, scope = self.key
        row = self._row(memory_id, expected_version)
        blob = embedding_blob(embedding, self.dim)
        self.conn.execute(
            "INSERT INTO memory_history (memory_id, store_id, scope, version, content,"
            " changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                memory_id, store_id, scope, row["version"], row["content"], row["updated_at"],
                row["updated_by"] or row["created_by"],
            ),
        )  # fmt: skip
        new_expiry = row["expires_at"] if expires_at is None else expires_at
        self.conn.execute(
            "UPDATE memories SET content = ?, embedding = ?, version = version + 1,"
            " updated_at = ?, updated_by = ?, source = ?, expires_at = ? WHERE seq = ?",
            (
                content, blob, self.ts, updated_by, source_json(row["source"], source),
                new_expiry, row["seq"],
            ),
        )  # fmt: skip
        _reindex_text(self.conn, row["seq"], self._bump(), content)
        return self._reread(row["seq"])

    def touch(
        self, memory_id: str, *, expires_at: int | None, expected_version: int | None
    ) -> Memory:
        """Set ``expires_at`` only (``None`` keeps it): no new version, no revision.
        Raises ``MemoryNotFound``, ``VersionConflict``."""
        row = self._row(memory_id, expected_version)
        if expires_at is not None:
            self.conn.execute(
                "UPDATE memories SET expires_at = ? WHERE seq = ?", (expires_at, row["seq"])
            )
        self._bump()
        return self._reread(row["seq"])

    def delete(self, memory_id: str, *, expected_version: int | None = None) -> Memory:
        """Delete the memory with its revisions; returns it as it was.
        Raises ``MemoryNotFound``, ``VersionConflict``."""
        row = self._row(memory_id, expected_version)
        _delete_memory_rows(self.conn, [row])
        self._bump()
        self._vectors[row["seq"]] = None
        return row_to_memory(row)

    def _reread(self, seq: int) -> Memory:
        """The memory as it is now (in this transaction); keeps its index row in step."""
        memory = row_to_memory(
            self.conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE seq = ?", (seq,)
            ).fetchone()
        )
        if memory.status is MemoryStatus.ACTIVE:
            assert memory.embedding is not None
            self._vectors[seq] = VectorRow(
                seq, memory.kind, memory.expires_at, memory.embedding, memory.content
            )
        return memory

    # -- memory entries --------------------------------------------------------------------

    def insert_entry(self, new: NewEntry) -> MemoryEntry:
        """Insert an entry at version 1. Raises ``EntryAlreadyExists``."""
        store_id, scope = self.key
        blob = embedding_blob(new.embedding, self.dim)
        taken = self.conn.execute(
            "SELECT 1 FROM memories WHERE store_id = ? AND scope = ? AND path = ?",
            (store_id, scope, new.path),
        ).fetchone()
        if taken is not None:
            raise EntryAlreadyExists(
                f"an entry already exists at {new.path!r} in this scope", param="path"
            )
        self._take_slot()
        scope_id = self._bump()
        entry_id = new_id("entry")
        cursor = self.conn.execute(
            "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at, path,"
            " description) VALUES (?, ?, ?, ?, ?, ?, 'active', 1, NULL, ?, NULL, '[]', ?, ?, ?, ?)",
            (
                entry_id, store_id, scope, ENTRY_KIND, new.contents, blob, new.created_by,
                self.ts, self.ts, new.path, new.description,
            ),
        )  # fmt: skip
        seq = cursor.lastrowid
        assert seq is not None
        text = entry_text(new.path, new.description, new.contents)
        _index_text(self.conn, seq, scope_id, text)
        embedding = np.frombuffer(blob, dtype="<f4")
        self._vectors[seq] = VectorRow(seq, ENTRY_KIND, None, embedding, text)
        return MemoryEntry(
            id=entry_id, store_id=store_id, scope=scope, path=new.path,
            description=new.description, contents=new.contents, created_at=self.ts,
            updated_at=self.ts, version=1, created_by=new.created_by, updated_by=None,
            embedding=embedding,
        )  # fmt: skip

    def update_entry(
        self,
        path: str,
        *,
        description: str,
        contents: str,
        embedding: np.ndarray,
        updated_by: str | None,
        expected_version: int | None,
    ) -> MemoryEntry:
        """New description, contents and embedding; the old ones become a revision;
        ``version + 1``. Raises ``EntryNotFound``, ``VersionConflict``."""
        store_id, scope = self.key
        row = _entry_row(self.conn, store_id, scope, path)
        if expected_version is not None and row["version"] != expected_version:
            raise VersionConflict(
                f"the entry at {path!r} is at version {row['version']}, not {expected_version}",
                param="expected_version",
                current_version=row["version"],
            )
        blob = embedding_blob(embedding, self.dim)
        self.conn.execute(
            "INSERT INTO memory_history (memory_id, store_id, scope, version, content,"
            " description, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row["id"], store_id, scope, row["version"], row["content"], row["description"],
                row["updated_at"], row["updated_by"] or row["created_by"],
            ),
        )  # fmt: skip
        self.conn.execute(
            "UPDATE memories SET content = ?, description = ?, embedding = ?,"
            " version = version + 1, updated_at = ?, updated_by = ? WHERE seq = ?",
            (contents, description, blob, self.ts, updated_by, row["seq"]),
        )
        text = entry_text(path, description, contents)
        _reindex_text(self.conn, row["seq"], self._bump(), text)
        self._vectors[row["seq"]] = VectorRow(
            row["seq"], ENTRY_KIND, None, np.frombuffer(blob, dtype="<f4"), text
        )
        return row_to_entry(_entry_row(self.conn, store_id, scope, path))

    def delete_entry(self, path: str) -> MemoryEntry:
        """Delete the entry with its revisions; returns it as it was. Raises ``EntryNotFound``."""
        row = _entry_row(self.conn, *self.key, path)
        _delete_memory_rows(self.conn, [row])
        self._bump()
        self._vectors[row["seq"]] = None
        return row_to_entry(row)

    def apply_to(self, index: ScopeVectors) -> None:
        """Apply the collected changes to the scope's cached index (after commit)."""
        index.remove([seq for seq, row in self._vectors.items() if row is None])
        index.upsert([row for row in self._vectors.values() if row is not None])


def _apply_operation(
    write: ScopeWrite, operation: PlannedOperation, update_id: str
) -> Memory | None:
    """Apply one planned operation of update ``update_id``; returns the memory to report (after
    the operation; as it was, for a delete), or None for what is not reported (touches,
    quarantined creates)."""
    memory_id = check_operation(operation)
    if memory_id is None:
        assert operation.new is not None
        created = write.insert(operation.new)
        return created if created.status is MemoryStatus.ACTIVE else None
    try:
        if operation.kind == "update":
            assert operation.content is not None and operation.embedding is not None
            return write.update(
                memory_id, content=operation.content, embedding=operation.embedding,
                updated_by=update_id, source=operation.source, expires_at=operation.expires_at,
                expected_version=operation.expected_version,
            )  # fmt: skip
        if operation.kind == "delete":
            return write.delete(memory_id, expected_version=operation.expected_version)
        write.touch(
            memory_id, expires_at=operation.expires_at, expected_version=operation.expected_version
        )
        return None
    except MemoryNotFound as exc:
        raise gone(memory_id) from exc


def load_scope_vectors(
    conn: sqlite3.Connection, store_id: str, scope: str, *, version: Version, dim: int
) -> ScopeVectors:
    """Build a scope's index from its active memories (their words from ``memories_fts``)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(
        "SELECT m.seq, m.kind, m.expires_at, m.embedding, f.words FROM memories AS m"
        " LEFT JOIN memories_fts AS f ON f.rowid = m.seq"
        " WHERE m.store_id = ? AND m.scope = ? AND m.status = 'active'",
        (store_id, scope),
    ).fetchall()
    if not rows:
        return ScopeVectors(dim, version)
    seqs, kinds, expiries, blobs, words = zip(*rows, strict=True)
    prefix = fts.scope_prefix(version[0])
    return ScopeVectors.from_arrays(
        dim=dim,
        version=version,
        keys=np.array(seqs, dtype=np.int64),
        kinds=np.array([KIND_CODES[kind] for kind in kinds], dtype=np.int8),
        expires=np.array([NO_EXPIRY if e is None else e for e in expiries], dtype=np.int64),
        vectors=stack_embeddings(blobs, dim),
        terms=[(text or "").split() for text in words],
        # Stemmed once per distinct stored word, not once per occurrence.
        normalize=lambda tokens: fts.stems(fts.unscoped_words(prefix, tokens)),
    )


# -- SQL helpers ---------------------------------------------------------------------------


def _marks(count: int) -> str:
    return ", ".join("?" * count)


@contextmanager
def _read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One snapshot for several SELECTs."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


# A job is due when queued with run_at <= now, or in progress under an expired lease. It is not
# claimable while another unfinished job of its scope is older (scopes run in order) or holds a
# live lease (scopes run one job at a time). The outer search walks updates_by_due; the NOT
# EXISTS is one probe of updates_by_scope per candidate.
CLAIM_UPDATE_SQL = """
UPDATE updates
SET status = 'in_progress', lease_owner = :worker, lease_until = :until,
    attempts = attempts + 1, updated_at = :ts
WHERE id = (
    SELECT u.id FROM updates AS u
    WHERE ((u.status = 'queued' AND u.run_at <= :now)
           OR (u.status = 'in_progress' AND u.lease_until < :now))
      AND NOT EXISTS (
          SELECT 1 FROM updates AS o
          WHERE o.store_id = u.store_id AND o.scope = u.scope
            AND o.status IN ('queued', 'in_progress') AND o.id <> u.id
            AND (o.id < u.id OR (o.status = 'in_progress' AND o.lease_until >= :now))
      )
    ORDER BY u.run_at, u.id
    LIMIT 1
)
RETURNING *
"""


def _held_update(
    conn: sqlite3.Connection,
    update_id: str,
    worker_id: str,
    *,
    store_id: str | None = None,
    scope: str | None = None,
) -> sqlite3.Row:
    """The job, if ``worker_id`` holds it (in progress under its lease, of that store and scope
    when given). Raises ``LeaseLost``."""
    row = conn.execute("SELECT * FROM updates WHERE id = ?", (update_id,)).fetchone()
    held = (
        row is not None
        and row["status"] == UpdateStatus.IN_PROGRESS.value
        and row["lease_owner"] == worker_id
        and store_id in (None, row["store_id"])
        and scope in (None, row["scope"])
    )
    if not held:
        raise LeaseLost(
            f"worker {worker_id!r} does not hold update {update_id!r}", param="update_id"
        )
    return row


def _store_row(conn: sqlite3.Connection, project: str, name: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM memory_stores WHERE project = ? AND name = ?", (project, name)
    ).fetchone()
    if row is None:
        raise StoreNotFound(f"no memory store named {name!r}", param="name")
    return row


def _audit_target(conn: sqlite3.Connection, store_id: str) -> dict[str, Any]:
    """What an audit row says about the store: its id, project and name."""
    row = conn.execute(
        "SELECT project, name FROM memory_stores WHERE id = ?", (store_id,)
    ).fetchone()
    if row is None:
        return {"store_id": store_id}
    return {"store_id": store_id, "project": row["project"], "store": row["name"]}


def _id_taken(conn: sqlite3.Connection, memory_id: str) -> bool:
    return conn.execute("SELECT 1 FROM memories WHERE id = ?", (memory_id,)).fetchone() is not None


def _derived_id(memory_id: str, store_id: str) -> str:
    """The id a memory imported into ``store_id`` takes when another store holds its own: the
    same prefix and time part (so it keeps its place in id order), and the rest a hash of both
    ids."""
    prefix, _, body = memory_id.rpartition("_")
    digest = int.from_bytes(hashlib.sha256(f"{store_id}/{memory_id}".encode()).digest()[:10])
    tail = "".join(_CROCKFORD[(digest >> (5 * i)) & 31] for i in reversed(range(16)))
    return f"{prefix or 'mem'}_{body[:10].rjust(10, '0')}{tail}"


def _store_dimension(conn: sqlite3.Connection, store_id: str) -> int:
    row = conn.execute(
        "SELECT embedding_dimension FROM memory_stores WHERE id = ?", (store_id,)
    ).fetchone()
    if row is None:
        raise StoreNotFound(f"no memory store with id {store_id!r}", param="store_id")
    return int(row[0])


def _memory_row(
    conn: sqlite3.Connection, store_id: str, scope: str, memory_id: str, ts: int
) -> sqlite3.Row:
    row = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories"
        f" WHERE id = ? AND store_id = ? AND scope = ? AND {_NOT_ENTRY} AND {_VISIBLE}",
        (memory_id, store_id, scope, ts),
    ).fetchone()
    if row is None:
        raise MemoryNotFound(f"no memory {memory_id!r} in this scope", param="memory_id")
    return row


def _entry_row(conn: sqlite3.Connection, store_id: str, scope: str, path: str) -> sqlite3.Row:
    row = conn.execute(
        f"SELECT {ENTRY_COLUMNS} FROM memories"
        " WHERE store_id = ? AND scope = ? AND path = ? AND path IS NOT NULL",
        (store_id, scope, path),
    ).fetchone()
    if row is None:
        raise EntryNotFound(f"no entry at {path!r} in this scope", param="path")
    return row


def _history_rows(
    conn: sqlite3.Connection, store_id: str, memory_ids: Sequence[str]
) -> dict[str, list[sqlite3.Row]]:
    """The ``memory_history`` rows of ``memory_ids`` (memories or entries), oldest first, by id."""
    grouped: dict[str, list[sqlite3.Row]] = {}
    if memory_ids:
        for row in conn.execute(
            f"SELECT * FROM memory_history WHERE memory_id IN ({_marks(len(memory_ids))})"
            " AND store_id = ? ORDER BY memory_id, version",
            (*memory_ids, store_id),
        ):
            grouped.setdefault(row["memory_id"], []).append(row)
    return grouped


def _exact_cosines(query: np.ndarray | None, hits: list[Scored]) -> list[Scored]:
    """Vector hits scored from their rows' float32 embeddings (the index compares in half
    precision), best first."""
    if query is None or not hits:
        return hits
    cosines = (np.stack([_embedding_of(hit) for hit in hits]) @ query).tolist()
    exact = [_rescored(hit, cosine) for hit, cosine in zip(hits, cosines, strict=True)]
    exact.sort(key=lambda hit: hit.score, reverse=True)
    return exact


def _embedding_of(hit: ScoredMemory | ScoredEntry) -> np.ndarray:
    found = hit.memory if isinstance(hit, ScoredMemory) else hit.entry
    assert found.embedding is not None  # rows read with their embedding column
    return found.embedding


def _rescored(hit: Scored, score: float) -> Scored:
    # Not dataclasses.replace: a search rescored 30 hits with it in ~0.2 ms.
    if isinstance(hit, ScoredMemory):
        return ScoredMemory(hit.memory, score)  # type: ignore[return-value]
    return ScoredEntry(hit.entry, score)  # type: ignore[return-value]


def _scored_entries(
    conn: sqlite3.Connection, store_id: str, scope: str, hits: list[tuple[int, float]]
) -> list[ScoredEntry]:
    """The entries behind vector hits, re-checked against the scope, in hit order."""
    if not hits:
        return []
    rows = conn.execute(
        f"SELECT {ENTRY_COLUMNS} FROM memories WHERE seq IN ({_marks(len(hits))})"
        f" AND +store_id = ? AND +scope = ? AND kind = '{ENTRY_KIND}'",
        (*(seq for seq, _ in hits), store_id, scope),
    ).fetchall()
    by_seq = {row["seq"]: row for row in rows}
    return [
        ScoredEntry(row_to_entry(by_seq[seq]), score) for seq, score in hits if seq in by_seq
    ]


def _bump_scope(
    conn: sqlite3.Connection, store_id: str, scope: str, ts: int
) -> tuple[Version | None, Version]:
    """Create the scope's row or bump its generation: returns its version before and after."""
    [(scope_id, generation)] = conn.execute(
        "INSERT INTO scopes (store_id, scope, generation, created_at, updated_at)"
        " VALUES (?, ?, 1, ?, ?) ON CONFLICT (store_id, scope)"
        " DO UPDATE SET generation = generation + 1, updated_at = excluded.updated_at"
        " RETURNING id, generation",
        (store_id, scope, ts, ts),
    ).fetchall()
    before = (scope_id, generation - 1) if generation > 1 else None
    return before, (scope_id, generation)


def _delete_memory_rows(conn: sqlite3.Connection, rows: Sequence[sqlite3.Row]) -> None:
    """Delete memories (rows with ``seq`` and ``id``) with their history and text index rows."""
    conn.executemany("DELETE FROM memory_history WHERE memory_id = ?", [(r["id"],) for r in rows])
    conn.executemany("DELETE FROM memories_fts WHERE rowid = ?", [(r["seq"],) for r in rows])
    conn.executemany("DELETE FROM memories WHERE seq = ?", [(r["seq"],) for r in rows])


def _active_memories(
    conn: sqlite3.Connection, store_id: str, scope: str, seqs: Collection[int], ts: int
) -> dict[int, Memory]:
    """The memories behind index hits by seq, re-checked against the scope (an index may be a
    moment behind the table: a row it still holds may be gone or changed)."""
    if not seqs:
        return {}
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(
        # The unary `+` keeps the planner on rowid lookups; without statistics it would rather
        # walk the whole scope through memories_by_scope.
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE seq IN ({_marks(len(seqs))})"
        f" AND +store_id = ? AND +scope = ? AND status = 'active' AND {_VISIBLE}",
        (*seqs, store_id, scope, ts),
    ).fetchall()
    return {row[0]: memory_of(*row[1:]) for row in rows}


def _page_rows(
    conn: sqlite3.Connection,
    select: str,
    conditions: list[str],
    params: list[Any],
    *,
    limit: int,
    order: Order,
    after: str | None,
    before: str | None,
) -> tuple[list[sqlite3.Row], bool]:
    plan = plan_page(order, after, before)
    conditions = [*conditions, *(f"id {op} ?" for op, _ in plan.bounds)]
    params = [*params, *(value for _, value in plan.bounds), limit + 1]
    direction = "ASC" if plan.ascending else "DESC"
    rows = conn.execute(
        f"{select} WHERE {' AND '.join(conditions)} ORDER BY id {direction} LIMIT ?", params
    ).fetchall()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if plan.reverse:
        rows.reverse()
    return rows, has_more
