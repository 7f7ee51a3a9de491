"""``MemvaultContextProvider``: long-term memory for an Agent Framework agent, kept by memvault."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from agent_framework import AgentSession, ContextProvider, Message, SessionContext, SupportsAgentRun

from memvault.client import AsyncClient, AsyncUpdateHandle, SearchResult
from memvault.errors import MemvaultError, UpdateNotFound
from memvault.integrations.agent_framework.connection import (
    MemvaultConnection,
    Scope,
    resolve_scope,
)

__all__ = ["MemvaultContextProvider"]

logger = logging.getLogger(__name__)

LEARNED_ROLES = ("user", "assistant")


class MemvaultContextProvider(MemvaultConnection, ContextProvider):
    """Before each run, finds what memvault remembers about the scope and adds it to the agent's
    instructions; after each run, hands the turn to memvault to learn from.

    * ``before_run``: on a session's first turn, the scope's static profile (a search without
      messages: its ``user_profile`` memories); on every turn, the memories most relevant to the
      user's input. Both go into the instructions, under ``context_prompt``, one per line.
    * ``after_run``: the turn's user and assistant text is submitted to ``update_memories``. The
      reply is not held up by extraction: memvault acknowledges the update (202) and extracts in
      the background, after ``update_delay`` seconds (memvault's default, 300, when None; a newer
      turn within the delay supersedes the pending update and carries its messages along).

    Memory is an aid, not the conversation: when memvault cannot be reached, or answers with an
    error, the provider logs a warning and the agent runs without it.

    The provider's session state (``session.state[source_id]``) holds only JSON values, so it
    serializes with the session: ``scope``, ``static_memories`` (the profile read on the first
    turn), ``previous_search_id`` and ``previous_update_id`` (the chain of the scope's searches
    and updates; reset when the session's scope changes).

    Args:
        store: The memvault memory store (create it first, with the chat model that should
            extract its memories).
        scope: The scope, or a function of the session that gives it (see ``Scope``).
        client: A borrowed :class:`~memvault.client.AsyncClient`; or ``url``, ``api_key`` and
            ``project`` for one the provider makes and closes (``aclose``/``async with``).
        source_id: The provider's id in the session state and in message attribution.
        max_memories: At most this many memories per search (memvault's default when None).
        context_prompt: The heading above the memories in the instructions.
        update_delay: Seconds memvault waits before learning from a turn (0: at once).

    Example::

        from agent_framework import Agent
        from memvault.integrations.agent_framework import MemvaultContextProvider

        memory = MemvaultContextProvider(store="assistant", scope=user_id,
                                         url="http://127.0.0.1:8080", api_key="key1")
        agent = Agent(client=chat_client, instructions="You are helpful.",
                      context_providers=[memory])
        session = agent.create_session()
        await agent.run("I'm allergic to peanuts.", session=session)
    """

    DEFAULT_SOURCE_ID: ClassVar[str] = "memvault_memory"
    DEFAULT_CONTEXT_PROMPT: ClassVar[str] = (
        "## Memories\nWhat you remember about the user; consider it when answering:"
    )

    def __init__(self, *, store: str, scope: Scope, client: AsyncClient | None = None,
                 url: str | None = None, api_key: str | None = None, project: str | None = None,
                 source_id: str = DEFAULT_SOURCE_ID, max_memories: int | None = None,
                 context_prompt: str | None = None, update_delay: int | None = None) -> None:
        super().__init__(source_id)
        if not store:
            raise ValueError("store is required")
        self._connect(client, url, api_key, project)
        self.store = store
        self.scope = scope
        self.max_memories = max_memories
        self.context_prompt = context_prompt or self.DEFAULT_CONTEXT_PROMPT
        self.update_delay = update_delay

    def _session_scope(self, session: AgentSession, state: dict[str, Any]) -> str:
        scope = resolve_scope(self.scope, session)
        if state.get("scope") != scope:
            for key in ("static_memories", "previous_search_id", "previous_update_id"):
                state.pop(key, None)
            state["scope"] = scope
        return scope

    async def before_run(self, *, agent: SupportsAgentRun, session: AgentSession,
                         context: SessionContext, state: dict[str, Any]) -> None:
        """Add the static profile (first turn) and the memories relevant to the input to the
        instructions."""
        scope = self._session_scope(session, state)
        query = _texts(context.input_messages, ("user",))
        contextual: list[str] = []
        try:
            if "static_memories" not in state:
                profile = await self.client.search_memories(self.store, scope=scope,
                                                            max_memories=self.max_memories)
                state["static_memories"] = _contents(profile)
            if query:
                found = await self.client.search_memories(
                    self.store, scope=scope, messages=query, max_memories=self.max_memories,
                    previous_search_id=state.get("previous_search_id"))
                state["previous_search_id"] = found.search_id
                contextual = _contents(found)
        except MemvaultError as exc:
            logger.warning("memvault: could not search the memories of store %r, scope %r: %s",
                           self.store, scope, exc)
        memories = _unique([*state.get("static_memories", []), *contextual])
        if memories:
            context.extend_instructions(
                self.source_id, "\n".join([self.context_prompt, *(f"- {m}" for m in memories)]))

    async def after_run(self, *, agent: SupportsAgentRun, session: AgentSession,
                        context: SessionContext, state: dict[str, Any]) -> None:
        """Submit the turn's user and assistant text to ``update_memories`` (not waiting for
        the extraction)."""
        response = context.response.messages if context.response else []
        turn = _texts([*context.input_messages, *response], LEARNED_ROLES)
        if not turn:
            return
        scope = self._session_scope(session, state)
        try:
            handle = await self._submit(scope, turn, state.get("previous_update_id"))
        except MemvaultError as exc:
            logger.warning("memvault: could not submit the turn to store %r, scope %r: %s",
                           self.store, scope, exc)
            return
        state["previous_update_id"] = handle.update_id

    async def _submit(self, scope: str, turn: list[tuple[str, str]],
                      previous_update_id: str | None) -> AsyncUpdateHandle:
        try:
            return await self.client.update_memories(
                self.store, scope=scope, messages=turn, update_delay=self.update_delay,
                previous_update_id=previous_update_id)
        except UpdateNotFound:
            if previous_update_id is None:
                raise
            # The chained update is gone (the store was recreated): start a new chain.
            return await self._submit(scope, turn, None)


def _texts(messages: Iterable[Message], roles: Sequence[str]) -> list[tuple[str, str]]:
    return [(str(m.role), m.text) for m in messages
            if str(m.role) in roles and m.text and m.text.strip()]


def _contents(result: SearchResult) -> list[str]:
    return [hit.memory.content for hit in result.memories]


def _unique(lines: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(line for line in lines if line))
