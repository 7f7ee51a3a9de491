"""The agent loop's pure parts: definitions, scopes, items, the memory context, the messages."""

from __future__ import annotations

import pytest

from memvault.engine.agents.definitions import (
    USER_ID,
    MemoryTool,
    parse_definition,
    validate_agent_name,
)
from memvault.engine.agents.items import chat_messages, message_item, normalize_input
from memvault.engine.agents.memory import Recall, memory_context, search_call_item
from memvault.engine.agents.turns import build_messages, memory_query
from memvault.errors import InvalidRequest
from memvault.models import MemoryStore, ScoredMemory, StoreOptions
from memvault.settings import Settings
from tests.engine.conftest import make_memory

SETTINGS = Settings()
STORE = MemoryStore(id="ms_1", project="p", name="prefs", chat_model="m",
                    requested_embedding_model="e", embedding_model="e", embedding_dimension=8,
                    options=StoreOptions())


def test_definition_defaults() -> None:
    kept, agent = parse_definition({"model": "gpt-4.1", "tools": [
        {"type": "memory_search_preview", "memory_store_name": "prefs", "scope": USER_ID}]},
        SETTINGS)
    assert kept["kind"] == "prompt" and "update_delay" not in kept["tools"][0]
    [tool] = agent.memory_tools
    assert tool == MemoryTool("prefs", USER_ID, 300, None)
    assert agent.model == "gpt-4.1" and agent.instructions is None


def test_scope_resolution_never_comes_from_the_model() -> None:
    assert MemoryTool("s", USER_ID).resolve_scope("alice") == "alice"
    assert MemoryTool("s", "user_123").resolve_scope("alice") == "user_123"
    # A literal scope that merely looks like a template is refused, not half-resolved.
    with pytest.raises(InvalidRequest):
        parse_definition({"model": "m", "tools": [
            {"type": "memory_search", "memory_store_name": "s", "scope": "team-{{$userId}}"}]},
            SETTINGS)


@pytest.mark.parametrize("name", ["a", "9", "my-agent", "A-1-b", "x" * 63])
def test_agent_names_accepted(name: str) -> None:
    assert validate_agent_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "a--", "a_b", "x" * 64, "a b", "a\n", None, 5])
def test_agent_names_refused(name: object) -> None:
    with pytest.raises(InvalidRequest):
        validate_agent_name(name)


def test_input_forms_become_message_items() -> None:
    [item] = normalize_input("Hi")
    assert item["role"] == "user" and item["content"] == [{"type": "input_text", "text": "Hi"}]
    assert item["id"].startswith("msg_")
    items = normalize_input([
        {"role": "developer", "content": "Be brief"},
        {"type": "message", "role": "assistant",
         "content": [{"type": "output_text", "text": "Hello", "annotations": []}]},
        {"role": "user", "content": [{"type": "input_text", "text": "a"},
                                     {"type": "input_text", "text": "b"}]},
    ])
    assert chat_messages(items) == [
        {"role": "system", "content": "Be brief"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "a\nb"},
    ]
    assert normalize_input("   ") == [] and normalize_input(None) == []


@pytest.mark.parametrize("value", [
    5, [1], [{"role": "user"}], [{"role": "user", "content": []}],
    [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}],
    [{"type": "item_reference", "id": "msg_1"}],
])
def test_inputs_refused(value: object) -> None:
    with pytest.raises(InvalidRequest):
        normalize_input(value)


def recall(*contents: str, scope: str = "u1", static: int = 0) -> Recall:
    hits = [ScoredMemory(make_memory(c, memory_id=f"mem_{i}"), 0.5) for i, c in enumerate(contents)]
    return Recall(MemoryTool("prefs", scope), STORE, scope, hits[:static], hits[static:])


def test_memory_context_joins_this_turn_and_earlier_searches_of_the_same_scope() -> None:
    earlier = search_call_item(recall("Likes tea"), None)
    earlier["results"][0]["memory_item"]["memory_id"] = "mem_old"
    elsewhere = search_call_item(recall("Bob's secret", scope="bob"), None)
    context = memory_context([recall("Prefers dark roast")], [earlier, elsewhere])
    assert context is not None
    assert context.index("Prefers dark roast") < context.index("Likes tea")
    assert "Bob's secret" not in context
    assert memory_context([recall()], []) is None


def test_search_call_item_lists_static_then_contextual_once() -> None:
    found = recall("Static fact", "Static fact again", "Contextual", static=2)
    duplicate = ScoredMemory(found.static[0].memory, 0.9)
    found = Recall(found.tool, STORE, "u1", found.static, [*found.contextual, duplicate])
    item = search_call_item(found, {"type": "agent_reference", "name": "a", "version": "1"})
    assert item["type"] == "memory_search_call" and item["status"] == "completed"
    assert [r["memory_item"]["content"] for r in item["results"]] == [
        "Static fact", "Static fact again", "Contextual"]
    assert item["results"] == item["memories"]
    assert set(item["results"][0]["memory_item"]) == {
        "memory_id", "updated_at", "scope", "content", "kind"}
    assert item["memvault"] == {"memory_store_name": "prefs", "scope": "u1", "static_memories": 2}


def test_messages_put_instructions_then_memories_in_one_system_message() -> None:
    earlier = search_call_item(recall("Old memory"), None)
    earlier["results"][0]["memory_item"]["memory_id"] = "mem_old"
    history = [message_item("user", "Earlier"), message_item("assistant", "Reply"), earlier]
    messages = build_messages(
        agent_instructions="Agent rules", request_instructions="Request rules",
        recalls=[recall("New memory")], history=history,
        input_items=normalize_input("Now"),
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    system = messages[0]["content"]
    positions = [system.index(text) for text in
                 ("Agent rules", "Request rules", "New memory", "Old memory")]
    assert positions == sorted(positions)
    assert build_messages(agent_instructions=None, request_instructions=None, recalls=[],
                          history=[], input_items=normalize_input("Hi")) == [
        {"role": "user", "content": "Hi"}]


def test_memory_query_prefers_the_new_input() -> None:
    history = [message_item("user", "one"), message_item("assistant", "two"),
               message_item("user", "three")]
    assert memory_query(normalize_input("now"), history) == "now"
    assert memory_query([], history) == "two\nthree"
    assert memory_query([message_item("system", "rules")], []) == ""
