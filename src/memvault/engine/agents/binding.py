"""Conversations bound to a memory store and a scope, as Databricks creates them.

A conversation may be created with the memory it belongs to, in the shape of Databricks'
Conversations API (``conversations.create(extra_body=...)`` on its OpenAI-compatible endpoint,
``POST /api/2.1/unity-catalog/conversations``)::

    {"memory_store": {"name": "main.default.prefs"}, "scope": {"kind": "user", "value": "u-1"}}

``memory_store.name`` is the store's name in the project or its full name
``catalog.schema.store`` (:mod:`memvault.engine.namespaces`; a store whose own name has dots
is found by that name first); ``scope.value`` is required,
``scope.kind`` defaults to ``user`` (Databricks also uses ``user_defined``; memvault keeps the
kind and shows it, and treats every kind alike). Plain strings are accepted for both
(``"memory_store": "prefs", "scope": "u-1"``). The binding is kept with the conversation and
never changes: a request that names a store or scope later is refused (400) and changes nothing.

Every response in a bound conversation then, without the caller naming memory again:

* searches the binding, the conversation's *personal* memory, and learns each turn into it
  (``update_memories``, as an agent's memory tool does);
* also searches each memory tool of its agent, if any, as *shared* memory: read, never written
  by a user's turn. ``{{$userId}}`` in a tool stands for the binding's scope value, so a
  ``{{$userId}}`` tool on the bound store is the personal memory itself, not a second search.

The personal search takes ``max_memories`` and ``update_delay`` from the agent's tool on the
bound store (the one that resolves to the bound scope, else the first), else
``MEMVAULT_CONVERSATION_UPDATE_DELAY`` and the default search size.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from memvault.engine import namespaces, validation
from memvault.engine.agents.definitions import MemoryTool
from memvault.errors import InvalidRequest
from memvault.models import MemoryStore
from memvault.settings import Settings

DEFAULT_SCOPE_KIND = "user"
_SCOPE_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}\Z")

PERSONAL = "personal"
SHARED = "shared"

FIXED_MESSAGE = (
    "a conversation's 'memory_store' and 'scope' are given when it is created and cannot be"
    " changed; create a new conversation for another store or scope"
)


@dataclass(frozen=True)
class BoundMemory:
    """A conversation's binding, resolved: the store itself and the scope."""

    store: MemoryStore
    scope: str
    scope_kind: str


@dataclass(frozen=True)
class PlannedSearch:
    """One (store, scope) a turn searches. ``tool.scope`` is literal; ``learn`` says whether the
    turn is learned into it; ``role`` is ``personal``/``shared`` in a bound conversation (None
    otherwise); ``param`` names where the search came from, for errors."""

    tool: MemoryTool
    param: str
    store: MemoryStore | None = None
    learn: bool = True
    role: str | None = None


def parse_binding(
    memory_store: object, scope: object, settings: Settings
) -> tuple[str, str, str] | None:
    """``(store name as given, scope kind, scope value)``, or None when neither is given.

    Raises ``InvalidRequest`` for one without the other, a missing or empty name or value, or a
    kind that is not a short lowercase identifier.
    """
    if memory_store is None and scope is None:
        return None
    if memory_store is None:
        raise InvalidRequest(
            "'memory_store' is required with 'scope': {\"name\": \"catalog.schema.store\"}",
            param="memory_store",
        )
    if scope is None:
        raise InvalidRequest(
            "'scope' is required with 'memory_store': {\"kind\": \"user\", \"value\": <id>}",
            param="scope",
        )
    name = memory_store.get("name") if isinstance(memory_store, dict) else memory_store
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest(
            "'memory_store.name' must be a non-empty string", param="memory_store.name"
        )
    kind: object = DEFAULT_SCOPE_KIND
    value: object = scope
    if isinstance(scope, dict):
        kind = scope.get("kind") or DEFAULT_SCOPE_KIND
        value = scope.get("value")
    elif not isinstance(scope, str):
        raise InvalidRequest(
            "'scope' must be an object {\"kind\", \"value\"} or a string", param="scope"
        )
    if not isinstance(kind, str) or not _SCOPE_KIND.match(kind):
        raise InvalidRequest(
            "'scope.kind' must be a short lowercase name such as 'user' or 'user_defined'",
            param="scope.kind",
        )
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest("'scope.value' must be a non-empty string", param="scope.value")
    try:
        value = validation.validate_scope(value, settings)
    except InvalidRequest as exc:
        raise InvalidRequest(
            exc.message.replace("'scope'", "'scope.value'"), param="scope.value"
        ) from None
    return name.strip(), kind, value


def store_in_schema(project: str, name: str, *, catalog: str) -> str:
    """The store a full name ``catalog.schema.store`` of ``project``'s schema names (its last
    part), or ``name`` unchanged when it is no valid full name (a plain name: the caller looks
    it up as is). Raises ``InvalidRequest`` for a full name of another schema: a conversation's
    store belongs to the conversation's project."""
    try:
        located = namespaces.parse_full_name(name, catalog=catalog)
    except InvalidRequest:
        return name
    if located is None:
        return name
    located_project, store_name = located
    if located_project != project:
        raise InvalidRequest(
            f"memory store {name!r} is in schema"
            f" {namespaces.schema_full_name(located_project, catalog=catalog)!r}; a conversation"
            f" of {namespaces.schema_full_name(project, catalog=catalog)!r} is bound to a store"
            " of its own schema",
            param="memory_store.name",
        )
    return store_name


def plan_searches(
    tools: Sequence[MemoryTool],
    *,
    user_id: str,
    bound: BoundMemory | None,
    settings: Settings,
) -> list[PlannedSearch]:
    """What a turn searches: every tool (scope resolved for ``user_id``) in an unbound
    conversation; the personal binding first, then the tools as shared memory, each (store,
    scope) once, in a bound one."""
    if bound is None:
        return [
            PlannedSearch(
                replace(tool, scope=tool.resolve_scope(user_id)),
                param=f"tools[{index}].memory_store_name",
            )
            for index, tool in enumerate(tools)
        ]
    resolved = [replace(tool, scope=tool.resolve_scope(bound.scope)) for tool in tools]
    on_store = [tool for tool in resolved if tool.memory_store_name == bound.store.name]
    options = next((tool for tool in on_store if tool.scope == bound.scope), None)
    options = options or (on_store[0] if on_store else None)
    personal = MemoryTool(
        bound.store.name,
        bound.scope,
        update_delay=(
            options.update_delay if options else settings.conversation_update_delay
        ),
        max_memories=options.max_memories if options else None,
    )
    plan = [PlannedSearch(personal, param="conversation.memory_store", store=bound.store,
                          learn=True, role=PERSONAL)]
    seen = {(personal.memory_store_name, personal.scope)}
    for index, tool in enumerate(resolved):
        key = (tool.memory_store_name, tool.scope)
        if key in seen:
            continue
        seen.add(key)
        plan.append(PlannedSearch(tool, param=f"tools[{index}].memory_store_name",
                                  learn=False, role=SHARED))
    return plan
