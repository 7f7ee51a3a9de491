"""Agents generating with the configured chat endpoint (a scripted OpenAI-compatible server):
what it is asked, usage, streaming from upstream, and its failures."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from memvault.api.app import create_app
from tests.support.agents import V1, make_agent, new_conversation, search_call
from tests.conftest import add_memory, make_settings
from tests.support.chat import chat_completion_stream, sse_events
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion


@pytest.fixture
def llm() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as server:
        yield server


async def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://memvault.test")


@pytest.fixture
async def client(llm: ScriptedOpenAIServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "data", openai_base_url=llm.base_url,
                             openai_api_key="test", extractor="offline")
    app = create_app(settings)
    async with app.router.lifespan_context(app), await _client(app) as client:
        yield client


async def test_the_agents_model_gets_memories_and_usage_comes_back(
    client: httpx.AsyncClient, llm: ScriptedOpenAIServer
) -> None:
    await make_agent(client, scope="u1")
    await add_memory(client, "prefs", "u1", "Prefers dark roast coffee")
    llm.enqueue("chat.completions", body=chat_completion("One dark roast coming up."))
    response = await client.post(f"{V1}/responses", json={
        "input": "Please order my usual coffee", "agent_reference": {"name": "coffee-bot"},
        "conversation": await new_conversation(client)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["output"][-1]["content"][0]["text"] == "One dark roast coming up."
    assert body["usage"]["input_tokens"] == 10 and body["usage"]["total_tokens"] == 20
    [asked] = llm.requests_to("chat.completions")
    assert asked.json["model"] == "gpt-4.1"
    assert "dark roast" in asked.json["messages"][0]["content"]
    assert asked.json["messages"][-1] == {"role": "user", "content": "Please order my usual coffee"}


async def test_streams_from_the_upstream_stream(
    client: httpx.AsyncClient, llm: ScriptedOpenAIServer
) -> None:
    await make_agent(client, scope="u1")
    llm.enqueue("chat.completions", raw=chat_completion_stream(["Dark ", "roast, ", "sure."]),
                content_type="text/event-stream")
    response = await client.post(f"{V1}/responses", json={
        "input": "Coffee?", "agent_reference": {"name": "coffee-bot"}, "stream": True})
    events = sse_events(response.text)
    deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
    assert deltas == ["Dark ", "roast, ", "sure."]
    completed = events[-1][1]["response"]
    assert events[-1][0] == "response.completed"
    assert completed["usage"]["input_tokens"] == 12 and completed["usage"]["output_tokens"] == 3
    [asked] = llm.requests_to("chat.completions")
    assert asked.json["stream"] is True and asked.json["stream_options"] == {"include_usage": True}


async def test_an_error_inside_the_upstream_stream_fails_the_response(
    client: httpx.AsyncClient, llm: ScriptedOpenAIServer
) -> None:
    await make_agent(client, scope="u1")
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": "Half"}, "finish_reason": None}]}
    raw = (f"data: {json.dumps(chunk)}\n\n"
           f"data: {json.dumps({'error': {'message': 'upstream broke'}})}\n\n").encode()
    llm.enqueue("chat.completions", raw=raw, content_type="text/event-stream")
    response = await client.post(f"{V1}/responses", json={
        "input": "Coffee?", "agent_reference": {"name": "coffee-bot"}, "stream": True})
    name, data = sse_events(response.text)[-1]
    assert name == "response.failed"
    assert "upstream broke" in data["response"]["error"]["message"]
    assert data["response"]["output"][-1]["content"][0]["text"] == "Half"
    assert data["response"]["output"][-1]["status"] == "incomplete"


@pytest.mark.parametrize(("status", "code", "expected"), [
    (404, "model_unavailable", 400), (500, "generation_failed", 502)])
async def test_upstream_refusals_and_outages(
    client: httpx.AsyncClient, llm: ScriptedOpenAIServer, status: int, code: str, expected: int
) -> None:
    await make_agent(client, scope="u1")
    for _ in range(3):  # the request and its two retries
        llm.enqueue("chat.completions", status=status, headers={"retry-after-ms": "1"})
    conversation = await new_conversation(client)
    for stream in (False, True):
        if stream:
            for _ in range(3):
                llm.enqueue("chat.completions", status=status, headers={"retry-after-ms": "1"})
        response = await client.post(f"{V1}/responses", json={
            "input": "Hi", "agent_reference": {"name": "coffee-bot"},
            "conversation": conversation, "stream": stream})
        assert response.status_code == expected, response.text
        error = response.json()["error"]
        assert error["code"] == code and "gpt-4.1" in error["message"]
    items = await client.get(f"{V1}/conversations/{conversation}/items")
    assert items.json()["data"] == []


async def test_azure_uses_the_agents_model_as_the_deployment(
    llm: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", azure_openai_endpoint=llm.azure_endpoint,
                             azure_openai_api_key="k", extractor="offline")
    app = create_app(settings)
    async with app.router.lifespan_context(app), await _client(app) as client:
        await make_agent(client, scope="u1")
        llm.enqueue("chat.completions", body=chat_completion("Hi from Azure"))
        response = await client.post(f"{V1}/responses", json={
            "input": "Hi", "agent_reference": {"name": "coffee-bot"}})
        assert response.status_code == 200, response.text
        assert search_call(response.json())["status"] == "completed"
        [asked] = llm.requests_to("chat.completions")
        assert asked.deployment == "gpt-4.1"
