"""Grants through Unity Catalog's permissions API, and what they change, in process over a real
SQLite file: both spellings of a privilege, every refusal in the Databricks shape changing
nothing, 404 before 403, lists that show what a caller may see, and a removed grant taking
effect on the next request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from memvault.api.app import create_app
from memvault.api.auth import key_hash, new_key
from memvault.models import now
from tests.conftest import make_settings

UC = "/api/2.1/unity-catalog"
F = "/api/projects/team"
GRANTS = f"{UC}/permissions/memory_store/main.team.notes"


class Callers:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self.keys: dict[str, str] = {}

    async def add(self, name: str, *, admin: bool = False, scope: str | None = None) -> None:
        self.keys[name] = new_key()
        await self.app.state.access.governance.create_principal(
            name, key_hash=key_hash(self.keys[name]), admin=admin, scope=scope,
            created_at=now(), actor="test",
        )  # fmt: skip

    async def call(self, name: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[name]}"}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def ok(self, name: str, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(name, method, path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def callers(tmp_path: Path) -> AsyncIterator[Callers]:
    app = create_app(make_settings(tmp_path / "data"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            callers = Callers(app, client)
            for name in ("admin", "alice", "bob", "carol"):
                await callers.add(name, admin=name == "admin")
            await callers.ok("admin", "PATCH", f"{UC}/permissions/schema/main.team", json={
                "changes": [{"principal": "alice", "add": ["CREATE MEMORY STORE"]}]})
            await callers.ok("alice", "POST", f"{F}/memory_stores", json={"name": "notes"})
            yield callers


def assert_databricks_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.json()


async def test_the_owner_grants_in_either_spelling_and_reads_them_back(callers: Callers) -> None:
    assert await callers.ok("alice", "GET", GRANTS) == {"privilege_assignments": []}
    changed = await callers.ok("alice", "PATCH", GRANTS, json={"changes": [
        {"principal": "bob", "add": ["write memory store", "READ MEMORY STORE"]},
        {"principal": "carol", "add": ["MANAGE", "READ_MEMORY_STORE"], "remove": ["MANAGE"]},
    ]})  # fmt: skip
    expected = {"privilege_assignments": [
        {"principal": "bob", "privileges": ["READ_MEMORY_STORE", "WRITE_MEMORY_STORE"]},
        {"principal": "carol", "privileges": ["READ_MEMORY_STORE"]},
    ]}  # fmt: skip
    assert changed == expected
    assert await callers.ok("alice", "GET", GRANTS) == expected
    only_bob = await callers.ok("alice", "GET", GRANTS, params={"principal": "bob"})
    assert only_bob == {"privilege_assignments": expected["privilege_assignments"][:1]}
    omitted = await callers.ok("alice", "PATCH", GRANTS, json={
        "changes": [{"principal": "carol", "remove": ["READ_MEMORY_STORE"]}],
        "omit_permissions_in_response": True})
    assert omitted == {}
    audit = await callers.ok("admin", "GET", "/api/admin/audit")
    grant_rows = [row for row in audit["data"] if row["action"] == "grant.change"]
    assert [row["actor"] for row in grant_rows] == ["admin", "alice", "alice"]
    assert grant_rows[1]["target"]["changes"][0] == {
        "principal": "bob", "add": ["WRITE_MEMORY_STORE", "READ_MEMORY_STORE"], "remove": []}


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"changes": [{"principal": "bob", "add": ["READ_MEMORY_STORE"]},
                      {"principal": "nobody", "add": ["READ_MEMORY_STORE"]}]},
         404, "NOT_FOUND", "Could not find principal with name nobody"),
        ({"changes": [{"principal": "bob", "add": ["READ_MEMORY_STORE", "SELECT"]}]},
         400, "INVALID_PARAMETER_VALUE", "'SELECT' is not a privilege"),
        ({"changes": [{"principal": "bob", "add": ["CREATE_MEMORY_STORE"]}]},
         400, "INVALID_PARAMETER_VALUE", "is not allowed on a memory_store"),
        ({"changes": [{"principal": "bob", "remove": [""]}]},
         400, "INVALID_PARAMETER_VALUE", "non-empty"),
        ({"changes": [{"add": ["READ_MEMORY_STORE"]}]}, 400, "INVALID_PARAMETER_VALUE",
         "principal"),
        ({"changes": [{"principal": " ", "add": ["READ_MEMORY_STORE"]}]},
         400, "INVALID_PARAMETER_VALUE", "principal"),
    ],
)
async def test_bad_changes_are_refused_and_change_nothing(
    callers: Callers, body: dict, status: int, code: str, message: str
) -> None:
    await callers.ok("alice", "PATCH", GRANTS, json={"changes": [
        {"principal": "carol", "add": ["READ_MEMORY_STORE"]}]})
    before = await callers.ok("alice", "GET", GRANTS)
    response = await callers.call("alice", "PATCH", GRANTS, json=body)
    assert_databricks_error(response, status, code)
    assert message in response.json()["message"]
    assert await callers.ok("alice", "GET", GRANTS) == before


async def test_securables_are_checked_before_anything(callers: Callers) -> None:
    assert_databricks_error(await callers.call("alice", "GET", f"{UC}/permissions/table/a.b.c"),
                            400, "INVALID_PARAMETER_VALUE")
    assert_databricks_error(await callers.call("admin", "GET", f"{UC}/permissions/schema/main"),
                            400, "INVALID_PARAMETER_VALUE")
    schema = await callers.call("admin", "PATCH", f"{UC}/permissions/schema/main.team",
                                json={"changes": [{"principal": "bob",
                                                   "add": ["READ_MEMORY_STORE"]}]})
    assert_databricks_error(schema, 400, "INVALID_PARAMETER_VALUE")
    assert "CREATE_MEMORY_STORE, USE_SCHEMA" in schema.json()["message"]
    # A missing store is a 404 for anyone, never a 403 that would tell it apart from others.
    for path in (f"{UC}/permissions/memory_store/main.team.missing",
                 f"{UC}/memory-stores/main.team.missing"):
        assert_databricks_error(await callers.call("bob", "GET", path),
                                404, "RESOURCE_DOES_NOT_EXIST")
    missing = await callers.call("bob", "GET", f"{F}/memory_stores/missing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    denied = await callers.call("bob", "GET", f"{F}/memory_stores/notes")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"


async def test_a_grant_removed_is_gone_on_the_next_request(callers: Callers) -> None:
    items = f"{F}/memory_stores/notes/items"
    await callers.ok("alice", "PATCH", GRANTS, json={"changes": [
        {"principal": "bob", "add": ["READ_MEMORY_STORE", "WRITE_MEMORY_STORE"]}]})
    memory = await callers.ok("bob", "POST", items, json={"scope": "u1", "content": "Likes tea"})
    await callers.ok("alice", "PATCH", GRANTS, json={"changes": [
        {"principal": "bob", "remove": ["WRITE_MEMORY_STORE"]}]})
    assert (await callers.call("bob", "POST", items,
                               json={"scope": "u1", "content": "Likes coffee"})).status_code == 403
    deleted = await callers.call("bob", "DELETE", f"{items}/{memory['memory_id']}")
    assert deleted.status_code == 403
    assert (await callers.ok("bob", "GET", f"{items}/{memory['memory_id']}"))["content"] == (
        "Likes tea")


async def test_lists_show_what_a_caller_may_see(callers: Callers) -> None:
    await callers.ok("admin", "POST", f"{F}/memory_stores", json={"name": "admins-only"})
    await callers.ok("alice", "PATCH", GRANTS, json={"changes": [
        {"principal": "bob", "add": ["READ_MEMORY_STORE"]}]})

    async def names(caller: str, **params: Any) -> list[str]:
        body = await callers.ok(caller, "GET", f"{F}/memory_stores", params=params)
        return [store["name"] for store in body["data"]]

    async def uc_names(caller: str) -> list[str]:
        body = await callers.ok(caller, "GET", f"{UC}/memory-stores",
                                params={"catalog_name": "main", "schema_name": "team"})
        return [store["name"] for store in body.get("memory_stores", [])]

    assert await names("admin") == ["admins-only", "notes"]
    assert await names("alice") == await names("bob") == ["notes"]
    assert await names("carol") == []
    assert await uc_names("bob") == ["notes"] and await uc_names("carol") == []
    assert await uc_names("admin") == ["notes", "admins-only"]


async def test_pages_of_visible_stores_skip_the_invisible_ones(callers: Callers) -> None:
    for index in range(7):
        await callers.ok("admin", "POST", f"{F}/memory_stores", json={"name": f"s{index}"})
        if index % 2 == 0:
            await callers.ok("admin", "PATCH", f"{UC}/permissions/memory_store/main.team.s{index}",
                             json={"changes": [{"principal": "carol",
                                                "add": ["READ_MEMORY_STORE"]}]})
    seen, after = [], None
    while True:
        params = {"limit": 2, "order": "asc", **({"after": after} if after else {})}
        page = await callers.ok("carol", "GET", f"{F}/memory_stores", params=params)
        seen += [store["name"] for store in page["data"]]
        if not page["has_more"]:
            break
        after = page["last_id"]
    assert seen == ["s0", "s2", "s4", "s6"]
    back = await callers.ok("carol", "GET", f"{F}/memory_stores",
                            params={"limit": 2, "order": "asc", "before": page["last_id"]})
    assert [store["name"] for store in back["data"]] == ["s2", "s4"] and back["has_more"]


async def test_a_scope_restricted_key_stays_in_its_scope(callers: Callers) -> None:
    await callers.add("dan-client", scope="dan")
    await callers.ok("alice", "PATCH", GRANTS, json={"changes": [
        {"principal": "dan-client", "add": ["READ_MEMORY_STORE", "WRITE_MEMORY_STORE"]}]})
    items = f"{F}/memory_stores/notes/items"
    erin = await callers.ok("alice", "POST", items, json={"scope": "erin", "content": "Erin's"})
    mine = await callers.ok("dan-client", "POST", items, json={"scope": "dan", "content": "Dan's"})
    assert (await callers.ok("dan-client", "GET", f"{items}/{mine['memory_id']}"))["scope"] == "dan"
    for method, path, body in [
        ("GET", f"{items}/{erin['memory_id']}", None),
        ("DELETE", f"{items}/{erin['memory_id']}", None),
        ("POST", f"{items}/{erin['memory_id']}", {"content": "changed"}),
        ("POST", f"{F}/memory_stores/notes:delete_scope", {"scope": "erin"}),
        ("POST", items, {"scope": "erin", "content": "x"}),
        ("POST", f"{F}/memory_stores", {"name": "dans-store"}),
        ("GET", f"{F}/memory_stores/notes/scopes", None),
    ]:
        response = await callers.call("dan-client", method, path, json=body)
        assert response.status_code == 403, (method, path, response.text)
    assert (await callers.ok("alice", "GET", f"{items}/{erin['memory_id']}"))["content"] == "Erin's"
