"""``GET /memory_stores/{name}/scopes``: the scopes of a store with their counts, paged."""

from __future__ import annotations

import httpx

from tests.conftest import FOUNDRY, add_memory, create_store

S = f"{FOUNDRY}/memory_stores"


async def test_scopes_are_listed_with_counts_in_name_order(client: httpx.AsyncClient) -> None:
    await create_store(client, "notes")
    await create_store(client, "other")
    for scope, count in (("bob", 1), ("alice", 2), ("Zoë", 1)):
        for i in range(count):
            await add_memory(client, "notes", scope, f"fact {i} about {scope}")
    await add_memory(client, "other", "carol", "elsewhere")

    response = await client.get(f"{S}/notes/scopes")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list" and body["has_more"] is False
    assert [(s["scope"], s["memory_count"]) for s in body["data"]] == [
        ("Zoë", 1), ("alice", 2), ("bob", 1),
    ]
    first = body["data"][0]
    assert first["object"] == "memory_store.scope" and first["quarantined_count"] == 0
    assert first["updated_at"] > 0
    assert (body["first_id"], body["last_id"]) == ("Zoë", "bob")


async def test_scopes_page_with_after(client: httpx.AsyncClient) -> None:
    await create_store(client, "notes")
    names = [f"user-{i:02d}" for i in range(5)]
    for name in names:
        await add_memory(client, "notes", name, f"{name} likes tea")

    seen, after = [], None
    while True:
        params = {"limit": 2} | ({"after": after} if after else {})
        body = (await client.get(f"{S}/notes/scopes", params=params)).json()
        seen += [s["scope"] for s in body["data"]]
        if not body["has_more"]:
            break
        after = body["last_id"]
    assert seen == names

    empty = (await client.get(f"{S}/notes/scopes", params={"after": "user-04"})).json()
    assert empty == {
        "object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False,
    }


async def test_scopes_follow_deletes(client: httpx.AsyncClient) -> None:
    await create_store(client, "notes")
    memory = await add_memory(client, "notes", "alice", "likes tea")
    await add_memory(client, "notes", "alice", "likes green tea")
    await add_memory(client, "notes", "bob", "likes coffee")

    await client.delete(f"{S}/notes/items/{memory['memory_id']}")
    body = (await client.get(f"{S}/notes/scopes")).json()
    assert [(s["scope"], s["memory_count"]) for s in body["data"]] == [("alice", 1), ("bob", 1)]

    await client.post(f"{S}/notes:delete_scope", json={"scope": "bob"})
    body = (await client.get(f"{S}/notes/scopes")).json()
    assert [s["scope"] for s in body["data"]] == ["alice"]
