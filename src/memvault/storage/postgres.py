"""The Store protocol on PostgreSQL with pgvector: the backend for many replicas and workers.

* Connections: a ``psycopg_pool.AsyncConnectionPool``; one transaction per unit of work
  (:meth:`PostgresStore._run`), retried whole on a deadlock or serialization failure.
* Row-level security (``migrations/postgres/0003_row_level_security.sql``): every transaction
  first says what it may see with transaction-local settings (:class:`Guard`): one scope, every
  scope of one store, or everything (the queue). The WHERE clauses below already confine each
  query; the policies are a second guard that holds even when one of them is wrong.
* Vector search: ``memories.embedding`` is an untyped ``vector`` (stores differ in dimension).
  Inside a scope of at most ``postgres_exact_search_rows`` memories the search is exact (an
  ordered scan of the scope through ``memories_by_scope``): small scopes are the common case, and
  there it is both exact and as fast as the index. Larger scopes use the dimension's partial HNSW
  index (``memories_embedding_<dim>`` on ``embedding::vector(<dim>)``, halfvec above 2,000
  dimensions), created when the first store of that dimension is created, with iterative scans
  (pgvector 0.8+) so that filtering by scope still yields ``limit`` rows; when it yields fewer
  (older pgvector, a very selective scope) the exact scan answers instead.
* Text search: a generated ``tsvector`` column (english configuration) with a GIN index; the
  query ORs ``plainto_tsquery`` of each term :func:`memvault.storage.fts.query_terms` keeps (so
  user text is never tsquery syntax) and ranks with ``ts_rank_cd``.
* Updates: the job queue in ``updates``. Enqueues of one scope serialise on an advisory lock, so
  a later update supersedes an earlier one whichever replica accepted each; claims take the due
  job with ``FOR UPDATE SKIP LOCKED`` (:data:`CLAIM_UPDATE_SQL`); leases and the per-scope order
  follow the SQLite backend exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import numpy as np
import psycopg
import psycopg.errors
from psycopg import AsyncConnection, AsyncCursor
from psycopg.adapt import Loader
from psycopg.rows import dict_row
from psycopg.types import TypeInfo
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from memvault import models
from memvault.errors import (
    EntryAlreadyExists,
    EntryNotFound,
    InvalidRequest,
    LeaseLost,
    MemoryNotFound,
    MemvaultError,
    ServiceUnavailable,
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
    memory_to_dict,
    new_id,
    now,
)
from memvault.settings import Settings
from memvault.storage import fts
from memvault.storage.audit import AuditEntry, append_audit_postgres, list_audit_postgres
from memvault.storage.base import FollowUp, Order
from memvault.storage.migrations import apply_postgres
from memvault.storage.operations import check_operation, gone
from memvault.storage.quotas import NO_QUOTAS, Quotas
from memvault.storage.rows import (
    check_limit,
    dump_json,
    embedding_blob,
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

log = logging.getLogger(__name__)

T = TypeVar("T")
Row = dict[str, Any]
Conn = AsyncConnection[Row]

MEMORY_COLUMNS = (
    "store_id, id, scope, kind, content, embedding, status, version, expires_at, created_by,"
    " updated_by, source, created_at, updated_at"
)
_VISIBLE = "(expires_at IS NULL OR expires_at > %(now)s)"
_IN_SCOPE = "store_id = %(store_id)s AND scope = %(scope)s"
# Memory calls skip entries (rows of ENTRY_KIND; see migrations/postgres/0005_entries.sql).
_NOT_ENTRY = f"kind <> '{ENTRY_KIND}'"
ENTRY_COLUMNS = (
    "store_id, id, scope, path, description, content, embedding, version, created_by,"
    " updated_by, created_at, updated_at"
)

# pgvector's HNSW indexes take `vector` up to 2,000 dimensions and `halfvec` (0.7+) up to 4,000.
HNSW_VECTOR_MAX_DIM = 2_000
HNSW_HALFVEC_MAX_DIM = 4_000
_INDEX_NAME = re.compile(r"^memories_embedding_(\d+)$")

# Unit-of-work retries on a deadlock or serialization failure (the whole transaction reruns).
_RETRIES = 3
# How long creating a store waits for another replica's build of its dimension's index.
_INDEX_WAIT_SECONDS = 60


# -- the guard: what a transaction may see --------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Guard:
    """The row-level-security settings a transaction starts with.

    ``Guard.scope(store_id, scope)`` sees one scope; ``Guard.store(store_id)`` every scope of one
    store; ``Guard.everything()`` every row (queue-wide work); ``Guard.nothing()`` no row of a
    scoped table (store metadata only).
    """

    store_id: str | None = None
    scope: str | None = None
    all_scopes: bool = False
    all_stores: bool = False

    @classmethod
    def scoped(cls, store_id: str, scope: str) -> Guard:
        return cls(store_id=store_id, scope=scope)

    @classmethod
    def store(cls, store_id: str) -> Guard:
        return cls(store_id=store_id, all_scopes=True)

    @classmethod
    def everything(cls) -> Guard:
        return cls(all_stores=True)

    @classmethod
    def nothing(cls) -> Guard:
        return cls()

    async def apply(self, conn: Conn) -> None:
        """Set the transaction-local settings the policies read (``SET LOCAL`` by function, so
        that values are parameters)."""
        if self.all_stores:
            await conn.execute("SELECT set_config('memvault.all_stores', 'on', true)")
        elif self.store_id is not None and self.all_scopes:
            await conn.execute(
                "SELECT set_config('memvault.store_id', %s, true),"
                " set_config('memvault.all_scopes', 'on', true)",
                (self.store_id,),
            )
        elif self.store_id is not None and self.scope is not None:
            await conn.execute(
                "SELECT set_config('memvault.store_id', %s, true),"
                " set_config('memvault.scope', %s, true)",
                (self.store_id, self.scope),
            )


# -- vectors on the wire ----------------------------------------------------------------------


class _VectorBinaryLoader(Loader):
    """pgvector's binary ``vector`` (uint16 dim, uint16 unused, big-endian float32s) as a
    little-endian float32 array, without a Python float per element."""

    format = psycopg.pq.Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        dim = int.from_bytes(bytes(data[:2]), "big")
        return np.frombuffer(data, dtype=">f4", count=dim, offset=4).astype("<f4")


class _VectorTextLoader(Loader):
    format = psycopg.pq.Format.TEXT

    def load(self, data: Any) -> np.ndarray:
        text = bytes(data).decode("ascii").strip("[]")
        return np.array([float(x) for x in text.split(",")] if text else [], dtype="<f4")


async def _configure(conn: Conn) -> None:
    """Per new pooled connection: the ``vector`` type's adapters."""
    from pgvector.psycopg import register_vector_async

    await register_vector_async(conn)  # dumps numpy arrays as vectors
    info = await TypeInfo.fetch(conn, "vector")
    assert info is not None
    conn.adapters.register_loader(info.oid, _VectorBinaryLoader)
    conn.adapters.register_loader(info.oid, _VectorTextLoader)
    await conn.commit()


def _vector_param(embedding: np.ndarray, dim: int) -> np.ndarray:
    """``embedding`` checked (shape, finite) and ready to send. Raises ``InvalidRequest``."""
    return np.frombuffer(embedding_blob(embedding, dim), dtype="<f4")


# -- errors -----------------------------------------------------------------------------------


def translate_error(exc: BaseException) -> BaseException:
    """``exc`` as a memvault error: nothing from psycopg leaves the storage layer."""
    if isinstance(exc, MemvaultError):
        return exc
    if isinstance(exc, UnicodeEncodeError):
        error: MemvaultError = InvalidRequest(f"text is not valid Unicode: {exc.reason}")
    elif isinstance(exc, psycopg.DataError):
        # Class 22 (a NUL character, an unsupported \\u0000 escape in JSON, a bad number).
        error = InvalidRequest(f"the database refused a value: {_first_line(exc)}")
    elif isinstance(exc, psycopg.OperationalError | PoolTimeout):
        error = ServiceUnavailable(f"the database is unavailable: {_first_line(exc)}")
    elif isinstance(exc, psycopg.Error):
        error = MemvaultError(f"storage error: {_first_line(exc)}")
    else:
        return exc
    error.__cause__ = exc
    return error


def _first_line(exc: BaseException) -> str:
    return (str(exc) or type(exc).__name__).splitlines()[0]


def _retryable(exc: BaseException) -> bool:
    return isinstance(
        exc, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure
    )


# -- the store ----------------------------------------------------------------------------------


