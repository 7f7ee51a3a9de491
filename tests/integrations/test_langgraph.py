"""``MemvaultStore`` as the store of real LangGraph graphs, and as a ``BaseStore``, against a
live memvault server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TypedDict

import pytest
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)

from memvault import errors
from memvault.client import Client
from memvault.integrations.langgraph import MemvaultStore
from tests.integrations.conftest import API_KEY
from tests.support.server import LiveServer

pytestmark = pytest.mark.slow


class Turn(TypedDict, total=False):
    user: str
    message: str
    recalled: list[str]


def remember(state: Turn) -> Turn:
    """Keeps what the user asks to be remembered, through ``get_store()``."""
    text = state["message"]
    if text.lower().startswith("remember:"):
        fact = text.split(":", 1)[1].strip()
        get_store().put(("lg", state["user"], "facts"), str(uuid.uuid5(uuid.NAMESPACE_URL, fact)),
                        {"text": fact, "source": "chat"})
    return {}


def recall(state: Turn, *, store: BaseStore) -> Turn:
    """Finds what is relevant to the message, through the node's ``store`` argument."""
    hits = store.search(("lg", state["user"]), query=state["message"], limit=2)
    return {"recalled": [hit.value["text"] for hit in hits]}


async def arecall(state: Turn, *, store: BaseStore) -> Turn:
    hits = await store.asearch(("lg", state["user"]), query=state["message"], limit=2)
    return {"recalled": [hit.value["text"] for hit in hits]}


def build(recaller: object) -> StateGraph:
    builder = StateGraph(Turn)
    builder.add_node("remember", remember)
    builder.add_node("recall", recaller)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    return builder


@pytest.fixture
def store(memvault_server: LiveServer) -> Iterator[MemvaultStore]:
    with MemvaultStore(memvault_server.url, api_key=API_KEY) as memvault_store:
        yield memvault_store


@pytest.fixture
async def astore(memvault_server: LiveServer) -> AsyncIterator[MemvaultStore]:
    async with MemvaultStore(memvault_server.url, api_key=API_KEY) as memvault_store:
        yield memvault_store


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def test_a_graph_remembers_through_the_store(store: MemvaultStore, memvault: Client) -> None:
    graph = build(recall).compile(store=store)
    alice, bob = user(), user()
    for fact in ("I prefer dark roast coffee", "My cat is called Miso", "I live in Lisbon"):
        graph.invoke({"user": alice, "message": f"remember: {fact}"})

    answer = graph.invoke({"user": alice, "message": "What is my cat's name?"})
    assert answer["recalled"][0] == "My cat is called Miso"
    assert graph.invoke({"user": bob, "message": "What is my cat's name?"})["recalled"] == []

    # Each user's items are entries of their own scope of the store "lg".
    entries = memvault.list_entries("lg", scope=alice)
    assert len(entries) == 3 and all(e.path.startswith("/memories/facts/") for e in entries)
    assert len(memvault.list_entries("lg", scope=bob)) == 0


async def test_an_async_graph_uses_abatch(astore: MemvaultStore) -> None:
    graph = build(arecall).compile(store=astore)
    carol = user()
    await graph.ainvoke({"user": carol, "message": "remember: I am allergic to peanuts"})
    await graph.ainvoke({"user": carol, "message": "remember: I play the cello"})
    answer = await graph.ainvoke({"user": carol, "message": "Which instrument do I play?"})
    assert answer["recalled"][0] == "I play the cello"


def test_put_get_delete(store: MemvaultStore, memvault: Client) -> None:
    scope = user()
    namespace = ("lg", scope, "prefs")
    assert store.get(namespace, "drink") is None
    store.put(namespace, "drink", {"text": "Prefers tea", "strength": 3})
    item = store.get(namespace, "drink")
    assert item is not None
    assert (item.namespace, item.key, item.value) == (namespace, "drink",
                                                      {"text": "Prefers tea", "strength": 3})
    created = item.created_at

    store.put(namespace, "drink", {"text": "Prefers coffee", "strength": 5})
    changed = store.get(namespace, "drink")
    assert changed is not None and changed.value["text"] == "Prefers coffee"
    assert changed.created_at == created
    assert memvault.get_entry("lg", scope=scope, path="/memories/prefs/drink").version == 2

    # Keys and labels of any text map to one path segment each.
    odd = ("lg", scope, "a b/c")
    for key in ("key/with spaces", "..", "50%"):
        store.put(odd, key, {"text": key})
        fetched = store.get(odd, key)
        assert fetched is not None and fetched.value == {"text": key}
    assert store.get(("lg", scope, "a b", "c", "key"), "with spaces") is None
    assert {item.key for item in store.search(odd)} == {"key/with spaces", "..", "50%"}

    store.delete(namespace, "drink")
    assert store.get(namespace, "drink") is None
    store.delete(namespace, "drink")  # deleting what is not there is a no-op
    assert store.get(("no-such-store", scope), "x") is None


