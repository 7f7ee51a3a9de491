"""``AsyncClient``: the asynchronous SDK, with exactly the methods of ``Client``, awaitable.

Each method's documentation is its ``Client`` twin's (copied at import).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx

from memvault.client import http
from memvault.client.calls import DEFAULT_CATALOG, Call, Calls, Messages
from memvault.client.errors import update_failure
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
from memvault.client.sync import Client, UpdateHandle


class AsyncClient:
    """A memvault server, asynchronously: the methods of :class:`Client`, awaitable.

    Example::

        from memvault.client import AsyncClient

        async with AsyncClient("http://127.0.0.1:8080", api_key="key1") as memvault:
            handle = await memvault.update_memories(
                "notes", scope="user_1", messages="I prefer window seats", update_delay=0)
            result = await handle.wait()
    """

    def __init__(self, base_url: str = http.DEFAULT_URL, *, project: str = "default",
                 api_key: str | None = None,
                 timeout: float | httpx.Timeout | None = http.DEFAULT_TIMEOUT,
                 headers: Mapping[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 catalog: str = DEFAULT_CATALOG) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self._calls = Calls(project, catalog)
        self._http = httpx.AsyncClient(
            **http.client_options(base_url, api_key, timeout, headers), transport=transport)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def _exchange(self, call: Call) -> tuple[Any, httpx.Response]:
        try:
            response = await self._http.request(call.method, call.path,
                                                params=call.params or None, json=call.json)
        except httpx.TransportError as exc:
            raise http.unreachable(self.base_url, exc) from exc
        return http.read(call, response), response

    @property
    def calls(self) -> Calls:
        return self._calls

    async def send(self, call: Call) -> Any:
        return (await self._exchange(call))[0]

    async def health(self) -> bool:
        try:
            return (await self._http.get("/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    # -- stores --------------------------------------------------------------------------------

    async def create_store(self, name: str, *, chat_model: str | None = None,
                           embedding_model: str | None = None,
                           options: StoreOptions | Mapping[str, Any] | None = None,
                           description: str | None = None,
                           metadata: Mapping[str, str] | None = None) -> MemoryStore:
        return await self.send(self._calls.create_store(
            name, chat_model=chat_model, embedding_model=embedding_model, options=options,
            description=description, metadata=metadata))

    async def get_store(self, name: str) -> MemoryStore:
        return await self.send(self._calls.get_store(name))

    async def update_store(self, name: str, *, description: str | None = None,
                           metadata: Mapping[str, str] | None = None) -> MemoryStore:
        return await self.send(self._calls.update_store(name, description=description,
                                                         metadata=metadata))

    async def list_stores(self, *, limit: int | None = None, order: str | None = None,
                          after: str | None = None,
                          before: str | None = None) -> Page[MemoryStore]:
        return await self.send(self._calls.list_stores(limit=limit, order=order, after=after,
                                                        before=before))

    async def delete_store(self, name: str) -> None:
        await self.send(self._calls.delete_store(name))

    # -- search, update, scopes ----------------------------------------------------------------

    async def search_memories(self, store: str, *, scope: str, messages: Messages | None = None,
                              max_memories: int | None = None,
                              previous_search_id: str | None = None) -> SearchResult:
        return await self.send(self._calls.search_memories(
            store, scope=scope, messages=messages, max_memories=max_memories,
            previous_search_id=previous_search_id))

    async def update_memories(self, store: str, *, scope: str, messages: Messages,
                              update_delay: int | None = None,
                              previous_update_id: str | None = None) -> AsyncUpdateHandle:
        call = self._calls.update_memories(store, scope=scope, messages=messages,
                                           update_delay=update_delay,
                                           previous_update_id=previous_update_id)
        result, response = await self._exchange(call)
        return AsyncUpdateHandle(self, store, result, http.retry_after(response))

    async def get_update(self, store: str, update_id: str) -> UpdateResult:
        return await self.send(self._calls.get_update(store, update_id))

    async def delete_scope(self, store: str, *, scope: str) -> int:
        return await self.send(self._calls.delete_scope(store, scope=scope))

    async def list_scopes(self, store: str, *, limit: int | None = None,
                          after: str | None = None) -> Page[ScopeSummary]:
        return await self.send(self._calls.list_scopes(store, limit=limit, after=after))

    # -- items ---------------------------------------------------------------------------------

    async def create_memory(self, store: str, *, scope: str, content: str,
                            kind: str = "user_profile") -> MemoryItem:
        return await self.send(self._calls.create_memory(store, scope=scope, content=content,
                                                          kind=kind))

    async def get_memory(self, store: str, memory_id: str) -> MemoryItem:
        return await self.send(self._calls.get_memory(store, memory_id))

    async def update_memory(self, store: str, memory_id: str, *, content: str) -> MemoryItem:
        return await self.send(self._calls.update_memory(store, memory_id, content=content))

    async def delete_memory(self, store: str, memory_id: str) -> None:
        await self.send(self._calls.delete_memory(store, memory_id))

    async def list_memories(self, store: str, *, scope: str, kind: str | None = None,
                            limit: int | None = None, order: str | None = None,
                            after: str | None = None,
                            before: str | None = None) -> Page[MemoryItem]:
        return await self.send(self._calls.list_memories(
            store, scope=scope, kind=kind, limit=limit, order=order, after=after, before=before))

    async def memory_history(self, store: str, memory_id: str) -> list[MemoryRevision]:
        return await self.send(self._calls.memory_history(store, memory_id))

    # -- agents --------------------------------------------------------------------------------

    async def create_agent(self, name: str, *, definition: Mapping[str, Any],
                           description: str | None = None,
                           metadata: Mapping[str, str] | None = None) -> Agent:
        return await self.send(self._calls.create_agent(
            name, definition=definition, description=description, metadata=metadata))

    async def create_agent_version(self, name: str, *, definition: Mapping[str, Any],
                                   description: str | None = None,
                                   metadata: Mapping[str, str] | None = None) -> AgentVersion:
        return await self.send(self._calls.create_agent_version(
            name, definition=definition, description=description, metadata=metadata))

    async def get_agent(self, name: str) -> Agent:
        return await self.send(self._calls.get_agent(name))

    async def list_agents(self, *, limit: int | None = None, order: str | None = None,
                          after: str | None = None, before: str | None = None) -> Page[Agent]:
        return await self.send(self._calls.list_agents(limit=limit, order=order, after=after,
                                                        before=before))

    async def delete_agent(self, name: str) -> None:
        await self.send(self._calls.delete_agent(name))

    async def get_agent_version(self, name: str, version: str) -> AgentVersion:
        return await self.send(self._calls.get_agent_version(name, version))

    async def list_agent_versions(self, name: str, *, limit: int | None = None,
                                  order: str | None = None, after: str | None = None,
                                  before: str | None = None) -> Page[AgentVersion]:
        return await self.send(self._calls.list_agent_versions(
            name, limit=limit, order=order, after=after, before=before))

    async def delete_agent_version(self, name: str, version: str) -> None:
        await self.send(self._calls.delete_agent_version(name, version))


    # -- entries (the Databricks-style face) ---------------------------------------------------

    async def create_entry(self, store: str, *, scope: str, path: str,
                           contents: str | None = None,
                           description: str | None = None) -> Entry:
        return await self.send(self._calls.create_entry(
            store, scope=scope, path=path, contents=contents, description=description))

    async def get_entry(self, store: str, *, scope: str, path: str) -> Entry:
        return await self.send(self._calls.get_entry(store, scope=scope, path=path))

    async def list_entries(self, store: str, *, scope: str, page_size: int | None = None,
                           page_token: str | None = None) -> EntryPage:
        return await self.send(self._calls.list_entries(
            store, scope=scope, page_size=page_size, page_token=page_token))

    async def update_entry(self, store: str, *, scope: str, path: str,
                           description: str | None = None,
                           str_replace: tuple[str, str] | None = None,
                           insert: str | None = None, insert_line: int | None = None,
                           replace_all: str | None = None) -> Entry:
        return await self.send(self._calls.update_entry(
            store, scope=scope, path=path, description=description, str_replace=str_replace,
            insert=insert, insert_line=insert_line, replace_all=replace_all))

    async def delete_entry(self, store: str, *, scope: str, path: str) -> None:
        await self.send(self._calls.delete_entry(store, scope=scope, path=path))

    async def search_entries(self, store: str, *, scope: str, query: str,
                             top_k: int | None = None) -> list[ScoredEntry]:
        return await self.send(self._calls.search_entries(store, scope=scope, query=query,
                                                           top_k=top_k))

class AsyncUpdateHandle:
    """:class:`UpdateHandle` for :class:`AsyncClient`: ``await handle.wait()``."""

    def __init__(self, client: AsyncClient, store: str, result: UpdateResult,
                 retry_after: float = http.DEFAULT_RETRY_AFTER) -> None:
        self.client = client
        self.store = store
        self.result = result
        self._retry_after = retry_after

    @property
    def update_id(self) -> str:
        return self.result.update_id

    @property
    def status(self) -> str:
        return self.result.status

    def __repr__(self) -> str:
        return (f"AsyncUpdateHandle(store={self.store!r}, update_id={self.update_id!r},"
                f" status={self.status!r})")

    async def refresh(self) -> UpdateResult:
        call = self.client._calls.get_update(self.store, self.update_id)
        self.result, response = await self.client._exchange(call)
        self._retry_after = http.retry_after(response)
        return self.result

    async def wait(self, timeout: float | None = None) -> UpdateResult:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.result.finished:
            delay = self._retry_after
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"update {self.update_id} is still {self.status}"
                                       f" after {timeout} s")
                delay = min(delay, remaining)
            await asyncio.sleep(delay)
            await self.refresh()
        if self.result.status == "failed":
            raise update_failure(self.update_id, self.result.error)
        return self.result


def _share_docs(twin: type, of: type) -> None:
    for name, member in vars(twin).items():
        source = getattr(of, name, None)
        if callable(member) and source is not None and not member.__doc__ and source.__doc__:
            member.__doc__ = source.__doc__


_share_docs(AsyncClient, Client)
_share_docs(AsyncUpdateHandle, UpdateHandle)
