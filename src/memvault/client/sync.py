"""``Client``: the synchronous SDK, one method per operation of memvault's API."""

from __future__ import annotations

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


class Client:
    """A memvault server, synchronously. ``AsyncClient`` has the same methods, awaitable.

    Args:
        base_url: The server, e.g. ``http://127.0.0.1:8080`` (the default).
        project: The project the calls address (``/api/projects/{project}``); projects are
            separate namespaces of stores and agents.
        api_key: Sent as ``Authorization: Bearer <key>``; needed when the server has keys.
        timeout: Seconds for each HTTP request (an ``httpx.Timeout`` for finer control).
        headers: Extra headers for every request.
        transport: An httpx transport, e.g. ``httpx.MockTransport`` or ``httpx.WSGITransport``.
        catalog: The server's default Unity Catalog catalog (``MEMVAULT_DEFAULT_CATALOG``), for
            the entries methods: they address a store of ``project`` as
            ``{catalog}.{project}.{store}`` (a store given as ``catalog.schema.name`` as is).

    Every method raises memvault's own exceptions (``memvault.errors``): ``StoreNotFound``,
    ``MemoryNotFound``, ``StoreAlreadyExists``, ``InvalidRequest``, ``Unauthorized``...; a server
    that cannot be reached gives ``ServiceUnavailable``.

    Example::

        from memvault.client import Client

        with Client("http://127.0.0.1:8080") as memvault:
            memvault.create_store("notes")
            memvault.create_memory("notes", scope="user_1", content="Prefers dark roast coffee")
            for hit in memvault.search_memories("notes", scope="user_1",
                                                messages="What coffee do I like?"):
                print(hit.score, hit.memory.content)
    """

    def __init__(self, base_url: str = http.DEFAULT_URL, *, project: str = "default",
                 api_key: str | None = None,
                 timeout: float | httpx.Timeout | None = http.DEFAULT_TIMEOUT,
                 headers: Mapping[str, str] | None = None,
                 transport: httpx.BaseTransport | None = None,
                 catalog: str = DEFAULT_CATALOG) -> None:
        self.base_url = base_url.rstrip("/")
        self.project = project
        self._calls = Calls(project, catalog)
        self._http = httpx.Client(**http.client_options(base_url, api_key, timeout, headers),
                                  transport=transport)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _exchange(self, call: Call) -> tuple[Any, httpx.Response]:
        try:
            response = self._http.request(call.method, call.path, params=call.params or None,
                                          json=call.json)
        except httpx.TransportError as exc:
            raise http.unreachable(self.base_url, exc) from exc
        return http.read(call, response), response

    @property
    def calls(self) -> Calls:
        """The requests of this client's project, for :meth:`send`."""
        return self._calls

    def send(self, call: Call) -> Any:
        """Send a prepared request (:class:`~memvault.client.calls.Call`, built by
        :attr:`calls`) and return its typed result. The integrations write a multi-step operation
        once, as calls, and run it on either client."""
        return self._exchange(call)[0]

    def health(self) -> bool:
        """True when the server answers ``/healthz`` with 200 (ready to serve)."""
        try:
            return self._http.get("/healthz").status_code == 200
        except httpx.TransportError:
            return False

    # -- stores --------------------------------------------------------------------------------

    def create_store(self, name: str, *, chat_model: str | None = None,
                     embedding_model: str | None = None,
                     options: StoreOptions | Mapping[str, Any] | None = None,
                     description: str | None = None,
                     metadata: Mapping[str, str] | None = None) -> MemoryStore:
        """Create a memory store.

        Args:
            name: 1-128 letters, digits, ``_``, ``-`` or ``.``; unique in the project.
            chat_model: The model that extracts memories when an LLM is configured (default:
                offline extraction).
            embedding_model: The embedding model (default: the server's local model).
            options: What to extract (:class:`StoreOptions`); fixed at creation.
            description, metadata: Free text and string pairs, changeable later.

        Returns:
            The new :class:`MemoryStore`.

        Raises:
            StoreAlreadyExists: A store of this name exists in the project.
            InvalidRequest: A name or option is invalid.
        """
        return self.send(self._calls.create_store(
            name, chat_model=chat_model, embedding_model=embedding_model, options=options,
            description=description, metadata=metadata))

    def get_store(self, name: str) -> MemoryStore:
        """The store named ``name``. Raises ``StoreNotFound``."""
        return self.send(self._calls.get_store(name))

    def update_store(self, name: str, *, description: str | None = None,
                     metadata: Mapping[str, str] | None = None) -> MemoryStore:
        """Change a store's description and/or metadata (the rest is fixed at creation).
        Raises ``StoreNotFound``."""
        return self.send(self._calls.update_store(name, description=description,
                                                   metadata=metadata))

    def list_stores(self, *, limit: int | None = None, order: str | None = None,
                    after: str | None = None, before: str | None = None) -> Page[MemoryStore]:
        """One page of the project's stores, newest first unless ``order="asc"``; the next page
        with ``after=page.last_id``. ``limit`` is 1-100 (default 20)."""
        return self.send(self._calls.list_stores(limit=limit, order=order, after=after,
                                                  before=before))

    def delete_store(self, name: str) -> None:
        """Delete a store with every memory of every scope in it. Raises ``StoreNotFound``."""
        self.send(self._calls.delete_store(name))

    # -- search, update, scopes ----------------------------------------------------------------

    def search_memories(self, store: str, *, scope: str, messages: Messages | None = None,
                        max_memories: int | None = None,
                        previous_search_id: str | None = None) -> SearchResult:
        """The scope's memories most relevant to ``messages``, best first; with no messages, the
        scope's static profile (its user-profile memories, newest first).

        Args:
            store: The store's name.
            scope: The isolation boundary (a user id, a team id): nothing from another scope is
                ever returned.
            messages: A string (one user message), or a sequence of ``{"role", "content"}``
                dicts or ``(role, text)`` pairs.
            max_memories: At most this many results.
            previous_search_id: Chain from an earlier search's ``search_id``.

        Returns:
            A :class:`SearchResult`; iterate it for :class:`ScoredMemory` hits.

        Raises:
            StoreNotFound: No such store.
            InvalidRequest: An empty scope, a malformed message, ``max_memories`` out of range.

        Example::

            result = client.search_memories("notes", scope="user_1", messages="coffee?")
            print([hit.memory.content for hit in result])
        """
        return self.send(self._calls.search_memories(
            store, scope=scope, messages=messages, max_memories=max_memories,
            previous_search_id=previous_search_id))

    def update_memories(self, store: str, *, scope: str, messages: Messages,
                        update_delay: int | None = None,
                        previous_update_id: str | None = None) -> UpdateHandle:
        """Ask memvault to learn from a conversation: it extracts durable memories in the
        background and consolidates them with what the scope holds.

        Args:
            store: The store's name.
            scope: The scope the memories belong to.
            messages: As for :meth:`search_memories`.
            update_delay: Seconds to wait before processing (server default 300); a newer update
                of the same scope within the delay supersedes this one and takes its messages
                over. ``0`` processes now.
            previous_update_id: Chain from an earlier update.

        Returns:
            An :class:`UpdateHandle`, acknowledged once the update is durably queued;
            ``handle.wait()`` returns the final :class:`UpdateResult`.

        Example::

            handle = client.update_memories("notes", scope="user_1", update_delay=0,
                                            messages=[("user", "I prefer window seats")])
            for op in handle.wait().operations:
                print(op.kind, op.memory.content)
        """
        call = self._calls.update_memories(store, scope=scope, messages=messages,
                                           update_delay=update_delay,
                                           previous_update_id=previous_update_id)
        result, response = self._exchange(call)
        return UpdateHandle(self, store, result, http.retry_after(response))

    def get_update(self, store: str, update_id: str) -> UpdateResult:
        """The current state of an update. Raises ``UpdateNotFound``."""
        return self.send(self._calls.get_update(store, update_id))

    def delete_scope(self, store: str, *, scope: str) -> int:
        """Delete every memory and entry of one scope; returns how many there were.
        Raises ``StoreNotFound``."""
        return self.send(self._calls.delete_scope(store, scope=scope))

    def list_scopes(self, store: str, *, limit: int | None = None,
                    after: str | None = None) -> Page[ScopeSummary]:
        """One page of the scopes that hold memories (entries are not counted), in code point
        order; the next page with ``after=page.last_id``. Needs a key for every scope."""
        return self.send(self._calls.list_scopes(store, limit=limit, after=after))

    # -- items ---------------------------------------------------------------------------------

    def create_memory(self, store: str, *, scope: str, content: str,
                      kind: str = "user_profile") -> MemoryItem:
        """Add one memory to a scope as given (no extraction).

        Args:
            kind: ``user_profile``, ``chat_summary`` or ``procedural``.

        Raises:
            StoreNotFound: No such store.
            InvalidRequest: Empty or over-long content, an unknown kind, an empty scope.
        """
        return self.send(self._calls.create_memory(store, scope=scope, content=content,
                                                    kind=kind))

    def get_memory(self, store: str, memory_id: str) -> MemoryItem:
        """One memory by id. Raises ``MemoryNotFound`` (or ``StoreNotFound``)."""
        return self.send(self._calls.get_memory(store, memory_id))

    def update_memory(self, store: str, memory_id: str, *, content: str) -> MemoryItem:
        """Replace a memory's text (the previous text stays in its history); returns it with
        its new version. Raises ``MemoryNotFound``."""
        return self.send(self._calls.update_memory(store, memory_id, content=content))

    def delete_memory(self, store: str, memory_id: str) -> None:
        """Delete one memory. Raises ``MemoryNotFound``."""
        self.send(self._calls.delete_memory(store, memory_id))

    def list_memories(self, store: str, *, scope: str, kind: str | None = None,
                      limit: int | None = None, order: str | None = None,
                      after: str | None = None, before: str | None = None) -> Page[MemoryItem]:
        """One page of a scope's memories (optionally of one ``kind``), newest first unless
        ``order="asc"``; the next page with ``after=page.last_id``."""
        return self.send(self._calls.list_memories(store, scope=scope, kind=kind, limit=limit,
                                                    order=order, after=after, before=before))

    def memory_history(self, store: str, memory_id: str) -> list[MemoryRevision]:
        """A memory's earlier texts, oldest first. Raises ``MemoryNotFound``."""
        return self.send(self._calls.memory_history(store, memory_id))

    # -- agents --------------------------------------------------------------------------------

    def create_agent(self, name: str, *, definition: Mapping[str, Any],
                     description: str | None = None,
                     metadata: Mapping[str, str] | None = None) -> Agent:
        """Create a prompt agent with its first version.

        Args:
            definition: ``{"kind": "prompt", "model": ..., "instructions": ..., "tools": [...]}``;
                a memory tool is ``{"type": "memory_search_preview", "memory_store_name": ...,
                "scope": ...}``.

        Raises:
            AgentAlreadyExists: The name is taken.
            StoreNotFound: A memory tool names a store that does not exist.
        """
        return self.send(self._calls.create_agent(name, definition=definition,
                                                   description=description, metadata=metadata))

    def create_agent_version(self, name: str, *, definition: Mapping[str, Any],
                             description: str | None = None,
                             metadata: Mapping[str, str] | None = None) -> AgentVersion:
        """Add a version to an agent (creating the agent if needed); returns the version."""
        return self.send(self._calls.create_agent_version(
            name, definition=definition, description=description, metadata=metadata))

    def get_agent(self, name: str) -> Agent:
        """An agent and its latest version. Raises ``AgentNotFound``."""
        return self.send(self._calls.get_agent(name))

    def list_agents(self, *, limit: int | None = None, order: str | None = None,
                    after: str | None = None, before: str | None = None) -> Page[Agent]:
        """One page of the project's agents."""
        return self.send(self._calls.list_agents(limit=limit, order=order, after=after,
                                                  before=before))

    def delete_agent(self, name: str) -> None:
        """Delete an agent with all its versions. Raises ``AgentNotFound``."""
        self.send(self._calls.delete_agent(name))

    def get_agent_version(self, name: str, version: str) -> AgentVersion:
        """One version of an agent. Raises ``AgentNotFound``."""
        return self.send(self._calls.get_agent_version(name, version))

    def list_agent_versions(self, name: str, *, limit: int | None = None,
                            order: str | None = None, after: str | None = None,
                            before: str | None = None) -> Page[AgentVersion]:
        """One page of an agent's versions."""
        return self.send(self._calls.list_agent_versions(name, limit=limit, order=order,
                                                          after=after, before=before))

    def delete_agent_version(self, name: str, version: str) -> None:
        """Delete one version of an agent. Raises ``AgentNotFound``."""
        self.send(self._calls.delete_agent_version(name, version))


    # -- entries (the Databricks-style face) ---------------------------------------------------

    def create_entry(self, store: str, *, scope: str, path: str, contents: str | None = None,
                     description: str | None = None) -> Entry:
        """Write a new entry: a note at ``path`` in ``scope``.

        Args:
            store: The store's name in this project, or its full name ``catalog.schema.name``.
            path: ``/memories/`` then one or more segments (no empty, ``.`` or ``..`` segment,
                no whitespace), e.g. ``/memories/preferences/food.md``.
            contents: The body (may be empty: the description is then the whole memory).
            description: A one-line summary.

        Raises:
            EntryAlreadyExists: An entry exists at ``path`` in this scope.
            StoreNotFound: No such store.
            InvalidRequest: A malformed path, an empty scope.
        """
        return self.send(self._calls.create_entry(store, scope=scope, path=path,
                                                   contents=contents, description=description))

    def get_entry(self, store: str, *, scope: str, path: str) -> Entry:
        """The entry at ``path`` in ``scope``. Raises ``EntryNotFound`` (or ``StoreNotFound``)."""
        return self.send(self._calls.get_entry(store, scope=scope, path=path))

    def list_entries(self, store: str, *, scope: str, page_size: int | None = None,
                     page_token: str | None = None) -> EntryPage:
        """One page of the scope's entries by path, without contents (``page_size`` at most
        1000); the next with ``page_token=page.next_page_token``."""
        return self.send(self._calls.list_entries(store, scope=scope, page_size=page_size,
                                                   page_token=page_token))

    def update_entry(self, store: str, *, scope: str, path: str,
                     description: str | None = None,
                     str_replace: tuple[str, str] | None = None, insert: str | None = None,
                     insert_line: int | None = None,
                     replace_all: str | None = None) -> Entry:
        """Edit an entry: at most one of ``str_replace=(old, new)`` (``old`` must occur exactly
        once), ``insert`` (text put after line ``insert_line``; at the end when None, first when
        0) and ``replace_all`` (new contents), and/or a new ``description``. The previous
        version is kept as history. Returns the entry after the edit.

        Raises:
            EntryNotFound: No entry at ``path``.
            InvalidRequest: No edit, two edits, or ``old`` not found exactly once.
        """
        return self.send(self._calls.update_entry(
            store, scope=scope, path=path, description=description, str_replace=str_replace,
            insert=insert, insert_line=insert_line, replace_all=replace_all))

    def delete_entry(self, store: str, *, scope: str, path: str) -> None:
        """Delete the entry at ``path``. Raises ``EntryNotFound``."""
        self.send(self._calls.delete_entry(store, scope=scope, path=path))

    def search_entries(self, store: str, *, scope: str, query: str,
                       top_k: int | None = None) -> list[ScoredEntry]:
        """The scope's entries most relevant to ``query`` (by meaning, with a keyword boost),
        best first, at most ``top_k`` (default 10, at most 50)."""
        return self.send(self._calls.search_entries(store, scope=scope, query=query,
                                                     top_k=top_k))

