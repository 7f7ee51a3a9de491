"""``MemvaultHistoryProvider``: an agent's chat history, kept in memvault as memory entries.

**Layout.** Each message of a session is one entry (the Databricks-style face of memvault) in
the provider's store and scope, at ``/memories/chat-history/<session>/<n>``: ``<session>`` is
the session id percent-encoded into one path segment, ``<n>`` the message's number in the
session, zero-padded so that path order is conversation order. The entry's contents are the
message as JSON (``Message.to_dict()``: text, function calls and results, ids, author); its
description is ``"<role>: <first line of its text>"``, so a listing (or the web inspector) reads
as a transcript. A message whose JSON is longer than ``entry_chars`` is split: the entry at
``<n>`` holds ``{"parts": k}`` and the JSON is in ``<n>/1`` ... ``<n>/k``.

**Why entries.** They are kept with the scope, so a user's chat history lives, is exported and is
deleted (``delete_scope``) together with what memvault remembers about them; entry paths are
create-only, so a message's number is claimed atomically and two writers of one session never
overwrite each other (the second takes the next number); and no memory operation sees them:
history never leaks into memory search or extraction. (A conversation is a log, not a fact:
storing it as memories would have it consolidated, deduplicated and ranked.)

**Costs.** memvault embeds every entry (history is searchable with ``search_entries``). Loading
lists the scope's entries (paths only, a thousand a request) and reads the newest
``max_messages`` messages, so give history a scope of its own (``"user_1/chat"``) when the user's
scope holds many other entries, and set ``max_messages``: older messages are deleted.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from agent_framework import AgentSession, HistoryProvider, Message, SessionContext, SupportsAgentRun

from memvault.client import AsyncClient
from memvault.errors import EntryAlreadyExists, EntryNotFound
from memvault.integrations.agent_framework.connection import (
    MemvaultConnection,
    Scope,
    resolve_scope,
)

__all__ = ["MemvaultHistoryProvider", "session_directory"]

ROOT = "/memories/chat-history/"
NUMBER_DIGITS = 8
PAGE_SIZE = 1_000
DESCRIPTION_CHARS = 200
CONCURRENT_REQUESTS = 8
CLAIM_ATTEMPTS = 100

T = TypeVar("T")


def session_directory(session_id: str) -> str:
    """``/memories/chat-history/<session>/``: the id percent-encoded into one path segment
    (dots too, so ``.`` and ``..`` stay names)."""
    return ROOT + quote(session_id, safe="-_~").replace(".", "%2E") + "/"


@dataclass
class _Stored:
    """The entries of one message number: its head (or None) and its parts by index."""

    head: str | None = None
    parts: dict[int, str] = field(default_factory=dict)


class MemvaultHistoryProvider(MemvaultConnection, HistoryProvider):
    """Keeps each session's messages in memvault (see the module documentation for the layout)
    and gives the agent the newest ``max_messages`` of them before each run.

    A session's scope is resolved on its first run and kept in its state (``{"scope": ...}``),
    so a session serialized with ``session.to_dict()`` and restored with
    ``AgentSession.from_dict()`` (by any process, with a new provider) finds its history again.
    Errors are raised: unlike memory, history is the conversation itself.

    Args:
        store: The memvault memory store that holds the entries (it must exist).
        scope: The scope, or a function of the session that gives it.
        client: A borrowed :class:`~memvault.client.AsyncClient`; or ``url``, ``api_key`` and
            ``project`` for one the provider makes and closes (``aclose``/``async with``).
        max_messages: Keep only the newest this many messages of a session (None: all).
        entry_chars: The longest entry contents written (memvault refuses contents longer than
            its ``MEMVAULT_MAX_CONTENT_CHARS``, 10,000 by default); longer messages are split.
        source_id, load_messages, store_inputs, store_context_messages, store_context_from,
            store_outputs: as for every Agent Framework ``HistoryProvider``.

    Example::

        history = MemvaultHistoryProvider(store="assistant", scope=f"{user_id}/chat",
                                          client=memvault, max_messages=50)
        agent = Agent(client=chat_client, context_providers=[history])
    """

    DEFAULT_SOURCE_ID: ClassVar[str] = "memvault_history"

    def __init__(self, *, store: str, scope: Scope, client: AsyncClient | None = None,
                 url: str | None = None, api_key: str | None = None, project: str | None = None,
                 max_messages: int | None = None, entry_chars: int = 8_000,
                 source_id: str = DEFAULT_SOURCE_ID, load_messages: bool = True,
                 store_inputs: bool = True, store_context_messages: bool = False,
                 store_context_from: set[str] | None = None, store_outputs: bool = True) -> None:
        super().__init__(source_id, load_messages=load_messages, store_inputs=store_inputs,
                         store_context_messages=store_context_messages,
                         store_context_from=store_context_from, store_outputs=store_outputs)
        if not store:
            raise ValueError("store is required")
        if max_messages is not None and max_messages < 1:
            raise ValueError("max_messages must be None (keep all) or at least 1")
        if entry_chars < 100:
            raise ValueError("entry_chars must be at least 100")
        self._connect(client, url, api_key, project)
        self.store = store
        self.scope = scope
        self.max_messages = max_messages
        self.entry_chars = entry_chars

    # -- the session's scope -------------------------------------------------------------------

    def _pin_scope(self, session: AgentSession, state: dict[str, Any]) -> None:
        if "scope" not in state:
            state["scope"] = resolve_scope(self.scope, session)

    def _scope(self, state: dict[str, Any] | None) -> str:
        if state and state.get("scope"):
            return state["scope"]
        if isinstance(self.scope, str):
            return self.scope
        raise ValueError("this provider's scope is a function of the session: pass the"
                         " session's state (session.state[provider.source_id])")

    async def before_run(self, *, agent: SupportsAgentRun, session: AgentSession,
                         context: SessionContext, state: dict[str, Any]) -> None:
        self._pin_scope(session, state)
        await super().before_run(agent=agent, session=session, context=context, state=state)

    async def after_run(self, *, agent: SupportsAgentRun, session: AgentSession,
                        context: SessionContext, state: dict[str, Any]) -> None:
        self._pin_scope(session, state)
        await super().after_run(agent=agent, session=session, context=context, state=state)

    # -- HistoryProvider -----------------------------------------------------------------------

    async def get_messages(self, session_id: str | None, *, state: dict[str, Any] | None = None,
                           **kwargs: Any) -> list[Message]:
        """The session's newest ``max_messages`` messages, oldest first."""
        scope = self._scope(state)
        directory = session_directory(_required(session_id))
        stored = await self._list(scope, directory)
        numbers = sorted(n for n, entries in stored.items() if entries.head is not None)
        if self.max_messages is not None:
            numbers = numbers[-self.max_messages:]
        messages = await _bounded([self._read(scope, stored[n]) for n in numbers])
        return [message for message in messages if message is not None]

    async def save_messages(self, session_id: str | None, messages: Sequence[Message], *,
                            state: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Append ``messages`` to the session's history, then delete what ``max_messages``
        no longer keeps."""
        if not messages:
            return
        scope = self._scope(state)
        directory = session_directory(_required(session_id))
        stored = await self._list(scope, directory)
        number = max(stored, default=-1) + 1
        for message in messages:
            number = await self._append(scope, directory, number, message)
            stored.setdefault(number, _Stored()).head = _path(directory, number)
            number += 1
        if self.max_messages is not None:
            heads = sorted(n for n, entries in stored.items() if entries.head is not None)
            if len(heads) > self.max_messages:
                keep_from = heads[-self.max_messages]
                await self._delete(scope, directory,
                                   {n: e for n, e in stored.items() if n < keep_from})

    async def clear(self, session_id: str, *, state: dict[str, Any] | None = None) -> None:
        """Delete the session's history."""
        scope = self._scope(state)
        directory = session_directory(session_id)
        await self._delete(scope, directory, await self._list(scope, directory))

    # -- entries -------------------------------------------------------------------------------

    async def _list(self, scope: str, directory: str) -> dict[int, _Stored]:
        stored: dict[int, _Stored] = {}
        token = None
        while True:
            page = await self.client.list_entries(self.store, scope=scope, page_size=PAGE_SIZE,
                                                  page_token=token)
            for summary in page.entries:
                if not summary.path.startswith(directory):
                    continue
                name, _, part = summary.path[len(directory):].partition("/")
                if not name.isdigit() or (part and not part.isdigit()):
                    continue
                entries = stored.setdefault(int(name), _Stored())
                if part:
                    entries.parts[int(part)] = summary.path
                else:
                    entries.head = summary.path
            token = page.next_page_token
            if not token:
                return stored

    async def _read(self, scope: str, entries: _Stored) -> Message | None:
        assert entries.head is not None
        head = json.loads((await self.client.get_entry(self.store, scope=scope,
                                                       path=entries.head)).contents)
        if "parts" in head and "role" not in head:
            count = int(head["parts"])
            if sorted(entries.parts) != list(range(1, count + 1)):
                return None  # still being written, or its writer failed midway
            chunks = await _bounded([self.client.get_entry(self.store, scope=scope, path=path)
                                     for _, path in sorted(entries.parts.items())])
            head = json.loads("".join(chunk.contents for chunk in chunks))
        return Message.from_dict(head)

    async def _append(self, scope: str, directory: str, number: int, message: Message) -> int:
        """Write ``message`` at the first free number from ``number``; returns the number."""
        data = json.dumps(message.to_dict(), ensure_ascii=False, separators=(",", ":"))
        chunks = ([data] if len(data) <= self.entry_chars else
                  [data[i:i + self.entry_chars] for i in range(0, len(data), self.entry_chars)])
        head = data if len(chunks) == 1 else json.dumps({"parts": len(chunks)})
        for _ in range(CLAIM_ATTEMPTS):
            try:
                # The head is written first: creating it claims the number.
                await self.client.create_entry(self.store, scope=scope,
                                               path=_path(directory, number), contents=head,
                                               description=_describe(message))
                break
            except EntryAlreadyExists:
                number += 1  # another writer of this session took it
        else:
            raise RuntimeError(f"could not claim a message number in {directory} after"
                               f" {CLAIM_ATTEMPTS} attempts")
        if len(chunks) > 1:
            await _bounded([
                self.client.create_entry(self.store, scope=scope,
                                         path=f"{_path(directory, number)}/{index}",
                                         contents=chunk)
                for index, chunk in enumerate(chunks, start=1)])
        return number

    async def _delete(self, scope: str, directory: str, stored: dict[int, _Stored]) -> None:
        paths = [path for entries in stored.values()
                 for path in [entries.head, *entries.parts.values()] if path is not None]
        await _bounded([self._delete_entry(scope, path) for path in paths])

    async def _delete_entry(self, scope: str, path: str) -> None:
        try:
            await self.client.delete_entry(self.store, scope=scope, path=path)
        except EntryNotFound:
            pass  # deleted by another writer's trim


def _required(session_id: str | None) -> str:
    if not session_id:
        raise ValueError("memvault keeps history per session: run the agent with a session")
    return session_id


def _path(directory: str, number: int) -> str:
    return f"{directory}{number:0{NUMBER_DIGITS}d}"


def _describe(message: Message) -> str:
    text = (message.text or "").strip().splitlines()
    summary = text[0] if text else "[" + ", ".join(c.type for c in message.contents) + "]"
    line = f"{message.role}: {summary}"
    return line if len(line) <= DESCRIPTION_CHARS else line[:DESCRIPTION_CHARS - 1] + "…"


async def _bounded(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await ``calls`` concurrently, at most :data:`CONCURRENT_REQUESTS` at a time; their
    results in order. The first failure cancels the rest and is raised as it is."""
    limit = asyncio.Semaphore(CONCURRENT_REQUESTS)

    async def one(call: Awaitable[T]) -> T:
        async with limit:
            return await call

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(call)) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]

