"""``memvault.client.Client`` against a live server: every operation, and the errors it maps."""

from __future__ import annotations

import subprocess
import sys

import pytest

from memvault import errors
from memvault.client import (
    AsyncClient,
    Client,
    MemoryItem,
    MemoryStore,
    SearchResult,
    StoreOptions,
    UpdateResult,
)
from tests.client.conftest import API_KEY
from tests.support.server import LiveServer, free_port

AGENT_DEFINITION = {"kind": "prompt", "model": "gpt-4.1", "instructions": "Be brief."}


def test_store_lifecycle(client: Client) -> None:
    store = client.create_store(
        "notes", options=StoreOptions(user_profile_details="Avoid credentials"),
        description="first", metadata={"team": "a"},
    )
    assert isinstance(store, MemoryStore)
    assert (store.name, store.description, store.metadata) == ("notes", "first", {"team": "a"})
    assert store.options.user_profile_details == "Avoid credentials"
    assert store.embedding_model  # what the server embeds with

    assert client.get_store("notes") == store
    changed = client.update_store("notes", description="second")
    assert changed.description == "second" and changed.metadata == {"team": "a"}

    client.create_store("more")
    first = client.list_stores(limit=1, order="asc")
    assert [s.name for s in first] == ["notes"] and first.has_more
    second = client.list_stores(limit=1, order="asc", after=first.last_id)
    assert [s.name for s in second] == ["more"]

    client.delete_store("notes")
    with pytest.raises(errors.StoreNotFound) as missing:
        client.get_store("notes")
    assert missing.value.status_code == 404
    assert [s.name for s in client.list_stores()] == ["more"]


def test_store_errors_are_memvaults_own(client: Client) -> None:
    client.create_store("taken")
    with pytest.raises(errors.StoreAlreadyExists) as taken:
        client.create_store("taken")
    assert isinstance(taken.value, errors.Conflict) and taken.value.status_code == 409

    with pytest.raises(errors.InvalidRequest) as invalid:
        client.create_store("no spaces allowed")
    assert invalid.value.status_code == 400 and invalid.value.param == "name"

    for call in (lambda: client.delete_store("absent"),
                 lambda: client.update_store("absent", description="x"),
                 lambda: client.search_memories("absent", scope="u", messages="hi"),
                 lambda: client.create_memory("absent", scope="u", content="x")):
        with pytest.raises(errors.StoreNotFound):
            call()


def test_memory_items(client: Client) -> None:
    client.create_store("s")
    memory = client.create_memory("s", scope="user_1", content="Likes green tea")
    assert isinstance(memory, MemoryItem)
    assert (memory.scope, memory.content, memory.kind, memory.version) == (
        "user_1", "Likes green tea", "user_profile", 1)
    assert client.get_memory("s", memory.memory_id) == memory

    changed = client.update_memory("s", memory.memory_id, content="Likes black tea")
    assert (changed.content, changed.version) == ("Likes black tea", 2)
    assert [r.content for r in client.memory_history("s", memory.memory_id)] == [
        "Likes green tea"]

    summary = client.create_memory("s", scope="user_1", content="Talked about Oslo",
                                   kind="chat_summary")
    page = client.list_memories("s", scope="user_1", limit=1)
    assert [m.memory_id for m in page] == [summary.memory_id] and page.has_more
    rest = client.list_memories("s", scope="user_1", limit=1, after=page.last_id)
    assert [m.memory_id for m in rest] == [memory.memory_id]
    assert [m.kind for m in client.list_memories("s", scope="user_1", kind="chat_summary")] == [
        "chat_summary"]
    assert len(client.list_memories("s", scope="user_2")) == 0

    client.delete_memory("s", memory.memory_id)
    with pytest.raises(errors.MemoryNotFound) as missing:
        client.get_memory("s", memory.memory_id)
    assert isinstance(missing.value, errors.NotFound) and missing.value.status_code == 404
    with pytest.raises(errors.MemoryNotFound):
        client.delete_memory("s", memory.memory_id)
    with pytest.raises(errors.InvalidRequest) as invalid:
        client.create_memory("s", scope="user_1", content="x", kind="gossip")
    assert invalid.value.status_code == 400


def test_search_with_messages_and_the_static_profile(client: Client) -> None:
    client.create_store("s")
    tea = client.create_memory("s", scope="user_1", content="Likes green tea")
    client.create_memory("s", scope="user_1", content="Owns a red bicycle")
    client.create_memory("s", scope="user_1", content="Planned a trip to Oslo",
                         kind="chat_summary")
    client.create_memory("s", scope="user_2", content="Likes green tea very much")

    result = client.search_memories("s", scope="user_1", messages="Which tea should I buy?",
                                    max_memories=1)
    assert isinstance(result, SearchResult) and result.search_id
    assert [hit.memory.memory_id for hit in result] == [tea.memory_id]
    assert result.memories[0].score > 0

    conversation = [("assistant", "Hello!"),
                    {"role": "user",
                     "content": [{"type": "input_text", "text": "any news about my bike?"}]}]
    hits = client.search_memories("s", scope="user_1", messages=conversation)
    assert hits.memories[0].memory.content == "Owns a red bicycle"
    assert {hit.memory.scope for hit in hits} == {"user_1"}

    static = client.search_memories("s", scope="user_1")
    assert sorted(hit.memory.content for hit in static) == ["Likes green tea",
                                                            "Owns a red bicycle"]

    with pytest.raises(errors.InvalidRequest) as invalid:
        client.search_memories("s", scope="", messages="tea")
    assert invalid.value.param == "scope"