def test_search_filters_and_pages(store: MemvaultStore) -> None:
    scope = user()
    store.put(("lg", scope, "trips"), "lisbon", {"text": "Trip to Lisbon in May", "days": 5})
    store.put(("lg", scope, "trips"), "oslo", {"text": "Trip to Oslo in June", "days": 3})
    store.put(("lg", scope, "food"), "tea", {"text": "Likes green tea", "days": 0})

    everything = store.search(("lg", scope))
    assert [item.key for item in everything] == ["tea", "lisbon", "oslo"]  # in path order
    assert all(item.score is None for item in everything)
    assert [i.key for i in store.search(("lg", scope), limit=1, offset=1)] == ["lisbon"]
    assert {i.key for i in store.search(("lg", scope, "trips"))} == {"lisbon", "oslo"}
    assert [i.key for i in store.search(("lg", scope), filter={"days": {"$gt": 4}})] == [
        "lisbon"]
    assert [i.key for i in store.search(("lg", scope), filter={"text": "Likes green tea"})] == [
        "tea"]

    hits = store.search(("lg", scope), query="a drink I enjoy")
    assert hits[0].key == "tea" and hits[0].score is not None
    assert hits[0].namespace == ("lg", scope, "food")
    trips = store.search(("lg", scope, "trips"), query="a drink I enjoy")
    assert {hit.key for hit in trips} == {"lisbon", "oslo"}
    assert [h.key for h in store.search(("lg", scope), query="Norway", filter={"days": 3})] == [
        "oslo"]

    with pytest.raises(InvalidNamespaceError):
        store.search(("lg",), query="anything")
    assert store.search(("no-such-store", scope), query="tea") == []


def test_list_namespaces(store: MemvaultStore) -> None:
    scope = user()
    for namespace in (("lg", scope, "a", "x"), ("lg", scope, "a", "y"), ("lg", scope, "b"),
                      ("lg", scope)):
        store.put(namespace, "k", {"text": "t"})
    assert store.list_namespaces(prefix=("lg", scope)) == [
        ("lg", scope), ("lg", scope, "a", "x"), ("lg", scope, "a", "y"), ("lg", scope, "b")]
    assert store.list_namespaces(prefix=("lg", scope), max_depth=3) == [
        ("lg", scope), ("lg", scope, "a"), ("lg", scope, "b")]
    assert store.list_namespaces(prefix=("lg", scope, "*", "y")) == [("lg", scope, "a", "y")]
    assert store.list_namespaces(prefix=("lg", scope), suffix=("x",)) == [
        ("lg", scope, "a", "x")]
    assert store.list_namespaces(prefix=("lg", scope), limit=1, offset=1) == [
        ("lg", scope, "a", "x")]
    with pytest.raises(InvalidNamespaceError):
        store.list_namespaces(prefix=("lg",))


def test_batch_reads_see_the_state_before_its_writes(store: MemvaultStore) -> None:
    scope = user()
    namespace = ("lg", scope)
    results = store.batch([
        PutOp(namespace, "k", {"text": "first"}),
        GetOp(namespace, "k"),
        PutOp(namespace, "k", {"text": "second"}),
        SearchOp(namespace),
        ListNamespacesOp((MatchCondition("prefix", namespace),)),
    ])
    assert results == [None, None, None, [], []]
    item = store.get(namespace, "k")
    assert item is not None and item.value == {"text": "second"}


def test_entries_written_elsewhere_are_readable(store: MemvaultStore, memvault: Client) -> None:
    scope = user()
    memvault.create_store("lg-notes")
    memvault.create_entry("lg-notes", scope=scope, path="/memories/preferences.md",
                          description="Communication", contents="Email only")
    item = store.get(("lg-notes", scope), "preferences.md")
    assert item is not None
    assert item.value == {"contents": "Email only", "description": "Communication"}


def test_no_store_is_created_when_told_not_to(memvault_server: LiveServer) -> None:
    with MemvaultStore(memvault_server.url, api_key=API_KEY, create_stores=False) as strict:
        with pytest.raises(errors.StoreNotFound):
            strict.put(("never-created", "u"), "k", {"text": "x"})
    with MemvaultStore(memvault_server.url) as anonymous, pytest.raises(errors.Unauthorized):
        anonymous.put(("lg", "u"), "k", {"text": "x"})


async def test_async_methods(astore: MemvaultStore) -> None:
    scope = user()
    namespace = ("lg", scope, "async")
    await astore.aput(namespace, "a", {"text": "Likes hiking in the Alps"})
    await astore.aput(namespace, "b", {"text": "Reads science fiction"})
    item = await astore.aget(namespace, "a")
    assert item is not None and item.value["text"] == "Likes hiking in the Alps"
    hits = await astore.asearch(("lg", scope), query="mountains")
    assert hits[0].key == "a"
    assert await astore.alist_namespaces(prefix=("lg", scope)) == [namespace]
    await astore.adelete(namespace, "a")
    assert await astore.aget(namespace, "a") is None
