"""memvault's Agent Framework providers in real ``Agent`` runs: the chat model is the OpenAI chat
client of ``agent-framework-openai`` talking to the scripted OpenAI-compatible server, memory and
history live in a live memvault server, and Redis is the real server on 127.0.0.1:6379."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from agent_framework import Agent, AgentSession, HistoryProvider
from agent_framework_openai import OpenAIChatCompletionClient
from openai import AsyncOpenAI

from memvault.client import AsyncClient, AsyncUpdateHandle, UpdateResult
from memvault.integrations.agent_framework import (
    MemvaultContextProvider,
    MemvaultHistoryProvider,
    RedisHistoryProvider,
)
from memvault.integrations.agent_framework.history import session_directory
from tests.integrations.conftest import API_KEY
from tests.support.openai_server import RecordedRequest, ScriptedOpenAIServer, chat_completion
from tests.support.redis import local_redis
from tests.support.server import LiveServer, free_port

pytestmark = pytest.mark.slow

PROMPT = MemvaultContextProvider.DEFAULT_CONTEXT_PROMPT


# -- the chat model, memvault and Redis ------------------------------------------------------


def echo(request: RecordedRequest) -> dict[str, Any]:
    """The scripted model's answer: the last user message, echoed."""
    last = [m for m in request.json["messages"] if m["role"] == "user"][-1]["content"]
    return chat_completion(f"echo: {last}")


@pytest.fixture
def chat_server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        server.set_default("chat.completions", echo)
        yield server


@pytest.fixture
async def chat_client(
        chat_server: ScriptedOpenAIServer) -> AsyncIterator[OpenAIChatCompletionClient]:
    openai = AsyncOpenAI(base_url=chat_server.base_url, api_key="test", max_retries=0)
    yield OpenAIChatCompletionClient(model="gpt-4o-mini", async_client=openai)
    await openai.close()


def sent(chat_server: ScriptedOpenAIServer) -> list[list[tuple[str, str]]]:
    """The ``(role, content)`` messages of each chat request, in order."""
    return [[(m["role"], m["content"]) for m in request.json["messages"]]
            for request in chat_server.requests_to("chat.completions")]


@pytest.fixture
async def aclient(memvault_server: LiveServer) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(memvault_server.url, api_key=API_KEY) as client:
        yield client


@pytest.fixture
async def store(aclient: AsyncClient, request: pytest.FixtureRequest) -> str:
    test = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:60]
    name = f"af-{test}-{uuid.uuid4().hex[:6]}"
    await aclient.create_store(name)
    return name


async def wait_for(aclient: AsyncClient, store: str, update_id: str) -> UpdateResult:
    handle = AsyncUpdateHandle(aclient, store, await aclient.get_update(store, update_id))
    return await handle.wait(timeout=120)


def agent_with(chat_client: OpenAIChatCompletionClient, *providers: Any) -> Agent:
    return Agent(client=chat_client, instructions="Be brief.", context_providers=list(providers))


def restored(session: AgentSession) -> AgentSession:
    """The session as another process would get it back: through JSON."""
    return AgentSession.from_dict(json.loads(json.dumps(session.to_dict())))


@pytest.fixture(scope="session")
def redis_server() -> str:
    return local_redis()


