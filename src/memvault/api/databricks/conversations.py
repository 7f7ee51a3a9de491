"""Databricks' Conversations API under ``/api/2.1/unity-catalog/conversations``: OpenAI-compatible
conversation state backed by a memory store and pinned to a scope.

    POST   /conversations                         {"memory_store": {"name": full_name},
                                                    "scope": {"kind", "value"},
                                                    "metadata"?, "items"?}  (both required)
    GET    /conversations/{id}
    POST   /conversations/{id}                    {"metadata"}  (replaces it; the binding never
                                                                 changes: 400)
    DELETE /conversations/{id}                    -> {}
    POST   /conversations/{id}/items              {"items": [...]}  (up to 20)
    GET    /conversations/{id}/items              ?limit&order&after&before (OpenAI list)
    GET    /conversations/{id}/items/{item_id}
    DELETE /conversations/{id}/items/{item_id}    -> the conversation

A conversation is the one the OpenAI-compatible face serves: it lives in the project of its
store's schema (:mod:`memvault.engine.namespaces`: ``main.P.store`` -> project ``P``), so its
responses are made with ``responses.create(conversation=id)`` at
``/api/projects/P/openai/v1``, which search the bound store and scope and learn into them
(:mod:`memvault.engine.agents.binding`). Conversations are named by id alone here (ids are
unique across projects). Objects are OpenAI's (``created_at`` in seconds), with
``memory_store.name`` the store's full name and ``scope`` as given; errors are in the Databricks
shape (:mod:`memvault.api.databricks.errors`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from memvault.api.access import Access
from memvault.api.agents.routes import get_agent_service
from memvault.api.databricks import schema
from memvault.api.databricks.errors import PREFIX
from memvault.api.openai.schema import ItemListOut, ItemOut
from memvault.api.openapi import DATABRICKS, Deleted
from memvault.api.openai import wire as openai_wire
from memvault.engine import namespaces
from memvault.engine.agents import AgentService
from memvault.errors import InvalidRequest
from memvault.storage.agents import Conversation

router = APIRouter(prefix=f"{PREFIX}/conversations")

Agents = Annotated[AgentService, Depends(get_agent_service)]
ItemsQuery = Annotated[openai_wire.ItemsQuery, Query()]


class CreateConversationIn(openai_wire.ConversationCreateIn):
    """``memory_store`` and ``scope`` are required on this face."""


def conversation_json(conversation: Conversation, catalog: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": conversation.id,
        "object": "conversation",
        "created_at": conversation.created_at,
        "metadata": conversation.metadata,
    }
    memory = conversation.memory
    if memory is not None:
        name = namespaces.full_name(conversation.project, memory.memory_store_name,
                                    catalog=catalog)
        body["memory_store"] = {"name": name or memory.memory_store_name}
        body["scope"] = {"kind": memory.scope_kind, "value": memory.scope}
    return body


async def _conversation(agents: AgentService, access: Access, conversation_id: str
                        ) -> Conversation:
    """The conversation with this id, once the caller may reach it
    (:meth:`AgentService.authorize_conversation`: ``READ_MEMORY_STORE`` on its store, in a
    scope-restricted key's own scope). Raises ``ConversationNotFound``, ``Forbidden``."""
    conversation = await agents.locate_conversation(conversation_id)
    await agents.authorize_conversation(access.principal, conversation)
    return conversation


def _catalog(request: Request) -> str:
    return request.app.state.settings.default_catalog


@router.post("", **DATABRICKS.write(schema.DatabricksConversationOut))
async def create_conversation(
    request: Request,
    agents: Agents,
    access: Access,
    body: Annotated[CreateConversationIn | None, Body()] = None,
) -> dict[str, Any]:
    body = body or CreateConversationIn()
    if body.memory_store is None:
        raise InvalidRequest(
            "'memory_store' is required: {\"name\": \"catalog.schema.store\"}",
            param="memory_store",
        )
    store = body.memory_store
    name = store.get("name") if isinstance(store, dict) else store
    location = namespaces.locate(name, catalog=_catalog(request), what="memory_store.name")
    conversation, _ = await agents.create_conversation(
        location.project, items=body.items, metadata=body.metadata,
        memory_store=location.full_name, scope=body.scope, principal=access.principal,
    )  # fmt: skip
    return conversation_json(conversation, _catalog(request))


@router.get("/{conversation_id}", **DATABRICKS.read(schema.DatabricksConversationOut))
async def get_conversation(
    request: Request, conversation_id: str, agents: Agents, access: Access
) -> dict[str, Any]:
    return conversation_json(await _conversation(agents, access, conversation_id),
                             _catalog(request))


@router.post("/{conversation_id}", **DATABRICKS.write(schema.DatabricksConversationOut))
async def update_conversation(
    request: Request,
    conversation_id: str,
    agents: Agents,
    access: Access,
    body: Annotated[openai_wire.ConversationUpdateIn | None, Body()] = None,
) -> dict[str, Any]:
    body = body or openai_wire.ConversationUpdateIn()
    conversation = await _conversation(agents, access, conversation_id)
    if body.memory_store is None and body.scope is None:
        body.required_metadata()
    updated = await agents.update_conversation(
        conversation.project, conversation_id, metadata=body.metadata,
        memory_store=body.memory_store, scope=body.scope,
    )  # fmt: skip
    return conversation_json(updated, _catalog(request))


@router.delete("/{conversation_id}", **DATABRICKS.write(Deleted))
async def delete_conversation(
    conversation_id: str, agents: Agents, access: Access
) -> dict[str, Any]:
    conversation = await _conversation(agents, access, conversation_id)
    await agents.delete_conversation(conversation.project, conversation_id)
    return {}


@router.post("/{conversation_id}/items", **DATABRICKS.write(ItemListOut))
async def add_items(
    conversation_id: str, body: openai_wire.ItemsCreateIn, agents: Agents, access: Access
) -> dict[str, Any]:
    conversation = await _conversation(agents, access, conversation_id)
    added = await agents.add_items(conversation.project, conversation_id, body.items)
    return openai_wire.items_json([item.data for item in added])


@router.get("/{conversation_id}/items", **DATABRICKS.read(ItemListOut))
async def list_items(
    conversation_id: str, query: ItemsQuery, agents: Agents, access: Access
) -> dict[str, Any]:
    conversation = await _conversation(agents, access, conversation_id)
    page = await agents.list_items(
        conversation.project, conversation_id, limit=query.limit, order=query.order,
        after=query.after, before=query.before,
    )  # fmt: skip
    return openai_wire.item_page_json(page)


@router.get("/{conversation_id}/items/{item_id}", **DATABRICKS.read(ItemOut))
async def get_item(
    conversation_id: str, item_id: str, agents: Agents, access: Access
) -> dict[str, Any]:
    conversation = await _conversation(agents, access, conversation_id)
    return (await agents.get_item(conversation.project, conversation_id, item_id)).data


@router.delete(
    "/{conversation_id}/items/{item_id}", **DATABRICKS.write(schema.DatabricksConversationOut)
)
async def delete_item(
    request: Request, conversation_id: str, item_id: str, agents: Agents, access: Access
) -> dict[str, Any]:
    conversation = await _conversation(agents, access, conversation_id)
    updated = await agents.delete_item(conversation.project, conversation_id, item_id)
    return conversation_json(updated, _catalog(request))
