"""`begin_update_memories(...).result()` with the official 2.10 SDK against a live server: the
how-to's coffee example, a conflict, sensitive-data exclusion, debounce/supersede, chaining."""

from __future__ import annotations

from typing import Any

import pytest
from azure.ai.projects.models import (
    MemoryOperationKind,
    MemoryStoreDefaultDefinition,
    MemoryStoreDefaultOptions,
)
from azure.core.exceptions import HttpResponseError

pytestmark = pytest.mark.slow

HOW_TO_DETAILS = (
    "Avoid irrelevant or sensitive data, such as age, financials, precise location, and credentials"
)


def user(text: str) -> dict:
    return {"type": "message", "role": "user", "content": text}


def make_store(memory_stores: Any, name: str, **options: Any) -> None:
    memory_stores.create(
        name=name,
        description="Memory store for customer support agent",
        definition=MemoryStoreDefaultDefinition(
            chat_model="gpt-4.1",
            embedding_model="text-embedding-3-small",
            options=MemoryStoreDefaultOptions(
                user_profile_enabled=True, chat_summary_enabled=True, **options
            ),
        ),
    )


def profile(memory_stores: Any, name: str, scope: str) -> list[str]:
    return sorted(m.content for m in memory_stores.list_memories(name, scope=scope,
                                                                 kind="user_profile"))


def test_how_to_coffee_flow(project: Any) -> None:
    ms = project.beta.memory_stores
    make_store(ms, "my_memory_store")
    poller = ms.begin_update_memories(
        name="my_memory_store",
        scope="user_123",
        items=[user("I prefer dark roast coffee and usually drink it in the morning")],
        update_delay=0,
    )
    result = poller.result()
    ops = result.memory_operations
    assert [op.kind for op in ops] == [MemoryOperationKind.CREATE]
    dark = ops[0].memory_item
    assert dark.content == "Prefers dark roast coffee, usually in the morning"
    assert dark.scope == "user_123"

    chained = ms.begin_update_memories(
        name="my_memory_store",
        scope="user_123",
        items=[user("I also like cappuccinos in the afternoon")],
        previous_update_id=poller.update_id,
        update_delay=0,
    ).result()
    assert chained.memory_operations, "the cappuccino fact must be stored"

    found = ms.search_memories(
        name="my_memory_store",
        scope="user_123",
        items=[user("What are my coffee preferences?")],
        options={"max_memories": 5},
    )
    contents = [m.memory_item.content for m in found.memories]
    assert any("dark roast" in c for c in contents)
    assert any("cappuccino" in c.lower() for c in contents)

    switched = ms.begin_update_memories(
        name="my_memory_store", scope="user_123",
        items=[user("I have switched to light roast")], update_delay=0,
    ).result()
    assert [(op.kind, op.memory_item.memory_id) for op in switched.memory_operations] == [
        (MemoryOperationKind.UPDATE, dark.memory_id)
    ]
    facts = profile(ms, "my_memory_store", "user_123")
    assert any("light roast" in f for f in facts)
    assert not any("dark roast" in f for f in facts)


def test_sensitive_data_is_not_stored(project: Any) -> None:
    ms = project.beta.memory_stores
    make_store(ms, "careful", user_profile_details=HOW_TO_DETAILS)
    ms.begin_update_memories(
        name="careful", scope="u",
        items=[user("My password is Tr0ub4dor&3 and I am 41 years old. I make $95,000 a year and"
                    " my address is 221B Baker Street. I enjoy birdwatching.")],
        update_delay=0,
    ).result()
    stored = " | ".join(profile(ms, "careful", "u"))
    assert "birdwatching" in stored
    for secret in ("Tr0ub4dor", "41", "95,000", "221B"):
        assert secret not in stored


def test_debounce_supersedes_and_processes_both(project: Any) -> None:
    ms = project.beta.memory_stores
    make_store(ms, "debounce")
    first = ms.begin_update_memories(name="debounce", scope="u", items=[user("I am vegan")],
                                     update_delay=2)
    second = ms.begin_update_memories(name="debounce", scope="u",
                                      items=[user("I live in Porto")], update_delay=1)
    superseded = first.result()
    assert first.superseded_by == second.update_id
    assert list(superseded.memory_operations or []) == []
    done = second.result()
    contents = " | ".join(op.memory_item.content for op in done.memory_operations)
    assert "vegan" in contents.lower() and "Porto" in contents


def test_update_with_no_message_is_rejected(project: Any) -> None:
    ms = project.beta.memory_stores
    make_store(ms, "empty")
    with pytest.raises(HttpResponseError) as raised:
        ms.begin_update_memories(name="empty", scope="u",
                                 items=[{"type": "function_call_output", "output": "x"}],
                                 update_delay=0)
    assert raised.value.status_code == 400
