"""What the SQLite and PostgreSQL AgentStores share: the mapping between agent records
(:mod:`memvault.storage.agents`) and table rows, and the paging rule of their lists.

Rows are read by column name (``sqlite3.Row`` and psycopg dict rows both allow it); JSON columns
arrive as text (SQLite) or decoded (PostgreSQL ``json``), and both are read through
:func:`~memvault.storage.rows.load_json`.

Lists are ordered by an integer key (``seq``, or an agent's version number); their cursors are
names or ids, which each backend's SQL turns into a key value (an unknown cursor becomes NULL and
so matches nothing, which gives the empty page the protocol promises).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from memvault.storage.agents import (
    Agent,
    AgentVersion,
    Conversation,
    ConversationItem,
    ConversationMemory,
    Order,
    StoredResponse,
)
from memvault.storage.rows import dump_json, load_json, plan_page

R = TypeVar("R")


# -- rows -> records -------------------------------------------------------------------------


def row_to_agent_version(row: Mapping[str, Any]) -> AgentVersion:
    return AgentVersion(
        project=row["project"],
        name=row["name"],
        version=row["version"],
        definition=load_json(row["definition"]),
        description=row["description"],
        metadata=load_json(row["metadata"]),
        created_at=row["created_at"],
    )


def row_to_agent(row: Mapping[str, Any], latest: AgentVersion) -> Agent:
    """An ``agents`` row with its latest version."""
    return Agent(
        project=row["project"], name=row["name"], latest=latest, created_at=row["created_at"]
    )


def row_to_conversation(row: Mapping[str, Any]) -> Conversation:
    memory = None
    if row["memory_store"] is not None:
        memory = ConversationMemory(
            memory_store_name=row["memory_store"], scope=row["scope"], scope_kind=row["scope_kind"]
        )
    return Conversation(
        id=row["id"],
        project=row["project"],
        metadata=load_json(row["metadata"]),
        created_at=row["created_at"],
        memory=memory,
    )


def row_to_item(row: Mapping[str, Any]) -> ConversationItem:
    return ConversationItem(
        id=row["id"], type=row["type"], data=load_json(row["data"]), created_at=row["created_at"]
    )


def row_to_response(row: Mapping[str, Any]) -> StoredResponse:
    return StoredResponse(
        id=row["id"],
        project=row["project"],
        body=load_json(row["body"]),
        input_items=tuple(load_json(row["input_items"])),
        conversation_id=row["conversation_id"],
        previous_response_id=row["previous_response_id"],
        created_at=row["created_at"],
    )


# -- records -> row values -------------------------------------------------------------------

CONVERSATION_COLUMNS = "id, project, metadata, created_at, memory_store, scope_kind, scope"
ITEM_COLUMNS = "id, project, conversation_id, type, data, created_at"
RESPONSE_COLUMNS = (
    "id, project, conversation_id, previous_response_id, body, input_items, created_at"
)


def conversation_values(project: str, conversation: Conversation) -> tuple[Any, ...]:
    """The conversation's row, in the order of :data:`CONVERSATION_COLUMNS`. Raises
    ``ValueError`` for a conversation of another project."""
    if conversation.project != project:
        raise ValueError("the conversation belongs to another project")
    memory = conversation.memory
    return (
        conversation.id,
        project,
        dump_json(conversation.metadata),
        conversation.created_at,
        memory.memory_store_name if memory else None,
        memory.scope_kind if memory else None,
        memory.scope if memory else None,
    )


def item_values(
    project: str, conversation_id: str, items: Sequence[ConversationItem]
) -> list[tuple[Any, ...]]:
    """One tuple per item, in the order of :data:`ITEM_COLUMNS`."""
    return [
        (item.id, project, conversation_id, item.type, dump_json(item.data), item.created_at)
        for item in items
    ]


def response_values(project: str, response: StoredResponse) -> tuple[Any, ...]:
    """The response's row, in the order of :data:`RESPONSE_COLUMNS`. Raises ``ValueError`` for
    a response of another project."""
    if response.project != project:
        raise ValueError("the response belongs to another project")
    return (
        response.id,
        project,
        response.conversation_id,
        response.previous_response_id,
        dump_json(response.body),
        dump_json(list(response.input_items)),
        response.created_at,
    )


def version_number(cursor: str) -> int | None:
    """A version cursor as a number; None (matches no version) when it is not one."""
    try:
        return int(cursor)
    except ValueError:
        return None


# -- pages -----------------------------------------------------------------------------------


class KeyPage(NamedTuple):
    """The query for one page of a key-ordered list, and how to finish the rows it returns.

    ``sql`` fetches ``limit + 1`` rows (the extra one tells ``has_more``); :meth:`finish` drops
    it and restores the list order when the scan ran backwards (``before`` alone).
    """

    sql: str
    params: list[Any]
    limit: int
    reverse: bool

    def finish(self, rows: Sequence[R]) -> tuple[list[R], bool]:
        page = list(rows[: self.limit])
        if self.reverse:
            page.reverse()
        return page, len(rows) > self.limit


def key_page(
    select: str,
    params: Sequence[Any],
    *,
    key: str,
    cursor: str,
    cursor_params: Callable[[str], list[Any]],
    order: Order,
    after: str | None,
    before: str | None,
    limit: int,
    placeholder: str,
) -> KeyPage:
    """One page of ``select`` (which ends in a WHERE clause) ordered by ``key``.

    Cursors follow :func:`~memvault.storage.rows.plan_page`: ``after`` gives the page that
    follows it in ``order``, ``before`` the page that precedes it. The SQL expression ``cursor``
    (with ``cursor_params(value)`` as its parameters) turns a cursor into a ``key`` value;
    ``placeholder`` is the driver's parameter marker (``?`` or ``%s``). Raises
    ``InvalidRequest`` for an unknown ``order``.
    """
    plan = plan_page(order, after, before)
    conditions = [f" AND {key} {op} {cursor}" for op, _ in plan.bounds]
    values = list(params)
    for _, value in plan.bounds:
        values += cursor_params(value)
    sql = (
        f"{select}{''.join(conditions)} ORDER BY {key} {'ASC' if plan.ascending else 'DESC'}"
        f" LIMIT {placeholder}"
    )
    return KeyPage(sql, [*values, limit + 1], limit, plan.reverse)
