"""The OpenAI-compatible face in process: conversations, responses, memory in the loop, streaming.

The chat model is a :class:`~tests.support.chat.ScriptedGenerator` that records what it is sent;
memory runs for real (local embeddings, offline extraction, the in-process worker).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from memvault.api.app import create_app
from memvault.errors import GenerationFailed
from tests.conftest import add_memory, make_settings
from tests.support.agents import (
    PREVIEW,
    V1,
    learned,
    make_agent,
    new_conversation,
    remembered,
    search_call,
)
from tests.support.chat import ScriptedGenerator, sse_events

STREAM_ORDER = [
    "response.created", "response.in_progress",
    "response.output_item.added", "response.output_item.done",  # the memory_search_call
    "response.output_item.added", "response.content_part.added",
    "response.output_text.delta", "response.output_text.delta", "response.output_text.delta",
    "response.output_text.done", "response.content_part.done", "response.output_item.done",
    "response.completed",
]


@pytest.fixture
def generator(app: FastAPI) -> ScriptedGenerator:
    scripted = ScriptedGenerator(reply=lambda messages: "Noted, thank you!")
    app.state.agents.generator = scripted
    return scripted


async def respond(client: httpx.AsyncClient, text: object, *, agent: str = "coffee-bot",
                  user: str | None = None, base: str = V1, **body: object) -> dict:
    payload = {"input": text, "agent_reference": {"name": agent, "type": "agent_reference"},
               **body}
    headers = {"x-memory-user-id": user} if user else {}
    response = await client.post(f"{base}/responses", json=payload, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


# -- the how-to ------------------------------------------------------------------------------


async def test_a_preference_reaches_the_model_in_a_new_conversation(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="user_123")
    first = await respond(client, "I prefer dark roast coffee",
                          conversation=await new_conversation(client))
    assert first["status"] == "completed"
    assert [item["type"] for item in first["output"]] == ["memory_search_call", "message"]
    assert first["output"][1]["content"][0]["text"] == "Noted, thank you!"
    assert first["usage"]["total_tokens"] > 0
    await learned(client, first)

    second = await respond(client, "Please order my usual coffee",
                           conversation=await new_conversation(client))
    assert any("dark roast" in text for text in remembered(search_call(second)))
    call = generator.calls[-1]
    assert call.model == "gpt-4.1"
    assert "You order coffee." in call.system and "dark roast" in call.system
    assert call.messages[-1] == {"role": "user", "content": "Please order my usual coffee"}


async def test_static_memories_come_once_per_conversation_and_stay_in_context(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    await add_memory(client, "prefs", "u1", "Is vegetarian")
    conversation = await new_conversation(client)
    first = await respond(client, "Hello there", conversation=conversation)
    assert search_call(first)["memvault"]["static_memories"] == 1
    assert "Is vegetarian" in remembered(search_call(first))

    second = await respond(client, "What is the weather like?", conversation=conversation)
    assert search_call(second)["memvault"]["static_memories"] == 0
    call = generator.calls[-1]
    assert "Is vegetarian" in call.system  # carried by the first turn's memory_search_call
    assert [m["content"] for m in call.messages[1:]] == [
        "Hello there", "Noted, thank you!", "What is the weather like?"]


async def test_each_turn_searches_with_the_tools_max_memories(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1", search_options={"max_memories": 2})
    for topic in ("coffee beans", "coffee grinders", "coffee cups", "coffee shops"):
        await add_memory(client, "prefs", "u1", f"Talked about {topic}", kind="chat_summary")
    response = await respond(client, "Tell me about coffee",
                             conversation=await new_conversation(client))
    assert len(search_call(response)["results"]) == 2


async def test_a_turn_queues_an_update_with_the_tools_delay_and_its_messages(
    app: FastAPI, client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1", update_delay=300)
    conversation = await new_conversation(client)
    first = await respond(client, "I live in Oslo", conversation=conversation)
    second = await respond(client, "I have two cats", conversation=conversation)
    [queued] = second["memvault"]["memory_updates"]
    service = app.state.service
    store = await service.get_store("default", "prefs")
    job = await service.get_update(store, queued["update_id"])
    assert job.status.value == "queued" and job.run_at - job.created_at >= 299
    assert [(m.role, m.text) for m in job.messages] == [
        ("user", "I live in Oslo"), ("assistant", "Noted, thank you!"),
        ("user", "I have two cats"), ("assistant", "Noted, thank you!")]
    old = await service.get_update(store, first["memvault"]["memory_updates"][0]["update_id"])
    assert old.status.value == "superseded"


async def test_two_users_never_see_each_others_memories(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client)  # scope {{$userId}}
    alice = await respond(client, "I prefer green tea", user="alice",
                          conversation=await new_conversation(client))
    bob = await respond(client, "I prefer black coffee", user="bob",
                        conversation=await new_conversation(client))
    await learned(client, alice)
    await learned(client, bob)

    for user, mine, theirs in (("alice", "green tea", "black coffee"),
                               ("bob", "black coffee", "green tea")):
        response = await respond(client, "What do I like to drink?", user=user,
                                 conversation=await new_conversation(client))
        call = search_call(response)
        assert call["memvault"]["scope"] == user
        texts = " ".join(remembered(call))
        assert mine in texts and theirs not in texts
        assert mine in generator.calls[-1].system and theirs not in generator.calls[-1].text


async def test_without_the_header_the_user_is_anonymous(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client)
    response = await respond(client, "Hi", conversation=await new_conversation(client))
    assert search_call(response)["memvault"]["scope"] == "anonymous"
    blank = await client.post(f"{V1}/responses", headers={"x-memory-user-id": "  "},
                              json={"input": "Hi", "agent": {"name": "coffee-bot"}})
    assert blank.status_code == 400
    assert blank.json()["error"]["param"] == "x-memory-user-id"


async def test_with_api_keys_the_user_is_the_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", api_keys="key-one,key-two")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.agents.generator = ScriptedGenerator()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://memvault.test") as client:
            scopes = []
            for key in ("key-one", "key-two", "key-one"):
                client.headers["Authorization"] = f"Bearer {key}"
                if not scopes:
                    await make_agent(client)
                response = await respond(client, "Hi")
                scopes.append(search_call(response)["memvault"]["scope"])
            expected = "key-" + hashlib.sha256(b"key-one").hexdigest()[:24]
            assert scopes[0] == scopes[2] == expected != scopes[1]
            assert "key-one" not in scopes[0]


# -- responses -------------------------------------------------------------------------------


async def test_previous_response_id_carries_the_history(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    first = await respond(client, "My name is Ada")
    second = await respond(client, "What is my name?", previous_response_id=first["id"])
    assert second["previous_response_id"] == first["id"] and second["conversation"] is None
    contents = [m["content"] for m in generator.calls[-1].messages if m["role"] != "system"]
    assert contents == ["My name is Ada", "Noted, thank you!", "What is my name?"]
    third = await respond(client, "And again?", previous_response_id=second["id"])
    assert len([m for m in generator.calls[-1].messages if m["role"] == "user"]) == 3
    assert third["status"] == "completed"


async def test_stored_responses_are_retrievable_and_unstored_ones_are_not(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    stored = await respond(client, [{"role": "user", "content": "Hi"}], metadata={"k": "v"})
    fetched = await client.get(f"{V1}/responses/{stored['id']}")
    assert fetched.json() == stored
    assert stored["metadata"] == {"k": "v"}
    inputs = (await client.get(f"{V1}/responses/{stored['id']}/input_items")).json()
    assert [item["content"][0]["text"] for item in inputs["data"]] == ["Hi"]

    unstored = await respond(client, "Hi", store=False)
    assert (await client.get(f"{V1}/responses/{unstored['id']}")).status_code == 404
    chained = await client.post(f"{V1}/responses", json={
        "input": "x", "agent": "coffee-bot", "previous_response_id": unstored["id"]})
    assert chained.status_code == 404

    deleted = await client.delete(f"{V1}/responses/{stored['id']}")
    assert deleted.json() == {"id": stored["id"], "object": "response.deleted", "deleted": True}
    assert (await client.get(f"{V1}/responses/{stored['id']}")).status_code == 404


async def test_instructions_join_the_agents_and_model_only_responses_work(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    response = await respond(client, "Hi", instructions="Answer in French.")
    assert response["instructions"] == "Answer in French."
    system = generator.calls[-1].system
    assert system.index("You order coffee.") < system.index("Answer in French.")

    plain = await client.post(f"{V1}/responses", json={"model": "gpt-4o-mini", "input": "Hi"})
    assert plain.status_code == 200, plain.text
    assert [item["type"] for item in plain.json()["output"]] == ["message"]
    assert generator.calls[-1].model == "gpt-4o-mini"
    assert generator.calls[-1].messages == [{"role": "user", "content": "Hi"}]


async def test_the_preview_path_takes_the_agent_key_and_any_api_version(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    await make_agent(client, scope="u1", instructions="Second version.")
    conversation = await new_conversation(client, base=PREVIEW)
    response = await client.post(
        f"{PREVIEW}/responses", params={"api-version": "2025-11-15-preview"},
        json={"input": "Hi", "conversation": conversation,
              "agent": {"name": "coffee-bot", "type": "agent_reference", "version": "1"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["agent_reference"]["version"] == "1"
    assert "You order coffee." in generator.calls[-1].system
    items = await client.get(f"{V1}/conversations/{conversation}/items")  # one conversation
    assert len(items.json()["data"]) == 3


# -- streaming -------------------------------------------------------------------------------


async def test_streamed_events_come_in_the_standard_order(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    conversation = await new_conversation(client)
    response = await client.post(f"{V1}/responses", json={
        "input": "Hi", "conversation": conversation, "agent_reference": {"name": "coffee-bot"},
        "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert [name for name, _ in events] == STREAM_ORDER
    assert all(name == data["type"] for name, data in events)
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    text = "".join(data["delta"] for name, data in events if name == "response.output_text.delta")
    assert text == "Noted, thank you!"
    completed = events[-1][1]["response"]
    assert completed["status"] == "completed"
    assert completed["output"][1]["content"][0]["text"] == text
    assert events[0][1]["response"]["status"] == "in_progress"
    stored = (await client.get(f"{V1}/responses/{completed['id']}")).json()
    assert stored == completed
    items = (await client.get(f"{V1}/conversations/{conversation}/items",
                              params={"order": "asc"})).json()["data"]
    assert [item["type"] for item in items] == ["message", "memory_search_call", "message"]


async def test_a_stream_that_fails_midway_ends_with_response_failed(
    client: httpx.AsyncClient, generator: ScriptedGenerator
) -> None:
    await make_agent(client, scope="u1")
    generator.fail_after = (1, GenerationFailed("the chat service kept failing", retryable=True))
    conversation = await new_conversation(client)
    response = await client.post(f"{V1}/responses", json={
        "input": "Hi", "conversation": conversation, "agent": "coffee-bot", "stream": True})
    events = sse_events(response.text)
    name, data = events[-1]
    assert name == "response.failed"
    assert data["response"]["status"] == "failed"
    assert data["response"]["error"]["code"] == "generation_failed"
    assert data["response"]["memvault"]["memory_updates"] == []
    items = await client.get(f"{V1}/conversations/{conversation}/items")
    assert items.json()["data"] == []  # a failed turn leaves the conversation as it was


# -- conversations ---------------------------------------------------------------------------


async def test_conversation_crud(client: httpx.AsyncClient) -> None:
    created = await client.post(f"{V1}/conversations", json={
        "items": [{"type": "message", "role": "user", "content": "Hello"}],
        "metadata": {"topic": "demo"}})
    assert created.status_code == 200, created.text
    conversation = created.json()
    assert conversation["object"] == "conversation" and conversation["metadata"] == {"topic": "demo"}
    cid = conversation["id"]
    assert (await client.get(f"{V1}/conversations/{cid}")).json() == conversation
    updated = await client.post(f"{V1}/conversations/{cid}", json={"metadata": {"topic": "x"}})
    assert updated.json()["metadata"] == {"topic": "x"}

    added = await client.post(f"{V1}/conversations/{cid}/items", json={"items": [
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hi!"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Bye"}]},
    ]})
    assert added.status_code == 200, added.text
    assert [item["role"] for item in added.json()["data"]] == ["assistant", "user"]
    listing = (await client.get(f"{V1}/conversations/{cid}/items",
                                params={"order": "asc", "limit": 2})).json()
    assert [item["role"] for item in listing["data"]] == ["user", "assistant"]
    assert listing["has_more"] is True
    rest = (await client.get(f"{V1}/conversations/{cid}/items",
                             params={"order": "asc", "after": listing["last_id"]})).json()
    assert [item["role"] for item in rest["data"]] == ["user"] and rest["has_more"] is False

    item_id = rest["data"][0]["id"]
    assert (await client.get(f"{V1}/conversations/{cid}/items/{item_id}")).json() == rest["data"][0]
    after_delete = await client.delete(f"{V1}/conversations/{cid}/items/{item_id}")
    assert after_delete.json()["id"] == cid
    assert (await client.get(f"{V1}/conversations/{cid}/items/{item_id}")).status_code == 404

    deleted = await client.delete(f"{V1}/conversations/{cid}")
    assert deleted.json() == {"id": cid, "object": "conversation.deleted", "deleted": True}
    assert (await client.get(f"{V1}/conversations/{cid}")).status_code == 404


async def test_conversations_belong_to_their_project(client: httpx.AsyncClient) -> None:
    cid = await new_conversation(client)
    other = "/api/projects/elsewhere/openai/v1"
    assert (await client.get(f"{other}/conversations/{cid}")).status_code == 404
    assert (await client.get(f"{other}/conversations/{cid}/items")).status_code == 404


async def test_without_a_chat_model_responses_say_so(client: httpx.AsyncClient) -> None:
    await make_agent(client, scope="u1")
    for stream in (False, True):
        response = await client.post(f"{V1}/responses", json={
            "input": "Hi", "agent_reference": {"name": "coffee-bot"}, "stream": stream})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "model_not_configured"
        assert "OPENAI_BASE_URL" in error["message"]
        assert set(error) == {"message", "type", "param", "code"}
