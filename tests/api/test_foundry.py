"""The Foundry Memory Store face, in process: every operation, status code and wire shape."""

from __future__ import annotations

import httpx

from tests.conftest import FOUNDRY, add_memory, create_store

STORES = f"{FOUNDRY}/memory_stores"


async def test_healthz_answers_once_ready(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_create_store_echoes_definition_and_falls_back_to_local_models(
    client: httpx.AsyncClient,
) -> None:
    store = await create_store(client, "coffee", options={"user_profile_details": "food"})
    assert store["object"] == "memory_store"
    assert store["name"] == "coffee"
    assert store["id"].startswith("memstore_")
    assert isinstance(store["created_at"], int) and isinstance(store["updated_at"], int)
    assert store["definition"]["chat_model"] == "gpt-4.1"
    assert store["definition"]["embedding_model"] == "text-embedding-3-small"
    assert store["definition"]["options"]["user_profile_details"] == "food"
    assert store["definition"]["options"]["default_ttl_seconds"] == 0
    extra = store["memvault"]
    assert extra["embedding_model"] == "all-MiniLM-L6-v2"
    assert extra["embedding_dimension"] == 384
    notices = " ".join(extra["notices"])
    assert "text-embedding-3-small" in notices and "gpt-4.1" in notices


async def test_store_get_update_delete(client: httpx.AsyncClient) -> None:
    await create_store(client, "s1")
    response = await client.post(f"{STORES}/s1", json={"description": "new", "metadata": {"k": "v"}})
    assert response.status_code == 200
    assert response.json()["description"] == "new"
    fetched = (await client.get(f"{STORES}/s1")).json()
    assert fetched["description"] == "new" and fetched["metadata"] == {"k": "v"}
    response = await client.delete(f"{STORES}/s1")
    assert response.status_code == 200
    assert response.json() == {"object": "memory_store.deleted", "name": "s1", "deleted": True}
    assert (await client.get(f"{STORES}/s1")).status_code == 404


async def test_list_stores_pages_with_after_and_ends_with_null_cursor(
    client: httpx.AsyncClient,
) -> None:
    names = [f"s{i}" for i in range(5)]
    for name in names:
        await create_store(client, name)
    seen, after, requests = [], None, 0
    while True:
        params = {"limit": 2, "order": "asc"} | ({"after": after} if after else {})
        page = (await client.get(STORES, params=params)).json()
        requests += 1
        seen += [s["name"] for s in page["data"]]
        if page["last_id"] is None:
            assert page["data"] == []
            break
        assert page["last_id"] != after, "a cursor must never repeat"
        after = page["last_id"]
    assert seen == names
    assert requests == 4  # 2 + 2 + 1, then the empty page that ends the pager
    newest_first = (await client.get(STORES, params={"limit": 100})).json()
    assert [s["name"] for s in newest_first["data"]] == names[::-1]
    assert newest_first["has_more"] is False


async def test_projects_are_separate_namespaces(client: httpx.AsyncClient) -> None:
    await create_store(client, "shared-name")
    other = "/api/projects/other/memory_stores"
    assert (await client.get(f"{other}/shared-name")).status_code == 404
    response = await client.post(other, json={"name": "shared-name"})
    assert response.status_code == 200


async def test_items_create_get_update_list_delete(client: httpx.AsyncClient) -> None:
    await create_store(client, "s")
    item = await add_memory(client, "s", "user_1", "Likes green tea")
    assert set(item) >= {"memory_id", "updated_at", "scope", "content", "kind"}
    assert item["scope"] == "user_1" and item["kind"] == "user_profile"
    memory_id = item["memory_id"]
    got = (await client.get(f"{STORES}/s/items/{memory_id}")).json()
    assert got["content"] == "Likes green tea"

    response = await client.post(f"{STORES}/s/items/{memory_id}", json={"content": "Likes coffee"})
    assert response.status_code == 200
    assert response.json()["content"] == "Likes coffee"
    assert response.json()["memvault"]["version"] == 2

    await add_memory(client, "s", "user_1", "Discussed Oslo", kind="chat_summary")
    listed = await client.post(f"{STORES}/s/items:list", json={"scope": "user_1"})
    assert listed.status_code == 200
    assert {m["content"] for m in listed.json()["data"]} == {"Likes coffee", "Discussed Oslo"}
    only_profile = await client.post(
        f"{STORES}/s/items:list", params={"kind": "user_profile"}, json={"scope": "user_1"}
    )
    assert [m["content"] for m in only_profile.json()["data"]] == ["Likes coffee"]
    by_get = await client.get(f"{STORES}/s/items:list", params={"scope": "user_1", "limit": 1})
    assert len(by_get.json()["data"]) == 1 and by_get.json()["has_more"] is True

    response = await client.delete(f"{STORES}/s/items/{memory_id}")
    assert response.json() == {
        "object": "memory_store.item.deleted", "memory_id": memory_id, "deleted": True,
    }
    assert (await client.get(f"{STORES}/s/items/{memory_id}")).status_code == 404


async def test_search_ranks_relevant_memories_first(client: httpx.AsyncClient) -> None:
    await create_store(client, "s")
    for content in [
        "Prefers dark roast coffee, usually in the morning",
        "Has a golden retriever named Max",
        "Works as a nurse in Oslo",
        "Is allergic to peanuts",
        "Plays tennis on weekends",
    ]:
        await add_memory(client, "s", "user_1", content)
    response = await client.post(
        f"{STORES}/s:search_memories",
        json={
            "scope": "user_1",
            "items": [{"type": "message", "role": "user", "content": "What coffee do I like?"}],
            "options": {"max_memories": 2},
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["search_id"].startswith("search_")
    assert set(body["usage"]) >= {"embedding_tokens", "input_tokens", "output_tokens", "total_tokens"}
    contents = [m["memory_item"]["content"] for m in body["memories"]]
    assert len(contents) == 2
    assert contents[0] == "Prefers dark roast coffee, usually in the morning"

    parts = await client.post(
        f"{STORES}/s:search_memories",
        json={
            "scope": "user_1",
            "items": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "any food allergies?"}]}],
            "options": {"max_memories": 1},
            "previous_search_id": body["search_id"],
        },
    )
    assert [m["memory_item"]["content"] for m in parts.json()["memories"]] == [
        "Is allergic to peanuts"
    ]