class PostgresStore:
    """Memory stores in one PostgreSQL database (see the module docstring for the design).

    ``url`` is a libpq URL (``postgresql://user:password@host:5432/db?sslmode=require``).
    Any number of ``PostgresStore`` objects, in any number of processes, may share a database.
    """

    text_search_in_memory = False

    def __init__(self, url: str, settings: Settings | None = None) -> None:
        settings = settings or Settings()
        self.url = url
        self.exact_search_rows = settings.postgres_exact_search_rows
        self.ef_search = settings.postgres_ef_search
        self._quotas = Quotas.from_settings(settings)
        self._pool = AsyncConnectionPool(
            url,
            min_size=min(settings.postgres_pool_min_size, settings.postgres_pool_size),
            max_size=settings.postgres_pool_size,
            timeout=settings.postgres_pool_timeout,
            kwargs={
                "row_factory": dict_row,
                "prepare_threshold": 5 if settings.postgres_prepared_statements else None,
            },
            configure=_configure,
            open=False,
            name="memvault",
        )
        self._opened = False
        self._closed = False
        self.pgvector_version: tuple[int, ...] = ()
        self._indexed: set[int] = set()
        self._indexed_checked = time.monotonic()
        self._index_locks: dict[int, asyncio.Lock] = {}

    @property
    def pool(self) -> AsyncConnectionPool:
        return self._pool

    @property
    def iterative_scan(self) -> bool:
        """pgvector 0.8+ resumes an HNSW scan until enough rows pass the filter."""
        return self.pgvector_version >= (0, 8)

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        try:
            async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                await apply_postgres(conn)
                cursor = await conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                )
                row = await cursor.fetchone()
                assert row is not None
                self.pgvector_version = tuple(int(p) for p in re.findall(r"\d+", row[0]))
                self._indexed = await _indexed_dimensions(conn)
            await self._pool.open(wait=True)
        except BaseException as exc:
            await self._pool.close()
            self._closed = True
            error = translate_error(exc)
            if error is exc:
                raise
            raise error from exc
        self._opened = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._pool.close()

    async def _run(
        self, guard: Guard, fn: Callable[[Conn], Awaitable[T]], *, snapshot: bool = False
    ) -> T:
        """Run ``fn`` in one transaction that starts with ``guard``; commit, or roll back on
        any exception. Deadlocks and serialization failures rerun the whole unit.

        ``snapshot``: a read-only transaction whose statements all see one snapshot (REPEATABLE
        READ), for reads of several statements that must agree with each other.
        """
        if not self._opened or self._closed:
            raise ServiceUnavailable("the store is closed (or was never opened)")
        for attempt in range(_RETRIES):
            try:
                async with self._pool.connection() as conn:
                    async with conn.transaction():
                        if snapshot:
                            await conn.execute(
                                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
                            )
                        await guard.apply(conn)
                        return await fn(conn)
            except Exception as exc:
                if _retryable(exc) and attempt + 1 < _RETRIES:
                    log.info("retrying a transaction after %s", type(exc).__name__)
                    continue
                error = translate_error(exc)
                if error is exc:
                    raise
                raise error from exc
        raise AssertionError("unreachable")

    # -- memory stores ---------------------------------------------------------------------

    async def create_store(self, store: MemoryStore) -> MemoryStore:
        ts = now()
        store = dataclasses.replace(
            store, created_at=store.created_at or ts, updated_at=store.updated_at or ts
        )
        params = store_params(store)
        columns = ", ".join(params)
        values = ", ".join(
            f"%({name})s::jsonb" if name in ("options", "metadata", "notices") else f"%({name})s"
            for name in params
        )

        async def create(conn: Conn) -> None:
            cursor = await conn.execute(
                f"INSERT INTO memory_stores ({columns}) VALUES ({values})"
                " ON CONFLICT (project, name) DO NOTHING RETURNING id",
                params,
            )
            if await cursor.fetchone() is None:
                raise StoreAlreadyExists(
                    f"a memory store named {store.name!r} already exists", param="name"
                )

        await self._run(Guard.nothing(), create)
        await self._ensure_vector_index(store.embedding_dimension)
        return store

    async def get_store(self, project: str, name: str) -> MemoryStore:
        async def get(conn: Conn) -> MemoryStore:
            return row_to_store(await _store_row(conn, project, name))

        return await self._run(Guard.nothing(), get)

    async def find_store_by_id(self, store_id: str) -> MemoryStore:
        async def find(conn: Conn) -> MemoryStore:
            row = await _fetchone(conn, "SELECT * FROM memory_stores WHERE id = %s", (store_id,))
            if row is None:
                raise StoreNotFound(f"no memory store with id {store_id!r}", param="store_id")
            return row_to_store(row)

        return await self._run(Guard.nothing(), find)

    async def update_store(
        self,
        project: str,
        name: str,
        *,
        description: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> MemoryStore:
        async def update(conn: Conn) -> MemoryStore:
            row = await _store_row(conn, project, name, lock=True)
            updated = await _fetchone(
                conn,
                "UPDATE memory_stores SET description = %s, metadata = %s::jsonb,"
                " updated_at = %s WHERE id = %s RETURNING *",
                (
                    row["description"] if description is None else description,
                    dump_json(row["metadata"] if metadata is None else dict(metadata)),
                    max(now(), row["updated_at"]),
                    row["id"],
                ),
            )
            assert updated is not None
            return row_to_store(updated)

        return await self._run(Guard.nothing(), update)

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

        async def list_(conn: Conn) -> Page[MemoryStore]:
            rows, has_more = await _page_rows(
                conn, "SELECT * FROM memory_stores", ["project = %(project)s"],
                {"project": project}, limit=limit, order=order, after=after, before=before,
            )  # fmt: skip
            return Page([row_to_store(row) for row in rows], has_more=has_more)

        return await self._run(Guard.nothing(), list_)

    async def delete_store(self, project: str, name: str, *, actor: str = "system") -> None:
        store_id = (await self.get_store(project, name)).id

        async def delete(conn: Conn) -> None:
            # Under the row lock: a concurrent delete of the same store finds it gone.
            row = await _fetchone(
                conn, "SELECT id FROM memory_stores WHERE id = %s FOR UPDATE", (store_id,)
            )
            if row is None:
                raise StoreNotFound(f"no memory store named {name!r}", param="name")
            target = await _audit_target(conn, store_id)
            deleted = await conn.execute("DELETE FROM memories WHERE store_id = %s", (store_id,))
            target["memories_deleted"] = deleted.rowcount
            await conn.execute("DELETE FROM updates WHERE store_id = %s", (store_id,))
            await conn.execute(
                "DELETE FROM grants WHERE securable_type = 'memory_store' AND securable = %s",
                (store_id,),
            )
            await conn.execute("DELETE FROM memory_stores WHERE id = %s", (store_id,))
            await append_audit_postgres(conn, actor=actor, action="store.delete", target=target)

        await self._run(Guard.store(store_id), delete)

    async def list_scopes(
        self, store_id: str, *, limit: int, after: str | None = None
    ) -> Page[ScopeSummary]:
        """See ``Store.list_scopes``. ``COLLATE "C"`` orders by code point as SQLite does,
        whatever the database's collation; it also keeps the order off the index, so a page
        groups the whole store's memories."""
        check_limit(limit)
        conditions = ["store_id = %(store_id)s", "kind = ANY(%(kinds)s)", _VISIBLE]
        params: dict[str, Any] = {
            "store_id": store_id, "kinds": [kind.value for kind in MemoryKind], "now": now(),
            "after": after, "limit": limit + 1,
        }  # fmt: skip
        if after is not None:
            conditions.append('scope COLLATE "C" > %(after)s')

        async def list_(conn: Conn) -> Page[ScopeSummary]:
            rows = await _fetchall(
                conn,
                'SELECT scope COLLATE "C" AS scope,'
                " count(*) FILTER (WHERE status = 'active') AS active,"
                " count(*) FILTER (WHERE status = 'quarantined') AS quarantined,"
                " max(updated_at) AS updated_at"
                f" FROM memories WHERE {' AND '.join(conditions)}"
                " GROUP BY 1 ORDER BY 1 LIMIT %(limit)s",
                params,
            )
            return Page([scope_summary(row) for row in rows[:limit]], has_more=len(rows) > limit)

        return await self._run(Guard.store(store_id), list_)

    # -- memories --------------------------------------------------------------------------

    async def add_memories(
        self, store_id: str, scope: str, memories: Sequence[NewMemory]
    ) -> list[Memory]:
        memories = list(memories)
        if not memories:
            return []

        async def add(conn: Conn) -> list[Memory]:
            write = ScopeWrite(conn, store_id, scope, now(), self._quotas)
            return await write.insert_many(memories)

        return await self._run(Guard.scoped(store_id, scope), add)

    async def get_memory(self, store_id: str, scope: str, memory_id: str) -> Memory:
        async def get(conn: Conn) -> Memory:
            return row_to_memory(await _memory_row(conn, store_id, scope, memory_id, now()))

        return await self._run(Guard.scoped(store_id, scope), get)

    async def find_memory_in_store(self, store_id: str, memory_id: str) -> Memory:
        async def find(conn: Conn) -> Memory:
            row = await _fetchone(
                conn,
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE store_id = %(store_id)s"
                f" AND id = %(id)s AND {_NOT_ENTRY} AND {_VISIBLE}",
                {"store_id": store_id, "id": memory_id, "now": now()},
            )
            if row is None:
                raise MemoryNotFound(f"no memory {memory_id!r} in this store", param="memory_id")
            return row_to_memory(row)

        return await self._run(Guard.store(store_id), find)

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
        """See ``Store.update_memory``."""
        source = [dict(entry) for entry in source]

        async def update(conn: Conn) -> Memory:
            write = ScopeWrite(conn, store_id, scope, now())
            return await write.update(
                memory_id, content=content, embedding=embedding, updated_by=updated_by,
                source=source, expires_at=expires_at, expected_version=expected_version,
            )  # fmt: skip

        return await self._run(Guard.scoped(store_id, scope), update)

    async def delete_memory(
        self, store_id: str, scope: str, memory_id: str, *, actor: str = "system"
    ) -> Memory:
        async def delete(conn: Conn) -> Memory:
            deleted = await ScopeWrite(conn, store_id, scope, now()).delete(memory_id)
            target = {**await _audit_target(conn, store_id), "scope": scope,
                      "memory_id": memory_id}  # fmt: skip
            await append_audit_postgres(conn, actor=actor, action="memory.delete", target=target)
            return deleted

        return await self._run(Guard.scoped(store_id, scope), delete)

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
        conditions = [_IN_SCOPE, "status = %(status)s", _NOT_ENTRY, _VISIBLE]
        params: dict[str, Any] = {
            "store_id": store_id, "scope": scope, "status": MemoryStatus(status).value,
            "now": now(),
        }  # fmt: skip
        if kind is not None:
            conditions.append("kind = %(kind)s")
            params["kind"] = MemoryKind(kind).value

        async def list_(conn: Conn) -> Page[Memory]:
            rows, has_more = await _page_rows(
                conn, f"SELECT {MEMORY_COLUMNS} FROM memories", conditions, params,
                limit=limit, order=order, after=after, before=before,
            )  # fmt: skip
            return Page([row_to_memory(row) for row in rows], has_more=has_more)

        return await self._run(Guard.scoped(store_id, scope), list_)

    async def count_memories(self, store_id: str, scope: str) -> int:
        async def count(conn: Conn) -> int:
            row = await _fetchone(
                conn,
                f"SELECT count(*) AS n FROM memories WHERE {_IN_SCOPE}"
                f" AND status = 'active' AND {_NOT_ENTRY} AND {_VISIBLE}",
                {"store_id": store_id, "scope": scope, "now": now()},
            )
            assert row is not None
            return int(row["n"])

        return await self._run(Guard.scoped(store_id, scope), count)

    async def memory_history(
        self, store_id: str, scope: str, memory_id: str
    ) -> list[MemoryRevision]:
        async def history(conn: Conn) -> list[MemoryRevision]:
            await _memory_row(conn, store_id, scope, memory_id, now())
            rows = await _fetchall(
                conn,
                "SELECT * FROM memory_history WHERE store_id = %s AND memory_id = %s"
                " AND scope = %s ORDER BY version",
                (store_id, memory_id, scope),
            )
            return [row_to_revision(row) for row in rows]

        return await self._run(Guard.scoped(store_id, scope), history)

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
        """See ``Store.search_candidates``. Vector scores are cosine similarities; text scores
        are ``ts_rank_cd`` (higher is better)."""
        kinds = [MemoryKind(kind) for kind in kinds]
        query = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        terms = fts.query_terms(text)
        params = {
            "store_id": store_id, "scope": scope, "now": now(),
            "kinds": [kind.value for kind in kinds], "limit": limit,
        }  # fmt: skip

        async def search(conn: Conn) -> SearchCandidates:
            by_vector: list[ScoredMemory] = []
            if query is not None:
                by_vector = await self._vector_hits(conn, query, params)
            by_text: list[ScoredMemory] = []
            if terms and kinds and limit > 0:
                by_text = await _text_hits(conn, terms, params)
            first = SearchCandidates(by_vector=by_vector, by_text=by_text)
            then = follow(first) if follow is not None else None
            if then is None:
                return first
            then_terms, then_limit = fts.query_terms(then[0]), then[1]
            followed: list[ScoredMemory] = []
            if then_terms and kinds and then_limit > 0:
                followed = await _text_hits(conn, then_terms, {**params, "limit": then_limit})
            return SearchCandidates(by_vector=by_vector, by_text=by_text, followed=followed)

        return await self._run(Guard.scoped(store_id, scope), search)

    async def _vector_hits(
        self, conn: Conn, query: np.ndarray, params: dict[str, Any]
    ) -> list[ScoredMemory]:
        """The scope's nearest memories: exact in a small scope, through the HNSW index in a
        large one (exact again when the index yields too few)."""
        head = await _fetchone(
            conn,
            "SELECT ms.embedding_dimension AS dim, (SELECT count(*) FROM (SELECT 1 FROM memories"
            f" WHERE {_IN_SCOPE} LIMIT %(probe)s) AS probe) AS rows"
            " FROM memory_stores AS ms WHERE ms.id = %(store_id)s",
            {**params, "probe": self.exact_search_rows + 1},
        )
        if head is None:  # no such store: nothing to find
            return []
        dim = head["dim"]
        if query.shape != (dim,):
            raise InvalidRequest(
                f"query embedding has shape {query.shape}, the store's model gives ({dim},)",
                param="embedding",
            )
        if params["limit"] < 1 or not params["kinds"] or head["rows"] == 0:
            return []
        params = {**params, "query": _vector_param(query, dim)}
        large = head["rows"] > self.exact_search_rows
        if large and dim not in self._indexed:
            await self._refresh_indexed(conn)
        if large and dim in self._indexed:
            hits = await self._indexed_hits(conn, dim, params)
            if len(hits) >= params["limit"]:
                return hits
        return await _scored(conn, EXACT_SEARCH_SQL, params)

    async def _indexed_hits(
        self, conn: Conn, dim: int, params: dict[str, Any]
    ) -> list[ScoredMemory]:
        ef_search = min(max(self.ef_search, params["limit"]), 1_000)
        await conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true)", (str(ef_search),)
        )
        if self.iterative_scan:
            await conn.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
        sql = INDEXED_SEARCH_SQL.format(cast=_index_cast(dim), dim=dim)
        return await _scored(conn, sql, {**params, "candidates": max(ef_search, params["limit"])})

    async def delete_scope(self, store_id: str, scope: str, *, actor: str = "system") -> int:
        """See ``Store.delete_scope``; the count is of unexpired memories of any status."""
        error = dump_json(
            {"code": "scope_deleted", "message": "the scope was deleted before this update ran"}
        )

        async def delete(conn: Conn) -> int:
            ts = now()
            params = {"store_id": store_id, "scope": scope, "now": ts, "error": error}
            await conn.execute(
                "UPDATE updates SET status = 'failed', error = %(error)s::jsonb,"
                " lease_owner = NULL, lease_until = NULL, updated_at = %(now)s"
                f" WHERE {_IN_SCOPE} AND status IN ('queued', 'in_progress')",
                params,
            )
            row = await _fetchone(
                conn,
                f"WITH gone AS (DELETE FROM memories WHERE {_IN_SCOPE} RETURNING expires_at)"
                f" SELECT count(*) FILTER (WHERE {_VISIBLE}) AS n FROM gone",
                params,
            )
            assert row is not None
            count = int(row["n"])
            target = {**await _audit_target(conn, store_id), "scope": scope,
                      "memories_deleted": count}  # fmt: skip
            await append_audit_postgres(conn, actor=actor, action="scope.delete", target=target)
            return count

        return await self._run(Guard.scoped(store_id, scope), delete)

    async def purge_expired(self, now: int, *, actor: str = "system") -> int:
        cutoff = now

        async def purge(conn: Conn) -> int:
            row = await _fetchone(
                conn,
                "WITH gone AS (DELETE FROM memories WHERE expires_at IS NOT NULL"
                " AND expires_at <= %s RETURNING 1) SELECT count(*) AS n FROM gone",
                (cutoff,),
            )
            assert row is not None
            count = int(row["n"])
            if count:
                await append_audit_postgres(
                    conn, actor=actor, action="memory.purge",
                    target={"expired_before": cutoff, "memories_deleted": count},
                )  # fmt: skip
            return count

        return await self._run(Guard.everything(), purge)

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
        conditions = ["store_id = %(store_id)s", "kind = ANY(%(kinds)s)", _VISIBLE]
        params: dict[str, Any] = {
            "store_id": store_id, "kinds": [kind.value for kind in MemoryKind], "now": now(),
            "limit": limit + 1, "scope": scope,
        }  # fmt: skip
        if scope is not None:
            conditions.append("scope = %(scope)s")
        if after is not None:
            conditions.append("(scope, id) > (%(after_scope)s, %(after_id)s)")
            params["after_scope"], params["after_id"] = after

        async def export(conn: Conn) -> Page[MemoryRecord]:
            rows = await _fetchall(
                conn,
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {' AND '.join(conditions)}"
                " ORDER BY scope, id LIMIT %(limit)s",
                params,
            )
            memories = [row_to_memory(row) for row in rows[:limit]]
            history = await _history_rows(
                conn, store_id, [m.id for m in memories if m.version > 1]
            )
            return Page(
                [
                    MemoryRecord(m, tuple(row_to_revision(r) for r in history.get(m.id, ())))
                    for m in memories
                ],
                has_more=len(rows) > limit,
            )

        guard = Guard.store(store_id) if scope is None else Guard.scoped(store_id, scope)
        return await self._run(guard, export, snapshot=True)

    async def import_memories(
        self, store_id: str, records: Sequence[MemoryRecord]
    ) -> list[Memory]:
        records = list(records)

        async def import_(conn: Conn) -> list[Memory]:
            ts = now()
            await _store_dimension(conn, store_id)  # raises StoreNotFound
            writes: dict[str, ScopeWrite] = {}
            imported = []
            for record in records:
                scope = record.memory.scope
                write = writes.get(scope)
                if write is None:
                    write = writes[scope] = ScopeWrite(conn, store_id, scope, ts, self._quotas)
                memory = await write.restore(record.memory, record.history)
                if memory is not None:
                    imported.append(memory)
            return imported

        return await self._run(Guard.store(store_id), import_)

    async def export_entries(
        self,
        store_id: str,
        *,
        limit: int,
        after: tuple[str, str] | None = None,
        scope: str | None = None,
    ) -> Page[EntryRecord]:
        check_limit(limit)
        conditions = ["store_id = %(store_id)s", "path IS NOT NULL", f"kind = '{ENTRY_KIND}'"]
        params: dict[str, Any] = {"store_id": store_id, "limit": limit + 1, "scope": scope}
        if scope is not None:
            conditions.append("scope = %(scope)s")
        if after is not None:
            conditions.append("(scope, path) > (%(after_scope)s, %(after_path)s)")
            params["after_scope"], params["after_path"] = after

        async def export(conn: Conn) -> Page[EntryRecord]:
            rows = await _fetchall(
                conn,
                f"SELECT {ENTRY_COLUMNS} FROM memories WHERE {' AND '.join(conditions)}"
                " ORDER BY scope, path LIMIT %(limit)s",
                params,
            )
            entries = [row_to_entry(row) for row in rows[:limit]]
            history = await _history_rows(
                conn, store_id, [e.id for e in entries if e.version > 1]
            )
            return Page(
                [
                    EntryRecord(
                        e, tuple(row_to_entry_revision(r, e.path) for r in history.get(e.id, ()))
                    )
                    for e in entries
                ],
                has_more=len(rows) > limit,
            )

        guard = Guard.store(store_id) if scope is None else Guard.scoped(store_id, scope)
        return await self._run(guard, export, snapshot=True)

    async def import_entries(
        self, store_id: str, records: Sequence[EntryRecord]
    ) -> list[MemoryEntry]:
        records = list(records)

        async def import_(conn: Conn) -> list[MemoryEntry]:
            ts = now()
            await _store_dimension(conn, store_id)  # raises StoreNotFound
            writes: dict[str, ScopeWrite] = {}
            imported = []
            for record in records:
                scope = record.entry.scope
                write = writes.get(scope)
                if write is None:
                    write = writes[scope] = ScopeWrite(conn, store_id, scope, ts, self._quotas)
                entry = await write.restore_entry(record.entry, record.history)
                if entry is not None:
                    imported.append(entry)
            return imported

        return await self._run(Guard.store(store_id), import_)

    async def count_memories_per_store(self) -> dict[tuple[str, str], int]:
        async def count(conn: Conn) -> dict[tuple[str, str], int]:
            rows = await _fetchall(
                conn,
                "SELECT project, name, (SELECT count(*) FROM memories AS m"
                " WHERE m.store_id = ms.id) AS n FROM memory_stores AS ms",
            )
            return {(row["project"], row["name"]): int(row["n"]) for row in rows}

        return await self._run(Guard.everything(), count)

    async def count_updates_per_status(self) -> dict[UpdateStatus, int]:
        async def count(conn: Conn) -> dict[UpdateStatus, int]:
            counts = dict.fromkeys(UpdateStatus, 0)
            for row in await _fetchall(
                conn, "SELECT status, count(*) AS n FROM updates GROUP BY status"
            ):
                counts[UpdateStatus(row["status"])] = int(row["n"])
            return counts

        return await self._run(Guard.everything(), count)

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

        async def enqueue(conn: Conn) -> UpdateJob:
            ts = now()
            await _store_dimension(conn, store_id)  # raises StoreNotFound
            # One enqueue per scope at a time, across every replica: each sees the updates the
            # previous one left queued, so the later always supersedes the earlier.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"memvault.enqueue/{store_id}/{scope}",),
            )
            superseded = await _fetchall(
                conn,
                "UPDATE updates SET status = 'superseded', superseded_by = %s, updated_at = %s"
                " WHERE store_id = %s AND scope = %s AND status = 'queued'"
                " RETURNING seq, messages",
                (update_id, ts, store_id, scope),
            )
            carried = [
                UpdateMessage(m["role"], m["text"], m["update_id"])
                for row in sorted(superseded, key=lambda row: row["seq"])
                for m in row["messages"]
            ]
            row = await _fetchone(
                conn,
                "INSERT INTO updates (id, store_id, scope, status, messages, run_at, created_at,"
                " updated_at, previous_update_id)"
                " VALUES (%s, %s, %s, 'queued', %s::jsonb, %s, %s, %s, %s) RETURNING *",
                (
                    update_id, store_id, scope, messages_json([*carried, *messages]), run_at,
                    ts, ts, previous_update_id,
                ),
            )  # fmt: skip
            assert row is not None
            return row_to_update(row)

        return await self._run(Guard.scoped(store_id, scope), enqueue)

    async def get_update(self, store_id: str, update_id: str) -> UpdateJob:
        async def get(conn: Conn) -> UpdateJob:
            row = await _fetchone(
                conn, "SELECT * FROM updates WHERE store_id = %s AND id = %s",
                (store_id, update_id),
            )  # fmt: skip
            if row is None:
                raise UpdateNotFound(f"no update {update_id!r} in this store", param="update_id")
            return row_to_update(row)

        return await self._run(Guard.store(store_id), get)

    async def claim_update(
        self, worker_id: str, *, now: int, lease_seconds: int
    ) -> UpdateJob | None:
        """See ``Store.claim_update`` and :data:`CLAIM_UPDATE_SQL`."""
        params = {
            "worker": worker_id, "now": now, "until": now + lease_seconds,
            "ts": models.now(),
        }  # fmt: skip

        async def claim(conn: Conn) -> UpdateJob | None:
            row = await _fetchone(conn, CLAIM_UPDATE_SQL, params)
            return None if row is None else row_to_update(row)

        return await self._run(Guard.everything(), claim)

    async def renew_lease(self, update_id: str, worker_id: str, *, lease_until: int) -> bool:
        async def renew(conn: Conn) -> bool:
            cursor = await conn.execute(
                "UPDATE updates SET lease_until = %s, updated_at = %s"
                " WHERE id = %s AND status = 'in_progress' AND lease_owner = %s",
                (lease_until, now(), update_id, worker_id),
            )
            return cursor.rowcount == 1

        return await self._run(Guard.everything(), renew)

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
        """See ``Store.complete_update``. The job's row stays locked until commit, so a
        concurrent claim, renewal or ``delete_scope`` waits for the outcome. A target memory
        that is gone is a ``VersionConflict`` too. Updates and touches with
        ``expires_at=None`` keep the expiry."""
        operations = list(operations)
        usage = dict(usage)

        async def complete(conn: Conn) -> UpdateJob:
            await _held_update(conn, update_id, worker_id, store_id=store_id, scope=scope)
            ts = now()
            write = ScopeWrite(conn, store_id, scope, ts, self._quotas)
            reported = []
            for operation in operations:
                done = await _apply_operation(write, operation, update_id)
                if done is not None:
                    reported.append({"kind": operation.kind, "memory": memory_to_dict(done)})
            row = await _fetchone(
                conn,
                "UPDATE updates SET status = 'completed', result = %s::jsonb, lease_owner = NULL,"
                " lease_until = NULL, updated_at = %s WHERE store_id = %s AND id = %s RETURNING *",
                (
                    dump_json({"memory_operations": reported, "usage": usage}), ts, store_id,
                    update_id,
                ),
            )  # fmt: skip
            assert row is not None
            deleted = [op for op in operations if op.kind == "delete"]
            if deleted:
                target = {**await _audit_target(conn, store_id), "scope": scope,
                          "update_id": update_id, "worker_id": worker_id}  # fmt: skip
                for operation in deleted:
                    await append_audit_postgres(
                        conn, actor="worker", action="memory.delete",
                        target={**target, "memory_id": operation.memory_id},
                    )  # fmt: skip
            return row_to_update(row)

        return await self._run(Guard.scoped(store_id, scope), complete)

    async def fail_update(
        self, update_id: str, worker_id: str, *, error: dict, retry_at: int | None = None
    ) -> UpdateJob:
        """See ``Store.fail_update``. A job put back for a retry keeps no ``error``."""
        error_json = dump_json(dict(error))

        async def fail(conn: Conn) -> UpdateJob:
            held = await _held_update(conn, update_id, worker_id)
            key = (held["store_id"], update_id)
            if retry_at is None:
                row = await _fetchone(
                    conn,
                    "UPDATE updates SET status = 'failed', error = %s::jsonb, lease_owner = NULL,"
                    " lease_until = NULL, updated_at = %s WHERE store_id = %s AND id = %s"
                    " RETURNING *",
                    (error_json, now(), *key),
                )
            else:
                row = await _fetchone(
                    conn,
                    "UPDATE updates SET status = 'queued', run_at = %s, lease_owner = NULL,"
                    " lease_until = NULL, updated_at = %s WHERE store_id = %s AND id = %s"
                    " RETURNING *",
                    (retry_at, now(), *key),
                )
            assert row is not None
            return row_to_update(row)

        return await self._run(Guard.everything(), fail)

    # -- memory entries --------------------------------------------------------------------

    async def create_entry(self, store_id: str, scope: str, entry: NewEntry) -> MemoryEntry:
        async def create(conn: Conn) -> MemoryEntry:
            write = ScopeWrite(conn, store_id, scope, now(), self._quotas)
            return await write.insert_entry(entry)

        return await self._run(Guard.scoped(store_id, scope), create)

    async def get_entry(self, store_id: str, scope: str, path: str) -> MemoryEntry:
        async def get(conn: Conn) -> MemoryEntry:
            return row_to_entry(await _entry_row(conn, store_id, scope, path))

        return await self._run(Guard.scoped(store_id, scope), get)

    async def list_entries(
        self, store_id: str, scope: str, *, limit: int, after: str | None = None
    ) -> Page[MemoryEntry]:
        check_limit(limit)

        async def list_(conn: Conn) -> Page[MemoryEntry]:
            rows = await _fetchall(
                conn,
                "SELECT store_id, id, scope, path, description, content, version, created_by,"
                f" updated_by, created_at, updated_at FROM memories WHERE {_IN_SCOPE}"
                " AND path IS NOT NULL AND path > %(after)s ORDER BY path LIMIT %(limit)s",
                {"store_id": store_id, "scope": scope, "after": after or "", "limit": limit + 1},
            )
            return Page([row_to_entry(row) for row in rows[:limit]], has_more=len(rows) > limit)

        return await self._run(Guard.scoped(store_id, scope), list_)

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
        async def update(conn: Conn) -> MemoryEntry:
            return await ScopeWrite(conn, store_id, scope, now()).update_entry(
                path, description=description, contents=contents, embedding=embedding,
                updated_by=updated_by, expected_version=expected_version,
            )  # fmt: skip

        return await self._run(Guard.scoped(store_id, scope), update)

    async def delete_entry(
        self, store_id: str, scope: str, path: str, *, actor: str = "system"
    ) -> MemoryEntry:
        async def delete(conn: Conn) -> MemoryEntry:
            row = await _entry_row(conn, store_id, scope, path, lock=True)
            await conn.execute(
                "DELETE FROM memories WHERE store_id = %s AND id = %s", (store_id, row["id"])
            )
            await append_audit_postgres(
                conn, actor=actor, action="entry.delete",
                target={**await _audit_target(conn, store_id), "scope": scope, "path": path,
                        "entry_id": row["id"]},
            )  # fmt: skip
            return row_to_entry(row)

        return await self._run(Guard.scoped(store_id, scope), delete)

    async def entry_history(self, store_id: str, scope: str, path: str) -> list[EntryRevision]:
        async def history(conn: Conn) -> list[EntryRevision]:
            row = await _entry_row(conn, store_id, scope, path)
            rows = await _fetchall(
                conn,
                "SELECT * FROM memory_history WHERE store_id = %s AND memory_id = %s"
                " AND scope = %s ORDER BY version",
                (store_id, row["id"], scope),
            )
            return [row_to_entry_revision(revision, path) for revision in rows]

        return await self._run(Guard.scoped(store_id, scope), history)

    async def search_entry_candidates(
        self, store_id: str, scope: str, *, text: str, embedding: np.ndarray | None, limit: int
    ) -> EntryCandidates:
        """See ``Store.search_entry_candidates``. Both halves scan the scope's entries (a
        scope holds few): vector scores are cosine similarities, text scores ``ts_rank_cd`` of
        :data:`ENTRY_DOCUMENT`."""
        query = None if embedding is None else np.asarray(embedding, dtype=np.float32)
        terms = fts.query_terms(text)
        params: dict[str, Any] = {"store_id": store_id, "scope": scope, "limit": limit}

        async def search(conn: Conn) -> EntryCandidates:
            head = await _fetchone(
                conn, "SELECT embedding_dimension AS dim FROM memory_stores WHERE id = %s",
                (store_id,),
            )  # fmt: skip
            if head is None or limit < 1:
                return EntryCandidates(by_vector=[], by_text=[])
            by_vector: list[ScoredEntry] = []
            if query is not None:
                rows = await _fetchall(
                    conn, ENTRY_VECTOR_SQL, {**params, "query": _vector_param(query, head["dim"])}
                )
                by_vector = [ScoredEntry(row_to_entry(r), float(r["score"])) for r in rows]
            by_text: list[ScoredEntry] = []
            if terms:
                names = [f"t{i}" for i in range(len(terms))]
                tsquery = " || ".join(f"plainto_tsquery('english', %({name})s)" for name in names)
                rows = await _fetchall(
                    conn,
                    f"SELECT {ENTRY_COLUMNS}, ts_rank_cd({ENTRY_DOCUMENT}, q.query) AS score"
                    f" FROM memories, (SELECT {tsquery} AS query) AS q"
                    f" WHERE {_IN_SCOPE} AND kind = '{ENTRY_KIND}'"
                    f" AND {ENTRY_DOCUMENT} @@ q.query ORDER BY score DESC, path LIMIT %(limit)s",
                    {**params, **dict(zip(names, terms, strict=True))},
                )
                by_text = [ScoredEntry(row_to_entry(r), float(r["score"])) for r in rows]
            return EntryCandidates(by_vector=by_vector, by_text=by_text)

        return await self._run(Guard.scoped(store_id, scope), search)

    # -- the audit log ---------------------------------------------------------------------

    async def list_audit(self, *, after_seq: int = 0, limit: int = 100) -> Page[AuditEntry]:
        check_limit(limit)

        async def list_(conn: Conn) -> Page[AuditEntry]:
            return await list_audit_postgres(conn, after_seq=after_seq, limit=limit)

        return await self._run(Guard.nothing(), list_)

    # -- vector indexes --------------------------------------------------------------------

    async def _ensure_vector_index(self, dim: int) -> None:
        """Build the HNSW index for ``dim`` unless it exists (or no index type takes ``dim``).

        ``CREATE INDEX CONCURRENTLY`` does not block writes, but scans the table once (and waits
        for transactions already running), so the first store of a new dimension takes that
        long to create. A failure (say, a role that may not create indexes) is logged: searches
        stay exact without the index.
        """
        if dim in self._indexed or _index_cast(dim) is None:
            return
        if dim > HNSW_VECTOR_MAX_DIM and self.pgvector_version < (0, 7):
            return  # halfvec arrived in pgvector 0.7
        lock = self._index_locks.setdefault(dim, asyncio.Lock())
        async with lock:
            deadline = time.monotonic() + _INDEX_WAIT_SECONDS
            while dim not in self._indexed:
                try:
                    async with self._pool.connection() as conn:
                        await conn.set_autocommit(True)
                        try:
                            state = await _index_state(conn, dim)
                            if state == "valid":
                                self._indexed = await _indexed_dimensions(conn)
                                return
                            if state != "building":
                                await _build_vector_index(conn, dim, dead=state == "dead")
                                continue
                        finally:
                            await conn.set_autocommit(False)
                except psycopg.errors.DeadlockDetected:
                    pass  # concurrent builds wait for each other's transactions: look again
                except psycopg.Error as exc:
                    log.warning(
                        "could not build the HNSW index for %d-dimensional embeddings (%s);"
                        " searches in large scopes of such stores will scan them exactly",
                        dim,
                        _first_line(exc),
                    )
                    return
                if time.monotonic() > deadline:
                    log.info("the HNSW index for %d dimensions is still being built", dim)
                    return
                await asyncio.sleep(random.uniform(0.05, 0.25))

    async def _refresh_indexed(self, conn: Conn) -> None:
        """Re-read which dimensions have an index (another replica may have built one), at most
        once a minute."""
        if time.monotonic() - self._indexed_checked < 60:
            return
        self._indexed_checked = time.monotonic()
        self._indexed = await _indexed_dimensions(conn)


