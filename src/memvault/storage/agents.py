"""The AgentStore protocol: agents and their versions, conversations and their items, stored
responses (the state behind the Agents API and the OpenAI-compatible face).

Rules every backend keeps (``tests/storage/test_agent_store.py`` checks them):

* Every call takes ``project`` as a required argument and never reads, returns, changes or
  deletes a record of another project; a record of another project is "not found".
* Ids are made by the caller (``conv_…``, ``msg_…``, ``resp_…``); the store keeps them as opaque
  strings and never parses them.
* Items, definitions and response bodies are JSON documents (dicts of JSON values); the store
  keeps them as given and returns equal dicts.
* Lists follow the order of creation (agents, agent versions, conversation items);
  ``after``/``before`` are ids (agent name, version number as a string, item id), exclusive, with
  the semantics of :mod:`memvault.storage.base`: ``after`` gives the page that follows that id in
  ``order``, ``before`` the page that precedes it, ``has_more`` says whether more lie beyond the
  page in the direction of travel. An unknown cursor gives an empty page.
* A write commits as a whole or not at all, and a call returns only after commit.
* Timestamps are integer Unix seconds.

Both backends keep the same tables (``sqlite/0003_agents.sql``, ``postgres/0004_agents.sql``;
on PostgreSQL JSON as ``json``, kept as given, and ``seq`` as an identity column; a
conversation's memory binding from ``sqlite/0007``/``postgres/0008_conversation_memory.sql``),
share their row mapping and paging rule (:mod:`memvault.storage.agent_rows`) and pass the same
suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from memvault.models import Page

Order = Literal["asc", "desc"]

__all__ = [
    "Agent",
    "AgentStore",
    "AgentVersion",
    "Conversation",
    "ConversationItem",
    "ConversationMemory",
    "StoredResponse",
    "open_agent_store",
]


@dataclass(frozen=True)
class AgentVersion:
    """One immutable version of an agent. ``version`` counts from 1 per agent name and is never
    reused, even after a version is deleted."""

    project: str
    name: str
    version: int
    definition: dict[str, Any]
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: int = 0


@dataclass(frozen=True)
class Agent:
    """An agent: a name and its latest version."""

    project: str
    name: str
    latest: AgentVersion
    created_at: int


@dataclass(frozen=True)
class ConversationMemory:
    """The memory a conversation is bound to when it is created, kept with it unchanged:
    ``memory_store_name`` names a store of the conversation's project, ``scope`` is the scope
    its responses search and learn into, ``scope_kind`` the kind the client called it
    (``user``, ``user_defined``)."""

    memory_store_name: str
    scope: str
    scope_kind: str = "user"


@dataclass(frozen=True)
class Conversation:
    id: str
    project: str
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: int = 0
    memory: ConversationMemory | None = None
    """The store and scope the conversation is bound to; None for an unbound one."""


@dataclass(frozen=True)
class ConversationItem:
    """One item of a conversation: ``data`` is the item's JSON as the API shows it (with ``id``
    and ``type``)."""

    id: str
    type: str
    data: dict[str, Any]
    created_at: int = 0


@dataclass(frozen=True)
class StoredResponse:
    """A response as stored for ``GET /responses/{id}`` and ``previous_response_id`` chains.

    ``body`` is the response object as the API returned it; ``input_items`` are the items the
    request added (normalised, with ids), so a chain can be replayed without its conversation.
    """

    id: str
    project: str
    body: dict[str, Any]
    input_items: tuple[dict[str, Any], ...] = ()
    conversation_id: str | None = None
    previous_response_id: str | None = None
    created_at: int = 0

    @property
    def output(self) -> list[dict[str, Any]]:
        return list(self.body.get("output") or [])


@runtime_checkable
class AgentStore(Protocol):
    """Persistent agents, conversations and responses.

    Example::

        agents = open_agent_store(store)          # after the memory Store is open
        version = await agents.create_agent_version(
            "default", "coffee-bot", definition={"kind": "prompt", "model": "gpt-4.1"}
        )
        conversation = await agents.create_conversation(
            "default", Conversation(id="conv_1", project="default", created_at=now()), items=[]
        )
    """

    # -- agents ----------------------------------------------------------------------------

    async def create_agent_version(
        self,
        project: str,
        name: str,
        *,
        definition: dict[str, Any],
        description: str | None = None,
        metadata: dict[str, str] | None = None,
        created_at: int,
        new_agent_only: bool = False,
    ) -> AgentVersion:
        """Append a version to agent ``name`` (creating the agent with version 1 when it does not
        exist) and return it.

        Raises ``AgentAlreadyExists`` when ``new_agent_only`` and the agent exists.
        """

    async def get_agent(self, project: str, name: str) -> Agent:
        """The agent with its latest version. Raises ``AgentNotFound``."""

    async def get_agent_version(self, project: str, name: str, version: int) -> AgentVersion:
        """Raises ``AgentNotFound`` when the agent or that version does not exist."""

    async def list_agents(
        self,
        project: str,
        *,
        limit: int,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Agent]:
        """One page of the project's agents in creation order; cursors are agent names."""

    async def list_agent_versions(
        self,
        project: str,
        name: str,
        *,
        limit: int,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[AgentVersion]:
        """One page of the agent's versions by number; cursors are version numbers as strings.
        Raises ``AgentNotFound``."""

    async def delete_agent(self, project: str, name: str) -> None:
        """Delete the agent and every version of it. Raises ``AgentNotFound``."""

    async def delete_agent_version(self, project: str, name: str, version: int) -> None:
        """Delete one version; deleting the last one deletes the agent. Raises ``AgentNotFound``."""

    # -- conversations ---------------------------------------------------------------------

    async def create_conversation(
        self, project: str, conversation: Conversation, items: Sequence[ConversationItem]
    ) -> Conversation:
        """Insert ``conversation`` (whose ``project`` must equal ``project``), with its memory
        binding if any, and its first ``items``, in one transaction."""

    async def get_conversation(self, project: str, conversation_id: str) -> Conversation:
        """Raises ``ConversationNotFound``."""

    async def locate_conversation(self, conversation_id: str) -> Conversation:
        """The conversation with this id, whatever its project (the Databricks face names a
        conversation by id alone; its ``project`` says where the rest of it lives).
        Raises ``ConversationNotFound``."""

    async def update_conversation(
        self, project: str, conversation_id: str, *, metadata: dict[str, str]
    ) -> Conversation:
        """Replace the metadata (the memory binding never changes). Raises
        ``ConversationNotFound``."""

    async def delete_conversation(self, project: str, conversation_id: str) -> None:
        """Delete the conversation and its items (responses that used it stay retrievable).
        Raises ``ConversationNotFound``."""

    async def add_conversation_items(
        self, project: str, conversation_id: str, items: Sequence[ConversationItem]
    ) -> list[ConversationItem]:
        """Append ``items`` in order. Raises ``ConversationNotFound``."""

    async def list_conversation_items(
        self,
        project: str,
        conversation_id: str,
        *,
        limit: int,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[ConversationItem]:
        """One page of the items in the order they were added; cursors are item ids.
        Raises ``ConversationNotFound``."""

    async def get_conversation_item(
        self, project: str, conversation_id: str, item_id: str
    ) -> ConversationItem:
        """Raises ``ConversationNotFound`` or ``ConversationItemNotFound``."""

    async def delete_conversation_item(
        self, project: str, conversation_id: str, item_id: str
    ) -> None:
        """Raises ``ConversationNotFound`` or ``ConversationItemNotFound``."""

    # -- responses -------------------------------------------------------------------------

    async def save_response(
        self,
        project: str,
        response: StoredResponse | None,
        *,
        conversation_id: str | None = None,
        conversation_items: Sequence[ConversationItem] = (),
    ) -> None:
        """Store ``response`` (when not None) and append ``conversation_items`` to
        ``conversation_id``, in one transaction: a turn is recorded entirely or not at all.

        Raises ``ConversationNotFound`` (the conversation was deleted during the turn); then
        nothing is stored.
        """

    async def get_response(self, project: str, response_id: str) -> StoredResponse:
        """Raises ``ResponseNotFound``."""

    async def delete_response(self, project: str, response_id: str) -> None:
        """Raises ``ResponseNotFound``."""

    async def close(self) -> None:
        """Release what the store holds of its own (not the shared database). Idempotent."""


def open_agent_store(store: object) -> AgentStore | None:
    """The AgentStore that lives next to the memory ``store`` (same database, same connections),
    or None for an object that is no backend of ours."""
    from memvault.storage.postgres import PostgresStore
    from memvault.storage.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from memvault.storage.sqlite_agents import SQLiteAgentStore

        return SQLiteAgentStore(store.database)
    if isinstance(store, PostgresStore):
        from memvault.storage.postgres_agents import PostgresAgentStore

        return PostgresAgentStore(store)
    return None
