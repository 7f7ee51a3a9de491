"""``GET /api/admin/audit``: the audit log over HTTP, paginated, for admins only, errors in the
Foundry shape. Deletions made through the Foundry face are recorded under the caller's name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from memvault.api.app import create_app
from memvault.api.auth import key_hash
from memvault.models import now
from memvault.settings import Settings
from memvault.storage import open_store
from memvault.storage.governance import open_governance_store
from tests.conftest import FOUNDRY, add_memory, create_store, make_settings

AUDIT = "/api/admin/audit"
ADMIN_KEY = "admin-key-for-the-audit-test"
USER_KEY = "user-key-for-the-audit-test"
ADMIN = f"key:{key_hash(ADMIN_KEY)[:12]}"


async def delete_things(client: httpx.AsyncClient) -> str:
    """Delete a memory, a scope and a store through the Foundry face; returns the memory id."""
    await create_store(client, "doomed")
    memory = await add_memory(client, "doomed", "user-1", "Likes green tea")
    await add_memory(client, "doomed", "user-2", "Plays chess")
    steps = [
        client.delete(f"{FOUNDRY}/memory_stores/doomed/items/{memory['memory_id']}"),
        client.post(f"{FOUNDRY}/memory_stores/doomed:delete_scope", json={"scope": "user-2"}),
        client.delete(f"{FOUNDRY}/memory_stores/doomed"),
    ]
    for step in steps:
        response = await step
        assert response.status_code == 200, response.text
    return memory["memory_id"]


async def test_deletions_are_listed_in_order_and_paged(client: httpx.AsyncClient) -> None:
    memory_id = await delete_things(client)
    page = (await client.get(AUDIT)).json()
    assert page["object"] == "list" and not page["has_more"]
    assert [(e["seq"], e["actor"], e["action"]) for e in page["data"]] == [
        (1, "anonymous", "memory.delete"),
        (2, "anonymous", "scope.delete"),
        (3, "anonymous", "store.delete"),
    ]
    first = page["data"][0]
    assert first["object"] == "audit_entry"
    assert first["target"]["memory_id"] == memory_id and first["target"]["store"] == "doomed"
    assert first["target"]["scope"] == "user-1"
    assert page["data"][1]["target"]["memories_deleted"] == 1
    assert first["at"] >= now() - 60 and len(first["hash"]) == 64
    assert page["data"][1]["prev_hash"] == first["hash"]
    assert (page["first_seq"], page["last_seq"]) == (1, 3)

    one = (await client.get(AUDIT, params={"limit": 1})).json()
    assert [e["seq"] for e in one["data"]] == [1] and one["has_more"]
    rest = (await client.get(AUDIT, params={"after_seq": one["last_seq"], "limit": 5})).json()
    assert [e["seq"] for e in rest["data"]] == [2, 3] and not rest["has_more"]
    empty = (await client.get(AUDIT, params={"after_seq": 3})).json()
    assert (empty["data"], empty["first_seq"], empty["last_seq"]) == ([], None, None)


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 1001}, {"limit": "many"}, {"after_seq": -1}, {"after_seq": "x"},
])  # fmt: skip
async def test_bad_paging_is_a_400_in_the_foundry_shape(
    client: httpx.AsyncClient, params: dict
) -> None:
    response = await client.get(AUDIT, params=params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"]


@pytest.fixture
async def keyed_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """An app that needs keys: an admin key from MEMVAULT_API_KEYS, and principal ``bob``
    (no admin) made in the database beforehand."""
    settings: Settings = make_settings(tmp_path / "data", api_keys=ADMIN_KEY)
    store = await open_store(settings.resolved_database_url, settings)
    try:
        governance = open_governance_store(store)
        assert governance is not None
        await governance.create_principal(
            "bob", key_hash=key_hash(USER_KEY), admin=False, scope=None, created_at=now(),
            actor="test",
        )  # fmt: skip
    finally:
        await store.close()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://memvault.test") as c:
            yield c


async def test_only_admins_read_the_log(keyed_client: httpx.AsyncClient) -> None:
    keyed_client.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    await delete_things(keyed_client)

    page = (await keyed_client.get(AUDIT)).json()
    # Row 1 is bob's creation; then the deletions, under the admin key's principal.
    assert [(e["actor"], e["action"]) for e in page["data"]][-3:] == [
        (ADMIN, "memory.delete"), (ADMIN, "scope.delete"), (ADMIN, "store.delete")
    ]  # fmt: skip

    nobody = await keyed_client.get(AUDIT, headers={"Authorization": ""})
    assert nobody.status_code == 401
    assert nobody.json()["error"]["code"] == "unauthorized"
    wrong = await keyed_client.get(AUDIT, headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401
    bob = await keyed_client.get(AUDIT, headers={"Authorization": f"Bearer {USER_KEY}"})
    assert bob.status_code == 403
    assert bob.json()["error"]["code"] == "permission_denied"
    assert "admin" in bob.json()["error"]["message"]
    bob_pages_badly = await keyed_client.get(
        AUDIT, params={"limit": "many"}, headers={"Authorization": f"Bearer {USER_KEY}"}
    )
    assert bob_pages_badly.status_code == 403