def _index_cast(dim: int) -> str | None:
    """The type the HNSW index of ``dim``-dimensional embeddings is built on, or None."""
    if dim <= HNSW_VECTOR_MAX_DIM:
        return f"vector({dim})"
    if dim <= HNSW_HALFVEC_MAX_DIM:
        return f"halfvec({dim})"
    return None


def vector_index_sql(dim: int) -> str:
    """``CREATE INDEX`` for the partial HNSW index of ``dim``-dimensional embeddings."""
    cast = _index_cast(dim)
    if cast is None:
        raise ValueError(f"no HNSW index takes {dim} dimensions")
    opclass = "vector_cosine_ops" if cast.startswith("vector") else "halfvec_cosine_ops"
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS memories_embedding_{int(dim)} ON memories"
        f" USING hnsw ((embedding::{cast}) {opclass}) WHERE vector_dims(embedding) = {int(dim)}"
    )


async def _index_state(conn: AsyncConnection[Any], dim: int) -> str:
    """``absent``, ``valid``, ``building`` (a build is running) or ``dead`` (a build died and left
    an invalid index behind)."""
    cursor = await conn.execute(
        "SELECT i.indisvalid, EXISTS (SELECT 1 FROM pg_stat_progress_create_index AS p"
        "  WHERE p.index_relid = c.oid OR (p.relid = i.indrelid AND p.index_relid = 0))"
        " FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
        " WHERE c.relname = %s AND c.relnamespace = to_regnamespace(current_schema())",
        (f"memories_embedding_{dim}",),
    )
    row = await cursor.fetchone()
    if row is None:
        return "absent"
    values = list(row.values()) if isinstance(row, dict) else list(row)
    return "valid" if values[0] else "building" if values[1] else "dead"


