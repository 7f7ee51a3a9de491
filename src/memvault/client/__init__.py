"""memvault's Python SDK: ``Client`` and ``AsyncClient`` (httpx), with the same method names.

It needs only httpx and memvault's exception tree: importing it loads none of the server's
dependencies (no model runtime, no database drivers).

Example::

    from memvault.client import Client

    with Client("http://127.0.0.1:8080", api_key="key1") as memvault:
        memvault.create_store("notes")
        handle = memvault.update_memories("notes", scope="user_1", update_delay=0,
                                          messages="I prefer dark roast coffee")
        handle.wait()
        print(memvault.search_memories("notes", scope="user_1", messages="coffee?").memories)

Errors are memvault's own (``memvault.errors``): ``StoreNotFound``, ``MemoryNotFound``,
``StoreAlreadyExists``, ``InvalidRequest``, ``Unauthorized``, ``ServiceUnavailable``...
"""

from memvault.client.aio import AsyncClient, AsyncUpdateHandle
from memvault.client.calls import Message, Messages
from memvault.client.results import (
    Agent,
    AgentVersion,
    Entry,
    EntryPage,
    EntrySummary,
    MemoryItem,
    MemoryOperation,
    MemoryRevision,
    MemoryStore,
    Page,
    ScopeSummary,
    ScoredEntry,
    ScoredMemory,
    SearchResult,
    StoreOptions,
    UpdateResult,
    Usage,
)
from memvault.client.sync import Client, UpdateHandle

__all__ = [
    "Agent",
    "AgentVersion",
    "AsyncClient",
    "AsyncUpdateHandle",
    "Client",
    "Entry",
    "EntryPage",
    "EntrySummary",
    "MemoryItem",
    "MemoryOperation",
    "MemoryRevision",
    "MemoryStore",
    "Message",
    "Messages",
    "Page",
    "ScopeSummary",
    "ScoredEntry",
    "ScoredMemory",
    "SearchResult",
    "StoreOptions",
    "UpdateHandle",
    "UpdateResult",
    "Usage",
]