class UpdateHandle:
    """An accepted ``update_memories`` request. ``result`` is the state last seen;
    :meth:`wait` polls until the update finishes, as often as the server's ``Retry-After``
    says."""

    def __init__(self, client: Client, store: str, result: UpdateResult,
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
        return (f"UpdateHandle(store={self.store!r}, update_id={self.update_id!r},"
                f" status={self.status!r})")

    def refresh(self) -> UpdateResult:
        """Ask the server for the update's state once; returns (and keeps) it."""
        call = self.client._calls.get_update(self.store, self.update_id)
        self.result, response = self.client._exchange(call)
        self._retry_after = http.retry_after(response)
        return self.result

    def wait(self, timeout: float | None = None) -> UpdateResult:
        """Poll until the update is ``completed`` or ``superseded`` and return its result.

        A superseded update returns with no operations and ``superseded_by`` naming the update
        that took its messages over (wait for that one with ``client.get_update`` or a new
        handle).

        Raises:
            ExtractionFailed: The update failed (or the memvault error its ``error.code`` names).
            TimeoutError: It has not finished after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.result.finished:
            delay = self._retry_after
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"update {self.update_id} is still {self.status}"
                                       f" after {timeout} s")
                delay = min(delay, remaining)
            time.sleep(delay)
            self.refresh()
        if self.result.status == "failed":
            raise update_failure(self.update_id, self.result.error)
        return self.result
