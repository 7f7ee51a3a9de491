"""Mapping between domain objects and database rows, and list pagination, for any SQL backend.

Rows are read by column name (``sqlite3.Row``, asyncpg records and psycopg dict rows all allow
it). JSON columns may arrive as text (SQLite) or already decoded (PostgreSQL ``jsonb``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from memvault.errors import InvalidRequest
from memvault.models import (
    EntryRevision,
    Memory,
    MemoryEntry,
    MemoryKind,
    MemoryRevision,
    MemoryStatus,
    MemoryStore,
    ScopeSummary,
    StoreOptions,
    UpdateJob,
    UpdateMessage,
    UpdateStatus,
)
from memvault.storage.base import Order

_OPTION_FIELDS = {f.name for f in dataclasses.fields(StoreOptions)}


def dump_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def load_json(value: Any) -> Any:
    """A JSON column's value: parsed when it arrives as text, as is when already decoded."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def store_params(store: MemoryStore) -> dict[str, Any]:
    """Column values of a ``memory_stores`` row."""
    return {
        "id": store.id,
        "project": store.project,
        "name": store.name,
        "chat_model": store.chat_model,
        "requested_embedding_model": store.requested_embedding_model,
        "embedding_model": store.embedding_model,
        "embedding_dimension": store.embedding_dimension,
        "options": dump_json(dataclasses.asdict(store.options)),
        "description": store.description,
        "metadata": dump_json(dict(store.metadata)),
        "notices": dump_json(list(store.notices)),
        "created_at": store.created_at,
        "updated_at": store.updated_at,
        "owner": store.owner,
    }


def row_to_store(row: Mapping[str, Any]) -> MemoryStore:
    options = load_json(row["options"]) or {}
    return MemoryStore(
        id=row["id"],
        project=row["project"],
        name=row["name"],
        chat_model=row["chat_model"],
        requested_embedding_model=row["requested_embedding_model"],
        embedding_model=row["embedding_model"],
        embedding_dimension=row["embedding_dimension"],
        # Options written by a newer memvault may carry fields this one does not know.
        options=StoreOptions(**{k: v for k, v in options.items() if k in _OPTION_FIELDS}),
        description=row["description"],
        metadata=load_json(row["metadata"]) or {},
        notices=tuple(load_json(row["notices"]) or ()),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        owner=row["owner"],
    )


# A search reads tens of rows: dictionary lookups are a fraction of Enum calls.
_KINDS = {kind.value: kind for kind in MemoryKind}
_STATUSES = {status.value: status for status in MemoryStatus}


def row_to_memory(row: Mapping[str, Any]) -> Memory:
    """``embedding`` may be float32 bytes (SQLite) or an array (PostgreSQL's vector loader)."""
    return memory_of(
        row["id"], row["store_id"], row["scope"], row["kind"], row["content"], row["embedding"],
        row["status"], row["version"], row["expires_at"], row["created_by"], row["updated_by"],
        row["source"], row["created_at"], row["updated_at"],
    )  # fmt: skip


def memory_of(
    id: str, store_id: str, scope: str, kind: str, content: str, embedding: Any, status: str,
    version: int, expires_at: int | None, created_by: str | None, updated_by: str | None,
    source: str | None, created_at: int, updated_at: int,
) -> Memory:  # fmt: skip
    """A memory from its column values in this order (SQLite's ``MEMORY_COLUMNS`` after
    ``seq``: a search reads its ~50 rows as tuples, a third of the cost of named lookups)."""
    if isinstance(embedding, bytes | memoryview):
        embedding = np.frombuffer(embedding, dtype="<f4")
    return Memory(
        id, store_id, scope, _KINDS[kind], content, created_at, updated_at, version,
        _STATUSES[status], expires_at, created_by, updated_by,
        () if not source or source == "[]" else tuple(load_json(source)), embedding,
    )  # fmt: skip


