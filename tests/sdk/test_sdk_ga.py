"""The current official SDK (azure-ai-projects 2.10, ``client.beta.memory_stores``) against a live
``memvault serve``: every memory-store operation, the model classes it parses into, and the SDK
exception each error maps to (contract §2-4)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.ai.projects.models import (
    ChatSummaryMemoryItem,
    DeleteMemoryResult,
    DeleteMemoryStoreResult,
    MemoryItem,
    MemorySearchItem,
    MemorySearchOptions,
    MemoryStoreDefaultDefinition,
    MemoryStoreDefaultOptions,
    MemoryStoreDeleteScopeResult,
    MemoryStoreDetails,
    MemoryStoreSearchResult,
    ProceduralMemoryItem,
    UserProfileMemoryItem,
)
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from tests.support.azure import RequestRecorder, api_key_client, project_client
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow

KIND_CLASSES = {
    "user_profile": UserProfileMemoryItem,
    "chat_summary": ChatSummaryMemoryItem,
    "procedural": ProceduralMemoryItem,
}
PROFILE = [
    "Prefers dark roast coffee, usually in the morning",
    "Has a golden retriever named Max",
    "Is allergic to peanuts",
]
SUMMARY = "Discussed a trip to Oslo in June"
PROCEDURE = "When booking flights, always pick a window seat"


def definition() -> MemoryStoreDefaultDefinition:
    return MemoryStoreDefaultDefinition(
        chat_model="gpt-4.1",
        embedding_model="text-embedding-3-small",
        options=MemoryStoreDefaultOptions(user_profile_enabled=True, chat_summary_enabled=True),
    )


def assert_recent(value: object) -> None:
    """The SDK turns the wire's integer Unix seconds into an aware ``datetime``."""
    assert isinstance(value, dt.datetime), f"expected a datetime, got {value!r}"
    assert value.tzinfo is not None
    age = dt.datetime.now(dt.timezone.utc) - value
    assert dt.timedelta(seconds=-5) < age < dt.timedelta(minutes=10), value


def assert_item(item: object, kind: str, content: str, scope: str) -> None:
    assert isinstance(item, KIND_CLASSES[kind]), type(item)
    assert isinstance(item, MemoryItem)
    assert item.kind == kind
    assert item.content == content
    assert item.scope == scope
    assert isinstance(item.memory_id, str) and item.memory_id
    assert isinstance(item["updated_at"], int)  # the raw wire value
    assert_recent(item.updated_at)


def contents(result: MemoryStoreSearchResult) -> list[str]:
    return [hit.memory_item.content for hit in result.memories]


# -- stores ----------------------------------------------------------------------------------


def test_store_create_get_update_delete(project: Any) -> None:
    ms = project.beta.memory_stores
    created = ms.create(name="store1", description="first", metadata={"team": "a"},
                        definition=definition())
    assert isinstance(created, MemoryStoreDetails)
    assert created.object == "memory_store"
    assert created.name == "store1"
    assert created.id and created.id != created.name
    assert (created.description, created.metadata) == ("first", {"team": "a"})
    assert isinstance(created.definition, MemoryStoreDefaultDefinition)
    assert created.definition.kind == "default"
    assert created.definition.chat_model == "gpt-4.1"
    assert created.definition.embedding_model == "text-embedding-3-small"
    assert isinstance(created.definition.options, MemoryStoreDefaultOptions)
    assert created.definition.options.user_profile_enabled is True
    assert created.definition.options.chat_summary_enabled is True
    assert isinstance(created["created_at"], int) and isinstance(created["updated_at"], int)
    assert_recent(created.created_at)
    assert_recent(created.updated_at)

    fetched = ms.get("store1")
    assert isinstance(fetched, MemoryStoreDetails)
    assert (fetched.id, fetched.name, fetched.description) == (created.id, "store1", "first")
    assert fetched.created_at == created.created_at

    updated = ms.update("store1", description="second", metadata={"team": "b", "env": "test"})
    assert isinstance(updated, MemoryStoreDetails)
    assert updated.description == "second"
    assert updated.metadata == {"team": "b", "env": "test"}
    assert updated.definition.chat_model == "gpt-4.1"  # create-only fields are untouched
    assert updated.created_at == created.created_at
    assert updated.updated_at >= created.updated_at
    again = ms.get("store1")
    assert (again.description, again.metadata) == ("second", {"team": "b", "env": "test"})

    only_description = ms.update("store1", description="third")
    assert only_description.metadata == {"team": "b", "env": "test"}

    deleted = ms.delete("store1")
    assert isinstance(deleted, DeleteMemoryStoreResult)
    assert (deleted.object, deleted.name, deleted.deleted) == ("memory_store.deleted", "store1", True)
    with pytest.raises(ResourceNotFoundError):
        ms.get("store1")


