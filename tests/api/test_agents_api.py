"""The Agents API in process: versions, reads, lists, deletes, and what a definition may hold."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import FOUNDRY, create_store

A = f"{FOUNDRY}/agents"


def definition(**tool: object) -> dict:
    memory_tool = {"type": "memory_search_preview", "memory_store_name": "prefs",
                   "scope": "{{$userId}}", "update_delay": 1,
                   "search_options": {"max_memories": 5}, **tool}
    return {"kind": "prompt", "model": "gpt-4.1", "instructions": "Be helpful",
            "tools": [memory_tool]}


@pytest.fixture
async def prefs(client: httpx.AsyncClient) -> None:
    await create_store(client, "prefs")


async def create_version(client: httpx.AsyncClient, name: str = "my-agent", **body: object) -> dict:
    response = await client.post(f"{A}/{name}/versions", json={"definition": definition(), **body})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.usefixtures("prefs")
async def test_create_version_answers_agent_version_details(client: httpx.AsyncClient) -> None:
    first = await create_version(client, description="mem agent", metadata={"team": "x"})
    assert first == {
        "object": "agent.version", "id": "my-agent:1", "name": "my-agent", "version": "1",
        "description": "mem agent", "created_at": first["created_at"],
        "metadata": {"team": "x"}, "definition": definition(), "status": "active",
        "draft": False,
    }
    assert isinstance(first["created_at"], int)
    second = await create_version(client)
    assert (second["id"], second["version"]) == ("my-agent:2", "2")

    agent = (await client.get(f"{A}/my-agent")).json()
    assert agent["object"] == "agent" and agent["id"] == agent["name"] == "my-agent"
    assert agent["versions"]["latest"] == second
    assert (await client.get(f"{A}/my-agent/versions/1")).json() == first


@pytest.mark.usefixtures("prefs")
async def test_preview_tool_type_and_defaults_are_accepted(client: httpx.AsyncClient) -> None:
    body = {"definition": {"model": "gpt-4.1", "tools": [
        {"type": "memory_search", "memory_store_name": "prefs", "scope": "user_123"}]}}
    response = await client.post(f"{A}/preview-agent/versions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["definition"]["kind"] == "prompt"


@pytest.mark.usefixtures("prefs")
async def test_post_agents_creates_once(client: httpx.AsyncClient) -> None:
    body = {"name": "fresh", "definition": definition()}
    created = await client.post(A, json=body)
    assert created.status_code == 200, created.text
    assert created.json()["versions"]["latest"]["version"] == "1"
    again = await client.post(A, json=body)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


@pytest.mark.usefixtures("prefs")
async def test_lists_page_until_last_id_is_null(client: httpx.AsyncClient) -> None:
    for name in ("a1", "b2", "c3"):
        await create_version(client, name)
    names, after = [], None
    for _ in range(10):
        params = {"limit": 2, "order": "asc", **({"after": after} if after else {})}
        page = (await client.get(A, params=params)).json()
        names += [agent["name"] for agent in page["data"]]
        after = page["last_id"]
        if after is None:
            break
    assert names == ["a1", "b2", "c3"]
    assert (await client.get(A, params={"kind": "hosted"})).json()["data"] == []

    await create_version(client, "a1")
    versions = (await client.get(f"{A}/a1/versions")).json()
    assert [v["version"] for v in versions["data"]] == ["2", "1"]


@pytest.mark.usefixtures("prefs")
async def test_deletes(client: httpx.AsyncClient) -> None:
    await create_version(client)
    await create_version(client)
    deleted = await client.delete(f"{A}/my-agent/versions/2")
    assert deleted.json() == {"object": "agent.version.deleted", "name": "my-agent",
                              "version": "2", "deleted": True}
    assert (await client.get(f"{A}/my-agent")).json()["versions"]["latest"]["version"] == "1"
    deleted = await client.delete(f"{A}/my-agent")
    assert deleted.json() == {"object": "agent.deleted", "name": "my-agent", "deleted": True}
    assert (await client.get(f"{A}/my-agent")).status_code == 404


@pytest.mark.usefixtures("prefs")
@pytest.mark.parametrize("name", ["a", "A1", "my-agent", "x" * 63, "a-b-c9"])
async def test_valid_names(client: httpx.AsyncClient, name: str) -> None:
    await create_version(client, name)


@pytest.mark.usefixtures("prefs")
@pytest.mark.parametrize("name", ["-a", "a-", "a_b", "a.b", "x" * 64, "ünï", "a%20b"])
async def test_invalid_names(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post(f"{A}/{name}/versions", json={"definition": definition()})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "agent_name"


BAD_DEFINITIONS = [
    ({"kind": "hosted", "model": "m"}, "definition.kind"),
    ({"kind": "prompt"}, "definition.model"),
    ({"model": "m", "instructions": 5}, "definition.instructions"),
    ({"model": "m", "temperature": 3}, "definition.temperature"),
    ({"model": "m", "tools": {"type": "x"}}, "definition.tools"),
    ({"model": "m", "tools": [{"type": "function", "name": "f"}]}, "definition.tools[0].type"),
    (definition(scope="{{$tenantId}}"), "definition.tools[0].scope"),
    (definition(scope=""), "definition.tools[0].scope"),
    (definition(update_delay=-1), "definition.tools[0].update_delay"),
    (definition(update_delay="1"), "definition.tools[0].update_delay"),
    (definition(search_options={"max_memories": 0}), "definition.tools[0].search_options.max_memories"),
    (definition(memory_store_name="a:b"), "definition.tools[0].memory_store_name"),
]


@pytest.mark.usefixtures("prefs")
@pytest.mark.parametrize(("body", "param"), BAD_DEFINITIONS)
async def test_invalid_definitions_name_the_field(
    client: httpx.AsyncClient, body: dict, param: str
) -> None:
    response = await client.post(f"{A}/bot/versions", json={"definition": body})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert (await client.get(f"{A}/bot")).status_code == 404


async def test_a_tool_needs_an_existing_memory_store(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{A}/bot/versions", json={"definition": definition()})
    assert response.status_code == 404
    assert "prefs" in response.json()["error"]["message"]
    assert response.json()["error"]["param"] == "definition.tools[0].memory_store_name"


@pytest.mark.usefixtures("prefs")
async def test_projects_are_separate(client: httpx.AsyncClient) -> None:
    await create_version(client)
    other = "/api/projects/other/agents"
    assert (await client.get(f"{other}/my-agent")).status_code == 404
    assert (await client.get(other)).json()["data"] == []
    # The other project has no store "prefs" either.
    response = await client.post(f"{other}/my-agent/versions", json={"definition": definition()})
    assert response.status_code == 404
