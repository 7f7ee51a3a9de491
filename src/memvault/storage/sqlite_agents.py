"""The AgentStore protocol on the SQLite file of the memory store.

It shares the :class:`~memvault.storage.sqlite_threads.SQLiteDatabase` of
:class:`~memvault.storage.sqlite.SQLiteStore` (``store.database``): the same writer thread (so a
turn's items and response commit in one ``BEGIN IMMEDIATE`` transaction, group-committed with
memory writes) and the same read-only reader threads. Its tables come from migration
``0003_agents.sql``, applied with the others when the store opens. The row mapping and the paging
rule are shared with the PostgreSQL AgentStore (:mod:`memvault.storage.agent_rows`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

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
from memvault.storage.rows import check_limit, dump_json
from memvault.storage.sqlite_threads import SQLiteDatabase, WriteContext


class SQLiteAgentStore:
    """Agents, conversations and responses in the memory store's SQLite file.

    Example::

        agents = SQLiteAgentStore(sqlite_store.database)
    """

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

    async def close(self) -> None:
        """Nothing of its own to release: the database belongs to the memory store."""

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

        def create(tx: WriteContext) -> AgentVersion:
            row = tx.conn.execute(
                "SELECT last_version FROM agents WHERE project = ? AND name = ?", (project, name)
            ).fetchone()
            if row is None:
                version = 1
                tx.conn.execute(
                    "INSERT INTO agents (project, name, last_version, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (project, name, version, created_at),
                )
            elif new_agent_only:
                raise AgentAlreadyExists(f"an agent named {name!r} already exists", param="name")
            else:
                version = row["last_version"] + 1
                tx.conn.execute(
                    "UPDATE agents SET last_version = ? WHERE project = ? AND name = ?",
                    (version, project, name),
                )
            tx.conn.execute(
                "INSERT INTO agent_versions"
                " (project, name, version, description, metadata, definition, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
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

        return await self._db.write(create)

    async def get_agent(self, project: str, name: str) -> Agent:
        def get(conn: sqlite3.Connection) -> Agent:
            with _snapshot(conn):
                row = _agent_row(conn, project, name)
                return row_to_agent(row, _latest_version(conn, project, name))

        return await self._db.read(get)

    async def get_agent_version(self, project: str, name: str, version: int) -> AgentVersion:
        def get(conn: sqlite3.Connection) -> AgentVersion:
            row = conn.execute(
                "SELECT * FROM agent_versions WHERE project = ? AND name = ? AND version = ?",
                (project, name, version),
            ).fetchone()
            if row is None:
                raise AgentNotFound(
                    f"agent {name!r} has no version {version!r}", param="agent_version"
                )
            return row_to_agent_version(row)

        return await self._db.read(get)

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

        def list_(conn: sqlite3.Connection) -> Page[Agent]:
            with _snapshot(conn):
                rows, has_more = _page(
                    conn,
                    key_page(
                        "SELECT * FROM agents WHERE project = ?",
                        [project],
                        key="seq",
                        cursor="(SELECT seq FROM agents WHERE project = ? AND name = ?)",
                        cursor_params=lambda value: [project, value],
                        order=order, after=after, before=before, limit=limit, placeholder="?",
                    ),
                )
                agents = [
                    row_to_agent(row, _latest_version(conn, project, row["name"]))
                    for row in rows
                ]
            return Page(agents, has_more)

        return await self._db.read(list_)

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

        def list_(conn: sqlite3.Connection) -> Page[AgentVersion]:
            with _snapshot(conn):
                _agent_row(conn, project, name)
                rows, has_more = _page(
                    conn,
                    key_page(
                        "SELECT * FROM agent_versions WHERE project = ? AND name = ?",
                        [project, name],
                        key="version",
                        cursor="?",
                        cursor_params=lambda value: [version_number(value)],
                        order=order, after=after, before=before, limit=limit, placeholder="?",
                    ),
                )
            return Page([row_to_agent_version(row) for row in rows], has_more)

        return await self._db.read(list_)

    async def delete_agent(self, project: str, name: str) -> None:
        def delete(tx: WriteContext) -> None:
            _agent_row(tx.conn, project, name)
            tx.conn.execute(
                "DELETE FROM agent_versions WHERE project = ? AND name = ?", (project, name)
            )
            tx.conn.execute("DELETE FROM agents WHERE project = ? AND name = ?", (project, name))

        await self._db.write(delete)

    async def delete_agent_version(self, project: str, name: str, version: int) -> None:
        def delete(tx: WriteContext) -> None:
            gone = tx.conn.execute(
                "DELETE FROM agent_versions WHERE project = ? AND name = ? AND version = ?",
                (project, name, version),
            ).rowcount
            if not gone:
                raise AgentNotFound(
                    f"agent {name!r} has no version {version!r}", param="agent_version"
                )
            left = tx.conn.execute(
                "SELECT 1 FROM agent_versions WHERE project = ? AND name = ? LIMIT 1",
                (project, name),
            ).fetchone()
            if left is None:
                tx.conn.execute(
                    "DELETE FROM agents WHERE project = ? AND name = ?", (project, name)
                )

        await self._db.write(delete)

    # -- conversations ---------------------------------------------------------------------

    async def create_conversation(
        self, project: str, conversation: Conversation, items: Sequence[ConversationItem]
    ) -> Conversation:
        row = conversation_values(project, conversation)
        rows = item_values(project, conversation.id, items)

        def create(tx: WriteContext) -> Conversation:
            tx.conn.execute(
                f"INSERT INTO conversations ({CONVERSATION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            _insert_items(tx.conn, rows)
            return conversation

        return await self._db.write(create)

    async def get_conversation(self, project: str, conversation_id: str) -> Conversation:
        def get(conn: sqlite3.Connection) -> Conversation:
            return row_to_conversation(_conversation_row(conn, project, conversation_id))

        return await self._db.read(get)

    async def locate_conversation(self, conversation_id: str) -> Conversation:
        def get(conn: sqlite3.Connection) -> Conversation:
            row = conn.execute(
                "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise _no_conversation(conversation_id)
            return row_to_conversation(row)

        return await self._db.read(get)

    async def update_conversation(
        self, project: str, conversation_id: str, *, metadata: dict[str, str]
    ) -> Conversation:
        metadata_json = dump_json(metadata)

        def update(tx: WriteContext) -> Conversation:
            _conversation_row(tx.conn, project, conversation_id)
            tx.conn.execute(
                "UPDATE conversations SET metadata = ? WHERE id = ? AND project = ?",
                (metadata_json, conversation_id, project),
            )
            return row_to_conversation(_conversation_row(tx.conn, project, conversation_id))

        return await self._db.write(update)

    async def delete_conversation(self, project: str, conversation_id: str) -> None:
        def delete(tx: WriteContext) -> None:
            _conversation_row(tx.conn, project, conversation_id)
            tx.conn.execute(
                "DELETE FROM conversation_items WHERE conversation_id = ? AND project = ?",
                (conversation_id, project),
            )
            tx.conn.execute(
                "DELETE FROM conversations WHERE id = ? AND project = ?",
                (conversation_id, project),
            )

        await self._db.write(delete)

    async def add_conversation_items(
        self, project: str, conversation_id: str, items: Sequence[ConversationItem]
    ) -> list[ConversationItem]:
        rows = item_values(project, conversation_id, items)

        def add(tx: WriteContext) -> list[ConversationItem]:
            _conversation_row(tx.conn, project, conversation_id)
            _insert_items(tx.conn, rows)
            return list(items)

        return await self._db.write(add)

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

        def list_(conn: sqlite3.Connection) -> Page[ConversationItem]:
            with _snapshot(conn):
                _conversation_row(conn, project, conversation_id)
                rows, has_more = _page(
                    conn,
                    key_page(
                        "SELECT * FROM conversation_items"
                        " WHERE conversation_id = ? AND project = ?",
                        [conversation_id, project],
                        key="seq",
                        cursor=(
                            "(SELECT seq FROM conversation_items"
                            " WHERE conversation_id = ? AND id = ?)"
                        ),
                        cursor_params=lambda value: [conversation_id, value],
                        order=order, after=after, before=before, limit=limit, placeholder="?",
                    ),
                )
            return Page([row_to_item(row) for row in rows], has_more)

        return await self._db.read(list_)

    async def get_conversation_item(
        self, project: str, conversation_id: str, item_id: str
    ) -> ConversationItem:
        def get(conn: sqlite3.Connection) -> ConversationItem:
            with _snapshot(conn):
                _conversation_row(conn, project, conversation_id)
                return row_to_item(_item_row(conn, project, conversation_id, item_id))

        return await self._db.read(get)

    async def delete_conversation_item(
        self, project: str, conversation_id: str, item_id: str
    ) -> None:
        def delete(tx: WriteContext) -> None:
            _conversation_row(tx.conn, project, conversation_id)
            _item_row(tx.conn, project, conversation_id, item_id)
            tx.conn.execute(
                "DELETE FROM conversation_items"
                " WHERE id = ? AND conversation_id = ? AND project = ?",
                (item_id, conversation_id, project),
            )

        await self._db.write(delete)

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

        def save(tx: WriteContext) -> None:
            if conversation_id is not None:
                _conversation_row(tx.conn, project, conversation_id)
                _insert_items(tx.conn, rows)
            if response_row is not None:
                tx.conn.execute(
                    f"INSERT INTO responses ({RESPONSE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    response_row,
                )

        await self._db.write(save)

    async def get_response(self, project: str, response_id: str) -> StoredResponse:
        def get(conn: sqlite3.Connection) -> StoredResponse:
            row = conn.execute(
                "SELECT * FROM responses WHERE id = ? AND project = ?", (response_id, project)
            ).fetchone()
            if row is None:
                raise ResponseNotFound(f"no response with id {response_id!r}", param="response_id")
            return row_to_response(row)

        return await self._db.read(get)

    async def delete_response(self, project: str, response_id: str) -> None:
        def delete(tx: WriteContext) -> None:
            gone = tx.conn.execute(
                "DELETE FROM responses WHERE id = ? AND project = ?", (response_id, project)
            ).rowcount
            if not gone:
                raise ResponseNotFound(f"no response with id {response_id!r}", param="response_id")

        await self._db.write(delete)


# -- helpers ---------------------------------------------------------------------------------


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read snapshot for several SELECTs."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _page(conn: sqlite3.Connection, page: KeyPage) -> tuple[list[sqlite3.Row], bool]:
    return page.finish(conn.execute(page.sql, page.params).fetchall())


def _agent_row(conn: sqlite3.Connection, project: str, name: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM agents WHERE project = ? AND name = ?", (project, name)
    ).fetchone()
    if row is None:
        raise AgentNotFound(f"no agent named {name!r}", param="agent_name")
    return row


def _latest_version(conn: sqlite3.Connection, project: str, name: str) -> AgentVersion:
    row = conn.execute(
        "SELECT * FROM agent_versions WHERE project = ? AND name = ?"
        " ORDER BY version DESC LIMIT 1",
        (project, name),
    ).fetchone()
    if row is None:  # an agent always keeps at least one version
        raise AgentNotFound(f"no agent named {name!r}", param="agent_name")
    return row_to_agent_version(row)


def _conversation_row(conn: sqlite3.Connection, project: str, conversation_id: str) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM conversations WHERE id = ? AND project = ?", (conversation_id, project)
    ).fetchone()
    if row is None:
        raise _no_conversation(conversation_id)
    return row


def _no_conversation(conversation_id: str) -> ConversationNotFound:
    return ConversationNotFound(
        f"no conversation with id {conversation_id!r}", param="conversation_id"
    )


def _item_row(
    conn: sqlite3.Connection, project: str, conversation_id: str, item_id: str
) -> sqlite3.Row:
    row = conn.execute(
        "SELECT * FROM conversation_items WHERE id = ? AND conversation_id = ? AND project = ?",
        (item_id, conversation_id, project),
    ).fetchone()
    if row is None:
        raise ConversationItemNotFound(f"no item with id {item_id!r}", param="item_id")
    return row


def _insert_items(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    if rows:
        conn.executemany(
            f"INSERT INTO conversation_items ({ITEM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
