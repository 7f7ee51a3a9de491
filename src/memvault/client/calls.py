"""Every SDK operation as data: which request to send and how to read its answer.

``Client`` and ``AsyncClient`` differ only in how they send a :class:`Call`, so both build their
requests here and cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from memvault import errors
from memvault.client.results import (
    Agent,
    AgentVersion,
    Entry,
    EntryPage,
    MemoryItem,
    MemoryRevision,
    MemoryStore,
    Page,
    ScopeSummary,
    ScoredEntry,
    SearchResult,
    StoreOptions,
    UpdateResult,
)

ENTRIES_ROOT = "/api/2.1/unity-catalog/memory-stores"
DEFAULT_CATALOG = "main"

Message = Mapping[str, Any] | tuple[str, str]
"""A conversation message: ``{"role": "user", "content": "..."}`` (content a string or a list
of ``input_text``/``output_text`` parts) or a ``(role, text)`` pair."""
Messages = str | Sequence[Message]
"""A plain string (one user message) or a sequence of messages."""


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    """Relative to the server's base URL."""
    read: Callable[[Any], Any]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    not_found: type[errors.NotFound] = errors.NotFound
    conflict: type[errors.Conflict] = errors.Conflict


def segment(value: str) -> str:
    return quote(value, safe="")


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def message_items(messages: Messages | None) -> list[dict[str, Any]] | None:
    """The Responses-style message items for a request body."""
    if messages is None:
        return None
    if isinstance(messages, str):
        messages = [("user", messages)]
    items = []
    for message in messages:
        if isinstance(message, tuple):
            role, text = message
            items.append({"type": "message", "role": role, "content": text})
        else:
            items.append({"type": "message", **message})
    return items


def _listing(limit: int | None, order: str | None, after: str | None,
             before: str | None) -> dict[str, Any]:
    return compact({"limit": limit, "order": order, "after": after, "before": before})


