"""update_memories end to end with the LLM extractor: the app, the worker, a scripted LLM."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault.api.app import create_app
from tests.conftest import FOUNDRY, create_store, make_settings
from tests.support.openai_server import ScriptedOpenAIServer, chat_completion

S = f"{FOUNDRY}/memory_stores"
CHAT = "chat.completions"


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as running:
        yield running


@pytest.fixture
async def client(server: ScriptedOpenAIServer, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(tmp_path / "data", openai_base_url=server.base_url,
                             openai_api_key="sk-test")
    assert settings.resolved_extractor == "llm"
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://memvault.test") as c:
            yield c


async def submit(client: httpx.AsyncClient, store: str, scope: str, text: str) -> str:
    item = {"type": "message", "role": "user", "content": text}
    response = await client.post(f"{S}/{store}:update_memories",
                                 json={"scope": scope, "items": [item], "update_delay": 0})
    assert response.status_code == 202, response.text
    return response.json()["update_id"]


async def wait(client: httpx.AsyncClient, store: str, update_id: str, timeout: float = 15) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = (await client.get(f"{S}/{store}/updates/{update_id}")).json()
        if body["status"] in ("completed", "failed", "superseded"):
            return body
        assert time.monotonic() < deadline, f"update still {body['status']}"
        await asyncio.sleep(0.05)


async def profile(client: httpx.AsyncClient, store: str, scope: str) -> list[str]:
    listed = await client.post(f"{S}/{store}/items:list", json={"scope": scope})
    return sorted(m["content"] for m in listed.json()["data"])


def reply(payload: dict, prompt_tokens: int = 100, completion_tokens: int = 20) -> dict:
    body = chat_completion(json.dumps(payload), model="gpt-4.1")
    body["usage"] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                     "total_tokens": prompt_tokens + completion_tokens}
    return body


async def test_extracts_consolidates_and_reports_usage(
    client: httpx.AsyncClient, server: ScriptedOpenAIServer
) -> None:
    await create_store(client, "s", embedding_model="all-MiniLM-L6-v2")
    server.enqueue(CHAT, body=reply({"memories": [
        {"kind": "user_profile", "action": "remember", "content": "Prefers dark roast coffee",
         "topic": "coffee", "source_indexes": [0]}]}))
    first = await wait(client, "s", await submit(client, "s", "u1", "I prefer dark roast"))
    assert first["status"] == "completed", first
    [created] = first["result"]["memory_operations"]
    assert (created["kind"], created["memory_item"]["content"]) == (
        "create", "Prefers dark roast coffee")
    assert first["result"]["usage"]["total_tokens"] == 120  # one call: nothing to consolidate

    server.enqueue(CHAT, body=reply({"memories": [
        {"kind": "user_profile", "action": "remember", "content": "Has switched to light roast",
         "topic": "coffee", "source_indexes": [0]}]}))
    server.enqueue(CHAT, body=reply({"decisions": [
        {"candidate": 0, "op": "update", "target": 1, "content": "Prefers light roast coffee"}]},
        prompt_tokens=50, completion_tokens=10))
    second = await wait(client, "s", await submit(client, "s", "u1", "I switched to light roast"))
    assert second["status"] == "completed", second
    [updated] = second["result"]["memory_operations"]
    assert updated["kind"] == "update"
    assert updated["memory_item"]["memory_id"] == created["memory_item"]["memory_id"]
    assert updated["memory_item"]["content"] == "Prefers light roast coffee"
    usage = second["result"]["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (
        150, 30, 180)
    assert await profile(client, "s", "u1") == ["Prefers light roast coffee"]
    chats = [r for r in server.requests_to(CHAT) if "response_format" in r.json]
    assert len(chats) == 3 and {r.json["model"] for r in chats} == {"gpt-4.1"}


async def test_a_failing_llm_fails_the_update_with_its_reason(
    client: httpx.AsyncClient, server: ScriptedOpenAIServer
) -> None:
    await create_store(client, "s", embedding_model="all-MiniLM-L6-v2")
    # Each of the worker's 3 attempts makes the first request and three client retries.
    for _ in range(12):
        server.enqueue(CHAT, status=503, headers={"retry-after-ms": "1"},
                       body={"error": {"message": "model is loading"}})
    done = await wait(client, "s", await submit(client, "s", "u1", "I love hiking"), timeout=30)
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "extraction_failed"
    assert "HTTP 503 after 4 attempts" in done["error"]["message"]
    assert "model is loading" in done["error"]["message"]
    assert done["memvault"]["attempts"] == 3
    assert len([r for r in server.requests_to(CHAT) if "response_format" in r.json]) == 12
    listed = await client.post(f"{S}/s/items:list", json={"scope": "u1"})
    assert listed.json()["data"] == []


async def test_an_llm_outage_is_retried_and_the_update_completes_once(
    client: httpx.AsyncClient, server: ScriptedOpenAIServer
) -> None:
    await create_store(client, "s", embedding_model="all-MiniLM-L6-v2")
    for _ in range(4):  # the worker's first attempt fails after the client's own retries
        server.enqueue(CHAT, status=429, headers={"retry-after-ms": "1"},
                       body={"error": {"message": "rate limited"}})
    server.enqueue(CHAT, body=reply({"memories": [
        {"kind": "user_profile", "action": "remember", "content": "Loves hiking",
         "topic": "hiking", "source_indexes": [0]}]}))
    done = await wait(client, "s", await submit(client, "s", "u1", "I love hiking"), timeout=30)
    assert done["status"] == "completed", done
    assert done["memvault"]["attempts"] == 2
    assert [op["memory_item"]["content"] for op in done["result"]["memory_operations"]] == [
        "Loves hiking"]
    assert await profile(client, "s", "u1") == ["Loves hiking"]


async def test_strict_models_probes_the_chat_model(
    server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "data", openai_base_url=server.base_url,
                             openai_api_key="sk-test", strict_models=True)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            server.enqueue(CHAT, status=404, body={"error": {"message": "no such model"}})
            refused = await client.post(f"{S}", json={"name": "s", "definition": {
                "chat_model": "gpt-nope", "embedding_model": "all-MiniLM-L6-v2"}})
            assert refused.status_code == 400
            assert refused.json()["error"]["code"] == "model_unavailable"
            assert (await client.get(f"{S}/s")).status_code == 404
            server.enqueue(CHAT, body=chat_completion("ok", model="gpt-4.1"))
            created = await client.post(f"{S}", json={"name": "s", "definition": {
                "chat_model": "gpt-4.1", "embedding_model": "text-embedding-3-small"}})
            assert created.status_code == 200, created.text
            extra = created.json()["memvault"]
            assert extra["notices"] == []
            assert extra["embedding_model"] == "text-embedding-3-small"
            assert server.requests_to(CHAT)[-1].json["model"] == "gpt-4.1"


DATA = Path(__file__).parent / "data"


async def test_poisoned_candidates_never_become_searchable(
    client: httpx.AsyncClient, server: ScriptedOpenAIServer
) -> None:
    """An LLM that faithfully extracts injected instructions: every such candidate is
    quarantined, never searchable; the ordinary facts mixed with them are stored and found."""
    payloads = [line for line in (DATA / "poisoning_payloads.txt").read_text().splitlines()
                if line.strip()][:120]
    facts = [line for line in (DATA / "ordinary_facts.txt").read_text().splitlines()
             if line.strip()][:60]
    await create_store(client, "s", embedding_model="all-MiniLM-L6-v2")
    server.set_default(CHAT, lambda request: reply({"decisions": []}))  # consolidation: defaults
    mixed = [(text, False) for text in payloads] + [(text, True) for text in facts]
    mixed.sort(key=lambda pair: hash(pair[0]) % 97)
    scopes = {}
    for batch_start in range(0, len(mixed), 12):
        batch = mixed[batch_start:batch_start + 12]
        scope = f"u{batch_start}"
        server.enqueue(CHAT, body=reply({"memories": [
            {"kind": "user_profile", "action": "remember", "content": text, "topic": "misc",
             "source_indexes": [0]} for text, _ in batch]}))
        done = await wait(client, "s", await submit(client, "s", scope, "(a conversation)"))
        assert done["status"] == "completed", done
        reported = {op["memory_item"]["content"] for op in done["result"]["memory_operations"]}
        for text, ordinary in batch:
            scopes[text] = scope
            assert (text in reported) == ordinary, text
    for text, ordinary in mixed:
        response = await client.post(f"{S}/s:search_memories", json={
            "scope": scopes[text], "items": text, "options": {"max_memories": 20}})
        found = {m["memory_item"]["content"] for m in response.json()["memories"]}
        assert (text in found) == ordinary, text


async def test_a_store_without_a_chat_model_is_extracted_offline(
    client: httpx.AsyncClient, server: ScriptedOpenAIServer
) -> None:
    response = await client.post(f"{S}", json={"name": "plain"})
    assert response.json()["definition"]["chat_model"] == "memvault-offline"
    done = await wait(client, "plain", await submit(client, "plain", "u", "I am allergic to peanuts"))
    assert done["status"] == "completed", done
    assert [op["memory_item"]["content"] for op in done["result"]["memory_operations"]] == [
        "Is allergic to peanuts"]
    assert not [r for r in server.requests_to(CHAT) if "response_format" in r.json]