async def test_search_without_items_returns_static_profile_memories(
    client: httpx.AsyncClient,
) -> None:
    await create_store(client, "s")
    await add_memory(client, "s", "u", "Is vegetarian")
    await add_memory(client, "s", "u", "Talked about a trip", kind="chat_summary")
    body = (await client.post(f"{STORES}/s:search_memories", json={"scope": "u"})).json()
    assert [m["memory_item"]["content"] for m in body["memories"]] == ["Is vegetarian"]
    empty = (await client.post(f"{STORES}/s:search_memories", json={"scope": "nobody"})).json()
    assert empty["memories"] == []


async def test_delete_scope_removes_only_that_scope(client: httpx.AsyncClient) -> None:
    await create_store(client, "s")
    await add_memory(client, "s", "alice", "Likes jazz")
    await add_memory(client, "s", "alice", "Lives in Lisbon")
    await add_memory(client, "s", "bob", "Likes metal")
    response = await client.post(f"{STORES}/s:delete_scope", json={"scope": "alice"})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "memory_store.scope.deleted"
    assert (body["name"], body["scope"], body["deleted"]) == ("s", "alice", True)
    alice = await client.post(f"{STORES}/s/items:list", json={"scope": "alice"})
    assert alice.json()["data"] == []
    bob = await client.post(f"{STORES}/s/items:list", json={"scope": "bob"})
    assert [m["content"] for m in bob.json()["data"]] == ["Likes metal"]


async def test_any_api_version_and_foundry_features_header_are_accepted(
    client: httpx.AsyncClient,
) -> None:
    await create_store(client, "s")
    for version in ("v1", "2025-11-15-preview", "anything"):
        response = await client.get(
            f"{STORES}/s",
            params={"api-version": version},
            headers={"Foundry-Features": "MemoryStores=V1Preview"},
        )
        assert response.status_code == 200


async def test_deleting_a_store_deletes_its_memories(client: httpx.AsyncClient) -> None:
    await create_store(client, "s")
    memory = await add_memory(client, "s", "u", "Likes tea")
    await client.delete(f"{STORES}/s")
    await create_store(client, "s")
    assert (await client.get(f"{STORES}/s/items/{memory['memory_id']}")).status_code == 404
    listed = await client.post(f"{STORES}/s/items:list", json={"scope": "u"})
    assert listed.json()["data"] == []
