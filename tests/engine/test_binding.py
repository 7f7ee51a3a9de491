"""The rules of a conversation bound to a store and a scope, as pure functions: what the binding
accepts, what a turn searches and learns into, and how the searches' memories are merged for
the model."""

from __future__ import annotations

import pytest

from memvault.engine.agents.binding import (
    PERSONAL,
    SHARED,
    BoundMemory,
    parse_binding,
    plan_searches,
    store_in_schema,
)
from memvault.engine.agents.definitions import USER_ID, MemoryTool
from memvault.engine.agents.memory import Recall, memory_context
from memvault.errors import InvalidRequest
from memvault.models import MemoryKind, MemoryStore, ScoredMemory, StoreOptions
from memvault.settings import Settings
from tests.engine.conftest import make_memory

SETTINGS = Settings(conversation_update_delay=42)
STORE = MemoryStore(id="ms_1", project="p", name="prefs", chat_model="m",
                    requested_embedding_model="e", embedding_model="e", embedding_dimension=8,
                    options=StoreOptions())
BOUND = BoundMemory(STORE, "user-1", "user")


def test_the_databricks_shape_and_its_shorthands() -> None:
    assert parse_binding({"name": "main.p.prefs"}, {"kind": "user_defined", "value": "c-2"},
                         SETTINGS) == ("main.p.prefs", "user_defined", "c-2")
    assert parse_binding("prefs", "u", SETTINGS) == ("prefs", "user", "u")
    assert parse_binding({"name": "prefs"}, {"value": "u"}, SETTINGS) == ("prefs", "user", "u")
    assert parse_binding(None, None, SETTINGS) is None


@pytest.mark.parametrize(("memory_store", "scope", "param"), [
    ({"name": "prefs"}, None, "scope"),
    (None, {"value": "u"}, "memory_store"),
    ({}, {"value": "u"}, "memory_store.name"),
    ({"name": " "}, {"value": "u"}, "memory_store.name"),
    ({"name": "prefs"}, {"kind": "user"}, "scope.value"),
    ({"name": "prefs"}, {"value": ""}, "scope.value"),
    ({"name": "prefs"}, {"value": "x" * 5000}, "scope.value"),
    ({"name": "prefs"}, {"kind": "User", "value": "u"}, "scope.kind"),
    ({"name": "prefs"}, ["u"], "scope"),
])
def test_bad_bindings_name_the_field(memory_store: object, scope: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_binding(memory_store, scope, SETTINGS)
    assert raised.value.param == param


def test_a_full_name_must_be_of_the_conversations_schema() -> None:
    assert store_in_schema("p", "main.p.prefs", catalog="main") == "prefs"
    assert store_in_schema("cat.sch", "cat.sch.prefs", catalog="main") == "prefs"
    assert store_in_schema("p", "prefs", catalog="main") == "prefs"
    with pytest.raises(InvalidRequest, match="main.q"):
        store_in_schema("p", "main.q.prefs", catalog="main")


def test_unbound_turns_search_every_tool_and_learn_into_each() -> None:
    plan = plan_searches([MemoryTool("prefs", USER_ID), MemoryTool("org", "acme")],
                         user_id="alice", bound=None, settings=SETTINGS)
    assert [(p.tool.memory_store_name, p.tool.scope, p.learn, p.role) for p in plan] == [
        ("prefs", "alice", True, None), ("org", "acme", True, None)]


def test_a_bound_turn_learns_into_its_binding_only() -> None:
    tools = [MemoryTool("prefs", "org-acme", update_delay=5, max_memories=3),
             MemoryTool("prefs", USER_ID, update_delay=0),
             MemoryTool("kb", USER_ID)]
    plan = plan_searches(tools, user_id="header-user", bound=BOUND, settings=SETTINGS)
    assert [(p.tool.memory_store_name, p.tool.scope, p.learn, p.role) for p in plan] == [
        ("prefs", "user-1", True, PERSONAL),    # the binding ({{$userId}} on it: the same)
        ("prefs", "org-acme", False, SHARED),
        ("kb", "user-1", False, SHARED),        # {{$userId}} is the bound scope, not the header
    ]
    # The personal search takes the options of the tool that resolves to it.
    assert (plan[0].tool.update_delay, plan[0].tool.max_memories) == (0, None)
    assert plan[0].store is STORE


def test_the_personal_search_takes_options_from_a_tool_on_its_store_else_the_setting() -> None:
    [personal, shared] = plan_searches(
        [MemoryTool("prefs", "org-acme", update_delay=7, max_memories=2)],
        user_id="u", bound=BOUND, settings=SETTINGS)
    assert (personal.tool.update_delay, personal.tool.max_memories) == (7, 2)
    assert shared.tool.scope == "org-acme"
    [alone] = plan_searches([], user_id="u", bound=BOUND, settings=SETTINGS)
    assert (alone.tool.update_delay, alone.tool.max_memories) == (42, None)


def hits(*scored: tuple[str, float]) -> list[ScoredMemory]:
    return [ScoredMemory(make_memory(text, MemoryKind.CHAT_SUMMARY), score)
            for text, score in scored]


def test_searches_are_merged_rank_by_rank_personal_first() -> None:
    personal = Recall(MemoryTool("prefs", "user-1"), STORE, "user-1",
                      static=[ScoredMemory(make_memory("Profile: likes aisle seats"), 1.0)],
                      contextual=hits(("Mine 1", 0.03), ("Mine 2", 0.02)), role=PERSONAL)
    shared = Recall(MemoryTool("prefs", "org"), STORE, "org",
                    static=[ScoredMemory(make_memory("Org profile"), 1.0)],
                    contextual=hits(("Org 1", 0.03), ("Org 2", 0.02), ("Org 3", 0.01)),
                    learn=False, role=SHARED)
    context = memory_context([personal, shared], [])
    assert context is not None
    lines = [line[2:] for line in context.splitlines() if line.startswith("- ")]
    assert lines == ["Profile: likes aisle seats", "Org profile",
                     "Mine 1", "Org 1", "Mine 2", "Org 2", "Org 3"]