async def _build_vector_index(conn: AsyncConnection[Any], dim: int, *, dead: bool) -> None:
    """Build the index (autocommit ``conn``), dropping a dead one first. Needs no lock of ours
    (so nothing here breaks behind a transaction-mode PgBouncer): a concurrent build of the same
    index is a deadlock or a no-op (IF NOT EXISTS), and the caller looks again either way."""
    if dead:
        await conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS memories_embedding_{int(dim)}")  # type: ignore[arg-type]
    await conn.execute(vector_index_sql(dim))  # type: ignore[arg-type]


def _first(row: Any) -> Any:
    return row[0] if isinstance(row, tuple | list) else next(iter(row.values()))


async def _indexed_dimensions(conn: AsyncConnection[Any]) -> set[int]:
    """The dimensions that have a valid HNSW index."""
    cursor = await conn.execute(
        "SELECT c.relname FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = to_regclass('memories') AND i.indisvalid"
    )
    dims = set()
    for row in await cursor.fetchall():
        match = _INDEX_NAME.match(_first(row))
        if match:
            dims.add(int(match.group(1)))
    return dims


# -- writes -----------------------------------------------------------------------------------


class ScopeWrite:
    """The memory writes of one transaction in one scope.

    Every memory write, from the item API and from a completed update alike, runs through one of
    these, so both paths run the same SQL. Rows about to change are locked first (``FOR
    UPDATE``), so a version check and the write that follows it see the same row.
    """

    def __init__(
        self, conn: Conn, store_id: str, scope: str, ts: int, quotas: Quotas = NO_QUOTAS
    ) -> None:
        self.conn = conn
        self.store_id = store_id
        self.scope = scope
        self.ts = ts
        self.quotas = quotas
        self._dim: int | None = None

    async def _take_slots(self, count: int) -> None:
        """Room for ``count`` more rows in the scope (``QuotaExceeded`` if not). Writers of one
        scope serialise on a transaction-scoped advisory lock (its own key space: two int4
        keys), so the count cannot change before this transaction commits."""
        if not self.quotas.limited:
            return
        await self.conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('memvault.quota.' || %s), hashtext(%s))",
            (self.store_id, self.scope),
        )
        row = await _fetchone(
            self.conn, "SELECT COUNT(*) AS held FROM memories WHERE store_id = %s AND scope = %s",
            (self.store_id, self.scope),
        )  # fmt: skip
        assert row is not None
        for taken in range(count):
            self.quotas.check_scope(self.scope, row["held"] + taken)
        if row["held"] == 0 and self.quotas.scopes_per_store:
            await self.conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('memvault.quota.store'), hashtext(%s))",
                (self.store_id,),
            )
            # The guard shows this transaction one scope; the count needs the store's others
            # (their names stay in this method), so it widens to the store and back.
            guard = await _fetchone(
                self.conn, "SELECT current_setting('memvault.all_scopes', true) AS was"
            )
            assert guard is not None
            await self.conn.execute("SELECT set_config('memvault.all_scopes', 'on', true)")
            counted = await _fetchone(
                self.conn,
                "SELECT COUNT(DISTINCT scope) AS others FROM memories"
                " WHERE store_id = %s AND scope <> %s",
                (self.store_id, self.scope),
            )  # fmt: skip
            await self.conn.execute(
                "SELECT set_config('memvault.all_scopes', %s, true)", (guard["was"] or "",)
            )
            assert counted is not None
            self.quotas.check_new_scope(self.scope, counted["others"])

    async def dim(self) -> int:
        """The store's embedding dimension. Raises ``StoreNotFound``."""
        if self._dim is None:
            self._dim = await _store_dimension(self.conn, self.store_id)
        return self._dim

    async def _row(self, memory_id: str, expected_version: int | None) -> Row:
        row = await _memory_row(
            self.conn, self.store_id, self.scope, memory_id, self.ts, lock=True
        )
        if expected_version is not None and row["version"] != expected_version:
            raise VersionConflict(
                f"memory {memory_id!r} is at version {row['version']}, not {expected_version}",
                param="expected_version",
                current_version=row["version"],
            )
        return row

    async def insert_many(self, memories: Sequence[NewMemory]) -> list[Memory]:
        """Insert ``memories`` at version 1, in order."""
        dim = await self.dim()
        await self._take_slots(len(memories))
        rows = []
        for new in memories:
            rows.append({
                "id": new_id("mem"), "store_id": self.store_id, "scope": self.scope,
                "kind": MemoryKind(new.kind).value, "content": new.content,
                "embedding": _vector_param(new.embedding, dim),
                "status": MemoryStatus(new.status).value, "expires_at": new.expires_at,
                "created_by": new.created_by,
                "source": dump_json([dict(entry) for entry in new.source]), "ts": self.ts,
            })  # fmt: skip
        async with self.conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
                " version, expires_at, created_by, updated_by, source, created_at, updated_at)"
                " VALUES (%(id)s, %(store_id)s, %(scope)s, %(kind)s, %(content)s, %(embedding)s,"
                " %(status)s, 1, %(expires_at)s, %(created_by)s, NULL, %(source)s::jsonb,"
                " %(ts)s, %(ts)s)",
                rows,
            )
        return [
            Memory(
                id=row["id"], store_id=self.store_id, scope=self.scope,
                kind=MemoryKind(row["kind"]), content=row["content"], created_at=self.ts,
                updated_at=self.ts, version=1, status=MemoryStatus(row["status"]),
                expires_at=row["expires_at"], created_by=row["created_by"], updated_by=None,
                source=tuple(dict(entry) for entry in new.source), embedding=row["embedding"],
            )
            for row, new in zip(rows, memories, strict=True)
        ]  # fmt: skip

    async def insert(self, new: NewMemory) -> Memory:
        [memory] = await self.insert_many([new])
        return memory

    async def restore(self, memory: Memory, history: Sequence[MemoryRevision]) -> Memory | None:
        """Insert an exported ``memory`` as it was (id, version, timestamps, authors), with its
        earlier texts; None when the store already holds its id. Raises ``InvalidRequest``
        without a fitting embedding."""
        if memory.embedding is None:
            raise InvalidRequest(f"memory {memory.id!r} has no embedding", param="embedding")
        vector = _vector_param(memory.embedding, await self.dim())
        await self._take_slots(1)
        row = await _fetchone(
            self.conn,
            "INSERT INTO memories (store_id, id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s)"
            f" ON CONFLICT (store_id, id) DO NOTHING RETURNING {MEMORY_COLUMNS}",
            (
                self.store_id, memory.id, self.scope, MemoryKind(memory.kind).value,
                memory.content, vector, MemoryStatus(memory.status).value, memory.version,
                memory.expires_at, memory.created_by, memory.updated_by,
                dump_json([dict(entry) for entry in memory.source]), memory.created_at,
                memory.updated_at,
            ),
        )  # fmt: skip
        if row is None:
            return None
        if history:
            async with self.conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO memory_history (store_id, memory_id, scope, version, content,"
                    " changed_at, changed_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (self.store_id, memory.id, self.scope, r.version, r.content,
                         r.changed_at, r.changed_by)
                        for r in history
                    ],
                )  # fmt: skip
        return row_to_memory(row)

    async def update(
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
        row = await self._row(memory_id, expected_version)
        vector = _vector_param(embedding, await self.dim())
        await self.conn.execute(
            "INSERT INTO memory_history (store_id, memory_id, scope, version, content,"
            " changed_at, changed_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                self.store_id, memory_id, self.scope, row["version"], row["content"],
                row["updated_at"], row["updated_by"] or row["created_by"],
            ),
        )  # fmt: skip
        updated = await _fetchone(
            self.conn,
            "UPDATE memories SET content = %s, embedding = %s, version = version + 1,"
            " updated_at = %s, updated_by = %s, source = %s::jsonb, expires_at = %s"
            f" WHERE store_id = %s AND id = %s RETURNING {MEMORY_COLUMNS}",
            (
                content, vector, self.ts, updated_by, source_json(row["source"], source),
                row["expires_at"] if expires_at is None else expires_at, self.store_id,
                memory_id,
            ),
        )  # fmt: skip
        assert updated is not None
        return row_to_memory(updated)

    async def touch(
        self, memory_id: str, *, expires_at: int | None, expected_version: int | None
    ) -> Memory:
        """Set ``expires_at`` only (``None`` keeps it): no new version, no revision.
        Raises ``MemoryNotFound``, ``VersionConflict``."""
        row = await self._row(memory_id, expected_version)
        if expires_at is None:
            return row_to_memory(row)
        updated = await _fetchone(
            self.conn,
            "UPDATE memories SET expires_at = %s WHERE store_id = %s AND id = %s"
            f" RETURNING {MEMORY_COLUMNS}",
            (expires_at, self.store_id, memory_id),
        )
        assert updated is not None
        return row_to_memory(updated)

    # -- memory entries --------------------------------------------------------------------

    async def insert_entry(self, new: NewEntry) -> MemoryEntry:
        """Insert an entry at version 1. Raises ``EntryAlreadyExists``."""
        vector = _vector_param(new.embedding, await self.dim())
        await self._take_slots(1)
        row = await _fetchone(
            self.conn,
            "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at, path,"
            " description) VALUES (%(id)s, %(store_id)s, %(scope)s, %(kind)s, %(content)s,"
            " %(embedding)s, 'active', 1, NULL, %(created_by)s, NULL, '[]', %(ts)s, %(ts)s,"
            " %(path)s, %(description)s)"
            " ON CONFLICT (store_id, scope, path) WHERE path IS NOT NULL DO NOTHING"
            f" RETURNING {ENTRY_COLUMNS}",
            {
                "id": new_id("entry"), "store_id": self.store_id, "scope": self.scope,
                "kind": ENTRY_KIND, "content": new.contents, "embedding": vector,
                "created_by": new.created_by, "ts": self.ts, "path": new.path,
                "description": new.description,
            },
        )  # fmt: skip
        if row is None:
            raise EntryAlreadyExists(
                f"an entry already exists at {new.path!r} in this scope", param="path"
            )
        return row_to_entry(row)

    async def restore_entry(
        self, entry: MemoryEntry, history: Sequence[EntryRevision]
    ) -> MemoryEntry | None:
        """Insert an exported ``entry`` as it was (version, timestamps, authors), with its
        earlier versions; None when the scope has an entry at its path. Raises
        ``InvalidRequest`` without a fitting embedding."""
        if entry.embedding is None:
            raise InvalidRequest(f"entry {entry.path!r} has no embedding", param="embedding")
        vector = _vector_param(entry.embedding, await self.dim())
        await self._take_slots(1)
        entry_id = entry.id
        taken = await _fetchone(
            self.conn, "SELECT 1 AS taken FROM memories WHERE store_id = %s AND id = %s",
            (self.store_id, entry_id),
        )  # fmt: skip
        if taken is not None:
            entry_id = new_id("entry")
        row = await _fetchone(
            self.conn,
            "INSERT INTO memories (id, store_id, scope, kind, content, embedding, status,"
            " version, expires_at, created_by, updated_by, source, created_at, updated_at, path,"
            " description) VALUES (%s, %s, %s, %s, %s, %s, 'active', %s, NULL, %s, %s, '[]',"
            " %s, %s, %s, %s)"
            " ON CONFLICT (store_id, scope, path) WHERE path IS NOT NULL DO NOTHING"
            f" RETURNING {ENTRY_COLUMNS}",
            (
                entry_id, self.store_id, self.scope, ENTRY_KIND, entry.contents, vector,
                entry.version, entry.created_by, entry.updated_by, entry.created_at,
                entry.updated_at, entry.path, entry.description,
            ),
        )  # fmt: skip
        if row is None:
            return None
        if history:
            async with self.conn.cursor() as cursor:
                await cursor.executemany(
                    "INSERT INTO memory_history (store_id, memory_id, scope, version, content,"
                    " description, changed_at, changed_by) VALUES (%s, %s, %s, %s, %s, %s, %s,"
                    " %s)",
                    [
                        (self.store_id, entry_id, self.scope, r.version, r.contents,
                         r.description, r.changed_at, r.changed_by)
                        for r in history
                    ],
                )  # fmt: skip
        return row_to_entry(row)

    async def update_entry(
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
        row = await _entry_row(self.conn, self.store_id, self.scope, path, lock=True)
        if expected_version is not None and row["version"] != expected_version:
            raise VersionConflict(
                f"the entry at {path!r} is at version {row['version']}, not {expected_version}",
                param="expected_version",
                current_version=row["version"],
            )
        vector = _vector_param(embedding, await self.dim())
        await self.conn.execute(
            "INSERT INTO memory_history (store_id, memory_id, scope, version, content,"
            " description, changed_at, changed_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                self.store_id, row["id"], self.scope, row["version"], row["content"],
                row["description"], row["updated_at"], row["updated_by"] or row["created_by"],
            ),
        )  # fmt: skip
        updated = await _fetchone(
            self.conn,
            "UPDATE memories SET content = %s, description = %s, embedding = %s,"
            " version = version + 1, updated_at = %s, updated_by = %s"
            f" WHERE store_id = %s AND id = %s RETURNING {ENTRY_COLUMNS}",
            (contents, description, vector, self.ts, updated_by, self.store_id, row["id"]),
        )
        assert updated is not None
        return row_to_entry(updated)

    async def delete(self, memory_id: str, *, expected_version: int | None = None) -> Memory:
        """Delete the memory (its revisions go with it); returns it as it was.
        Raises ``MemoryNotFound``, ``VersionConflict``."""
        row = await self._row(memory_id, expected_version)
        await self.conn.execute(
            "DELETE FROM memories WHERE store_id = %s AND id = %s", (self.store_id, memory_id)
        )
        return row_to_memory(row)


