"""Memory entries on the Databricks face (contract §6.2), against a live server: the Databricks
curl examples, edits, search, pagination, scope isolation, the Foundry face never seeing
entries, delete_scope removing them, and every error path in the Databricks shape, changing
nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

STORES = "/api/2.1/unity-catalog/memory-stores"
PREFS = "/memories/preferences.md"

# Other notes of the same user, for search to rank against.
OTHER_ENTRIES = [
    ("/memories/projects/apollo.md", "Project Apollo status", "Launch moved to March; QA owns"),
    ("/memories/food.md", "Dietary restrictions", "Vegetarian, allergic to peanuts"),
    ("/memories/travel.md", "Travel habits", "Window seat, early morning flights"),
    ("/memories/tools.md", "Preferred tools", "Writes Python in VS Code"),
    ("/memories/team.md", "Team", "Works with Dana and Lee on the data platform"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("databricks-entries") / "data") as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture
def schema() -> str:
    return f"s{uuid.uuid4().hex[:12]}"


@pytest.fixture
def entries(client: httpx.Client, schema: str) -> str:
    """The entries URL of a new store ``main.<schema>.agent_memory``."""
    response = client.post(STORES, json={
        "name": "agent_memory", "catalog_name": "main", "schema_name": schema,
        "description": "Memory store for customer support agents",
    })  # fmt: skip
    assert response.status_code == 200, response.text
    return f"{STORES}/main.{schema}.agent_memory/entries"


def put(client: httpx.Client, entries: str, scope: str, path: str, description: str = "",
        contents: str = "") -> dict:  # fmt: skip
    response = client.post(
        entries, params={"scope": scope},
        json={"path": path, "description": description, "contents": contents},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()


def get(client: httpx.Client, entries: str, scope: str, path: str) -> httpx.Response:
    return client.get(f"{entries}:get", params={"scope": scope, "path": path})


def listing(client: httpx.Client, entries: str, scope: str) -> list[dict]:
    body = client.get(entries, params={"scope": scope}).json()
    assert "next_page_token" not in body
    return body.get("entries", [])


def assert_databricks_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body["message"]


def test_the_databricks_curl_examples(client: httpx.Client, schema: str) -> None:
    # Create a memory store in main.<schema> (main.default in the docs: a schema of our own here).
    store = client.post(STORES, json={
        "name": "agent_memory", "catalog_name": "main", "schema_name": schema,
        "description": "Memory store for customer support agents",
    })  # fmt: skip
    assert store.status_code == 200, store.text
    entries = f"{STORES}/{store.json()['full_name']}/entries"

    created = client.post(entries, params={"scope": "user-123"}, json={
        "path": PREFS,
        "contents": "Prefers concise answers. Likes to be contacted by email, never by phone.",
        "description": "User communication preferences",
    })  # fmt: skip
    assert created.status_code == 200, created.text
    assert created.json()["path"] == PREFS and created.json()["has_contents"] is True
    for path, description, contents in OTHER_ENTRIES:
        put(client, entries, "user-123", path, description, contents)

    response = client.post(f"{entries}:search", params={"scope": "user-123"},
                           json={"query": "communication preferences", "top_k": 5})  # fmt: skip
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[0]["memory_entry"]["path"] == PREFS
    assert results[0]["memory_entry"]["contents"].startswith("Prefers concise answers")
    assert results[0]["memory_entry"]["description"] == "User communication preferences"
    scores = [result["score"] for result in results]
    assert all(isinstance(score, float) for score in scores)
    assert scores == sorted(scores, reverse=True) and len(results) == 5

    fetched = get(client, entries, "user-123", PREFS)
    assert fetched.status_code == 200 and fetched.json() == created.json()


def test_search_ranks_by_meaning_and_keywords(client: httpx.Client, entries: str) -> None:
    put(client, entries, "u", PREFS, "User communication preferences", "Email, not phone")
    for path, description, contents in OTHER_ENTRIES:
        put(client, entries, "u", path, description, contents)
    for query, expected in (("what does the user eat?", "/memories/food.md"),
                            ("apollo launch date", "/memories/projects/apollo.md"),
                            ("how do they like to be contacted", PREFS),
                            ("peanuts", "/memories/food.md"),
                            ("Dana", "/memories/team.md")):  # fmt: skip
        response = client.post(f"{entries}:search", json={"scope": "u", "query": query})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert results[0]["memory_entry"]["path"] == expected, (query, results)
        # Default top_k (10) is more than there are entries: all come back.
        assert len(results) == 1 + len(OTHER_ENTRIES)
    one = client.post(f"{entries}:search", json={"scope": "u", "query": "food", "top_k": 1})
    assert len(one.json()["results"]) == 1
    empty = client.post(f"{entries}:search", json={"scope": "nobody", "query": "food"})
    assert empty.status_code == 200 and empty.json() == {}


def test_the_agent_template_request_forms(client: httpx.Client, entries: str) -> None:
    """The app template sends the scope in the body and the fields under memory_entry."""
    response = client.post(entries, json={"scope": "u", "memory_entry": {
        "path": "/memories/preferences/coffee.md", "contents": "", "description": "Flat white",
        "creation_reason": "CREATION_REASON_AGENT_INFERRED",
        "creation_source": "CREATION_SOURCE_ONLINE_AGENT",
    }})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["has_contents"] is False
    assert listing(client, entries, "u") == [{
        "path": "/memories/preferences/coffee.md", "description": "Flat white",
        "has_contents": False, "updated_at": response.json()["updated_at"],
    }]  # fmt: skip
    patched = client.patch(entries, json={
        "scope": "u", "path": "/memories/preferences/coffee.md",
        "replace_all": {"contents": "Oat milk, no sugar"},
    })  # fmt: skip
    assert patched.status_code == 200 and patched.json()["contents"] == "Oat milk, no sugar"
    deleted = client.delete(
        entries, params={"scope": "u", "path": "/memories/preferences/coffee.md"}
    )
    assert deleted.status_code == 200 and deleted.json() == {}
    assert client.get(entries, params={"scope": "u"}).json() == {}


def test_list_pages_by_path(client: httpx.Client, entries: str) -> None:
    assert client.get(entries, params={"scope": "u"}).json() == {}
    paths = [f"/memories/notes/{i:02d}.md" for i in range(7)]
    for path in reversed(paths):
        put(client, entries, "u", path, f"note {path}", "body")
    seen, token = [], None
    while True:
        params = {"scope": "u", "page_size": 3}
        if token:
            params["page_token"] = token
        body = client.get(entries, params=params).json()
        assert all("contents" not in entry for entry in body["entries"])
        seen += [entry["path"] for entry in body["entries"]]
        token = body.get("next_page_token")
        if token is None:
            break
    assert seen == paths


def test_edits(client: httpx.Client, entries: str) -> None:
    put(client, entries, "u", PREFS, "Communication", "Email only.\nNo calls after 6pm.\n")

    def patch(**edit: object) -> httpx.Response:
        return client.patch(entries, json={"scope": "u", "path": PREFS, **edit})

    response = patch(str_replace={"old_str": "Email only.", "new_str": "Email or chat."})
    assert response.status_code == 200, response.text
    assert response.json()["contents"] == "Email or chat.\nNo calls after 6pm.\n"
    assert response.json()["version"] == 2

    response = patch(insert={"insert_text": "Prefers short replies.", "insert_line": 0})
    assert response.json()["contents"] == (
        "Prefers short replies.\nEmail or chat.\nNo calls after 6pm.\n"
    )
    response = patch(insert={"insert_text": "Time zone: CET."})
    assert response.json()["contents"].endswith("No calls after 6pm.\nTime zone: CET.\n")
    response = patch(insert={"insert_text": "Line two.", "insert_line": 1})
    assert response.json()["contents"].split("\n")[:2] == ["Prefers short replies.", "Line two."]

    response = patch(description="Communication preferences")
    assert response.json()["description"] == "Communication preferences"
    assert response.json()["contents"].startswith("Prefers short replies.")
    response = patch(replace_all={"contents": "Chat only."}, description="Channels")
    assert response.json()["description"] == "Channels"
    assert response.json()["contents"] == "Chat only."
    assert response.json()["version"] == 7
    assert get(client, entries, "u", PREFS).json() == response.json()

    # Scope and path may come in the query string too.
    response = client.patch(
        entries, params={"scope": "u", "path": PREFS},
        json={"str_replace": {"old_str": "Chat", "new_str": "Slack"}},
    )  # fmt: skip
    assert response.json()["contents"] == "Slack only."

    # The edited text is what search finds now.
    put(client, entries, "u", "/memories/other.md", "Unrelated", "Likes hiking")
    results = client.post(f"{entries}:search", json={"scope": "u", "query": "slack"}).json()
    assert results["results"][0]["memory_entry"]["path"] == PREFS


def test_str_replace_must_match_exactly_once(client: httpx.Client, entries: str) -> None:
    put(client, entries, "u", PREFS, "d", "tea and tea")
    for old, count in (("coffee", "was not found"), ("tea", "matches 2 times")):
        response = client.patch(entries, json={
            "scope": "u", "path": PREFS, "str_replace": {"old_str": old, "new_str": "x"},
        })  # fmt: skip
        message = assert_databricks_error(response, 400, "INVALID_PARAMETER_VALUE")
        assert count in message and "exactly once" in message
    entry = get(client, entries, "u", PREFS).json()
    assert (entry["contents"], entry["version"]) == ("tea and tea", 1)


def _append_concurrently(urls: list[str], entries: str, count: int) -> list[int]:
    def append(i: int) -> int:
        with httpx.Client(base_url=urls[i % len(urls)], timeout=120) as c:
            response = c.patch(entries, json={
                "scope": "u", "path": PREFS, "insert": {"insert_text": f"line {i}"},
            })  # fmt: skip
            return response.status_code

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(append, range(count)))


def _assert_every_line_landed(client: httpx.Client, entries: str, count: int) -> None:
    entry = get(client, entries, "u", PREFS).json()
    lines = entry["contents"].split("\n")
    assert lines[0] == "start" and sorted(lines[1:]) == sorted(f"line {i}" for i in range(count))
    assert entry["version"] == 1 + count


def test_concurrent_edits_all_land(client: httpx.Client, entries: str, server: LiveServer) -> None:
    """No edit overwrites another."""
    put(client, entries, "u", PREFS, "Log", "start")
    assert _append_concurrently([server.url], entries, 8) == [200] * 8
    _assert_every_line_landed(client, entries, 8)


def test_concurrent_edits_through_two_replicas_all_land(
    client: httpx.Client, entries: str, server: LiveServer, tmp_path: Path
) -> None:
    """Two servers on one database: each edit is a compare-and-set on the entry's version, so
    an edit that lost the race to the other replica is applied again to what that one wrote."""
    put(client, entries, "u", PREFS, "Log", "start")
    database = f"sqlite:///{server.data_dir / 'memvault.db'}"
    with LiveServer(tmp_path / "replica", env={"MEMVAULT_DATABASE_URL": database,
                                               "MEMVAULT_WORKER": "false"}) as replica:  # fmt: skip
        assert _append_concurrently([server.url, replica.url], entries, 8) == [200] * 8
    _assert_every_line_landed(client, entries, 8)


def test_scope_isolation(client: httpx.Client, entries: str) -> None:
    original = put(client, entries, "user-a", PREFS, "A's preferences", "A likes email")
    other = "user-b"
    assert_databricks_error(get(client, entries, other, PREFS), 404, "NOT_FOUND")
    assert listing(client, entries, other) == []
    found = client.post(f"{entries}:search", json={"scope": other, "query": "email preferences"})
    assert found.status_code == 200 and found.json() == {}
    assert_databricks_error(client.patch(entries, json={
        "scope": other, "path": PREFS, "replace_all": {"contents": "hijacked"},
    }), 404, "NOT_FOUND")  # fmt: skip
    assert_databricks_error(
        client.delete(entries, params={"scope": other, "path": PREFS}), 404, "NOT_FOUND"
    )
    # The same path in another scope is another entry.
    put(client, entries, other, PREFS, "B's preferences", "B likes calls")
    assert get(client, entries, "user-a", PREFS).json() == original
    assert get(client, entries, other, PREFS).json()["contents"] == "B likes calls"
    hits = client.post(f"{entries}:search", json={"scope": "user-a", "query": "calls"}).json()
    assert [hit["memory_entry"]["scope"] for hit in hits["results"]] == ["user-a"]


def test_the_foundry_face_never_sees_entries(
    client: httpx.Client, entries: str, schema: str
) -> None:
    foundry = f"/api/projects/{schema}/memory_stores/agent_memory"
    put(client, entries, "u", PREFS, "Prefers green tea", "The user likes green tea")
    memory = client.post(f"{foundry}/items", json={
        "scope": "u", "content": "Likes green tea", "kind": "user_profile",
    })  # fmt: skip
    assert memory.status_code == 200, memory.text

    items = client.get(f"{foundry}/items:list", params={"scope": "u"}).json()["data"]
    assert [item["memory_id"] for item in items] == [memory.json()["memory_id"]]
    for body in ({"scope": "u"}, {"scope": "u", "items": "green tea"}):
        found = client.post(f"{foundry}:search_memories", json=body)
        assert found.status_code == 200, found.text
        assert [m["memory_item"]["memory_id"] for m in found.json()["memories"]] == [
            memory.json()["memory_id"]
        ]
    # And entries:search does not see the memory.
    hits = client.post(f"{entries}:search", json={"scope": "u", "query": "green tea"}).json()
    assert [hit["memory_entry"]["path"] for hit in hits["results"]] == [PREFS]


def test_delete_scope_on_the_foundry_face_removes_entries(
    client: httpx.Client, entries: str, schema: str
) -> None:
    put(client, entries, "gone", PREFS, "d", "c")
    put(client, entries, "gone", "/memories/b.md", "d", "c")
    kept = put(client, entries, "kept", PREFS, "d", "c")
    response = client.post(
        f"/api/projects/{schema}/memory_stores/agent_memory:delete_scope", json={"scope": "gone"}
    )
    assert response.status_code == 200, response.text
    assert listing(client, entries, "gone") == []
    assert_databricks_error(get(client, entries, "gone", PREFS), 404, "NOT_FOUND")
    found = client.post(f"{entries}:search", json={"scope": "gone", "query": "d"}).json()
    assert found == {}
    assert get(client, entries, "kept", PREFS).json() == kept
    # The path is free again.
    assert put(client, entries, "gone", PREFS, "new", "")["version"] == 1


BAD_PATHS = [
    "", "memories/a.md", "/memory/a.md", "/memories/", "/memories", "/memories//a.md",
    "/memories/a/", "/memories/./a.md", "/memories/../a.md", "/memories/a/../../etc",
    "/memories/a b.md", "/memories/a\tb.md", "/memories/a\nb", "/memories/a\x00b",
    "/memories/" + "x" * 1020,
]


def _snapshot(client: httpx.Client, entries: str) -> list:
    return [
        get(client, entries, "u", entry["path"]).json()
        for entry in listing(client, entries, "u")
    ]


def test_every_error_path_has_the_databricks_shape_and_changes_nothing(
    client: httpx.Client, entries: str, schema: str
) -> None:
    put(client, entries, "u", PREFS, "Communication", "Email only")
    missing = f"{STORES}/main.{schema}.missing/entries"
    q = {"scope": "u"}
    at = {"scope": "u", "path": PREFS}
    invalid = (400, "INVALID_PARAMETER_VALUE")
    cases: list[tuple] = [
        # create
        ("POST", entries, None, {"path": "/memories/x.md"}, *invalid),
        ("POST", entries, {"scope": ""}, {"path": "/memories/x.md"}, *invalid),
        ("POST", entries, {"scope": "   "}, {"path": "/memories/x.md"}, *invalid),
        ("POST", entries, {"scope": "s" * 2049}, {"path": "/memories/x.md"}, *invalid),
        ("POST", entries, q, {"scope": "v", "path": "/memories/x.md"}, *invalid),
        ("POST", entries, q, {}, *invalid),
        ("POST", entries, q, b"{not json", *invalid),
        ("POST", entries, q, {"path": 5}, *invalid),
        ("POST", entries, q, {"path": "/memories/x.md", "contents": ["a"]}, *invalid),
        ("POST", entries, q, {"path": "/memories/x.md", "contents": "c" * 10_001}, *invalid),
        ("POST", entries, q, {"path": "/memories/x.md", "description": "d" * 5000}, *invalid),
        ("POST", entries, q, {"path": "/memories/x.md", "memory_entry": {"path": "/memories/y.md"}},
         *invalid),
        ("POST", entries, q, {"path": PREFS, "description": "again"}, 409, "ALREADY_EXISTS"),
        ("POST", missing, q, {"path": "/memories/x.md"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        # get
        ("GET", f"{entries}:get", {"path": PREFS}, None, *invalid),
        ("GET", f"{entries}:get", {"scope": "u"}, None, *invalid),
        ("GET", f"{entries}:get", {"scope": "u", "path": "/memories/nope.md"}, None, 404,
         "NOT_FOUND"),
        ("GET", f"{missing}:get", at, None, 404, "RESOURCE_DOES_NOT_EXIST"),
        # list
        ("GET", entries, None, None, *invalid),
        ("GET", entries, {"scope": ""}, None, *invalid),
        ("GET", entries, {"scope": "u", "page_size": -1}, None, *invalid),
        ("GET", entries, {"scope": "u", "page_size": "x"}, None, *invalid),
        ("GET", entries, {"scope": "u", "page_token": "not-a-token"}, None, *invalid),
        ("GET", entries, [("scope", "u"), ("scope", "v")], None, *invalid),
        ("GET", missing, q, None, 404, "RESOURCE_DOES_NOT_EXIST"),
        # update
        ("PATCH", entries, None, {"path": PREFS, "description": "x"}, *invalid),
        ("PATCH", entries, q, {"description": "x"}, *invalid),
        ("PATCH", entries, at, {}, *invalid),
        ("PATCH", entries, at, {"str_replace": {"old_str": "Email", "new_str": "x"},
                                "replace_all": {"contents": "x"}}, *invalid),
        ("PATCH", entries, at, {"insert": {"insert_text": "x"},
                                "replace_all": {"contents": "x"}}, *invalid),
        ("PATCH", entries, at, {"str_replace": {"old_str": "", "new_str": "x"}}, *invalid),
        ("PATCH", entries, at, {"str_replace": {"new_str": "x"}}, *invalid),
        ("PATCH", entries, at, {"str_replace": {"old_str": "Nope", "new_str": "x"}}, *invalid),
        ("PATCH", entries, at, {"insert": {"insert_text": "x", "insert_line": 5}}, *invalid),
        ("PATCH", entries, at, {"insert": {"insert_text": "x", "insert_line": -1}}, *invalid),
        ("PATCH", entries, at, {"insert": {"insert_text": "x", "insert_line": "1"}}, *invalid),
        ("PATCH", entries, at, {"replace_all": {"contents": "c" * 10_001}}, *invalid),
        ("PATCH", entries, at, {"replace_all": {}}, *invalid),
        ("PATCH", entries, at, {"description": 5}, *invalid),
        ("PATCH", entries, {"scope": "u", "path": "/memories/nope.md"},
         {"description": "x"}, 404, "NOT_FOUND"),
        ("PATCH", entries, {"scope": "u", "path": PREFS}, {"path": "/memories/other.md",
                                                           "description": "x"}, *invalid),
        ("PATCH", missing, at, {"description": "x"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        # delete
        ("DELETE", entries, {"path": PREFS}, None, *invalid),
        ("DELETE", entries, {"scope": "u"}, None, *invalid),
        ("DELETE", entries, {"scope": "u", "path": "/memories/nope.md"}, None, 404, "NOT_FOUND"),
        ("DELETE", missing, at, None, 404, "RESOURCE_DOES_NOT_EXIST"),
        # search
        ("POST", f"{entries}:search", None, {"query": "email"}, *invalid),
        ("POST", f"{entries}:search", q, {}, *invalid),
        ("POST", f"{entries}:search", q, {"query": "  "}, *invalid),
        ("POST", f"{entries}:search", q, {"query": "email", "top_k": 0}, *invalid),
        ("POST", f"{entries}:search", q, {"query": "email", "top_k": 51}, *invalid),
        ("POST", f"{entries}:search", q, {"query": "email", "top_k": "5"}, *invalid),
        ("POST", f"{entries}:search", q, {"query": 5}, *invalid),
        ("POST", f"{missing}:search", q, {"query": "email"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        # routing
        ("PUT", entries, q, {}, 405, "METHOD_NOT_ALLOWED"),
        ("POST", f"{entries}:get", at, None, 405, "METHOD_NOT_ALLOWED"),
        ("GET", f"{entries}:nothing", q, None, 404, "ENDPOINT_NOT_FOUND"),
    ]
    cases += [("POST", entries, q, {"path": path, "description": "d"}, *invalid)
              for path in BAD_PATHS]  # fmt: skip
    cases += [("GET", f"{entries}:get", {"scope": "u", "path": path}, None, *invalid)
              for path in BAD_PATHS if "\x00" not in path]  # fmt: skip
    before = _snapshot(client, entries)
    for method, path, query, body, status, code in cases:
        kwargs: dict = {"params": query}
        if isinstance(body, bytes):
            kwargs |= {"content": body, "headers": {"content-type": "application/json"}}
        elif body is not None:
            kwargs["json"] = body
        response = client.request(method, path, **kwargs)
        try:
            assert_databricks_error(response, status, code)
        except AssertionError as exc:
            raise AssertionError(f"{method} {path} {query} {body!r:.100}: {exc}") from None
    assert _snapshot(client, entries) == before
    assert [entry["path"] for entry in listing(client, entries, "u")] == [PREFS]
