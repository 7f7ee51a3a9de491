"""Every error path of the Foundry face: the right status, the contract's body, and no change."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import FOUNDRY, add_memory, create_store, make_settings

S = f"{FOUNDRY}/memory_stores"
LONG = "x" * 10_001

# (method, path, body or raw bytes, query, expected status, expected code)
CASES = [
    ("POST", S, b"{not json", None, 400, "invalid_request"),
    ("POST", S, b"[1, 2]", None, 400, "invalid_request"),
    ("POST", S, {}, None, 400, "invalid_request"),
    ("POST", S, {"name": ""}, None, 400, "invalid_request"),
    ("POST", S, {"name": "has space"}, None, 400, "invalid_request"),
    ("POST", S, {"name": "a:b"}, None, 400, "invalid_request"),
    ("POST", S, {"name": "trailing-newline\n"}, None, 400, "invalid_request"),
    ("POST", S, {"name": 5}, None, 400, "invalid_request"),
    ("POST", S, {"name": "store1"}, None, 409, "conflict"),
    ("POST", S, {"name": "n1", "definition": {"kind": "graph"}}, None, 400, "invalid_request"),
    ("POST", S, {"name": "n2", "metadata": {"k": 1}}, None, 400, "invalid_request"),
    ("POST", S, {"name": "n3", "metadata": {f"k{i}": "v" for i in range(17)}}, None, 400,
     "invalid_request"),
    ("POST", S, {"name": "n4", "definition": {"options": {"default_ttl_seconds": -1}}}, None, 400,
     "invalid_request"),
    ("POST", S, {"name": "n5", "description": "d" * 5000}, None, 400, "invalid_request"),
    ("GET", S, None, {"limit": 0}, 400, "invalid_request"),
    ("GET", S, None, {"limit": 101}, 400, "invalid_request"),
    ("GET", S, None, {"limit": "abc"}, 400, "invalid_request"),
    ("GET", S, None, {"order": "sideways"}, 400, "invalid_request"),
    ("GET", S, None, [("limit", "1"), ("limit", "2")], 400, "invalid_request"),
    ("GET", f"{S}/missing", None, None, 404, "not_found"),
    ("POST", f"{S}/missing", {"description": "x"}, None, 404, "not_found"),
    ("DELETE", f"{S}/missing", None, None, 404, "not_found"),
    ("POST", f"{S}/store1", {"metadata": "nope"}, None, 400, "invalid_request"),
    # items
    ("POST", f"{S}/missing/items", {"scope": "u", "content": "c"}, None, 404, "not_found"),
    ("POST", f"{S}/store1/items", {"content": "c"}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "", "content": "c"}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "   ", "content": "c"}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "s" * 2049, "content": "c"}, None, 400,
     "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "u", "content": "c", "kind": "episodic"}, None, 400,
     "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "u", "content": ""}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "u", "content": LONG}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1/items", {"scope": "u"}, None, 400, "invalid_request"),
    ("GET", f"{S}/store1/items/mem_nope", None, None, 404, "not_found"),
    ("POST", f"{S}/store1/items/mem_nope", {"content": "c"}, None, 404, "not_found"),
    ("DELETE", f"{S}/store1/items/mem_nope", None, None, 404, "not_found"),
    ("POST", f"{S}/store1/items:list", {}, None, 400, "invalid_request"),
    ("GET", f"{S}/store1/items:list", None, None, 400, "invalid_request"),
    ("POST", f"{S}/store1/items:list", {"scope": "u"}, {"kind": "nope"}, 400, "invalid_request"),
    ("POST", f"{S}/missing/items:list", {"scope": "u"}, None, 404, "not_found"),
    # search and delete_scope
    ("POST", f"{S}/store1:search_memories", {}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1:search_memories", {"scope": ""}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1:search_memories", {"scope": "u", "items": 7}, None, 400,
     "invalid_request"),
    ("POST", f"{S}/store1:search_memories",
     {"scope": "u", "items": [{"type": "message", "role": "robot", "content": "hi"}]}, None, 400,
     "invalid_request"),
    ("POST", f"{S}/store1:search_memories",
     {"scope": "u", "items": [{"type": "message", "role": "user", "content": 5}]}, None, 400,
     "invalid_request"),
    ("POST", f"{S}/store1:search_memories", {"scope": "u", "options": {"max_memories": 0}}, None,
     400, "invalid_request"),
    ("POST", f"{S}/store1:search_memories", {"scope": "u", "options": {"max_memories": 1000}},
     None, 400, "invalid_request"),
    ("POST", f"{S}/missing:search_memories", {"scope": "u"}, None, 404, "not_found"),
    ("POST", f"{S}/store1:delete_scope", {}, None, 400, "invalid_request"),
    ("POST", f"{S}/store1:delete_scope", {"scope": ""}, None, 400, "invalid_request"),
    ("POST", f"{S}/missing:delete_scope", {"scope": "u"}, None, 404, "not_found"),
    # scopes (memvault's own)
    ("GET", f"{S}/missing/scopes", None, None, 404, "not_found"),
    ("GET", f"{S}/store1/scopes", None, {"limit": 0}, 400, "invalid_request"),
    ("GET", f"{S}/store1/scopes", None, {"limit": 101}, 400, "invalid_request"),
    ("GET", f"{S}/store1/scopes", None, {"limit": "abc"}, 400, "invalid_request"),
    ("GET", f"{S}/store1/scopes", None, {"after": "u\x00"}, 400, "invalid_request"),
    ("GET", f"{S}/store1/scopes", None, [("after", "a"), ("after", "b")], 400,
     "invalid_request"),
    ("POST", f"{S}/store1/scopes", {}, None, 405, "method_not_allowed"),
    # routing
    ("GET", f"{FOUNDRY}/nowhere", None, None, 404, "not_found"),
    ("PUT", S, {"name": "x"}, None, 405, "method_not_allowed"),
]


async def _snapshot(client: httpx.AsyncClient) -> tuple:
    stores = (await client.get(S, params={"limit": 100})).json()["data"]
    memories = (await client.post(f"{S}/store1/items:list", json={"scope": "u"})).json()["data"]
    return (
        sorted((s["name"], s["description"], str(s["metadata"])) for s in stores),
        sorted((m["memory_id"], m["content"], m["kind"]) for m in memories),
    )


def assert_foundry_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) >= {"code", "message", "param", "type", "details", "additionalInfo"}


async def test_every_error_path_has_the_contract_shape_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    await create_store(client, "store1")
    await add_memory(client, "store1", "u", "Likes tea")
    before = await _snapshot(client)
    for method, path, body, query, status, code in CASES:
        kwargs: dict = {"params": query}
        if isinstance(body, bytes):
            kwargs |= {"content": body, "headers": {"content-type": "application/json"}}
        elif body is not None:
            kwargs["json"] = body
        response = await client.request(method, path, **kwargs)
        try:
            assert_foundry_error(response, status, code)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} {body!r:.80}: {exc}") from None
    assert await _snapshot(client) == before


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("OPTIONS", f"{S}/store1", "DELETE, GET, POST"),
    ("TRACE", f"{S}/store1:delete_scope", "POST"),
    ("PUT", f"{FOUNDRY}/agents/a1", "DELETE, GET"),
    ("PUT", "/api/2.1/unity-catalog/memory-stores/main.default.s1", "DELETE, GET, PATCH"),
    ("PATCH", "/api/admin/audit", "GET"),
])
async def test_a_405_names_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    """(Found by schemathesis: ``Allow`` was missing, or named only the first route's methods
    where one path has several routes.)"""
    response = await client.request(method, path)
    assert response.status_code == 405, response.text
    assert response.headers["allow"] == allow


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{S}/missing", headers={"x-ms-client-request-id": "abc-123"})
    assert response.json()["error"]["additionalInfo"]["request_id"] == "abc-123"
    assert response.headers["x-request-id"] == "abc-123"


@pytest.fixture
def keyed_settings(tmp_path: Path):
    return make_settings(tmp_path / "data", api_keys="k1, k2")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"api-key": "wrong"}, 401),
        ({"Authorization": "Basic k1"}, 401),
        ({"Authorization": "Bearer k1"}, 200),
        ({"Authorization": "Bearer k2"}, 200),
        ({"api-key": "k2"}, 200),
    ],
)
async def test_api_keys_are_required_when_configured(keyed_settings, headers, status) -> None:
    from memvault.api.app import create_app

    app = create_app(keyed_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/healthz")).status_code == 200
            response = await client.get(S, headers=headers)
            if status == 401:
                assert_foundry_error(response, 401, "unauthorized")
            else:
                assert response.status_code == 200


async def test_strict_models_refuses_unreachable_models(tmp_path: Path) -> None:
    from memvault.api.app import create_app

    app = create_app(make_settings(tmp_path / "data", strict_models=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            response = await client.post(
                S, json={"name": "s", "definition": {"embedding_model": "text-embedding-3-small"}}
            )
            assert_foundry_error(response, 400, "model_unavailable")
            assert (await client.get(f"{S}/s")).status_code == 404
            local = await client.post(
                S, json={"name": "s", "definition": {"embedding_model": "all-MiniLM-L6-v2"}}
            )
            assert local.status_code == 200
            assert local.json()["memvault"]["notices"] == []
