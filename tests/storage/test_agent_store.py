"""The AgentStore protocol, run against every backend that has one (``AGENT_BACKENDS``): a
SQLite file, or a fresh database on the session's embedded PostgreSQL server
(``tests/support/postgres.py``, the fixture machinery of ``tests/storage/conftest.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memvault.errors import (
    AgentAlreadyExists,
    AgentNotFound,
    ConversationItemNotFound,
    ConversationNotFound,
    InvalidRequest,
    ResponseNotFound,
)
from memvault.models import new_id
from memvault.settings import Settings
from memvault.storage import open_store
from memvault.storage.agents import (
    AgentStore,
    Conversation,
    ConversationItem,
    StoredResponse,
    open_agent_store,
)
from tests.support.postgres import EmbeddedPostgres

AGENT_BACKENDS = ["sqlite", "postgres"]
P, Q = "proj", "other"
DEFINITION = {"kind": "prompt", "model": "gpt-4.1",
              "tools": [{"type": "memory_search", "scope": "ü/%_"}]}


@pytest.fixture(params=AGENT_BACKENDS)
async def agent_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AgentStore]:
    settings = Settings(vector_cache_mb=64, sqlite_synchronous="NORMAL")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / 'memvault.db'}"
        else:
            server: EmbeddedPostgres = request.getfixturevalue("postgres_server")
            url = stack.enter_context(server.database())
        store = await open_store(url, settings)
        agents = open_agent_store(store)
        assert agents is not None
        assert isinstance(agents, AgentStore)
        try:
            yield agents
        finally:
            await agents.close()
            await store.close()


def item(text: str, role: str = "user") -> ConversationItem:
    item_id = new_id("msg")
    data = {"id": item_id, "type": "message", "role": role,
            "content": [{"type": "input_text", "text": text}]}
    return ConversationItem(id=item_id, type="message", data=data, created_at=1)


async def conversation(agents: AgentStore, project: str = P, items=()) -> Conversation:
    created = Conversation(id=new_id("conv"), project=project, metadata={"k": "v"}, created_at=5)
    return await agents.create_conversation(project, created, list(items))


# -- agents ----------------------------------------------------------------------------------


async def test_versions_count_from_one_and_read_back_equal(agent_store: AgentStore) -> None:
    first = await agent_store.create_agent_version(
        P, "bot", definition=DEFINITION, description="d", metadata={"a": "b"}, created_at=10
    )
    second = await agent_store.create_agent_version(
        P, "bot", definition={**DEFINITION, "model": "gpt-4o"}, created_at=11
    )
    assert (first.version, second.version) == (1, 2)
    assert await agent_store.get_agent_version(P, "bot", 1) == first
    agent = await agent_store.get_agent(P, "bot")
    assert agent.latest == second and agent.created_at == 10
    assert first.definition == DEFINITION and first.metadata == {"a": "b"}


async def test_new_agent_only_refuses_an_existing_name(agent_store: AgentStore) -> None:
    await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1,
                                           new_agent_only=True)
    with pytest.raises(AgentAlreadyExists):
        await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=2,
                                               new_agent_only=True)
    assert (await agent_store.get_agent(P, "bot")).latest.version == 1


async def test_deleted_version_numbers_are_not_reused(agent_store: AgentStore) -> None:
    for _ in range(3):
        await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    await agent_store.delete_agent_version(P, "bot", 3)
    assert (await agent_store.get_agent(P, "bot")).latest.version == 2
    with pytest.raises(AgentNotFound):
        await agent_store.get_agent_version(P, "bot", 3)
    again = await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    assert again.version == 4


async def test_deleting_the_last_version_deletes_the_agent(agent_store: AgentStore) -> None:
    await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    await agent_store.delete_agent_version(P, "bot", 1)
    with pytest.raises(AgentNotFound):
        await agent_store.get_agent(P, "bot")
    with pytest.raises(AgentNotFound):
        await agent_store.delete_agent_version(P, "bot", 1)


async def test_delete_agent_removes_every_version(agent_store: AgentStore) -> None:
    await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    await agent_store.delete_agent(P, "bot")
    with pytest.raises(AgentNotFound):
        await agent_store.get_agent_version(P, "bot", 1)
    with pytest.raises(AgentNotFound):
        await agent_store.delete_agent(P, "bot")
    created = await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    assert created.version == 1  # a new agent of the same name starts again


async def test_agent_lists_page_in_creation_order(agent_store: AgentStore) -> None:
    names = ["c", "a", "b", "d"]
    for name in names:
        await agent_store.create_agent_version(P, name, definition=DEFINITION, created_at=1)
    seen, after = [], None
    while True:
        page = await agent_store.list_agents(P, limit=3, order="asc", after=after)
        seen += [agent.name for agent in page.items]
        if not page.has_more:
            break
        after = page.items[-1].name
    assert seen == names
    desc = await agent_store.list_agents(P, limit=2, order="desc")
    assert [a.name for a in desc.items] == ["d", "b"] and desc.has_more
    before = await agent_store.list_agents(P, limit=2, order="asc", before="d")
    assert [a.name for a in before.items] == ["a", "b"] and before.has_more
    unknown = await agent_store.list_agents(P, limit=2, after="nobody")
    assert unknown.items == [] and not unknown.has_more
    with pytest.raises(InvalidRequest):
        await agent_store.list_agents(P, limit=0)


async def test_version_lists_page_by_number(agent_store: AgentStore) -> None:
    for _ in range(3):
        await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    page = await agent_store.list_agent_versions(P, "bot", limit=2, order="desc")
    assert [v.version for v in page.items] == [3, 2] and page.has_more
    rest = await agent_store.list_agent_versions(P, "bot", limit=2, order="desc", after="2")
    assert [v.version for v in rest.items] == [1] and not rest.has_more
    assert (await agent_store.list_agent_versions(P, "bot", limit=2, after="x")).items == []
    with pytest.raises(AgentNotFound):
        await agent_store.list_agent_versions(P, "nobody", limit=2)


async def test_agents_are_isolated_by_project(agent_store: AgentStore) -> None:
    await agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
    with pytest.raises(AgentNotFound):
        await agent_store.get_agent(Q, "bot")
    with pytest.raises(AgentNotFound):
        await agent_store.delete_agent(Q, "bot")
    assert (await agent_store.list_agents(Q, limit=10)).items == []
    other = await agent_store.create_agent_version(Q, "bot", definition=DEFINITION, created_at=1)
    assert other.version == 1
    assert (await agent_store.get_agent(P, "bot")).latest.version == 1


async def test_concurrent_versions_get_distinct_numbers(agent_store: AgentStore) -> None:
    created = await asyncio.gather(*(
        agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1)
        for _ in range(8)
    ))  # fmt: skip
    assert sorted(version.version for version in created) == list(range(1, 9))
    assert (await agent_store.get_agent(P, "bot")).latest.version == 8


async def test_concurrent_new_agents_of_one_name_make_one(agent_store: AgentStore) -> None:
    results = await asyncio.gather(*(
        agent_store.create_agent_version(P, "bot", definition=DEFINITION, created_at=1,
                                         new_agent_only=True)
        for _ in range(4)
    ), return_exceptions=True)  # fmt: skip
    assert sum(not isinstance(result, BaseException) for result in results) == 1
    assert all(isinstance(result, AgentAlreadyExists)
               for result in results if isinstance(result, BaseException))


# -- conversations ---------------------------------------------------------------------------


async def test_conversation_round_trip_with_initial_items(agent_store: AgentStore) -> None:
    first = [item("hello"), item("hi there", role="assistant")]
    created = await conversation(agent_store, items=first)
    assert await agent_store.get_conversation(P, created.id) == created
    page = await agent_store.list_conversation_items(P, created.id, limit=10, order="asc")
    assert page.items == first
    updated = await agent_store.update_conversation(P, created.id, metadata={"x": "y"})
    assert updated.metadata == {"x": "y"}


async def test_items_keep_their_order_and_page_by_id(agent_store: AgentStore) -> None:
    created = await conversation(agent_store)
    added = [item(f"m{i}") for i in range(5)]
    await agent_store.add_conversation_items(P, created.id, added[:2])
    await agent_store.add_conversation_items(P, created.id, added[2:])
    desc = await agent_store.list_conversation_items(P, created.id, limit=2)
    assert desc.items == [added[4], added[3]] and desc.has_more
    after = await agent_store.list_conversation_items(P, created.id, limit=10, after=added[3].id)
    assert after.items == [added[2], added[1], added[0]] and not after.has_more
    before = await agent_store.list_conversation_items(
        P, created.id, limit=2, order="asc", before=added[4].id
    )
    assert before.items == [added[2], added[3]] and before.has_more


async def test_item_get_and_delete(agent_store: AgentStore) -> None:
    one, two = item("one"), item("two")
    created = await conversation(agent_store, items=[one, two])
    assert await agent_store.get_conversation_item(P, created.id, two.id) == two
    await agent_store.delete_conversation_item(P, created.id, one.id)
    with pytest.raises(ConversationItemNotFound):
        await agent_store.get_conversation_item(P, created.id, one.id)
    with pytest.raises(ConversationItemNotFound):
        await agent_store.delete_conversation_item(P, created.id, one.id)
    other = await conversation(agent_store)
    with pytest.raises(ConversationItemNotFound):  # an item of another conversation
        await agent_store.get_conversation_item(P, other.id, two.id)


async def test_delete_conversation_deletes_its_items(agent_store: AgentStore) -> None:
    one = item("one")
    created = await conversation(agent_store, items=[one])
    await agent_store.delete_conversation(P, created.id)
    for call in (
        agent_store.get_conversation(P, created.id),
        agent_store.list_conversation_items(P, created.id, limit=5),
        agent_store.get_conversation_item(P, created.id, one.id),
        agent_store.add_conversation_items(P, created.id, [item("late")]),
        agent_store.delete_conversation(P, created.id),
    ):
        with pytest.raises(ConversationNotFound):
            await call


async def test_conversations_are_isolated_by_project(agent_store: AgentStore) -> None:
    one = item("secret")
    created = await conversation(agent_store, items=[one])
    for call in (
        agent_store.get_conversation(Q, created.id),
        agent_store.list_conversation_items(Q, created.id, limit=5),
        agent_store.get_conversation_item(Q, created.id, one.id),
        agent_store.add_conversation_items(Q, created.id, [item("x")]),
        agent_store.update_conversation(Q, created.id, metadata={}),
        agent_store.delete_conversation_item(Q, created.id, one.id),
        agent_store.delete_conversation(Q, created.id),
    ):
        with pytest.raises(ConversationNotFound):
            await call
    page = await agent_store.list_conversation_items(P, created.id, limit=5)
    assert page.items == [one]


async def test_odd_text_round_trips(agent_store: AgentStore) -> None:
    texts = ["ünïcödé 🍵", "100% _under_ /slash/ 'quote\" \\ back", "line\nbreak\ttab", "  "]
    created = await conversation(agent_store, items=[item(text) for text in texts])
    page = await agent_store.list_conversation_items(P, created.id, limit=10, order="asc")
    assert [i.data["content"][0]["text"] for i in page.items] == texts


async def test_unstorable_text_is_refused_and_nothing_is_added(agent_store: AgentStore) -> None:
    created = await conversation(agent_store)
    with pytest.raises(InvalidRequest):
        await agent_store.add_conversation_items(P, created.id, [item("ok"), item("bad \ud800")])
    assert (await agent_store.list_conversation_items(P, created.id, limit=5)).items == []


# -- responses -------------------------------------------------------------------------------


def response(project: str = P, conversation_id: str | None = None, **body: object) -> StoredResponse:
    response_id = new_id("resp")
    return StoredResponse(
        id=response_id, project=project,
        body={"id": response_id, "object": "response", "output": [{"type": "message"}], **body},
        input_items=({"id": "msg_1", "type": "message"},),
        conversation_id=conversation_id, previous_response_id="resp_prev", created_at=7,
    )


async def test_a_turn_is_recorded_as_a_whole(agent_store: AgentStore) -> None:
    created = await conversation(agent_store)
    stored = response(conversation_id=created.id)
    turn = [item("question"), item("answer", role="assistant")]
    await agent_store.save_response(P, stored, conversation_id=created.id, conversation_items=turn)
    assert await agent_store.get_response(P, stored.id) == stored
    page = await agent_store.list_conversation_items(P, created.id, limit=5, order="asc")
    assert page.items == turn


async def test_a_turn_on_a_deleted_conversation_stores_nothing(agent_store: AgentStore) -> None:
    created = await conversation(agent_store)
    await agent_store.delete_conversation(P, created.id)
    stored = response(conversation_id=created.id)
    with pytest.raises(ConversationNotFound):
        await agent_store.save_response(
            P, stored, conversation_id=created.id, conversation_items=[item("q")]
        )
    with pytest.raises(ResponseNotFound):
        await agent_store.get_response(P, stored.id)


async def test_concurrent_turns_each_stay_whole(agent_store: AgentStore) -> None:
    created = await conversation(agent_store)
    turns = [[item(f"q{t}"), item(f"a{t}", role="assistant"), item(f"n{t}")] for t in range(6)]
    await asyncio.gather(*(
        agent_store.save_response(P, response(conversation_id=created.id),
                                  conversation_id=created.id, conversation_items=turn)
        for turn in turns
    ))  # fmt: skip
    page = await agent_store.list_conversation_items(P, created.id, limit=100, order="asc")
    chunks = [page.items[i:i + 3] for i in range(0, len(page.items), 3)]
    assert sorted(chunks, key=lambda chunk: chunk[0].id) == sorted(turns, key=lambda t: t[0].id)


async def test_unstored_response_still_extends_its_conversation(agent_store: AgentStore) -> None:
    created = await conversation(agent_store)
    await agent_store.save_response(P, None, conversation_id=created.id,
                                    conversation_items=[item("q")])
    assert len((await agent_store.list_conversation_items(P, created.id, limit=5)).items) == 1


async def test_responses_are_isolated_by_project_and_deletable(agent_store: AgentStore) -> None:
    stored = response()
    await agent_store.save_response(P, stored)
    with pytest.raises(ResponseNotFound):
        await agent_store.get_response(Q, stored.id)
    with pytest.raises(ResponseNotFound):
        await agent_store.delete_response(Q, stored.id)
    await agent_store.delete_response(P, stored.id)
    with pytest.raises(ResponseNotFound):
        await agent_store.get_response(P, stored.id)


def test_the_sqlite_runner_applies_the_agents_migration(tmp_path: Path) -> None:
    import sqlite3

    from memvault.storage.migrations import apply_sqlite, load_migrations

    assert (3, "0003_agents.sql") in [(m.version, m.name) for m in load_migrations("sqlite")]
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    try:
        assert 3 in apply_sqlite(conn)
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert {"agents", "agent_versions", "conversations", "conversation_items",
                "responses"} <= tables
    finally:
        conn.close()