def test_list_stores_pages_one_at_a_time_and_stops(project_endpoint: str,
                                                   make_client: Callable[..., Any]) -> None:
    recorder = RequestRecorder()
    client = make_client(project_endpoint, policies=(recorder,))
    ms = client.beta.memory_stores
    names = [f"list-{i}" for i in range(4)]
    for name in names:
        ms.create(name=name, definition=definition())
    recorder.requests.clear()

    listed = list(ms.list(limit=1))
    assert all(isinstance(store, MemoryStoreDetails) for store in listed)
    assert sorted(store.name for store in listed) == names  # each store exactly once
    assert [store.name for store in listed] == names[::-1]  # default order: newest first
    queries = [parse_qs(urlsplit(url).query) for method, url in recorder.requests]
    assert all(method == "GET" for method, _ in recorder.requests)
    # One page per store, plus at most the empty page that ends the pager (contract §3.4).
    assert len(names) <= len(queries) <= len(names) + 1, queries
    assert all(query["limit"] == ["1"] for query in queries)
    cursors = [query.get("after", [None])[0] for query in queries]
    assert cursors[0] is None
    assert cursors[1:] == [store.id for store in listed][: len(cursors) - 1]  # ids, never repeated

    ascending = [store.name for store in ms.list(limit=3, order="asc")]
    assert ascending == names
    pages = [[store.name for store in page] for page in ms.list(limit=3, order="asc").by_page()]
    assert [name for page in pages for name in page] == names
    assert len(pages[0]) == 3


# -- items -----------------------------------------------------------------------------------


def test_memory_items_crud_and_kind_discrimination(project: Any) -> None:
    ms = project.beta.memory_stores
    ms.create(name="items", definition=definition())
    profile = ms.create_memory("items", scope="user_1", content="Likes green tea",
                               kind="user_profile")
    summary = ms.create_memory("items", scope="user_1", content=SUMMARY, kind="chat_summary")
    procedure = ms.create_memory("items", scope="user_1", content=PROCEDURE, kind="procedural")
    assert_item(profile, "user_profile", "Likes green tea", "user_1")
    assert_item(summary, "chat_summary", SUMMARY, "user_1")
    assert_item(procedure, "procedural", PROCEDURE, "user_1")
    assert len({profile.memory_id, summary.memory_id, procedure.memory_id}) == 3

    for created in (profile, summary, procedure):
        fetched = ms.get_memory("items", created.memory_id)
        assert_item(fetched, created.kind, created.content, "user_1")
        assert fetched.memory_id == created.memory_id

    updated = ms.update_memory("items", profile.memory_id, content="Likes coffee")
    assert_item(updated, "user_profile", "Likes coffee", "user_1")
    assert updated.memory_id == profile.memory_id
    assert updated.updated_at >= profile.updated_at
    assert ms.get_memory("items", profile.memory_id).content == "Likes coffee"

    everything = list(ms.list_memories("items", scope="user_1"))
    assert {item.memory_id for item in everything} == {
        profile.memory_id, summary.memory_id, procedure.memory_id}
    for item in everything:
        assert isinstance(item, KIND_CLASSES[item.kind])
    only_summaries = list(ms.list_memories("items", scope="user_1", kind="chat_summary"))
    assert [(type(item), item.content) for item in only_summaries] == [
        (ChatSummaryMemoryItem, SUMMARY)]
    assert list(ms.list_memories("items", scope="someone_else")) == []

    deleted = ms.delete_memory("items", summary.memory_id)
    assert isinstance(deleted, DeleteMemoryResult)
    assert (deleted.object, deleted.memory_id, deleted.deleted) == (
        "memory_store.item.deleted", summary.memory_id, True)
    with pytest.raises(ResourceNotFoundError):
        ms.get_memory("items", summary.memory_id)
    assert {item.memory_id for item in ms.list_memories("items", scope="user_1")} == {
        profile.memory_id, procedure.memory_id}