async def _apply_operation(
    write: ScopeWrite, operation: PlannedOperation, update_id: str
) -> Memory | None:
    """Apply one planned operation of update ``update_id``; returns the memory to report (after
    the operation; as it was, for a delete), or None for touches and quarantined creates."""
    memory_id = check_operation(operation)
    if memory_id is None:
        assert operation.new is not None
        created = await write.insert(operation.new)
        return created if created.status is MemoryStatus.ACTIVE else None
    try:
        if operation.kind == "update":
            assert operation.content is not None and operation.embedding is not None
            return await write.update(
                memory_id, content=operation.content, embedding=operation.embedding,
                updated_by=update_id, source=operation.source, expires_at=operation.expires_at,
                expected_version=operation.expected_version,
            )  # fmt: skip
        if operation.kind == "delete":
            return await write.delete(memory_id, expected_version=operation.expected_version)
        await write.touch(
            memory_id, expires_at=operation.expires_at, expected_version=operation.expected_version
        )
        return None
    except MemoryNotFound as exc:
        raise gone(memory_id) from exc


# -- SQL ------------------------------------------------------------------------------------------

_SEARCHABLE = (
    f"{_IN_SCOPE} AND status = 'active' AND {_VISIBLE} AND kind = ANY(%(kinds)s)"
)

