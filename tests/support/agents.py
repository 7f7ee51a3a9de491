"""Helpers for tests of agents over the OpenAI-compatible face (in process or live)."""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.conftest import FOUNDRY, create_store

V1 = f"{FOUNDRY}/openai/v1"
PREVIEW = f"{FOUNDRY}/openai"


async def make_agent(client: httpx.AsyncClient, name: str = "coffee-bot", *,
                     store: str = "prefs", instructions: str | None = "You order coffee.",
                     **tool: object) -> dict:
    if (await client.get(f"{FOUNDRY}/memory_stores/{store}")).status_code == 404:
        await create_store(client, store)
    memory_tool = {"type": "memory_search_preview", "memory_store_name": store,
                   "scope": "{{$userId}}", "update_delay": 0, **tool}
    body = {"definition": {"kind": "prompt", "model": "gpt-4.1", "tools": [memory_tool],
                           **({"instructions": instructions} if instructions else {})}}
    response = await client.post(f"{FOUNDRY}/agents/{name}/versions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def new_conversation(client: httpx.AsyncClient, base: str = V1, **body: object) -> str:
    response = await client.post(f"{base}/conversations", json=body)
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def learned(client: httpx.AsyncClient, response: dict, timeout: float = 20) -> None:
    """Wait until the updates the response queued have completed."""
    for update in response["memvault"]["memory_updates"]:
        url = f"{FOUNDRY}/memory_stores/{update['memory_store_name']}/updates/{update['update_id']}"
        deadline = time.monotonic() + timeout
        while True:
            state = (await client.get(url)).json()
            if state["status"] in ("completed", "failed", "superseded"):
                assert state["status"] != "failed", state
                break
            assert time.monotonic() < deadline, state
            await asyncio.sleep(0.1)


def search_call(response: dict) -> dict:
    [call] = [item for item in response["output"] if item["type"] == "memory_search_call"]
    return call


def remembered(call: dict) -> list[str]:
    return [result["memory_item"]["content"] for result in call["results"]]
