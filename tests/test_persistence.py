"""What a client was told is stored stays stored: across a clean restart (SIGTERM) and across a
crash (SIGKILL right after the acknowledgement), on the same data directory."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.ai.projects.models import MemoryStoreDefaultDefinition, MemoryStoreDefaultOptions

from tests.support.azure import project_client
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

PROFILE = [
    "Prefers dark roast coffee, usually in the morning",
    "Has a golden retriever named Max",
    "Is allergic to peanuts",
    "Works as a nurse in Oslo",
]
QUERIES = ["What coffee do I like?", "Do I have any pets?", "food allergies", "Where do I work?"]


def snapshot(client: Any) -> dict[str, Any]:
    """Everything a client can see in the project, in a comparable form."""
    ms = client.beta.memory_stores
    stores = {s.name: (s.id, s.description, s.metadata, s.definition.chat_model, s["created_at"])
              for s in ms.list(limit=1)}
    memories = {
        (m.scope, m.memory_id): (m.kind, m.content, m["updated_at"])
        for scope in ("alice", "bob")
        for m in ms.list_memories("keep", scope=scope, limit=2)
    }
    searches = {
        query: [(hit.memory_item.memory_id, hit.memory_item.content)
                for hit in ms.search_memories("keep", scope="alice", items=query).memories]
        for query in QUERIES
    }
    static = sorted(hit.memory_item.memory_id
                    for hit in ms.search_memories("keep", scope="alice").memories)
    return {"stores": stores, "memories": memories, "searches": searches, "static": static}


def test_a_clean_restart_keeps_stores_memories_and_search_results(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data")
    with server:
        with project_client(server.project_endpoint) as client:
            ms = client.beta.memory_stores
            ms.create(name="keep", description="kept", metadata={"k": "v"},
                      definition=MemoryStoreDefaultDefinition(
                          chat_model="gpt-4.1", embedding_model="text-embedding-3-small",
                          options=MemoryStoreDefaultOptions(user_profile_enabled=True,
                                                            chat_summary_enabled=True)))
            ms.create(name="other", definition=MemoryStoreDefaultDefinition(
                chat_model="gpt-4.1", embedding_model="text-embedding-3-small"))
            ids = [ms.create_memory("keep", scope="alice", content=content,
                                    kind="user_profile").memory_id for content in PROFILE]
            ms.create_memory("keep", scope="alice", content="Discussed a trip to Oslo",
                             kind="chat_summary")
            ms.create_memory("keep", scope="bob", content="Likes metal", kind="user_profile")
            ms.update_memory("keep", ids[3], content="Works as a nurse in Bergen")
            ms.delete_memory("keep", ids[1])
            ms.update("other", description="second store")
            before = snapshot(client)
        assert before["searches"]["What coffee do I like?"][0][1] == PROFILE[0]
        assert len(before["memories"]) == 5 and set(before["stores"]) == {"keep", "other"}

        process = server.process
        server.stop()
        assert process is not None
        # uvicorn shuts down cleanly, then re-raises the SIGTERM it caught.
        assert process.returncode in (0, -signal.SIGTERM), server.log()[-3000:]

        server.start()
        with project_client(server.project_endpoint) as client:
            after = snapshot(client)
            assert after == before
            contents = {content for _, content, _ in after["memories"].values()}
            assert "Works as a nurse in Bergen" in contents
            assert PROFILE[1] not in contents
            # and the restarted server still takes writes
            ms = client.beta.memory_stores
            added = ms.create_memory("keep", scope="alice", content="Plays tennis on weekends",
                                     kind="user_profile")
            hits = ms.search_memories("keep", scope="alice", items="Which sport do I play?")
            assert hits.memories[0].memory_item.memory_id == added.memory_id


def test_an_acknowledged_write_survives_sigkill(tmp_path: Path) -> None:
    server = LiveServer(tmp_path / "data")
    with server:
        endpoint = server.project_endpoint
        with httpx.Client(base_url=endpoint, timeout=30) as http:

            def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
                response = http.post(path, json=body)
                assert response.status_code == 200, response.text
                return response.json()

            post("/memory_stores", {"name": "crash", "description": "before the crash"})
            first = post("/memory_stores/crash/items",
                         {"scope": "u", "content": PROFILE[0], "kind": "user_profile"})
            second = post("/memory_stores/crash/items",
                          {"scope": "u", "content": PROFILE[1], "kind": "user_profile"})
            assert http.delete(f"/memory_stores/crash/items/{second['memory_id']}").status_code == 200
            updated = post(f"/memory_stores/crash/items/{first['memory_id']}",
                           {"content": "Prefers green tea over coffee"})
        server.kill()  # the update was acknowledged a moment ago

        server.start()
        with httpx.Client(base_url=endpoint, timeout=30) as http:
            assert http.get("/memory_stores/crash").json()["description"] == "before the crash"
            got = http.get(f"/memory_stores/crash/items/{first['memory_id']}")
            assert got.status_code == 200, got.text
            assert got.json()["content"] == "Prefers green tea over coffee"
            assert got.json()["updated_at"] == updated["updated_at"]
            assert http.get(f"/memory_stores/crash/items/{second['memory_id']}").status_code == 404
            hits = http.post("/memory_stores/crash:search_memories",
                             json={"scope": "u", "items": "what do I drink?"}).json()["memories"]
            assert [hit["memory_item"]["memory_id"] for hit in hits] == [first["memory_id"]]

        # A stream of writes, killed mid-stream: every write answered 200 is there afterwards.
        acknowledged: list[str] = []
        enough = threading.Event()

        def write_until_the_server_dies() -> None:
            with httpx.Client(base_url=endpoint, timeout=30) as http:
                for i in range(500):
                    try:
                        response = http.post("/memory_stores/crash/items", json={
                            "scope": "stream", "content": f"Streamed fact number {i}",
                            "kind": "user_profile"})
                    except httpx.TransportError:
                        break
                    if response.status_code == 200:
                        acknowledged.append(response.json()["memory_id"])
                    if len(acknowledged) >= 15:
                        enough.set()
            enough.set()

        writer = threading.Thread(target=write_until_the_server_dies)
        writer.start()
        assert enough.wait(60), "the writer made no progress"
        server.kill()
        writer.join(60)
        assert not writer.is_alive()
        assert len(acknowledged) >= 15

        server.start()
        with httpx.Client(base_url=endpoint, timeout=30) as http:
            stored: set[str] = set()
            after: str | None = None
            while True:
                params = {"limit": 100} | ({"after": after} if after else {})
                page = http.post("/memory_stores/crash/items:list", params=params,
                                 json={"scope": "stream"}).json()
                stored |= {memory["memory_id"] for memory in page["data"]}
                if page["last_id"] is None:
                    break
                after = page["last_id"]
            missing = set(acknowledged) - stored
            assert not missing, f"{len(missing)} acknowledged writes were lost: {sorted(missing)[:5]}"
            # the database is healthy: it takes new writes after the crash
            response = http.post("/memory_stores/crash/items",
                                 json={"scope": "u", "content": "After the crash",
                                       "kind": "user_profile"})
            assert response.status_code == 200, response.text