# The whole scope, ordered by exact cosine distance: `embedding <=> q` on the untyped column
# matches no HNSW index, so the planner walks memories_by_scope (or the table, when tiny).
EXACT_SEARCH_SQL = f"""
SELECT {MEMORY_COLUMNS}, 1 - (embedding <=> %(query)s) AS score
FROM memories
WHERE {_SEARCHABLE}
ORDER BY embedding <=> %(query)s, id
LIMIT %(limit)s
"""

# Through the dimension's HNSW index (its expression and predicate, verbatim): `candidates`
# (at least ef_search) rows, re-ranked by the exact distance, the best `limit` kept. Iterative
# scans return rows only roughly in order and a halfvec index ranks by rounded vectors, so taking
# the index's first `limit` rows as they come loses a tenth of the true top 30 (measured on
# MiniLM embeddings); re-ranking a few more costs little.
INDEXED_SEARCH_SQL = f"""
WITH hits AS MATERIALIZED (
    SELECT {MEMORY_COLUMNS}
    FROM memories
    WHERE vector_dims(embedding) = {{dim}} AND {_SEARCHABLE}
    ORDER BY embedding::{{cast}} <=> %(query)s::{{cast}}
    LIMIT %(candidates)s
)
SELECT *, 1 - (embedding <=> %(query)s) AS score
FROM hits
ORDER BY embedding <=> %(query)s, id
LIMIT %(limit)s
"""