def test_list_memories_pages_one_at_a_time_with_a_kind_filter(
    project_endpoint: str, make_client: Callable[..., Any]
) -> None:
    recorder = RequestRecorder()
    ms = make_client(project_endpoint, policies=(recorder,)).beta.memory_stores
    ms.create(name="paging", definition=definition())
    profile_ids = [
        ms.create_memory("paging", scope="u", content=f"Profile fact number {i}",
                         kind="user_profile").memory_id
        for i in range(4)
    ]
    ms.create_memory("paging", scope="u", content=SUMMARY, kind="chat_summary")
    ms.create_memory("paging", scope="other", content="Someone else's fact", kind="user_profile")
    recorder.requests.clear()

    listed = list(ms.list_memories("paging", scope="u", kind="user_profile", limit=1))
    assert sorted(item.memory_id for item in listed) == sorted(profile_ids)  # each exactly once
    assert all(isinstance(item, UserProfileMemoryItem) for item in listed)
    assert all(method == "POST" for method, _ in recorder.requests)
    queries = [parse_qs(urlsplit(url).query) for _, url in recorder.requests]
    assert len(profile_ids) <= len(queries) <= len(profile_ids) + 1
    assert all(q["kind"] == ["user_profile"] and q["limit"] == ["1"] for q in queries)
    cursors = [q.get("after", [None])[0] for q in queries]
    assert cursors == [None] + [item.memory_id for item in listed][: len(cursors) - 1]

    ascending = list(ms.list_memories("paging", scope="u", kind="user_profile", order="asc",
                                      limit=3))
    assert [item.memory_id for item in ascending] == profile_ids


# -- search and scopes -----------------------------------------------------------------------


def test_search_memories_static_string_messages_options_and_chaining(project: Any) -> None:
    ms = project.beta.memory_stores
    ms.create(name="search", definition=definition())
    for content in PROFILE:
        ms.create_memory("search", scope="user_1", content=content, kind="user_profile")
    ms.create_memory("search", scope="user_1", content=SUMMARY, kind="chat_summary")
    ms.create_memory("search", scope="user_2", content="Prefers green tea", kind="user_profile")

    static = ms.search_memories("search", scope="user_1")
    assert isinstance(static, MemoryStoreSearchResult)
    assert isinstance(static.search_id, str) and static.search_id
    assert isinstance(static.memories, list)
    assert all(isinstance(hit, MemorySearchItem) for hit in static.memories)
    assert sorted(contents(static)) == sorted(PROFILE)  # the profile only, no chat summaries
    for hit in static.memories:
        assert_item(hit.memory_item, "user_profile", hit.memory_item.content, "user_1")
    assert static.usage is not None and static.usage.total_tokens == static["usage"]["total_tokens"]

    by_string = ms.search_memories("search", scope="user_1", items="What coffee do I like?",
                                   options=MemorySearchOptions(max_memories=1))
    assert contents(by_string) == [PROFILE[0]]
    assert isinstance(by_string.memories[0].memory_item, UserProfileMemoryItem)

    by_messages = ms.search_memories(
        "search", scope="user_1",
        items=[
            {"role": "user", "type": "message", "content": "I am planning dinner tonight."},
            {"role": "assistant", "type": "message",
             "content": [{"type": "output_text", "text": "Any food allergies I should know?"}]},
        ],
        options=MemorySearchOptions(max_memories=2),
        previous_search_id=by_string.search_id,
    )
    assert isinstance(by_messages.memories, list) and 1 <= len(by_messages.memories) <= 2
    assert contents(by_messages)[0] == PROFILE[2]
    assert by_messages.search_id != by_string.search_id

    trip = ms.search_memories("search", scope="user_1",
                              items=[{"role": "user", "content": "Where did we plan to travel?"}])
    assert SUMMARY in contents(trip)
    summary_hit = next(hit for hit in trip.memories if hit.memory_item.content == SUMMARY)
    assert isinstance(summary_hit.memory_item, ChatSummaryMemoryItem)
    assert all(hit.memory_item.scope == "user_1" for hit in trip.memories)

    nobody = ms.search_memories("search", scope="nobody", items="coffee")
    assert nobody.memories == []
    assert ms.search_memories("search", scope="nobody").memories == []


