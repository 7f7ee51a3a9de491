"""Quotas through a live server: a write past MEMVAULT_MAX_MEMORIES_PER_SCOPE or
MEMVAULT_MAX_SCOPES_PER_STORE is a 403 ``quota_exceeded`` in the face's shape and changes
nothing; an update whose memories would pass it fails with that code."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import FOUNDRY
from tests.support.server import LiveServer

S = f"{FOUNDRY}/memory_stores"
ENTRIES = "/api/2.1/unity-catalog/memory-stores/main.default.notes/entries"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    env = {"MEMVAULT_MAX_MEMORIES_PER_SCOPE": "2", "MEMVAULT_MAX_SCOPES_PER_STORE": "2",
           "MEMVAULT_EXTRACTOR": "offline"}
    with LiveServer(tmp_path_factory.mktemp("quotas") / "data", env=env) as server:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            body = {"name": "notes", "definition": {
                "chat_model": "gpt-4.1", "embedding_model": "text-embedding-3-small"}}
            assert http.post(S, json=body).status_code == 200
            yield http


def add(client: httpx.Client, scope: str, content: str) -> httpx.Response:
    return client.post(f"{S}/notes/items",
                       json={"scope": scope, "content": content, "kind": "user_profile"})


def memories(client: httpx.Client, scope: str) -> list[str]:
    listed = client.get(f"{S}/notes/items:list", params={"scope": scope})
    assert listed.status_code == 200, listed.text
    return [m["content"] for m in listed.json()["data"]]


def test_memories_per_scope(client: httpx.Client) -> None:
    assert add(client, "alice", "likes tea").status_code == 200
    assert add(client, "alice", "lives in Rome").status_code == 200
    refused = add(client, "alice", "one too many")
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "holds 2 memories" in error["message"] and "=2" in error["message"]
    assert sorted(memories(client, "alice")) == ["likes tea", "lives in Rome"]

    # The Databricks face refuses an entry in its own shape.
    entry = client.post(ENTRIES, params={"scope": "alice"},
                        json={"path": "/memories/a.md", "description": "", "contents": "x"})
    assert entry.status_code == 403
    assert entry.json()["error_code"] == "PERMISSION_DENIED"
    assert "quota" in entry.json()["message"].lower()


def test_scopes_per_store(client: httpx.Client) -> None:
    add(client, "alice", "likes tea")  # 403 once alice is full: either way alice is a scope
    assert add(client, "bob", "likes coffee").status_code == 200
    refused = add(client, "carol", "new here")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert "2 scopes" in refused.json()["error"]["message"]
    assert memories(client, "carol") == []


def test_an_update_past_the_quota_fails_with_quota_exceeded(client: httpx.Client) -> None:
    add(client, "alice", "fill")  # full whether or not the first test ran
    add(client, "alice", "fill again")
    body = {"scope": "alice", "update_delay": 0, "items": [
        {"type": "message", "role": "user", "content": "I am allergic to peanuts."}]}
    submitted = client.post(f"{S}/notes:update_memories", json=body)
    assert submitted.status_code == 202, submitted.text
    update_id = submitted.json()["update_id"]
    before = memories(client, "alice")
    deadline = time.monotonic() + 60
    while True:
        state = client.get(f"{S}/notes/updates/{update_id}").json()
        if state["status"] in ("completed", "failed"):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["status"] == "failed", state
    assert state["error"]["code"] == "quota_exceeded"
    assert memories(client, "alice") == before