class Calls:
    """The calls of one project: ``Calls("default").get_store("s")``."""

    def __init__(self, project: str, catalog: str = DEFAULT_CATALOG) -> None:
        self.project = project
        self.catalog = catalog
        self.root = f"/api/projects/{segment(project)}"

    def _store(self, name: str) -> str:
        return f"{self.root}/memory_stores/{segment(name)}"

    # -- stores --------------------------------------------------------------------------------

    def create_store(self, name: str, *, chat_model: str | None, embedding_model: str | None,
                     options: StoreOptions | Mapping[str, Any] | None, description: str | None,
                     metadata: Mapping[str, Any] | None) -> Call:
        if isinstance(options, StoreOptions):
            options = options.to_json()
        definition = compact({"kind": "default", "chat_model": chat_model,
                              "embedding_model": embedding_model,
                              "options": dict(options) if options is not None else None})
        body = compact({"name": name, "definition": definition, "description": description,
                        "metadata": dict(metadata) if metadata is not None else None})
        return Call("POST", f"{self.root}/memory_stores", MemoryStore.from_json, json=body,
                    conflict=errors.StoreAlreadyExists)

    def get_store(self, name: str) -> Call:
        return Call("GET", self._store(name), MemoryStore.from_json,
                    not_found=errors.StoreNotFound)

    def update_store(self, name: str, *, description: str | None,
                     metadata: Mapping[str, Any] | None) -> Call:
        body = compact({"description": description,
                        "metadata": dict(metadata) if metadata is not None else None})
        return Call("POST", self._store(name), MemoryStore.from_json, json=body,
                    not_found=errors.StoreNotFound)

    def list_stores(self, *, limit: int | None, order: str | None, after: str | None,
                    before: str | None) -> Call:
        return Call("GET", f"{self.root}/memory_stores",
                    lambda body: Page.from_json(body, MemoryStore.from_json),
                    params=_listing(limit, order, after, before))

    def delete_store(self, name: str) -> Call:
        return Call("DELETE", self._store(name), lambda body: None,
                    not_found=errors.StoreNotFound)

    # -- search, update, scopes ----------------------------------------------------------------

    def search_memories(self, store: str, *, scope: str, messages: Messages | None,
                        max_memories: int | None, previous_search_id: str | None) -> Call:
        body = compact({
            "scope": scope,
            "items": message_items(messages),
            "previous_search_id": previous_search_id,
            "options": {"max_memories": max_memories} if max_memories is not None else None,
        })
        return Call("POST", f"{self._store(store)}:search_memories", SearchResult.from_json,
                    json=body, not_found=errors.StoreNotFound)

    def update_memories(self, store: str, *, scope: str, messages: Messages,
                        update_delay: int | None, previous_update_id: str | None) -> Call:
        body = compact({"scope": scope, "items": message_items(messages),
                        "update_delay": update_delay, "previous_update_id": previous_update_id})
        return Call("POST", f"{self._store(store)}:update_memories", UpdateResult.from_json,
                    json=body, not_found=errors.StoreNotFound)

    def get_update(self, store: str, update_id: str) -> Call:
        return Call("GET", f"{self._store(store)}/updates/{segment(update_id)}",
                    UpdateResult.from_json, not_found=errors.UpdateNotFound)

    def delete_scope(self, store: str, *, scope: str) -> Call:
        return Call("POST", f"{self._store(store)}:delete_scope",
                    lambda body: int(body.get("deleted_count") or 0), json={"scope": scope},
                    not_found=errors.StoreNotFound)

    # -- items ---------------------------------------------------------------------------------

    def create_memory(self, store: str, *, scope: str, content: str, kind: str) -> Call:
        return Call("POST", f"{self._store(store)}/items", MemoryItem.from_json,
                    json={"scope": scope, "content": content, "kind": kind},
                    not_found=errors.StoreNotFound)

    def _item(self, store: str, memory_id: str) -> str:
        return f"{self._store(store)}/items/{segment(memory_id)}"

    def get_memory(self, store: str, memory_id: str) -> Call:
        return Call("GET", self._item(store, memory_id), MemoryItem.from_json,
                    not_found=errors.MemoryNotFound)

    def update_memory(self, store: str, memory_id: str, *, content: str) -> Call:
        return Call("POST", self._item(store, memory_id), MemoryItem.from_json,
                    json={"content": content}, not_found=errors.MemoryNotFound)

    def delete_memory(self, store: str, memory_id: str) -> Call:
        return Call("DELETE", self._item(store, memory_id), lambda body: None,
                    not_found=errors.MemoryNotFound)

    def list_memories(self, store: str, *, scope: str, kind: str | None, limit: int | None,
                      order: str | None, after: str | None, before: str | None) -> Call:
        return Call("POST", f"{self._store(store)}/items:list",
                    lambda body: Page.from_json(body, MemoryItem.from_json),
                    params=compact({"kind": kind, **_listing(limit, order, after, before)}),
                    json={"scope": scope}, not_found=errors.StoreNotFound)

    def memory_history(self, store: str, memory_id: str) -> Call:
        return Call("GET", f"{self._item(store, memory_id)}/history",
                    lambda body: [MemoryRevision.from_json(r) for r in body.get("data") or []],
                    not_found=errors.MemoryNotFound)

    # -- agents --------------------------------------------------------------------------------

    def _agent(self, name: str) -> str:
        return f"{self.root}/agents/{segment(name)}"

    def create_agent(self, name: str, *, definition: Mapping[str, Any], description: str | None,
                     metadata: Mapping[str, Any] | None) -> Call:
        body = compact({"name": name, "definition": dict(definition), "description": description,
                        "metadata": dict(metadata) if metadata is not None else None})
        return Call("POST", f"{self.root}/agents", Agent.from_json, json=body,
                    conflict=errors.AgentAlreadyExists)

    def create_agent_version(self, name: str, *, definition: Mapping[str, Any],
                             description: str | None, metadata: Mapping[str, Any] | None) -> Call:
        body = compact({"definition": dict(definition), "description": description,
                        "metadata": dict(metadata) if metadata is not None else None})
        return Call("POST", f"{self._agent(name)}/versions", AgentVersion.from_json, json=body,
                    not_found=errors.AgentNotFound)

    def get_agent(self, name: str) -> Call:
        return Call("GET", self._agent(name), Agent.from_json, not_found=errors.AgentNotFound)

    def list_agents(self, *, limit: int | None, order: str | None, after: str | None,
                    before: str | None) -> Call:
        return Call("GET", f"{self.root}/agents",
                    lambda body: Page.from_json(body, Agent.from_json),
                    params=_listing(limit, order, after, before))

    def delete_agent(self, name: str) -> Call:
        return Call("DELETE", self._agent(name), lambda body: None,
                    not_found=errors.AgentNotFound)

    def get_agent_version(self, name: str, version: str) -> Call:
        return Call("GET", f"{self._agent(name)}/versions/{segment(str(version))}",
                    AgentVersion.from_json, not_found=errors.AgentNotFound)

    def list_agent_versions(self, name: str, *, limit: int | None, order: str | None,
                            after: str | None, before: str | None) -> Call:
        return Call("GET", f"{self._agent(name)}/versions",
                    lambda body: Page.from_json(body, AgentVersion.from_json),
                    params=_listing(limit, order, after, before), not_found=errors.AgentNotFound)

    def delete_agent_version(self, name: str, version: str) -> Call:
        return Call("DELETE", f"{self._agent(name)}/versions/{segment(str(version))}",
                    lambda body: None, not_found=errors.AgentNotFound)

    # -- entries (the Databricks-style face) ---------------------------------------------------

    def full_name(self, store: str) -> str:
        """``catalog.schema.store`` for a store of this project (a name with two dots is taken
        as a full name already): project ``p`` is schema ``p`` of the default catalog, project
        ``cat.sch`` is schema ``sch`` of catalog ``cat``."""
        if store.count(".") >= 2:
            return store
        if "." in self.project:
            return f"{self.project}.{store}"
        return f"{self.catalog}.{self.project}.{store}"

    def _entries(self, store: str) -> str:
        return f"{ENTRIES_ROOT}/{segment(self.full_name(store))}/entries"

    def create_entry(self, store: str, *, scope: str, path: str, contents: str | None,
                     description: str | None) -> Call:
        body = compact({"path": path, "contents": contents, "description": description})
        return Call("POST", self._entries(store), Entry.from_json, params={"scope": scope},
                    json=body, not_found=errors.StoreNotFound,
                    conflict=errors.EntryAlreadyExists)

    def get_entry(self, store: str, *, scope: str, path: str) -> Call:
        return Call("GET", f"{self._entries(store)}:get", Entry.from_json,
                    params={"scope": scope, "path": path}, not_found=errors.EntryNotFound)

    def list_entries(self, store: str, *, scope: str, page_size: int | None,
                     page_token: str | None) -> Call:
        return Call("GET", self._entries(store), EntryPage.from_json,
                    params=compact({"scope": scope, "page_size": page_size,
                                    "page_token": page_token}),
                    not_found=errors.StoreNotFound)

    def update_entry(self, store: str, *, scope: str, path: str, description: str | None,
                     str_replace: tuple[str, str] | None, insert: str | None,
                     insert_line: int | None, replace_all: str | None) -> Call:
        body = compact({
            "scope": scope,
            "path": path,
            "description": description,
            "str_replace": (None if str_replace is None
                            else {"old_str": str_replace[0], "new_str": str_replace[1]}),
            "insert": (None if insert is None
                       else compact({"insert_text": insert, "insert_line": insert_line})),
            "replace_all": None if replace_all is None else {"contents": replace_all},
        })
        return Call("PATCH", self._entries(store), Entry.from_json, json=body,
                    not_found=errors.EntryNotFound)

    def delete_entry(self, store: str, *, scope: str, path: str) -> Call:
        return Call("DELETE", self._entries(store), lambda body: None,
                    params={"scope": scope, "path": path}, not_found=errors.EntryNotFound)

    def search_entries(self, store: str, *, scope: str, query: str, top_k: int | None) -> Call:
        return Call("POST", f"{self._entries(store)}:search",
                    lambda body: [ScoredEntry.from_json(hit) for hit in body.get("results") or []],
                    params={"scope": scope}, json=compact({"query": query, "top_k": top_k}),
                    not_found=errors.StoreNotFound)

    def list_scopes(self, store: str, *, limit: int | None, after: str | None) -> Call:
        return Call("GET", f"{self._store(store)}/scopes",
                    lambda body: Page.from_json(body, ScopeSummary.from_json),
                    params=compact({"limit": limit, "after": after}),
                    not_found=errors.StoreNotFound)
