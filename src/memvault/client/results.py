"""Typed results of the SDK: frozen dataclasses read from memvault's JSON.

Each keeps the whole JSON object it was read from in ``raw`` (memvault's own extras sit under
``raw["memvault"]``), so a field this module does not name yet is still at hand.
Timestamps are integer Unix seconds, as on the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

UPDATE_FINISHED = frozenset({"completed", "failed", "superseded"})


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list. Ask for the next with ``after=page.last_id`` while ``has_more``."""

    data: list[T]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None

    def __iter__(self) -> Iterator[T]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def from_json(cls, body: Mapping[str, Any], read: Callable[[Mapping[str, Any]], T]) -> Page[T]:
        return cls(
            data=[read(item) for item in body.get("data") or []],
            has_more=bool(body.get("has_more")),
            first_id=body.get("first_id"),
            last_id=body.get("last_id"),
        )


@dataclass(frozen=True)
class StoreOptions:
    """What a store extracts from conversations; fixed when the store is created."""

    user_profile_enabled: bool = True
    chat_summary_enabled: bool = True
    procedural_memory_enabled: bool = True
    user_profile_details: str | None = None
    """Free-text guidance on what to extract or avoid, e.g. "Avoid age and credentials"."""
    default_ttl_seconds: int = 0
    """Seconds a memory lives after its last change; 0: forever."""

    def to_json(self) -> dict[str, Any]:
        return {
            "user_profile_enabled": self.user_profile_enabled,
            "chat_summary_enabled": self.chat_summary_enabled,
            "procedural_memory_enabled": self.procedural_memory_enabled,
            "user_profile_details": self.user_profile_details,
            "default_ttl_seconds": self.default_ttl_seconds,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any] | None) -> StoreOptions:
        body = body or {}
        return cls(
            user_profile_enabled=body.get("user_profile_enabled", True),
            chat_summary_enabled=body.get("chat_summary_enabled", True),
            procedural_memory_enabled=body.get("procedural_memory_enabled", True),
            user_profile_details=body.get("user_profile_details"),
            default_ttl_seconds=body.get("default_ttl_seconds") or 0,
        )


@dataclass(frozen=True)
class MemoryStore:
    """A memory store. ``embedding_model`` is what the server embeds with, which differs from
    ``requested_embedding_model`` when it fell back to its local model (see ``notices``)."""

    id: str
    name: str
    chat_model: str | None
    requested_embedding_model: str | None
    embedding_model: str | None
    options: StoreOptions
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    created_at: int = 0
    updated_at: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> MemoryStore:
        definition = body.get("definition") or {}
        extras = body.get("memvault") or {}
        return cls(
            id=body["id"],
            name=body["name"],
            chat_model=definition.get("chat_model"),
            requested_embedding_model=definition.get("embedding_model"),
            embedding_model=extras.get("embedding_model") or definition.get("embedding_model"),
            options=StoreOptions.from_json(definition.get("options")),
            description=body.get("description"),
            metadata=dict(body.get("metadata") or {}),
            notices=list(extras.get("notices") or []),
            created_at=body.get("created_at") or 0,
            updated_at=body.get("updated_at") or 0,
            raw=dict(body),
        )


@dataclass(frozen=True)
class MemoryItem:
    """One memory of a scope: ``kind`` is ``user_profile``, ``chat_summary`` or ``procedural``.
    ``version`` counts its changes (1 when created)."""

    memory_id: str
    scope: str
    content: str
    kind: str
    updated_at: int = 0
    created_at: int = 0
    version: int = 1
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> MemoryItem:
        extras = body.get("memvault") or {}
        return cls(
            memory_id=body["memory_id"],
            scope=body.get("scope", ""),
            content=body.get("content", ""),
            kind=body.get("kind", "user_profile"),
            updated_at=body.get("updated_at") or 0,
            created_at=extras.get("created_at") or body.get("updated_at") or 0,
            version=extras.get("version") or 1,
            raw=dict(body),
        )


@dataclass(frozen=True)
class MemoryRevision:
    """An earlier text of a memory, kept whenever it changes."""

    version: int
    content: str
    changed_at: int
    changed_by: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> MemoryRevision:
        return cls(version=body["version"], content=body["content"],
                   changed_at=body.get("changed_at") or 0, changed_by=body.get("changed_by"))


@dataclass(frozen=True)
class Usage:
    embedding_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0

    @classmethod
    def from_json(cls, body: Mapping[str, Any] | None) -> Usage:
        body = body or {}
        return cls(**{name: int(body.get(name) or 0) for name in
                      ("embedding_tokens", "input_tokens", "output_tokens", "total_tokens")})


@dataclass(frozen=True)
class ScoredMemory:
    """A search hit: the memory and its relevance (higher is better; 1.0 for static ones)."""

    memory: MemoryItem
    score: float

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ScoredMemory:
        return cls(MemoryItem.from_json(body["memory_item"]), float(body.get("score") or 0.0))