# An entry's text document: its path words (without `/memories/` and a file extension), its
# description and its contents, as memvault.models.entry_text gives them to SQLite's index.
ENTRY_DOCUMENT = (
    "to_tsvector('english'::regconfig, regexp_replace(regexp_replace(path,"
    " '^/memories/|\\.[A-Za-z0-9]{1,5}$', '', 'g'), '[^[:alnum:]]+', ' ', 'g')"
    " || ' ' || coalesce(description, '') || ' ' || content)"
)

# Entries are few per scope: their vector search is always an exact scan of the scope.
ENTRY_VECTOR_SQL = f"""
SELECT {ENTRY_COLUMNS}, 1 - (embedding <=> %(query)s) AS score
FROM memories
WHERE {_IN_SCOPE} AND kind = '{ENTRY_KIND}'
ORDER BY embedding <=> %(query)s, path
LIMIT %(limit)s
"""

# A job is due when queued with run_at <= now, or in progress under an expired lease. It is not
# claimable while another unfinished job of its scope is older (scopes run in order) or holds a
# live lease (scopes run one job at a time). Jobs locked by a concurrent claim are skipped, and a
# row another claim changed meanwhile is re-checked against the WHERE clause before it is taken,
# so two workers never hold one job. Within a scope, age is `seq` (commit order of enqueues).
CLAIM_UPDATE_SQL = """
WITH job AS (
    SELECT u.store_id, u.id FROM updates AS u
    WHERE ((u.status = 'queued' AND u.run_at <= %(now)s)
           OR (u.status = 'in_progress' AND u.lease_until < %(now)s))
      AND NOT EXISTS (
          SELECT 1 FROM updates AS o
          WHERE o.store_id = u.store_id AND o.scope = u.scope
            AND o.status IN ('queued', 'in_progress') AND o.seq <> u.seq
            AND (o.seq < u.seq OR (o.status = 'in_progress' AND o.lease_until >= %(now)s))
      )
    ORDER BY u.run_at, u.seq
    LIMIT 1
    FOR UPDATE OF u SKIP LOCKED
)
UPDATE updates AS u
SET status = 'in_progress', lease_owner = %(worker)s, lease_until = %(until)s,
    attempts = u.attempts + 1, updated_at = %(ts)s
FROM job
WHERE u.store_id = job.store_id AND u.id = job.id
RETURNING u.*
"""


