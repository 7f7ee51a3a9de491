"""A conversation's memory binding in the AgentStore, on every backend that has one: it is stored
with the conversation, read back unchanged by every read, kept by metadata updates, and a
conversation can be found by its id alone (the Databricks face's lookup) without any other
read crossing projects."""

from __future__ import annotations

import pytest

from memvault.errors import ConversationNotFound
from memvault.models import new_id
from memvault.storage.agents import AgentStore, Conversation, ConversationMemory
from tests.storage.test_agent_store import P, Q, agent_store, item  # noqa: F401 (fixture)

BINDING = ConversationMemory(memory_store_name="prefs", scope="ü/%_ user", scope_kind="user")


async def bound(agents: AgentStore, project: str = P,
                memory: ConversationMemory | None = BINDING) -> Conversation:
    created = Conversation(id=new_id("conv"), project=project, metadata={"k": "v"},
                           created_at=7, memory=memory)
    return await agents.create_conversation(project, created, [item("hello")])


async def test_the_binding_is_kept_with_the_conversation(agent_store: AgentStore) -> None:  # noqa: F811
    conversation = await bound(agent_store)
    fetched = await agent_store.get_conversation(P, conversation.id)
    assert fetched == conversation and fetched.memory == BINDING

    updated = await agent_store.update_conversation(P, conversation.id, metadata={"k": "w"})
    assert updated.memory == BINDING and updated.metadata == {"k": "w"}
    assert (await agent_store.get_conversation(P, conversation.id)).memory == BINDING


async def test_an_unbound_conversation_has_no_binding(agent_store: AgentStore) -> None:  # noqa: F811
    conversation = await bound(agent_store, memory=None)
    assert (await agent_store.get_conversation(P, conversation.id)).memory is None


async def test_a_conversation_is_located_by_id_in_its_own_project(
    agent_store: AgentStore,  # noqa: F811
) -> None:
    mine, theirs = await bound(agent_store, P), await bound(agent_store, Q)
    assert await agent_store.locate_conversation(mine.id) == mine
    assert (await agent_store.locate_conversation(theirs.id)).project == Q
    with pytest.raises(ConversationNotFound):
        await agent_store.get_conversation(P, theirs.id)
    await agent_store.delete_conversation(Q, theirs.id)
    with pytest.raises(ConversationNotFound):
        await agent_store.locate_conversation(theirs.id)
    with pytest.raises(ConversationNotFound):
        await agent_store.locate_conversation("conv_missing")
