"""Domain objects shared by the engine, the storage backends and the API faces."""

from __future__ import annotations

import enum
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

T = TypeVar("T")


class MemoryKind(str, enum.Enum):
    USER_PROFILE = "user_profile"
    CHAT_SUMMARY = "chat_summary"
    PROCEDURAL = "procedural"


class MemoryStatus(str, enum.Enum):
    ACTIVE = "active"
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class StoreOptions:
    user_profile_enabled: bool = True
    chat_summary_enabled: bool = True
    procedural_memory_enabled: bool = True
    user_profile_details: str | None = None
    default_ttl_seconds: int = 0


@dataclass(frozen=True)
class MemoryStore:
    """A memory store. ``embedding_model``/``embedding_dimension`` are what the server actually
    embeds with (recorded at creation so vectors of different models never mix);
    ``chat_model``/``requested_embedding_model`` are what the client asked for."""

    id: str
    project: str
    name: str
    chat_model: str
    requested_embedding_model: str
    embedding_model: str
    embedding_dimension: int
    options: StoreOptions
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    created_at: int = 0
    updated_at: int = 0
    owner: str | None = None
    """The principal that created the store (it holds every privilege on it)."""


@dataclass(frozen=True)
class Memory:
    id: str
    store_id: str
    scope: str
    kind: MemoryKind
    content: str
    created_at: int
    updated_at: int
    version: int = 1
    status: MemoryStatus = MemoryStatus.ACTIVE
    expires_at: int | None = None
    created_by: str | None = None
    """The update (``upd_…``) or API call (``api``) that created this memory."""
    updated_by: str | None = None
    source: tuple[dict[str, Any], ...] = ()
    """The messages this memory was drawn from: ``{"update_id", "role", "text"}``."""
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NewMemory:
    """A memory to insert. ``embedding`` must come from the store's embedding model."""

    kind: MemoryKind
    content: str
    embedding: np.ndarray
    created_by: str | None = None
    source: tuple[dict[str, Any], ...] = ()
    status: MemoryStatus = MemoryStatus.ACTIVE
    expires_at: int | None = None


@dataclass(frozen=True)
class MemoryRevision:
    """One earlier text of a memory, kept whenever the memory changes."""

    memory_id: str
    version: int
    content: str
    changed_at: int
    changed_by: str | None


@dataclass(frozen=True)
class MemoryRecord:
    """A memory with its earlier texts (oldest first): what export reads and import writes."""

    memory: Memory
    history: tuple[MemoryRevision, ...] = ()


@dataclass(frozen=True)
class ScoredMemory:
    memory: Memory
    score: float


@dataclass(frozen=True)
class SearchCandidates:
    """What a backend finds for a query; the engine fuses the two rankings.

    ``by_vector`` is ordered by cosine similarity (highest first), ``by_text`` by full-text rank
    (best first); either may be empty. ``followed`` holds the full-text matches of a follow-up
    query (``Store.search_candidates``'s ``follow``), best first.
    """

    by_vector: list[ScoredMemory]
    by_text: list[ScoredMemory]
    followed: list[ScoredMemory] = field(default_factory=list)


# -- memory entries (the Databricks-style face) ----------------------------------------------

ENTRY_KIND = "entry"
"""The ``kind`` column of an entry's row. Entries live among the memories of their scope (one
vector index, one text index, one delete_scope) but are no :class:`MemoryKind`: nothing that
asks for memories sees them."""


@dataclass(frozen=True)
class MemoryEntry:
    """A note an agent reads and edits like a file: identified by ``path`` within its store and
    scope, with a one-line ``description`` and a (possibly empty) body, ``contents``. Each edit
    bumps ``version`` and keeps the previous text as an :class:`EntryRevision`."""

    id: str
    store_id: str
    scope: str
    path: str
    description: str
    contents: str
    created_at: int
    updated_at: int
    version: int = 1
    created_by: str | None = None
    updated_by: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NewEntry:
    """An entry to insert. ``embedding`` is of :func:`entry_text` by the store's model."""

    path: str
    description: str
    contents: str
    embedding: np.ndarray
    created_by: str | None = None


@dataclass(frozen=True)
class EntryRevision:
    """An entry as it was before one of its edits."""

    path: str
    version: int
    description: str
    contents: str
    changed_at: int
    changed_by: str | None


@dataclass(frozen=True)
class EntryRecord:
    """An entry with its earlier versions (oldest first): what export reads and import
    writes."""

    entry: MemoryEntry
    history: tuple[EntryRevision, ...] = ()


@dataclass(frozen=True)
class ScoredEntry:
    entry: MemoryEntry
    score: float


@dataclass(frozen=True)
class EntryCandidates:
    """What a backend finds for an entry search: ``by_vector`` ordered by cosine similarity,
    ``by_text`` by full-text rank (best first); entries carry their embeddings."""

    by_vector: list[ScoredEntry]
    by_text: list[ScoredEntry]