def row_to_entry(row: Mapping[str, Any]) -> MemoryEntry:
    """A ``memories`` row of kind ``entry``; without an ``embedding`` column, no embedding."""
    embedding = row["embedding"] if "embedding" in row.keys() else None  # noqa: SIM118
    if isinstance(embedding, bytes | memoryview):
        embedding = np.frombuffer(embedding, dtype="<f4")
    return MemoryEntry(
        id=row["id"],
        store_id=row["store_id"],
        scope=row["scope"],
        path=row["path"],
        description=row["description"] or "",
        contents=row["content"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        version=row["version"],
        created_by=row["created_by"],
        updated_by=row["updated_by"],
        embedding=embedding,
    )


def row_to_entry_revision(row: Mapping[str, Any], path: str) -> EntryRevision:
    return EntryRevision(
        path=path,
        version=row["version"],
        description=row["description"] or "",
        contents=row["content"],
        changed_at=row["changed_at"],
        changed_by=row["changed_by"],
    )


def row_to_revision(row: Mapping[str, Any]) -> MemoryRevision:
    return MemoryRevision(
        memory_id=row["memory_id"],
        version=row["version"],
        content=row["content"],
        changed_at=row["changed_at"],
        changed_by=row["changed_by"],
    )


def scope_summary(row: Mapping[str, Any]) -> ScopeSummary:
    """A ``list_scopes`` row: ``scope``, ``active``, ``quarantined``, ``updated_at``."""
    return ScopeSummary(
        scope=row["scope"],
        memory_count=int(row["active"]),
        quarantined_count=int(row["quarantined"]),
        updated_at=int(row["updated_at"]),
    )


def messages_json(messages: Sequence[UpdateMessage]) -> str:
    """An update's messages as the JSON list kept in ``updates.messages``."""
    return dump_json(
        [{"role": m.role, "text": m.text, "update_id": m.update_id} for m in messages]
    )


def row_to_update(row: Mapping[str, Any]) -> UpdateJob:
    result, error = row["result"], row["error"]
    return UpdateJob(
        id=row["id"],
        store_id=row["store_id"],
        scope=row["scope"],
        status=UpdateStatus(row["status"]),
        messages=tuple(
            UpdateMessage(role=m["role"], text=m["text"], update_id=m["update_id"])
            for m in load_json(row["messages"]) or ()
        ),
        run_at=row["run_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        previous_update_id=row["previous_update_id"],
        superseded_by=row["superseded_by"],
        attempts=row["attempts"],
        lease_owner=row["lease_owner"],
        lease_until=row["lease_until"],
        result=None if result is None else load_json(result),
        error=None if error is None else load_json(error),
    )


def embedding_blob(embedding: np.ndarray, dim: int) -> bytes:
    """``embedding`` as little-endian float32 bytes; raises ``InvalidRequest`` unless it is a
    finite vector of ``dim`` numbers."""
    vector = np.asarray(embedding, dtype="<f4")
    if vector.shape != (dim,):
        raise InvalidRequest(
            f"embedding has shape {vector.shape}, the memory store's model gives ({dim},)",
            param="embedding",
        )
    if not np.isfinite(vector).all():
        raise InvalidRequest("embedding has non-finite values", param="embedding")
    return vector.tobytes()


def source_json(existing: Any, added: Sequence[Mapping[str, Any]]) -> str:
    """The provenance list ``existing`` (JSON or list) with ``added`` appended, as JSON."""
    return dump_json([*(load_json(existing) or ()), *(dict(entry) for entry in added)])


class PagePlan(NamedTuple):
    """How to fetch one page of an id-ordered list.

    ``bounds`` are ``(operator, id)`` conditions on the id column; scan in ascending id order when
    ``ascending``; fetch ``limit + 1`` rows (the extra one tells ``has_more``), then reverse the
    page when ``reverse`` (paging backwards with ``before`` scans away from the cursor).
    """

    bounds: list[tuple[str, str]]
    ascending: bool
    reverse: bool


def plan_page(order: Order, after: str | None, before: str | None) -> PagePlan:
    """Cursors follow the list order: ``after`` is the page that follows that id in ``order``,
    ``before`` the page that precedes it (the items nearest to it)."""
    if order not in ("asc", "desc"):
        raise InvalidRequest(f"order must be 'asc' or 'desc', not {order!r}", param="order")
    forward = order == "asc"
    bounds = []
    if after is not None:
        bounds.append((">" if forward else "<", after))
    if before is not None:
        bounds.append(("<" if forward else ">", before))
    backwards = before is not None and after is None
    return PagePlan(bounds=bounds, ascending=forward != backwards, reverse=backwards)


def check_limit(limit: int) -> None:
    if limit < 1:
        raise InvalidRequest(f"limit must be at least 1, not {limit}", param="limit")