def test_update_memories_waits_for_the_result(client: Client) -> None:
    client.create_store("s")
    handle = client.update_memories(
        "s", scope="user_1", update_delay=0,
        messages=[("user", "I prefer dark roast coffee and I live with two cats")],
    )
    assert handle.update_id.startswith("upd_") and handle.status in ("queued", "in_progress",
                                                                     "completed")
    result = handle.wait(timeout=120)
    assert isinstance(result, UpdateResult) and result.status == "completed"
    created = [op.memory.content for op in result.operations if op.kind == "create"]
    assert any("dark roast" in text for text in created)
    assert client.get_update("s", handle.update_id).status == "completed"

    hits = client.search_memories("s", scope="user_1", messages="What coffee do I like?")
    assert "dark roast" in hits.memories[0].memory.content


def test_a_superseded_update_names_its_successor(client: Client) -> None:
    client.create_store("s")
    first = client.update_memories("s", scope="u", messages="I like jazz", update_delay=3600)
    second = client.update_memories("s", scope="u", messages="I like blues",
                                    previous_update_id=first.update_id, update_delay=0)
    assert first.wait(timeout=60).superseded_by == second.update_id
    assert first.status == "superseded"
    contents = " ".join(op.memory.content for op in second.wait(timeout=120).operations)
    assert "jazz" in contents and "blues" in contents


def test_unknown_update(client: Client) -> None:
    client.create_store("s")
    with pytest.raises(errors.UpdateNotFound):
        client.get_update("s", "upd_00000000000000000000000000")


def test_delete_scope_counts_and_isolates(client: Client) -> None:
    client.create_store("s")
    for text in ("one", "two"):
        client.create_memory("s", scope="gone", content=f"Fact {text}")
    kept = client.create_memory("s", scope="kept", content="Fact three")
    assert client.delete_scope("s", scope="gone") == 2
    assert len(client.list_memories("s", scope="gone")) == 0
    assert client.get_memory("s", kept.memory_id) == kept


def test_agents(client: Client) -> None:
    client.create_store("s")
    definition = {**AGENT_DEFINITION, "tools": [
        {"type": "memory_search_preview", "memory_store_name": "s", "scope": "user_1"}]}
    agent = client.create_agent("helper", definition=definition, description="v1")
    assert (agent.name, agent.latest.version) == ("helper", "1")
    assert agent.latest.definition["tools"][0]["memory_store_name"] == "s"

    version = client.create_agent_version("helper", definition=AGENT_DEFINITION,
                                           description="v2")
    assert version.version == "2"
    assert client.get_agent("helper").latest.version == "2"
    assert client.get_agent_version("helper", "1").description == "v1"
    assert [v.version for v in client.list_agent_versions("helper", order="asc")] == ["1", "2"]
    assert [a.name for a in client.list_agents()] == ["helper"]

    with pytest.raises(errors.AgentAlreadyExists) as taken:
        client.create_agent("helper", definition=AGENT_DEFINITION)
    assert taken.value.status_code == 409
    with pytest.raises(errors.StoreNotFound):
        client.create_agent("other", definition={**AGENT_DEFINITION, "tools": [
            {"type": "memory_search_preview", "memory_store_name": "absent", "scope": "u"}]})

    client.delete_agent_version("helper", "1")
    with pytest.raises(errors.AgentNotFound):
        client.get_agent_version("helper", "1")
    client.delete_agent("helper")
    with pytest.raises(errors.AgentNotFound):
        client.get_agent("helper")


def test_api_key(client_server: LiveServer) -> None:
    with Client(client_server.url) as anonymous:
        with pytest.raises(errors.Unauthorized) as refused:
            anonymous.list_stores()
        assert refused.value.status_code == 401
    with Client(client_server.url, api_key="wrong") as wrong, pytest.raises(errors.Unauthorized):
        wrong.list_stores()
    with Client(client_server.url, api_key=API_KEY, project="t-key") as keyed:
        assert keyed.health() and len(keyed.list_stores()) == 0


def test_an_unreachable_server_is_service_unavailable() -> None:
    with Client(f"http://127.0.0.1:{free_port()}", timeout=5) as nowhere:
        assert not nowhere.health()
        with pytest.raises(errors.ServiceUnavailable) as down:
            nowhere.list_stores()
    assert "could not reach memvault" in str(down.value)


def test_both_clients_have_the_same_methods_and_docs() -> None:
    def public(cls: type) -> set[str]:
        return {name for name, member in vars(cls).items()
                if not name.startswith("_") and callable(member)}

    assert public(Client) - {"close"} == public(AsyncClient) - {"aclose"}
    for name in public(Client) - {"close"}:
        assert getattr(AsyncClient, name).__doc__ == getattr(Client, name).__doc__, name
        assert getattr(Client, name).__doc__, f"Client.{name} has no docstring"


def test_importing_the_client_loads_no_server_dependency() -> None:
    code = ("import sys, memvault.client; heavy = {'numpy', 'onnxruntime', 'fastapi', 'uvicorn',"
            " 'psycopg', 'tokenizers', 'openai'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_are_exactly_all() -> None:
    import memvault.client

    public = {name for name in dir(memvault.client) if not name.startswith("_")}
    modules = {name for name in public
               if type(getattr(memvault.client, name)).__name__ == "module"}
    assert public - modules == set(memvault.client.__all__)