@dataclass(frozen=True)
class SearchResult:
    """``memories`` best first. ``search_id`` can chain a later search (``previous_search_id``)."""

    search_id: str
    memories: list[ScoredMemory]
    usage: Usage = field(default_factory=Usage)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __iter__(self) -> Iterator[ScoredMemory]:
        return iter(self.memories)

    def __len__(self) -> int:
        return len(self.memories)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> SearchResult:
        return cls(
            search_id=body.get("search_id", ""),
            memories=[ScoredMemory.from_json(hit) for hit in body.get("memories") or []],
            usage=Usage.from_json(body.get("usage")),
            raw=dict(body),
        )


@dataclass(frozen=True)
class MemoryOperation:
    """A change an update made: ``kind`` is ``create``, ``update`` or ``delete``; ``memory`` is
    the memory after it (before it, for a delete)."""

    kind: str
    memory: MemoryItem

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> MemoryOperation:
        return cls(body["kind"], MemoryItem.from_json(body["memory_item"]))


@dataclass(frozen=True)
class UpdateResult:
    """The state of an ``update_memories`` request.

    ``status`` is ``queued``, ``in_progress``, ``completed``, ``failed`` or ``superseded``. A
    completed update lists its ``operations``; a superseded one names the newer update that
    took its messages over (``superseded_by``); a failed one carries ``error``
    (``{"code", "message"}``).
    """

    update_id: str
    status: str
    operations: list[MemoryOperation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    superseded_by: str | None = None
    error: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in UPDATE_FINISHED

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> UpdateResult:
        result = body.get("result") or {}
        return cls(
            update_id=body["update_id"],
            status=body["status"],
            operations=[MemoryOperation.from_json(op)
                        for op in result.get("memory_operations") or []],
            usage=Usage.from_json(result.get("usage")),
            superseded_by=body.get("superseded_by"),
            error=body.get("error"),
            raw=dict(body),
        )


@dataclass(frozen=True)
class AgentVersion:
    """One version of a prompt agent; ``definition`` is as created (``kind``, ``model``,
    ``instructions``, ``tools``)."""

    name: str
    version: str
    definition: dict[str, Any]
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AgentVersion:
        return cls(
            name=body["name"],
            version=str(body["version"]),
            definition=dict(body.get("definition") or {}),
            description=body.get("description"),
            metadata=dict(body.get("metadata") or {}),
            created_at=body.get("created_at") or 0,
            raw=dict(body),
        )


@dataclass(frozen=True)
class Agent:
    """A prompt agent and its newest version."""

    name: str
    latest: AgentVersion
    created_at: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Agent:
        return cls(
            name=body["name"],
            latest=AgentVersion.from_json((body.get("versions") or {})["latest"]),
            created_at=body.get("created_at") or 0,
            raw=dict(body),
        )


@dataclass(frozen=True)
class Entry:
    """A memory entry (the Databricks-style face): a note at ``path`` (``/memories/...``) in a
    scope, with a one-line ``description`` and a body, ``contents`` (possibly empty).
    Timestamps are Unix seconds (the wire's milliseconds, truncated)."""

    path: str
    description: str
    contents: str
    scope: str = ""
    version: int = 1
    created_at: int = 0
    updated_at: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Entry:
        return cls(
            path=body["path"],
            description=body.get("description") or "",
            contents=body.get("contents") or "",
            scope=body.get("scope") or "",
            version=body.get("version") or 1,
            created_at=(body.get("created_at") or 0) // 1000,
            updated_at=(body.get("updated_at") or 0) // 1000,
            raw=dict(body),
        )


@dataclass(frozen=True)
class EntrySummary:
    """An entry as a listing shows it: no contents."""

    path: str
    description: str
    has_contents: bool
    updated_at: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EntrySummary:
        return cls(path=body["path"], description=body.get("description") or "",
                   has_contents=bool(body.get("has_contents")),
                   updated_at=(body.get("updated_at") or 0) // 1000, raw=dict(body))


@dataclass(frozen=True)
class EntryPage:
    """One page of a scope's entries, by path; the next with ``page_token=next_page_token``."""

    entries: list[EntrySummary]
    next_page_token: str | None = None

    def __iter__(self) -> Iterator[EntrySummary]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EntryPage:
        return cls([EntrySummary.from_json(e) for e in body.get("entries") or []],
                   body.get("next_page_token") or None)


@dataclass(frozen=True)
class ScoredEntry:
    """An entry search hit: relevance by meaning plus a keyword boost (higher is better)."""

    entry: Entry
    score: float

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ScoredEntry:
        return cls(Entry.from_json(body["memory_entry"]), float(body.get("score") or 0.0))


@dataclass(frozen=True)
class ScopeSummary:
    """A scope of a store and how many memories it holds (memory entries not counted)."""

    scope: str
    memory_count: int = 0
    quarantined_count: int = 0
    updated_at: int = 0

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ScopeSummary:
        return cls(scope=body["scope"], memory_count=body.get("memory_count") or 0,
                   quarantined_count=body.get("quarantined_count") or 0,
                   updated_at=body.get("updated_at") or 0)
