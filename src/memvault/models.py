"""Domain objects shared by the engine, the storage backends and the API faces."""

from __future__ import annotations

import enum
import os
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
class ScoredMemory:
    memory: Memory
    score: float


@dataclass(frozen=True)
class SearchCandidates:
    """What a backend finds for a query; the engine fuses the two rankings.

    ``by_vector`` is ordered by cosine similarity (highest first), ``by_text`` by full-text rank
    (best first); either may be empty.
    """

    by_vector: list[ScoredMemory]
    by_text: list[ScoredMemory]


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


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
