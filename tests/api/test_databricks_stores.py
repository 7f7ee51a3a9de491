"""Memory stores on the Databricks face (contract §6.1), against a live server: the securable,
three-level names, one store on both faces, pagination, and every error path in the Databricks
shape, changing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from memvault.api.databricks.errors import error_code
from memvault.errors import (
    EntryAlreadyExists,
    EntryNotFound,
    Forbidden,
    InvalidRequest,
    MemoryNotFound,
    MemvaultError,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    StoreAlreadyExists,
    StoreNotFound,
    Unauthorized,
    VersionConflict,
)
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

UC = "/api/2.1/unity-catalog"
STORES = f"{UC}/memory-stores"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("databricks-stores") / "data") as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture
def schema() -> str:
    """A schema of the default catalog of this test's own (its project on the Foundry face)."""
    return f"s{uuid.uuid4().hex[:12]}"


def create(client: httpx.Client, name: str, schema: str, catalog: str = "main", **extra) -> dict:
    response = client.post(
        STORES, json={"name": name, "catalog_name": catalog, "schema_name": schema, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_databricks_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]


def test_create_returns_the_securable_and_get_finds_it(client: httpx.Client, schema: str) -> None:
    created = create(client, "agent_memory", schema, description="Memory store for agents")
    assert created["name"] == "agent_memory"
    assert (created["catalog_name"], created["schema_name"]) == ("main", schema)
    assert created["full_name"] == f"main.{schema}.agent_memory"
    assert created["memory_store_id"].startswith("memstore_")
    assert created["description"] == created["comment"] == "Memory store for agents"
    assert "owner" in created
    # Unity Catalog timestamps: milliseconds.
    assert created["created_at"] > 10**12 and created["updated_at"] >= created["created_at"]

    fetched = client.get(f"{STORES}/main.{schema}.agent_memory")
    assert fetched.status_code == 200 and fetched.json() == created


def test_one_store_on_both_faces(client: httpx.Client, schema: str) -> None:
    made_here = create(client, "from_databricks", schema, comment="made on the Databricks face")
    foundry = client.get(f"/api/projects/{schema}/memory_stores/from_databricks")
    assert foundry.status_code == 200
    assert foundry.json()["id"] == made_here["memory_store_id"]
    assert foundry.json()["description"] == "made on the Databricks face"

    response = client.post(
        f"/api/projects/{schema}/memory_stores",
        json={"name": "from-foundry", "description": "made on the Foundry face"},
    )
    assert response.status_code == 200, response.text
    seen = client.get(f"{STORES}/main.{schema}.from-foundry")
    assert seen.status_code == 200, seen.text
    assert seen.json()["memory_store_id"] == response.json()["id"]
    assert seen.json()["full_name"] == f"main.{schema}.from-foundry"
    listed = client.get(STORES, params={"catalog_name": "main", "schema_name": schema}).json()
    assert [s["name"] for s in listed["memory_stores"]] == ["from_databricks", "from-foundry"]

    # The store of project "default" is main.default.<name>.
    name = f"d{uuid.uuid4().hex[:10]}"
    made = client.post("/api/projects/default/memory_stores", json={"name": name})
    assert made.status_code == 200, made.text
    assert client.get(f"{STORES}/main.default.{name}").json()["memvault"]["project"] == "default"


def test_a_store_in_another_catalog_is_kept_under_catalog_dot_schema(
    client: httpx.Client, schema: str
) -> None:
    created = create(client, "notes", schema, catalog="research")
    assert created["full_name"] == f"research.{schema}.notes"
    foundry = client.get(f"/api/projects/research.{schema}/memory_stores/notes")
    assert foundry.status_code == 200 and foundry.json()["id"] == created["memory_store_id"]
    # Not the same schema as main.<schema>.
    assert_databricks_error(
        client.get(f"{STORES}/main.{schema}.notes"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    # A store made on the Foundry face under such a project, with a dot in its name, is
    # reachable by its full name too (split at the first two dots).
    response = client.post(
        f"/api/projects/research.{schema}/memory_stores", json={"name": "v1.archive"}
    )
    assert response.status_code == 200, response.text
    seen = client.get(f"{STORES}/research.{schema}.v1.archive")
    assert seen.status_code == 200 and seen.json()["name"] == "v1.archive"


def test_list_pages_through_one_schema(client: httpx.Client, schema: str) -> None:
    names = [f"store{i}" for i in range(5)]
    for name in names:
        create(client, name, schema)
    create(client, "elsewhere", f"{schema}x")
    seen, token, pages = [], None, 0
    while True:
        params = {"catalog_name": "main", "schema_name": schema, "max_results": 2}
        if token:
            params["page_token"] = token
        response = client.get(STORES, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [store["name"] for store in body["memory_stores"]]
        assert all(s["full_name"] == f"main.{schema}.{s['name']}" for s in body["memory_stores"])
        pages += 1
        token = body.get("next_page_token")
        if token is None:
            break
    assert seen == names and pages == 3
    empty = client.get(STORES, params={"catalog_name": "main", "schema_name": f"{schema}y"})
    assert empty.status_code == 200 and empty.json() == {}


def test_update_changes_the_description_on_both_faces(client: httpx.Client, schema: str) -> None:
    created = create(client, "notes", schema, description="old")
    response = client.patch(f"{STORES}/main.{schema}.notes", json={"comment": "new"})
    assert response.status_code == 200, response.text
    assert response.json()["description"] == response.json()["comment"] == "new"
    assert response.json()["memory_store_id"] == created["memory_store_id"]
    assert client.get(f"/api/projects/{schema}/memory_stores/notes").json()["description"] == "new"
    response = client.patch(f"{STORES}/main.{schema}.notes", json={"description": "newer"})
    assert response.json()["description"] == "newer"


def test_delete_removes_the_store_and_its_entries(client: httpx.Client, schema: str) -> None:
    create(client, "doomed", schema)
    entries = f"{STORES}/main.{schema}.doomed/entries"
    made = client.post(entries, params={"scope": "u1"},
                       json={"path": "/memories/a.md", "description": "a"})  # fmt: skip
    assert made.status_code == 200, made.text
    response = client.delete(f"{STORES}/main.{schema}.doomed")
    assert response.status_code == 200 and response.json() == {}
    assert_databricks_error(
        client.get(f"{STORES}/main.{schema}.doomed"), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    assert client.get(f"/api/projects/{schema}/memory_stores/doomed").status_code == 404
    assert_databricks_error(
        client.get(entries, params={"scope": "u1"}), 404, "RESOURCE_DOES_NOT_EXIST"
    )
    # A store made again under the name starts empty.
    create(client, "doomed", schema)
    assert client.get(entries, params={"scope": "u1"}).json() == {}


def _snapshot(client: httpx.Client, schema: str) -> list[tuple]:
    body = client.get(STORES, params={"catalog_name": "main", "schema_name": schema}).json()
    return sorted(
        (s["name"], s["description"], s["updated_at"]) for s in body.get("memory_stores", [])
    )


def test_every_error_path_has_the_databricks_shape_and_changes_nothing(
    client: httpx.Client, schema: str
) -> None:
    create(client, "taken", schema, description="kept")
    full = f"main.{schema}.taken"
    ok = {"catalog_name": "main", "schema_name": schema}
    cases = [
        # (method, path, json body or raw bytes, query, status, error_code)
        ("POST", STORES, b"{not json", None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, b"[1, 2]", None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {"name": "n", "schema_name": schema}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {"name": "n", "catalog_name": "main"}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": ""}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "a.b"}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "has space"}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "a:b"}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": 5}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "x" * 129}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "n", "catalog_name": "a.b"}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "n", "schema_name": "s/t"}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "n", "schema_name": "_x"}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "n", "description": "d" * 5000}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "n", "description": "a", "comment": "b"}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("POST", STORES, {**ok, "name": "taken"}, None, 409, "ALREADY_EXISTS"),
        ("GET", STORES, None, {}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", STORES, None, {"catalog_name": "main"}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", STORES, None, {**ok, "max_results": -1}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", STORES, None, {**ok, "max_results": "many"}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", STORES, None, {**ok, "page_token": "bogus"}, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{STORES}/main.{schema}.missing", None, None, 404, "RESOURCE_DOES_NOT_EXIST"),
        ("GET", f"{STORES}/nodots", None, None, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{STORES}/main.{schema}", None, None, 400, "INVALID_PARAMETER_VALUE"),
        ("GET", f"{STORES}/main.{schema}.bad name", None, None, 400, "INVALID_PARAMETER_VALUE"),
        ("PATCH", f"{STORES}/main.{schema}.missing", {"comment": "x"}, None, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("PATCH", f"{STORES}/{full}", {"new_name": "renamed"}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("PATCH", f"{STORES}/{full}", {"owner": "bob"}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("PATCH", f"{STORES}/{full}", {"description": 7}, None, 400, "INVALID_PARAMETER_VALUE"),
        ("PATCH", f"{STORES}/{full}", {"description": "d" * 5000}, None, 400,
         "INVALID_PARAMETER_VALUE"),
        ("DELETE", f"{STORES}/main.{schema}.missing", None, None, 404,
         "RESOURCE_DOES_NOT_EXIST"),
        ("PUT", STORES, {**ok, "name": "n"}, None, 405, "METHOD_NOT_ALLOWED"),
        ("POST", f"{STORES}/{full}", {}, None, 405, "METHOD_NOT_ALLOWED"),
        ("GET", f"{UC}/nowhere", None, None, 404, "ENDPOINT_NOT_FOUND"),
    ]
    before = _snapshot(client, schema)
    for method, path, body, query, status, code in cases:
        kwargs: dict = {"params": query}
        if isinstance(body, bytes):
            kwargs |= {"content": body, "headers": {"content-type": "application/json"}}
        elif body is not None:
            kwargs["json"] = body
        response = client.request(method, path, **kwargs)
        try:
            assert_databricks_error(response, status, code)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} {body!r:.80} {query}: {exc}") from None
    assert _snapshot(client, schema) == before
    assert client.get(f"/api/projects/{schema}/memory_stores").json()["data"][0]["name"] == "taken"


def test_a_missing_key_is_unauthenticated_in_the_databricks_shape(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", env={"MEMVAULT_API_KEYS": "k1"}) as keyed:
        with httpx.Client(base_url=keyed.url, timeout=60) as c:
            params = {"catalog_name": "main", "schema_name": "default"}
            assert_databricks_error(c.get(STORES, params=params), 401, "UNAUTHENTICATED")
            assert_databricks_error(
                c.get(STORES, params=params, headers={"Authorization": "Bearer nope"}),
                401, "UNAUTHENTICATED",
            )  # fmt: skip
            ok = c.get(STORES, params=params, headers={"Authorization": "Bearer k1"})
            assert ok.status_code == 200, ok.text
            # Other faces keep their own shape.
            foundry = c.get("/api/projects/default/memory_stores")
            assert foundry.status_code == 401 and "error" in foundry.json()


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (InvalidRequest("x"), 400, "INVALID_PARAMETER_VALUE"),
        (Unauthorized("x"), 401, "UNAUTHENTICATED"),
        (Forbidden("x"), 403, "PERMISSION_DENIED"),
        (StoreNotFound("x"), 404, "RESOURCE_DOES_NOT_EXIST"),
        (EntryNotFound("x"), 404, "NOT_FOUND"),
        (MemoryNotFound("x"), 404, "NOT_FOUND"),
        (NotFound("x"), 404, "ENDPOINT_NOT_FOUND"),
        (MethodNotAllowed("x"), 405, "METHOD_NOT_ALLOWED"),
        (StoreAlreadyExists("x"), 409, "ALREADY_EXISTS"),
        (EntryAlreadyExists("x"), 409, "ALREADY_EXISTS"),
        (VersionConflict("x"), 409, "ABORTED"),
        (MemvaultError("x"), 500, "INTERNAL_ERROR"),
        (ServiceUnavailable("x"), 503, "TEMPORARILY_UNAVAILABLE"),
    ],
)
def test_error_codes_follow_databricks(error: MemvaultError, status: int, code: str) -> None:
    """The codes databricks-sdk maps to its exception classes, for every status the face
    answers with (403 comes from the access checks, 503 from an unavailable database)."""
    assert (error.status_code, error_code(error)) == (status, code)
