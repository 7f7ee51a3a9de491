"""Authentication (``MEMVAULT_AUTH``, ``MEMVAULT_API_KEYS`` and principals' keys), in process over
a real SQLite file: who a key makes the caller, when a key is needed, and how quickly a revoked
key stops working. What each principal may then do is ``test_authorization_matrix.py``'s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from memvault.api.app import create_app
from memvault.api.auth import key_hash, new_key
from memvault.models import now
from memvault.storage.governance import GovernanceStore
from tests.conftest import FOUNDRY, make_settings

STORES = f"{FOUNDRY}/memory_stores"
UC_STORES = "/api/2.1/unity-catalog/memory-stores"
OPENAI = f"{FOUNDRY}/openai/v1/conversations"


async def started(tmp_path: Path, **settings: Any
                  ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(make_settings(tmp_path / "data", **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield app, client


@pytest.fixture
async def served(request: pytest.FixtureRequest, tmp_path: Path
                 ) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async for pair in started(tmp_path, **getattr(request, "param", {})):
        yield pair


def governance_of(app: FastAPI) -> GovernanceStore:
    return app.state.access.governance


async def make_principal(app: FastAPI, name: str, **fields: Any) -> str:
    key = new_key()
    await governance_of(app).create_principal(
        name, key_hash=key_hash(key), admin=fields.get("admin", False),
        scope=fields.get("scope"), created_at=now(), actor="test",
    )  # fmt: skip
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_uc_store(client: httpx.AsyncClient, name: str,
                          headers: dict[str, str] | None = None) -> httpx.Response:
    return await client.post(UC_STORES, headers=headers or {}, json={
        "name": name, "catalog_name": "main", "schema_name": "default"})


async def test_with_no_key_anywhere_every_caller_is_the_anonymous_admin(served) -> None:
    _, client = served
    assert (await client.get(STORES)).status_code == 200
    assert (await client.get(STORES, headers=bearer("anything at all"))).status_code == 200
    created = await create_uc_store(client, "open")
    assert created.status_code == 200, created.text
    assert created.json()["owner"] == "anonymous"


@pytest.mark.parametrize("served", [{"auth_cache_seconds": 0}], indirect=True)
async def test_the_first_principal_turns_keys_on_for_every_face(served) -> None:
    app, client = served
    key = await make_principal(app, "alice@example.com", admin=True)
    refusals = {
        "foundry": await client.get(STORES),
        "openai": await client.post(OPENAI, json={}),
        "databricks": await client.get(UC_STORES, params={"catalog_name": "main",
                                                          "schema_name": "default"}),
        "admin": await client.get("/api/admin/audit"),
        "wrong key": await client.get(STORES, headers=bearer("mv_not-a-key")),
        "not bearer": await client.get(STORES, headers={"Authorization": f"Basic {key}"}),
    }
    for face, response in refusals.items():
        assert response.status_code == 401, (face, response.text)
        assert response.headers["www-authenticate"] == "Bearer"
    assert refusals["foundry"].json()["error"]["code"] == "unauthorized"
    assert refusals["openai"].json()["error"]["code"] == "unauthorized"
    assert refusals["databricks"].json()["error_code"] == "UNAUTHENTICATED"
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get(STORES, headers=bearer(key))).status_code == 200
    assert (await client.get(STORES, headers={"api-key": key})).status_code == 200
    created = await create_uc_store(client, "mine", bearer(key))
    assert created.json()["owner"] == "alice@example.com"


@pytest.mark.parametrize("served", [{"api_keys": "k1, k2"}], indirect=True)
async def test_configured_api_keys_are_admins_next_to_principals(served) -> None:
    app, client = served
    assert (await client.get(STORES)).status_code == 401
    first = await create_uc_store(client, "one", bearer("k1"))
    second = await create_uc_store(client, "two", {"api-key": "k2"})
    owners = {first.json()["owner"], second.json()["owner"]}
    assert owners == {f"key:{key_hash('k1')[:12]}", f"key:{key_hash('k2')[:12]}"}
    bob = await make_principal(app, "bob")
    # bob holds nothing: authenticated (not 401), but not allowed to read the admins' store.
    denied = await client.get(f"{UC_STORES}/main.default.one", headers=bearer(bob))
    assert denied.status_code == 403, denied.text
    assert denied.json()["error_code"] == "PERMISSION_DENIED"
    listed = await client.get(STORES, headers=bearer(bob))
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_a_revoked_key_stops_working_within_the_cache_time(served) -> None:
    app, client = served
    key = await make_principal(app, "alice", admin=True)
    cache_seconds = app.state.settings.auth_cache_seconds
    assert cache_seconds == 1.0
    for _ in range(3):  # looked up once, then served from the cache
        assert (await client.get(STORES, headers=bearer(key))).status_code == 200
    await governance_of(app).revoke_principal("alice", revoked_at=now(), actor="test")
    await asyncio.sleep(cache_seconds + 0.05)
    assert (await client.get(STORES, headers=bearer(key))).status_code == 401
    # Revoking the last principal does not open the server.
    assert (await client.get(STORES)).status_code == 401


@pytest.mark.parametrize("served", [{"auth": "none"}], indirect=True)
async def test_auth_none_ignores_every_key(served) -> None:
    app, client = served
    key = await make_principal(app, "alice")
    assert (await client.get(STORES)).status_code == 200
    created = await create_uc_store(client, "open", bearer(key))
    assert created.json()["owner"] == "anonymous"


@pytest.mark.parametrize("served", [{"auth": "keys"}], indirect=True)
async def test_auth_keys_with_no_key_yet_refuses_everything_but_health(served) -> None:
    _, client = served
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get(STORES)).status_code == 401
    assert (await client.get(STORES, headers=bearer("guess"))).status_code == 401


def test_auth_accepts_keys_or_none_only(tmp_path: Path) -> None:
    from pydantic import ValidationError

    assert make_settings(tmp_path, auth=" Keys ").auth == "keys"
    with pytest.raises(ValidationError):
        make_settings(tmp_path, auth="maybe")