def entry_text(path: str, description: str, contents: str) -> str:
    """What an entry is found by, in the embedding and in the text index: the words of its path
    (without ``/memories/`` and a file extension), its description and its contents.

    >>> entry_text("/memories/work/coffee-order.md", "Coffee order", "Flat white")
    'work coffee order\\nCoffee order\\nFlat white'
    """
    relative = path.removeprefix("/memories/")
    relative = re.sub(r"\.[A-Za-z0-9]{1,5}$", "", relative)
    words = " ".join(re.findall(r"[^\W_]+", relative))
    return "\n".join(part for part in (words, description.strip(), contents.strip()) if part)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


@dataclass(frozen=True)
class ScopeSummary:
    """A scope of a memory store and what it holds (``Store.list_scopes``)."""

    scope: str
    memory_count: int
    """Active, unexpired memories: what ``list_memories`` and search see."""
    quarantined_count: int
    """Unexpired memories held back as possible prompt injection (never searched)."""
    updated_at: int
    """The newest ``updated_at`` of those memories."""


def now() -> int:
    """Integer Unix seconds, the only timestamp unit on the wire and in storage."""
    return int(time.time())


_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
_id_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def new_id(prefix: str) -> str:
    """A time-ordered id: ``{prefix}_`` + 26 base32 chars (48-bit ms clock + 80 random bits).

    Ids made later sort after ids made earlier (monotonic within a process), so list pagination
    can use the id itself as its cursor.
    """
    global _last_ms, _last_rand
    with _id_lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            rand = _last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last_ms, _last_rand = ms, rand
    value = (ms << 80) | (rand & ((1 << 80) - 1))
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


# -- updates (the update_memories long-running operation) ------------------------------------


class UpdateStatus(str, enum.Enum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    SUPERSEDED = "superseded"

    @property
    def finished(self) -> bool:
        return self in (UpdateStatus.COMPLETED, UpdateStatus.FAILED, UpdateStatus.SUPERSEDED)


@dataclass(frozen=True)
class UpdateMessage:
    """A message an update will process. ``update_id`` is the update the user sent it with, which
    differs from the processing update's id when a superseded update's messages were carried
    over."""

    role: str
    text: str
    update_id: str


@dataclass(frozen=True)
class UpdateJob:
    """One ``update_memories`` request: a durable job processed by a worker.

    ``run_at`` is when it becomes due (``update_delay`` after the request). A worker that claims
    it holds a lease (``lease_owner`` until ``lease_until``); a job whose lease expired is taken
    up again. ``result`` holds ``{"memory_operations": [{"kind", "memory"}], "usage": {...}}``
    once completed, where ``memory`` is :func:`memory_to_dict` of the memory after the operation.
    """

    id: str
    store_id: str
    scope: str
    status: UpdateStatus
    messages: tuple[UpdateMessage, ...]
    run_at: int
    created_at: int
    updated_at: int
    previous_update_id: str | None = None
    superseded_by: str | None = None
    attempts: int = 0
    lease_owner: str | None = None
    lease_until: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


@dataclass(frozen=True)
class PlannedOperation:
    """One change an update makes to its scope, applied atomically with the job's completion.

    * ``create``: insert ``new``.
    * ``update``: set ``content``/``embedding`` of ``memory_id``, which must still be at
      ``expected_version``; ``source`` is appended to its provenance.
    * ``delete``: delete ``memory_id``, which must still be at ``expected_version``.
    * ``touch``: a duplicate was seen again; refresh ``expires_at`` of ``memory_id`` (no new
      version, not reported as an operation).
    """

    kind: str
    new: NewMemory | None = None
    memory_id: str | None = None
    expected_version: int | None = None
    content: str | None = None
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)
    source: tuple[dict[str, Any], ...] = ()
    expires_at: int | None = None


def memory_to_dict(memory: Memory) -> dict[str, Any]:
    """JSON-ready snapshot of a memory (without its embedding), as kept in update results."""
    return {
        "id": memory.id,
        "store_id": memory.store_id,
        "scope": memory.scope,
        "kind": memory.kind.value,
        "content": memory.content,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
        "version": memory.version,
        "status": memory.status.value,
        "expires_at": memory.expires_at,
        "created_by": memory.created_by,
        "updated_by": memory.updated_by,
        "source": list(memory.source),
    }


def memory_from_dict(data: dict[str, Any]) -> Memory:
    return Memory(
        id=data["id"],
        store_id=data["store_id"],
        scope=data["scope"],
        kind=MemoryKind(data["kind"]),
        content=data["content"],
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        version=data["version"],
        status=MemoryStatus(data["status"]),
        expires_at=data["expires_at"],
        created_by=data["created_by"],
        updated_by=data["updated_by"],
        source=tuple(data["source"]),
    )


@dataclass(frozen=True)
class Principal:
    """Who is calling: the holder of an API key. A key made with a ``scope`` may touch that scope
    only; an ``admin`` holds every privilege on everything."""

    name: str
    admin: bool = False
    scope: str | None = None


ANONYMOUS = Principal("anonymous", admin=True)
"""The caller when authentication is off (``MEMVAULT_AUTH=none``, loopback only)."""
