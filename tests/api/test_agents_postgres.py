"""Agents, conversations and responses through the API on PostgreSQL: the app opened with
``MEMVAULT_DATABASE_URL`` on the embedded server, generating with the scripted chat server.
The AgentStore's behaviours run on both backends in ``tests/storage/test_agent_store.py``; this
checks that the app wires the PostgreSQL one in and that a whole turn goes through it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from memvault.api.app import create_app
from memvault.storage.postgres_agents import PostgresAgentStore
from tests.conftest import FOUNDRY, add_memory, make_settings
from tests.support.agents import V1, make_agent, new_conversation, search_call
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion
from tests.support.postgres import EmbeddedPostgres, postgres_server  # noqa: F401 (fixture)


@pytest.fixture
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        yield server


@pytest.fixture
async def client(
    llm: ScriptedOpenAIServer,
    postgres_server: EmbeddedPostgres,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    with postgres_server.database() as url:
        monkeypatch.setenv("MEMVAULT_DATABASE_URL", url)
        settings = make_settings(tmp_path / "data", openai_base_url=llm.base_url,
                                 openai_api_key="test", extractor="offline")
        assert settings.resolved_database_url == url
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with app.router.lifespan_context(app), \
                httpx.AsyncClient(transport=transport, base_url="http://t") as client:  # fmt: skip
            assert isinstance(app.state.agents.store, PostgresAgentStore)
            yield client


async def test_an_agent_converses_with_memory_on_postgresql(
    client: httpx.AsyncClient, llm: ScriptedOpenAIServer
) -> None:
    version = await make_agent(client, scope="u1")
    assert version["version"] == "1"
    agent = (await client.get(f"{FOUNDRY}/agents/coffee-bot")).json()
    assert agent["versions"]["latest"] == version
    await add_memory(client, "prefs", "u1", "Prefers dark roast coffee")
    conversation = await new_conversation(client, metadata={"topic": "coffee"})

    llm.enqueue("chat.completions", body=chat_completion("One dark roast coming up."))
    first = await client.post(f"{V1}/responses", json={
        "input": "Please order my usual coffee", "agent_reference": {"name": "coffee-bot"},
        "conversation": conversation})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["output"][-1]["content"][0]["text"] == "One dark roast coming up."
    assert "Prefers dark roast coffee" in [
        result["memory_item"]["content"] for result in search_call(body)["results"]]
    [asked] = llm.requests_to("chat.completions")
    assert "dark roast" in asked.json["messages"][0]["content"]

    # The turn was stored whole: the response, and its three items in the conversation.
    assert (await client.get(f"{V1}/responses/{body['id']}")).json() == body
    items = (await client.get(f"{V1}/conversations/{conversation}/items",
                              params={"order": "asc"})).json()["data"]
    assert [item["type"] for item in items] == ["message", "memory_search_call", "message"]

    # The next turn reads that history back from PostgreSQL.
    llm.enqueue("chat.completions", body=chat_completion("And a croissant, sure."))
    second = await client.post(f"{V1}/responses", json={
        "input": "And a croissant", "agent_reference": {"name": "coffee-bot"},
        "conversation": conversation})
    assert second.status_code == 200, second.text
    asked = llm.requests_to("chat.completions")[-1]
    assert [m["content"] for m in asked.json["messages"][1:]] == [
        "Please order my usual coffee", "One dark roast coming up.", "And a croissant"]
    fetched = (await client.get(f"{V1}/conversations/{conversation}")).json()
    assert fetched["metadata"] == {"topic": "coffee"}
    deleted = await client.delete(f"{V1}/conversations/{conversation}")
    assert deleted.status_code == 200, deleted.text
    assert (await client.get(f"{V1}/responses/{body['id']}")).status_code == 200