async def _fetchone(conn: Conn, sql: str, params: Any = None) -> Row | None:
    cursor: AsyncCursor[Row] = await conn.execute(sql, params, binary=True)  # type: ignore[arg-type]
    return await cursor.fetchone()


async def _history_rows(
    conn: Conn, store_id: str, memory_ids: list[str]
) -> dict[str, list[Row]]:
    """The ``memory_history`` rows of ``memory_ids`` (memories or entries), oldest first, by id."""
    grouped: dict[str, list[Row]] = {}
    if memory_ids:
        for row in await _fetchall(
            conn,
            "SELECT * FROM memory_history WHERE store_id = %s AND memory_id = ANY(%s)"
            " ORDER BY memory_id, version",
            (store_id, memory_ids),
        ):
            grouped.setdefault(row["memory_id"], []).append(row)
    return grouped


async def _fetchall(conn: Conn, sql: str, params: Any = None) -> list[Row]:
    cursor: AsyncCursor[Row] = await conn.execute(sql, params, binary=True)  # type: ignore[arg-type]
    return await cursor.fetchall()


async def _scored(conn: Conn, sql: str, params: dict[str, Any]) -> list[ScoredMemory]:
    rows = await _fetchall(conn, sql, params)
    return [ScoredMemory(row_to_memory(row), float(row["score"])) for row in rows]


async def _text_hits(conn: Conn, terms: list[str], params: dict[str, Any]) -> list[ScoredMemory]:
    """The scope's best full-text matches for any of ``terms``."""
    names = [f"t{i}" for i in range(len(terms))]
    tsquery = " || ".join(f"plainto_tsquery('english', %({name})s)" for name in names)
    rows = await _fetchall(
        conn,
        f"SELECT {MEMORY_COLUMNS}, ts_rank_cd(content_tsv, q.query) AS score"
        f" FROM memories, (SELECT {tsquery} AS query) AS q"
        f" WHERE {_SEARCHABLE} AND content_tsv @@ q.query"
        " ORDER BY score DESC, id LIMIT %(limit)s",
        {**params, **dict(zip(names, terms, strict=True))},
    )
    return [ScoredMemory(row_to_memory(row), float(row["score"])) for row in rows]


async def _held_update(
    conn: Conn,
    update_id: str,
    worker_id: str,
    *,
    store_id: str | None = None,
    scope: str | None = None,
) -> Row:
    """The job, locked, if ``worker_id`` holds it (in progress under its lease, of that store and
    scope when given). Raises ``LeaseLost``."""
    row = await _fetchone(conn, "SELECT * FROM updates WHERE id = %s FOR UPDATE", (update_id,))
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
    assert row is not None
    return row


async def _store_row(conn: Conn, project: str, name: str, *, lock: bool = False) -> Row:
    row = await _fetchone(
        conn,
        "SELECT * FROM memory_stores WHERE project = %s AND name = %s"
        + (" FOR UPDATE" if lock else ""),
        (project, name),
    )
    if row is None:
        raise StoreNotFound(f"no memory store named {name!r}", param="name")
    return row


async def _audit_target(conn: Conn, store_id: str) -> dict[str, Any]:
    """What an audit row says about the store: its id, project and name."""
    row = await _fetchone(
        conn, "SELECT project, name FROM memory_stores WHERE id = %s", (store_id,)
    )
    if row is None:
        return {"store_id": store_id}
    return {"store_id": store_id, "project": row["project"], "store": row["name"]}


async def _store_dimension(conn: Conn, store_id: str) -> int:
    row = await _fetchone(
        conn, "SELECT embedding_dimension FROM memory_stores WHERE id = %s", (store_id,)
    )
    if row is None:
        raise StoreNotFound(f"no memory store with id {store_id!r}", param="store_id")
    return int(row["embedding_dimension"])


async def _memory_row(
    conn: Conn, store_id: str, scope: str, memory_id: str, ts: int, *, lock: bool = False
) -> Row:
    row = await _fetchone(
        conn,
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE store_id = %(store_id)s AND id = %(id)s"
        f" AND scope = %(scope)s AND {_NOT_ENTRY} AND {_VISIBLE}"
        + (" FOR UPDATE" if lock else ""),
        {"store_id": store_id, "id": memory_id, "scope": scope, "now": ts},
    )
    if row is None:
        raise MemoryNotFound(f"no memory {memory_id!r} in this scope", param="memory_id")
    return row


async def _entry_row(
    conn: Conn, store_id: str, scope: str, path: str, *, lock: bool = False
) -> Row:
    row = await _fetchone(
        conn,
        f"SELECT {ENTRY_COLUMNS} FROM memories WHERE {_IN_SCOPE} AND path = %(path)s"
        + (" FOR UPDATE" if lock else ""),
        {"store_id": store_id, "scope": scope, "path": path},
    )
    if row is None:
        raise EntryNotFound(f"no entry at {path!r} in this scope", param="path")
    return row


async def _page_rows(
    conn: Conn,
    select: str,
    conditions: list[str],
    params: dict[str, Any],
    *,
    limit: int,
    order: Order,
    after: str | None,
    before: str | None,
) -> tuple[list[Row], bool]:
    plan = plan_page(order, after, before)
    params = dict(params)
    conditions = list(conditions)
    for i, (op, value) in enumerate(plan.bounds):
        conditions.append(f"id {op} %(cursor{i})s")
        params[f"cursor{i}"] = value
    params["page_limit"] = limit + 1
    direction = "ASC" if plan.ascending else "DESC"
    rows = await _fetchall(
        conn,
        f"{select} WHERE {' AND '.join(conditions)} ORDER BY id {direction}"
        " LIMIT %(page_limit)s",
        params,
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    if plan.reverse:
        rows.reverse()
    return rows, has_more
