"""The OpenAI Conversations and Responses wire format: request bodies in, objects out.

Request models allow extra fields (the SDK sends parameters memvault has no use for, such as
``include`` or ``truncation``); those that would change the answer in a way memvault cannot honour
(request-level ``tools``) are refused by the routes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from memvault.engine import namespaces
from memvault.engine.agents import ResponseRequest
from memvault.errors import InvalidRequest
from memvault.models import Page
from memvault.storage.agents import Conversation, ConversationItem


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class AgentRefIn(_Wire):
    name: str
    version: str | int | None = None
    type: str | None = None


class ConversationRefIn(_Wire):
    id: str


class ResponseCreateIn(_Wire):
    model: str | None = None
    input: str | list[Any] | None = None
    instructions: str | None = None
    conversation: str | ConversationRefIn | None = None
    previous_response_id: str | None = None
    agent_reference: AgentRefIn | str | None = None
    agent: AgentRefIn | str | None = None
    store: bool | None = True
    stream: bool | None = False
    metadata: dict[str, Any] | None = None
    tools: list[Any] | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    memory_store: Any = None
    scope: Any = None

    def to_request(self) -> ResponseRequest:
        """The engine's request. Raises ``InvalidRequest`` for request-level tools and for
        ``agent`` and ``agent_reference`` naming different agents."""
        if self.tools:
            raise InvalidRequest(
                "'tools' in a response request are not supported: define the agent's tools with"
                " create_version and pass 'agent_reference'",
                param="tools",
            )
        refs = [_agent_ref(ref) for ref in (self.agent_reference, self.agent) if ref is not None]
        if len(refs) == 2 and refs[0] != refs[1]:
            raise InvalidRequest(
                "'agent' and 'agent_reference' name different agents", param="agent_reference"
            )
        name, version = refs[0] if refs else (None, None)
        conversation = self.conversation
        if isinstance(conversation, ConversationRefIn):
            conversation = conversation.id
        return ResponseRequest(
            input=self.input,
            instructions=self.instructions,
            model=self.model,
            agent_name=name,
            agent_version=version,
            conversation_id=conversation,
            previous_response_id=self.previous_response_id,
            store=self.store is not False,
            metadata=self.metadata,
            max_output_tokens=self.max_output_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            memory_store=self.memory_store,
            scope=self.scope,
        )


def _agent_ref(ref: AgentRefIn | str) -> tuple[str, str | None]:
    """(name, version) of an agent reference: an object, or (as some docs show) a bare name."""
    if isinstance(ref, str):
        return ref, None
    return ref.name, None if ref.version is None else str(ref.version)


class ConversationCreateIn(_Wire):
    """``memory_store`` and ``scope`` bind the conversation to a memory store and a scope, as
    Databricks' ``conversations.create(extra_body={...})`` does
    (:mod:`memvault.engine.agents.binding`)."""

    items: list[Any] | None = None
    metadata: dict[str, Any] | None = None
    memory_store: Any = None
    scope: Any = None


class ConversationUpdateIn(_Wire):
    """``metadata`` is required; ``memory_store``/``scope`` are refused (a binding is fixed)."""

    metadata: dict[str, Any] | None = None
    memory_store: Any = None
    scope: Any = None

    def required_metadata(self) -> dict[str, Any]:
        if self.metadata is None:
            raise InvalidRequest("Missing required parameter: 'metadata'", param="metadata")
        return self.metadata


class ItemsCreateIn(_Wire):
    items: list[Any]


class ItemsQuery(BaseModel):
    limit: int | None = Field(None, json_schema_extra={"minimum": 1, "maximum": 100})
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None


def conversation_json(conversation: Conversation, catalog: str) -> dict[str, Any]:
    """OpenAI's conversation object; a bound one also shows its ``memory_store`` (``name`` in
    the project, and ``full_name`` in the default ``catalog`` where the project has one) and
    ``scope`` (``kind``, ``value``)."""
    body: dict[str, Any] = {
        "id": conversation.id,
        "object": "conversation",
        "created_at": conversation.created_at,
        "metadata": conversation.metadata,
    }
    memory = conversation.memory
    if memory is not None:
        body["memory_store"] = {
            "name": memory.memory_store_name,
            "full_name": namespaces.full_name(
                conversation.project, memory.memory_store_name, catalog=catalog
            ),
        }
        body["scope"] = {"kind": memory.scope_kind, "value": memory.scope}
    return body


def items_json(items: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    """OpenAI's list shape; the SDK pages on ``last_id`` while ``has_more``."""
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }


def item_page_json(page: Page[ConversationItem]) -> dict[str, Any]:
    return items_json([item.data for item in page.items], page.has_more)


def page_of(
    items: list[dict[str, Any]], query: ItemsQuery, default_limit: int = 20
) -> tuple[list[dict[str, Any]], bool]:
    """One page of an in-memory list of items (a response's input items), by item id."""
    limit = query.limit or default_limit
    if not 1 <= limit <= 100:
        raise InvalidRequest("'limit' must be between 1 and 100", param="limit")
    ordered = list(items) if query.order == "asc" else list(reversed(items))
    ids = [item.get("id") for item in ordered]
    start, end = 0, len(ordered)
    if query.after is not None:
        start = ids.index(query.after) + 1 if query.after in ids else end
    if query.before is not None:
        end = ids.index(query.before) if query.before in ids else start
        if query.after is None:
            start = max(end - limit, 0)
            return ordered[start:end], start > 0
    page = ordered[start:end]
    return page[:limit], len(page) > limit