def test_delete_scope_removes_only_that_scope(project: Any) -> None:
    ms = project.beta.memory_stores
    ms.create(name="scopes", definition=definition())
    for content in ("Likes jazz", "Lives in Lisbon"):
        ms.create_memory("scopes", scope="alice", content=content, kind="user_profile")
    bob = ms.create_memory("scopes", scope="bob", content="Likes metal", kind="user_profile")

    result = ms.delete_scope("scopes", scope="alice")
    assert isinstance(result, MemoryStoreDeleteScopeResult)
    assert (result.object, result.name, result.scope, result.deleted) == (
        "memory_store.scope.deleted", "scopes", "alice", True)
    assert list(ms.list_memories("scopes", scope="alice")) == []
    assert ms.search_memories("scopes", scope="alice").memories == []
    assert [item.memory_id for item in ms.list_memories("scopes", scope="bob")] == [bob.memory_id]


# -- errors and auth -------------------------------------------------------------------------


def test_errors_map_to_sdk_exceptions(project: Any) -> None:
    ms = project.beta.memory_stores
    with pytest.raises(ResourceNotFoundError) as missing_store:
        ms.get("no-such-store")
    assert missing_store.value.status_code == 404
    assert "no-such-store" in str(missing_store.value)
    with pytest.raises(ResourceNotFoundError):
        ms.search_memories("no-such-store", scope="u", items="hello")
    with pytest.raises(ResourceNotFoundError):
        ms.delete("no-such-store")

    ms.create(name="dup", definition=definition())
    with pytest.raises(ResourceExistsError) as duplicate:
        ms.create(name="dup", definition=definition())
    assert duplicate.value.status_code == 409
    assert "dup" in str(duplicate.value)

    with pytest.raises(ResourceNotFoundError) as missing_memory:
        ms.get_memory("dup", "mem_doesnotexist")
    assert missing_memory.value.status_code == 404
    with pytest.raises(ResourceNotFoundError):
        ms.update_memory("dup", "mem_doesnotexist", content="x")
    with pytest.raises(ResourceNotFoundError):
        ms.delete_memory("dup", "mem_doesnotexist")

    for call in (
        lambda: ms.search_memories("dup", scope="", items="hello"),
        lambda: ms.create_memory("dup", scope="", content="x", kind="user_profile"),
        lambda: ms.delete_scope("dup", scope=""),
    ):
        with pytest.raises(HttpResponseError) as empty_scope:
            call()
        assert type(empty_scope.value) is HttpResponseError
        assert empty_scope.value.status_code == 400
        assert "scope" in str(empty_scope.value)


def test_api_keys_are_enforced_on_the_live_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("keyed-server") / "data"
    with LiveServer(data_dir, env={"MEMVAULT_API_KEYS": "key-one, key-two"}) as server:
        with api_key_client(server.project_endpoint, "key-two") as client:
            created = client.beta.memory_stores.create(name="keyed", definition=definition())
            assert created.name == "keyed"
            assert [s.name for s in client.beta.memory_stores.list(limit=1)] == ["keyed"]
        with project_client(server.project_endpoint, token="key-one") as client:
            assert client.beta.memory_stores.get("keyed").name == "keyed"  # bearer token too

        with api_key_client(server.project_endpoint, "wrong-key") as client:
            with pytest.raises(ClientAuthenticationError) as wrong:
                client.beta.memory_stores.get("keyed")
            assert wrong.value.status_code == 401
            with pytest.raises(ClientAuthenticationError):
                list(client.beta.memory_stores.list())
        with project_client(server.project_endpoint, token="wrong-key") as client:
            with pytest.raises(ClientAuthenticationError):
                client.beta.memory_stores.get("keyed")