@pytest.fixture
async def redis_client(redis_server: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the Redis server, to check what a provider wrote."""
    client = aioredis.from_url(redis_server)
    yield client
    await client.aclose()


@pytest.fixture
async def key_prefix(redis_server: str) -> AsyncIterator[str]:
    """A key prefix of the test's own; its keys are deleted after it (nothing else is)."""
    prefix = f"memvault-test:{uuid.uuid4().hex}:"
    yield prefix
    client = aioredis.from_url(redis_server)
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()


# -- MemvaultContextProvider: long-term memory ---------------------------------------------


async def test_a_turn_is_learned_and_recalled_in_a_new_session(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        aclient: AsyncClient, store: str) -> None:
    memory = MemvaultContextProvider(store=store, scope="user_1", client=aclient, update_delay=0)
    agent = agent_with(chat_client, memory)

    first = agent.create_session()
    reply = await agent.run("I am allergic to peanuts.", session=first)
    assert reply.text == "echo: I am allergic to peanuts."
    assert "Memories" not in sent(chat_server)[0][0][1]  # nothing remembered yet

    update_id = first.state[memory.source_id]["previous_update_id"]
    applied = await wait_for(aclient, store, update_id)
    assert applied.status == "completed"
    assert [(op.kind, op.memory.content) for op in applied.operations] == [
        ("create", "Is allergic to peanuts")]
    assert [m.content for m in await aclient.list_memories(store, scope="user_1",
                                                           kind="user_profile")] == [
        "Is allergic to peanuts"]

    second = agent.create_session()
    await agent.run("What should I cook tonight?", session=second)
    system, user = sent(chat_server)[1]
    assert system == ("system", f"Be brief.\n{PROMPT}\n- Is allergic to peanuts")
    assert user == ("user", "What should I cook tonight?")


async def test_the_static_profile_comes_on_the_first_turn_of_the_sessions_scope(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        aclient: AsyncClient, store: str) -> None:
    await aclient.create_memory(store, scope="alice", content="Prefers window seats")
    await aclient.create_memory(store, scope="bob", content="Prefers aisle seats")
    memory = MemvaultContextProvider(store=store, scope=lambda session: session.state["user"],
                                     client=aclient, update_delay=3600)
    agent = agent_with(chat_client, memory)

    for user in ("alice", "bob"):
        session = agent.create_session()
        session.state["user"] = user
        await agent.run("Hello!", session=session)
        assert session.state[memory.source_id]["static_memories"] == [
            {"alice": "Prefers window seats", "bob": "Prefers aisle seats"}[user]]
    alice_system, bob_system = (messages[0][1] for messages in sent(chat_server))
    assert alice_system == f"Be brief.\n{PROMPT}\n- Prefers window seats"
    assert bob_system == f"Be brief.\n{PROMPT}\n- Prefers aisle seats"


async def test_the_state_serializes_and_the_restored_session_chains_its_updates(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        aclient: AsyncClient, store: str, caplog: pytest.LogCaptureFixture) -> None:
    await aclient.create_memory(store, scope="user_1", content="Lives in Oslo")
    memory = MemvaultContextProvider(store=store, scope="user_1", client=aclient, update_delay=0)
    session = agent_with(chat_client, memory).create_session()
    await agent_with(chat_client, memory).run("I play the cello.", session=session)
    first_update = session.state[memory.source_id]["previous_update_id"]
    await wait_for(aclient, store, first_update)

    again = restored(session)
    assert again.state[memory.source_id] == session.state[memory.source_id]
    fresh = MemvaultContextProvider(store=store, scope="user_1", client=aclient, update_delay=0)
    with caplog.at_level(logging.WARNING, logger="memvault"):
        await agent_with(chat_client, fresh).run("Any concerts this week?", session=again)
    assert caplog.records == []

    # The static profile is the one the restored state kept (read before the cello was
    # learned); the cello came from the search.
    assert again.state[memory.source_id]["static_memories"] == ["Lives in Oslo"]
    system = sent(chat_server)[1][0][1]
    assert system.startswith(f"Be brief.\n{PROMPT}\n- Lives in Oslo\n")
    assert "Plays the cello" in system
    second_update = again.state[memory.source_id]["previous_update_id"]
    assert second_update != first_update
    assert (await wait_for(aclient, store, second_update)).status == "completed"


async def test_a_session_whose_update_chain_is_gone_starts_a_new_one(
        chat_client: OpenAIChatCompletionClient, aclient: AsyncClient, store: str,
        caplog: pytest.LogCaptureFixture) -> None:
    memory = MemvaultContextProvider(store=store, scope="user_1", client=aclient, update_delay=0)
    agent = agent_with(chat_client, memory)
    session = agent.create_session()
    await agent.run("I play chess.", session=session)
    await wait_for(aclient, store, session.state[memory.source_id]["previous_update_id"])
    await aclient.delete_store(store)  # and with it the update the session chains from
    await aclient.create_store(store)

    with caplog.at_level(logging.WARNING, logger="memvault"):
        await agent.run("I live in Rome.", session=session)
    assert caplog.records == []
    applied = await wait_for(aclient, store, session.state[memory.source_id]["previous_update_id"])
    assert [(op.kind, op.memory.content) for op in applied.operations] == [
        ("create", "Lives in Rome")]


async def test_an_unreachable_memvault_leaves_the_agent_answering(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        caplog: pytest.LogCaptureFixture) -> None:
    memory = MemvaultContextProvider(store="s", scope="user_1",
                                     url=f"http://127.0.0.1:{free_port()}", api_key=API_KEY)
    async with memory:
        with caplog.at_level(logging.WARNING, logger="memvault"):
            reply = await agent_with(chat_client, memory).run(
                "I like tea.", session=AgentSession())
    assert reply.text == "echo: I like tea."
    assert sent(chat_server) == [[("system", "Be brief."), ("user", "I like tea.")]]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("memvault: could not search the memories of store 's'")
    assert messages[1].startswith("memvault: could not submit the turn to store 's'")


# -- history providers -------------------------------------------------------------------------


async def converse(agent: Agent, session: AgentSession, *texts: str) -> None:
    for text in texts:
        await agent.run(text, session=session)


def transcript(*texts: str) -> list[tuple[str, str]]:
    """What the echoing model saw of earlier turns ``texts``."""
    return [pair for text in texts for pair in (("user", text), ("assistant", f"echo: {text}"))]


async def check_history_provider(chat_client: OpenAIChatCompletionClient,
                                 chat_server: ScriptedOpenAIServer, provider: HistoryProvider,
                                 new_provider: HistoryProvider) -> AgentSession:
    """Three turns with ``max_messages=4``, then a fourth in the session restored from JSON, run
    by a new agent with ``new_provider``; returns the restored session."""
    agent = agent_with(chat_client, provider)
    session = agent.create_session()
    await converse(agent, session, "one", "two", "three")
    requests = sent(chat_server)
    assert requests[1] == [("system", "Be brief."), *transcript("one"), ("user", "two")]
    assert requests[2] == [("system", "Be brief."), *transcript("one", "two"), ("user", "three")]

    again = restored(session)
    await agent_with(chat_client, new_provider).run("four", session=again)
    assert sent(chat_server)[3] == [("system", "Be brief."), *transcript("two", "three"),
                                    ("user", "four")]

    await agent.run("elsewhere", session=agent.create_session())
    assert sent(chat_server)[4] == [("system", "Be brief."), ("user", "elsewhere")]
    return again


async def test_memvault_history_is_kept_trimmed_and_continued_after_a_restore(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        aclient: AsyncClient, store: str) -> None:
    provider = MemvaultHistoryProvider(store=store, scope="user_1/chat", client=aclient,
                                       max_messages=4)
    # A session keeps the scope it started in, whatever the new provider's scope says.
    new_provider = MemvaultHistoryProvider(store=store, scope="someone_else/chat",
                                           client=aclient, max_messages=4)
    session = await check_history_provider(chat_client, chat_server, provider, new_provider)
    state = session.state[provider.source_id]
    assert state == {"scope": "user_1/chat"}

    # memvault holds exactly the four newest messages, as entries of the scope, oldest first.
    entries = (await aclient.list_entries(store, scope="user_1/chat")).entries
    directory = session_directory(session.session_id)
    mine = [entry for entry in entries if entry.path.startswith(directory)]
    assert [(entry.path.removeprefix(directory), entry.description) for entry in mine] == [
        ("00000004", "user: three"), ("00000005", "assistant: echo: three"),
        ("00000006", "user: four"), ("00000007", "assistant: echo: four")]
    assert not (await aclient.list_entries(store, scope="someone_else/chat")).entries

    await new_provider.clear(session.session_id, state=state)
    assert await new_provider.get_messages(session.session_id, state=state) == []
    assert len((await aclient.list_entries(store, scope="user_1/chat")).entries) == 2  # elsewhere


async def test_memvault_history_splits_a_message_longer_than_an_entry(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        aclient: AsyncClient, store: str) -> None:
    provider = MemvaultHistoryProvider(store=store, scope="user_1", client=aclient,
                                       entry_chars=1_000)
    agent = agent_with(chat_client, provider)
    session = agent.create_session()
    long_text = "\n".join(f"line {i}: " + "ø" * 40 for i in range(100))  # about 5,000 characters
    await converse(agent, session, long_text, "and?")
    assert sent(chat_server)[1] == [("system", "Be brief."), *transcript(long_text),
                                    ("user", "and?")]

    paths = [entry.path.removeprefix(session_directory(session.session_id))
             for entry in (await aclient.list_entries(store, scope="user_1")).entries]
    assert paths[0] == "00000000" and paths[1:7] == [f"00000000/{i}" for i in range(1, 7)]
    assert paths[-3:] == ["00000001/6", "00000002", "00000003"]
    messages = await provider.get_messages(session.session_id,
                                           state=session.state[provider.source_id])
    assert [m.text for m in messages] == [long_text, f"echo: {long_text}", "and?", "echo: and?"]


async def test_redis_history_is_kept_trimmed_and_continued_after_a_restore(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        redis_server: str, redis_client: aioredis.Redis, key_prefix: str) -> None:
    provider = RedisHistoryProvider(redis_client=redis_client, key_prefix=key_prefix,
                                    max_messages=4, ttl_seconds=3_600)
    async with RedisHistoryProvider(redis_url=redis_server, key_prefix=key_prefix,
                                    max_messages=4, ttl_seconds=3_600) as new_provider:
        session = await check_history_provider(chat_client, chat_server, provider, new_provider)

    key = key_prefix + session.session_id
    stored = [json.loads(item) for item in await redis_client.lrange(key, 0, -1)]
    assert [(m["role"], m["contents"][0]["text"]) for m in stored] == transcript("three", "four")
    assert 0 < await redis_client.ttl(key) <= 3_600

    await provider.clear(session.session_id)
    assert await redis_client.exists(key) == 0


async def test_redis_history_outlives_the_provider_and_the_session_state(
        chat_client: OpenAIChatCompletionClient, chat_server: ScriptedOpenAIServer,
        redis_server: str, redis_client: aioredis.Redis, key_prefix: str) -> None:
    async with RedisHistoryProvider(redis_url=redis_server, key_prefix=key_prefix) as provider:
        session = AgentSession()
        await converse(agent_with(chat_client, provider), session, "one", "two")

    # A new provider (a restarted process) and a session that only knows its id.
    async with RedisHistoryProvider(redis_url=redis_server, key_prefix=key_prefix) as provider:
        await agent_with(chat_client, provider).run(
            "three", session=AgentSession(session_id=session.session_id))
    assert sent(chat_server)[2] == [("system", "Be brief."), *transcript("one", "two"),
                                    ("user", "three")]
    key = key_prefix + session.session_id
    assert await redis_client.llen(key) == 6
    assert await redis_client.ttl(key) == -1  # no ttl_seconds: kept until cleared


def test_bad_provider_settings_are_refused(aclient: AsyncClient) -> None:
    with pytest.raises(ValueError, match="max_messages"):
        MemvaultHistoryProvider(store="s", scope="u", client=aclient, max_messages=0)
    with pytest.raises(ValueError, match="max_messages"):
        RedisHistoryProvider(redis_url="redis://127.0.0.1:6379/0", max_messages=0)
    with pytest.raises(ValueError, match="exactly one"):
        RedisHistoryProvider()
    with pytest.raises(ValueError, match="not both"):
        MemvaultContextProvider(store="s", scope="u", client=aclient, url="http://127.0.0.1:1")
