"""The AgentStore protocol on the PostgreSQL database of the memory store.

It runs on :class:`~memvault.storage.postgres.PostgresStore`'s pool, through the store's own unit
of work (``PostgresStore._run``: one transaction per call, rolled back on any exception, rerun
whole on a deadlock or serialization failure, psycopg errors translated to memvault errors), so a
turn's items and its response commit together. Its tables come from migration
``0004_agents.sql``, applied with the others when the store opens. The row mapping and the paging
rule are shared with the SQLite AgentStore (:mod:`memvault.storage.agent_rows`).

Concurrency, for any number of replicas on one database (READ COMMITTED, like the rest of the
backend):

* An agent's row is the lock for its versions. Adding a version is one upsert of that row that
  bumps ``last_version`` (so concurrent additions get different numbers); deletes lock the row
  first, so a version added meanwhile is either deleted with the agent or keeps it alive.
* A conversation's row is the lock for its items. Appends (``add_conversation_items``,
  ``save_response``) take ``FOR NO KEY UPDATE``: one append per conversation at a time, so
  ``seq`` follows commit order and a page never skips an item committed later with a lower
  ``seq``. Deleting the conversation takes ``FOR UPDATE`` (an append waiting on it then finds the
  conversation gone), deleting an item ``FOR KEY SHARE`` (which does not wait for appends).
* Reads of several statements (a list that must also say whether its parent exists) run in one
  read-only REPEATABLE READ snapshot; the other reads are single statements.

The tables belong to a project, not to a memory scope, so they have no row-level-security policy
(like ``memory_stores``) and every transaction starts with ``Guard.nothing()``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar

from memvault.errors import (
    AgentAlreadyExists,
    AgentNotFound,
    ConversationItemNotFound,
    ConversationNotFound,
    ResponseNotFound,
)
from memvault.models import Page
from memvault.storage.agent_rows import (
    CONVERSATION_COLUMNS,
    ITEM_COLUMNS,
    RESPONSE_COLUMNS,
    KeyPage,
    conversation_values,
    item_values,
    key_page,
    response_values,
    row_to_agent,
    row_to_agent_version,
    row_to_conversation,
    row_to_item,
    row_to_response,
    version_number,
)
from memvault.storage.agents import (
    Agent,
    AgentVersion,
    Conversation,
    ConversationItem,
    Order,
    StoredResponse,
)

# The PostgreSQL store's own helpers, shared on purpose (this module is its sibling).
from memvault.storage.postgres import Conn, Guard, PostgresStore, Row, _fetchall, _fetchone
from memvault.storage.rows import check_limit, dump_json

T = TypeVar("T")

# An agent with its latest version (as a JSON object in ``latest``), in one statement.
AGENT_WITH_LATEST = (
    "SELECT a.*, row_to_json(v) AS latest FROM agents AS a"
    " CROSS JOIN LATERAL (SELECT * FROM agent_versions"
    " WHERE project = a.project AND name = a.name ORDER BY version DESC LIMIT 1) AS v"
)

Lock = Literal["FOR UPDATE", "FOR NO KEY UPDATE", "FOR KEY SHARE"]


class PostgresAgentStore:
    """Agents, conversations and responses in the memory store's PostgreSQL database.

    Example::

        agents = PostgresAgentStore(postgres_store)   # after postgres_store.open()
    """

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def close(self) -> None:
        """Nothing of its own to release: the pool belongs to the memory store."""

    async def _run(self, fn: Callable[[Conn], Awaitable[T]], *, snapshot: bool = False) -> T:
        return await self._store._run(Guard.nothing(), fn, snapshot=snapshot)

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
        definition_json = dump_json(definition)
        metadata = dict(metadata or {})
        metadata_json = dump_json(metadata)
        on_conflict = (
            "NOTHING" if new_agent_only else "UPDATE SET last_version = agents.last_version + 1"
        )

        async def create(conn: Conn) -> AgentVersion:
            row = await _fetchone(
                conn,
                "INSERT INTO agents (project, name, last_version, created_at)"
                f" VALUES (%s, %s, 1, %s) ON CONFLICT (project, name) DO {on_conflict}"
                " RETURNING last_version",
                (project, name, created_at),
            )
            if row is None:
                raise AgentAlreadyExists(f"an agent named {name!r} already exists", param="name")
            version = row["last_version"]
            await conn.execute(
                "INSERT INTO agent_versions"
                " (project, name, version, description, metadata, definition, created_at)"
                " VALUES (%s, %s, %s, %s, %s::json, %s::json, %s)",
                (project, name, version, description, metadata_json, definition_json, created_at),
            )
            return AgentVersion(
                project=project,
                name=name,
                version=version,
                definition=json.loads(definition_json),
                description=description,
                metadata=metadata,
                created_at=created_at,
            )

        return await self._run(create)

    async def get_agent(self, project: str, name: str) -> Agent:
        async def get(conn: Conn) -> Agent:
            row = await _fetchone(
                conn, f"{AGENT_WITH_LATEST} WHERE a.project = %s AND a.name = %s", (project, name)
            )
            if row is None:
                raise AgentNotFound(f"no agent named {name!r}", param="agent_name")
            return _agent(row)

        return await self._run(get)

    async def get_agent_version(self, project: str, name: str, version: int) -> AgentVersion:
        async def get(conn: Conn) -> AgentVersion:
            row = await _fetchone(
                conn,
                "SELECT * FROM agent_versions WHERE project = %s AND name = %s AND version = %s",
                (project, name, version),
            )
            if row is None:
                raise AgentNotFound(
                    f"agent {name!r} has no version {version!r}", param="agent_version"
                )
            return row_to_agent_version(row)

        return await self._run(get)

    async def list_agents(
        self,
        project: str,
        *,
        limit: int,
        order: Order = "desc",
        after: str | None = None,
        before: str | None = None,
    ) -> Page[Agent]:
        check_limit(limit)
        page = key_page(
            f"{AGENT_WITH_LATEST} WHERE a.project = %s",
            [project],
            key="a.seq",
            cursor="(SELECT seq FROM agents WHERE project = %s AND name = %s)",
            cursor_params=lambda value: [project, value],
            order=order, after=after, before=before, limit=limit, placeholder="%s",
        )  # fmt: skip

        async def list_(conn: Conn) -> Page[Agent]:
            rows, has_more = await _page(conn, page)
            return Page([_agent(row) for row in rows], has_more)

        return await self._run(list_)

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
        check_limit(limit)
        page = key_page(
            "SELECT * FROM agent_versions WHERE project = %s AND name = %s",
            [project, name],
            key="version",
            cursor="%s",
            cursor_params=lambda value: [version_number(value)],
            order=order, after=after, before=before, limit=limit, placeholder="%s",
        )  # fmt: skip

        async def list_(conn: Conn) -> Page[AgentVersion]:
            await _agent_row(conn, project, name)
            rows, has_more = await _page(conn, page)
            return Page([row_to_agent_version(row) for row in rows], has_more)

        return await self._run(list_, snapshot=True)

    async def delete_agent(self, project: str, name: str) -> None:
        async def delete(conn: Conn) -> None:
            await _agent_row(conn, project, name, lock="FOR UPDATE")
            await conn.execute(
                "DELETE FROM agent_versions WHERE project = %s AND name = %s", (project, name)
            )
            await conn.execute(
                "DELETE FROM agents WHERE project = %s AND name = %s", (project, name)
            )

        await self._run(delete)

    async def delete_agent_version(self, project: str, name: str, version: int) -> None:
        async def delete(conn: Conn) -> None:
            agent = await _fetchone(
                conn,
                "SELECT 1 AS found FROM agents WHERE project = %s AND name = %s FOR UPDATE",
                (project, name),
            )
            gone = 0
            if agent is not None:
                cursor = await conn.execute(
                    "DELETE FROM agent_versions WHERE project = %s AND name = %s AND version = %s",
                    (project, name, version),
                )
                gone = cursor.rowcount
            if not gone:
                raise AgentNotFound(
                    f"agent {name!r} has no version {version!r}", param="agent_version"
                )
            left = await _fetchone(
                conn,
                "SELECT 1 AS found FROM agent_versions WHERE project = %s AND name = %s LIMIT 1",
                (project, name),
            )
            if left is None:
                await conn.execute(
                    "DELETE FROM agents WHERE project = %s AND name = %s", (project, name)
                )

        await self._run(delete)

    # -- conversations ---------------------------------------------------------------------

    async def create_conversation(
        self, project: str, conversation: Conversation, items: Sequence[ConversationItem]
    ) -> Conversation:
        row = conversation_values(project, conversation)
        rows = item_values(project, conversation.id, items)

        async def create(conn: Conn) -> Conversation:
            await conn.execute(
                f"INSERT INTO conversations ({CONVERSATION_COLUMNS})"
                " VALUES (%s, %s, %s::json, %s, %s, %s, %s)",
                row,
            )
            await _insert_items(conn, rows)
            return conversation

        return await self._run(create)

    async def get_conversation(self, project: str, conversation_id: str) -> Conversation:
        async def get(conn: Conn) -> Conversation:
            return row_to_conversation(await _conversation_row(conn, project, conversation_id))

        return await self._run(get)

    async def locate_conversation(self, conversation_id: str) -> Conversation:
        async def get(conn: Conn) -> Conversation:
            row = await _fetchone(
                conn, "SELECT * FROM conversations WHERE id = %s", (conversation_id,)
            )
            if row is None:
                raise _no_conversation(conversation_id)
            return row_to_conversation(row)

        return await self._run(get)

    async def update_conversation(
        self, project: str, conversation_id: str, *, metadata: dict[str, str]
    ) -> Conversation:
        metadata_json = dump_json(metadata)

        async def update(conn: Conn) -> Conversation:
            row = await _fetchone(
                conn,
                "UPDATE conversations SET metadata = %s::json WHERE id = %s AND project = %s"
                " RETURNING *",
                (metadata_json, conversation_id, project),
            )
            if row is None:
                raise _no_conversation(conversation_id)
            return row_to_conversation(row)

        return await self._run(update)

    async def delete_conversation(self, project: str, conversation_id: str) -> None:
        async def delete(conn: Conn) -> None:
            await _conversation_row(conn, project, conversation_id, lock="FOR UPDATE")
            await conn.execute(
                "DELETE FROM conversation_items WHERE conversation_id = %s AND project = %s",
                (conversation_id, project),
            )
            await conn.execute(
                "DELETE FROM conversations WHERE id = %s AND project = %s",
                (conversation_id, project),
            )

        await self._run(delete)

    async def add_conversation_items(
        self, project: str, conversation_id: str, items: Sequence[ConversationItem]
    ) -> list[ConversationItem]:
        rows = item_values(project, conversation_id, items)

        async def add(conn: Conn) -> list[ConversationItem]:
            await _conversation_row(conn, project, conversation_id, lock="FOR NO KEY UPDATE")
            await _insert_items(conn, rows)
            return list(items)

        return await self._run(add)

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
        check_limit(limit)
        page = key_page(
            "SELECT * FROM conversation_items WHERE conversation_id = %s AND project = %s",
            [conversation_id, project],
            key="seq",
            cursor="(SELECT seq FROM conversation_items WHERE conversation_id = %s AND id = %s)",
            cursor_params=lambda value: [conversation_id, value],
            order=order, after=after, before=before, limit=limit, placeholder="%s",
        )  # fmt: skip

        async def list_(conn: Conn) -> Page[ConversationItem]:
            await _conversation_row(conn, project, conversation_id)
            rows, has_more = await _page(conn, page)
            return Page([row_to_item(row) for row in rows], has_more)

        return await self._run(list_, snapshot=True)

    async def get_conversation_item(
        self, project: str, conversation_id: str, item_id: str
    ) -> ConversationItem:
        async def get(conn: Conn) -> ConversationItem:
            # One statement: the conversation (no row: not found) and the item (NULLs: not found).
            row = await _fetchone(
                conn,
                "SELECT i.* FROM conversations AS c LEFT JOIN conversation_items AS i"
                " ON i.conversation_id = c.id AND i.project = c.project AND i.id = %s"
                " WHERE c.id = %s AND c.project = %s",
                (item_id, conversation_id, project),
            )
            if row is None:
                raise _no_conversation(conversation_id)
            if row["id"] is None:
                raise _no_item(item_id)
            return row_to_item(row)

        return await self._run(get)

    async def delete_conversation_item(
        self, project: str, conversation_id: str, item_id: str
    ) -> None:
        async def delete(conn: Conn) -> None:
            await _conversation_row(conn, project, conversation_id, lock="FOR KEY SHARE")
            cursor = await conn.execute(
                "DELETE FROM conversation_items"
                " WHERE id = %s AND conversation_id = %s AND project = %s",
                (item_id, conversation_id, project),
            )
            if not cursor.rowcount:
                raise _no_item(item_id)

        await self._run(delete)

    # -- responses -------------------------------------------------------------------------

    async def save_response(
        self,
        project: str,
        response: StoredResponse | None,
        *,
        conversation_id: str | None = None,
        conversation_items: Sequence[ConversationItem] = (),
    ) -> None:
        if conversation_items and conversation_id is None:
            raise ValueError("conversation items need a conversation_id")
        rows = item_values(project, conversation_id or "", conversation_items)
        response_row = None if response is None else response_values(project, response)

        async def save(conn: Conn) -> None:
            if conversation_id is not None:
                await _conversation_row(conn, project, conversation_id, lock="FOR NO KEY UPDATE")
                await _insert_items(conn, rows)
            if response_row is not None:
                await conn.execute(
                    f"INSERT INTO responses ({RESPONSE_COLUMNS})"
                    " VALUES (%s, %s, %s, %s, %s::json, %s::json, %s)",
                    response_row,
                )

        await self._run(save)

    async def get_response(self, project: str, response_id: str) -> StoredResponse:
        async def get(conn: Conn) -> StoredResponse:
            row = await _fetchone(
                conn, "SELECT * FROM responses WHERE id = %s AND project = %s",
                (response_id, project),
            )  # fmt: skip
            if row is None:
                raise _no_response(response_id)
            return row_to_response(row)

        return await self._run(get)

    async def delete_response(self, project: str, response_id: str) -> None:
        async def delete(conn: Conn) -> None:
            cursor = await conn.execute(
                "DELETE FROM responses WHERE id = %s AND project = %s", (response_id, project)
            )
            if not cursor.rowcount:
                raise _no_response(response_id)

        await self._run(delete)


# -- helpers ---------------------------------------------------------------------------------


def _agent(row: Row) -> Agent:
    """A row of :data:`AGENT_WITH_LATEST`."""
    return row_to_agent(row, row_to_agent_version(row["latest"]))


async def _page(conn: Conn, page: KeyPage) -> tuple[list[Row], bool]:
    return page.finish(await _fetchall(conn, page.sql, page.params))


async def _agent_row(conn: Conn, project: str, name: str, *, lock: Lock | None = None) -> Row:
    row = await _fetchone(
        conn,
        "SELECT * FROM agents WHERE project = %s AND name = %s" + (f" {lock}" if lock else ""),
        (project, name),
    )
    if row is None:
        raise AgentNotFound(f"no agent named {name!r}", param="agent_name")
    return row


async def _conversation_row(
    conn: Conn, project: str, conversation_id: str, *, lock: Lock | None = None
) -> Row:
    row = await _fetchone(
        conn,
        "SELECT * FROM conversations WHERE id = %s AND project = %s" + (f" {lock}" if lock else ""),
        (conversation_id, project),
    )
    if row is None:
        raise _no_conversation(conversation_id)
    return row


async def _insert_items(conn: Conn, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                f"INSERT INTO conversation_items ({ITEM_COLUMNS})"
                " VALUES (%s, %s, %s, %s, %s::json, %s)",
                rows,
            )


def _no_conversation(conversation_id: str) -> ConversationNotFound:
    return ConversationNotFound(
        f"no conversation with id {conversation_id!r}", param="conversation_id"
    )


def _no_item(item_id: str) -> ConversationItemNotFound:
    return ConversationItemNotFound(f"no item with id {item_id!r}", param="item_id")


def _no_response(response_id: str) -> ResponseNotFound:
    return ResponseNotFound(f"no response with id {response_id!r}", param="response_id")
