"""The OpenAI-compatible face: conversations and responses, with agents and their memory.

Served twice (contract §5.2): at ``/api/projects/{project}/openai/v1`` (what
``AIProjectClient.get_openai_client()`` of the GA SDKs uses) and at
``/api/projects/{project}/openai`` (the preview SDKs, which add ``?api-version=...``; any
api-version is accepted). A response names its agent with ``agent_reference`` (GA, sent through
``extra_body``) or ``agent`` (preview), ``version`` optional. Errors use OpenAI's shape
(:mod:`memvault.api.openai.errors`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse, StreamingResponse

from memvault.api.access import Access
from memvault.api.errors import allowed_methods
from memvault.api.agents.routes import get_agent_service
from memvault.api.openai import schema, wire
from memvault.api.openai.errors import OpenAIRoute
from memvault.api.openapi import OPENAI, ProjectName
from memvault.api.openai.streaming import SSE_HEADERS, response_events
from memvault.api.openai.users import memory_user_id
from memvault.engine.agents import AgentService
from memvault.errors import MethodNotAllowed, NotFound
from memvault.storage.agents import Conversation

GA_PREFIX = "/api/projects/{project}/openai/v1"
PREVIEW_PREFIX = "/api/projects/{project}/openai"
FALLBACK_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]

Agents = Annotated[AgentService, Depends(get_agent_service)]
ItemsQuery = Annotated[wire.ItemsQuery, Query()]


async def _reach_conversation(
    agents: AgentService, access: Access, project: str, conversation_id: str
) -> Conversation:
    """The conversation, once the caller may reach it
    (:meth:`AgentService.authorize_conversation`). Raises ``ConversationNotFound``,
    ``Forbidden``."""
    conversation = await agents.get_conversation(project, conversation_id)
    await agents.authorize_conversation(access.principal, conversation)
    return conversation


def make_router(prefix: str, *, include_in_schema: bool = True) -> APIRouter:
    """The face's routes under ``prefix``."""
    router = APIRouter(prefix=prefix, route_class=OpenAIRoute, include_in_schema=include_in_schema)

    # -- conversations ---------------------------------------------------------------------

    @router.post("/conversations", **OPENAI.write(schema.ConversationOut))
    async def create_conversation(
        project: ProjectName, agents: Agents, access: Access,
        body: wire.ConversationCreateIn | None = None,
    ) -> dict:
        body = body or wire.ConversationCreateIn()
        conversation, _ = await agents.create_conversation(
            project, items=body.items, metadata=body.metadata, memory_store=body.memory_store,
            scope=body.scope, principal=access.principal,
        )
        return wire.conversation_json(conversation, agents.settings.default_catalog)

    @router.get("/conversations/{conversation_id}", **OPENAI.read(schema.ConversationOut))
    async def get_conversation(
        project: ProjectName, conversation_id: str, agents: Agents, access: Access
    ) -> dict:
        conversation = await _reach_conversation(agents, access, project, conversation_id)
        return wire.conversation_json(conversation, agents.settings.default_catalog)

    @router.post("/conversations/{conversation_id}", **OPENAI.write(schema.ConversationOut))
    async def update_conversation(
        project: ProjectName, conversation_id: str, body: wire.ConversationUpdateIn, agents: Agents,
        access: Access,
    ) -> dict:
        await _reach_conversation(agents, access, project, conversation_id)
        if body.memory_store is None and body.scope is None:
            body.required_metadata()
        conversation = await agents.update_conversation(
            project, conversation_id, metadata=body.metadata, memory_store=body.memory_store,
            scope=body.scope,
        )
        return wire.conversation_json(conversation, agents.settings.default_catalog)

    @router.delete(
        "/conversations/{conversation_id}", **OPENAI.write(schema.ConversationDeletedOut)
    )
    async def delete_conversation(
        project: ProjectName, conversation_id: str, agents: Agents, access: Access
    ) -> dict:
        await _reach_conversation(agents, access, project, conversation_id)
        await agents.delete_conversation(project, conversation_id)
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    @router.post("/conversations/{conversation_id}/items", **OPENAI.write(schema.ItemListOut))
    async def add_items(
        project: ProjectName, conversation_id: str, body: wire.ItemsCreateIn, agents: Agents,
        access: Access,
    ) -> dict:
        await _reach_conversation(agents, access, project, conversation_id)
        added = await agents.add_items(project, conversation_id, body.items)
        return wire.items_json([item.data for item in added])

    @router.get("/conversations/{conversation_id}/items", **OPENAI.read(schema.ItemListOut))
    async def list_items(
        project: ProjectName, conversation_id: str, query: ItemsQuery, agents: Agents,
        access: Access,
    ) -> dict:
        await _reach_conversation(agents, access, project, conversation_id)
        page = await agents.list_items(
            project, conversation_id, limit=query.limit, order=query.order, after=query.after,
            before=query.before,
        )
        return wire.item_page_json(page)

    @router.get(
        "/conversations/{conversation_id}/items/{item_id}", **OPENAI.read(schema.ItemOut)
    )
    async def get_item(
        project: ProjectName, conversation_id: str, item_id: str, agents: Agents, access: Access
    ) -> dict:
        await _reach_conversation(agents, access, project, conversation_id)
        return (await agents.get_item(project, conversation_id, item_id)).data

    @router.delete(
        "/conversations/{conversation_id}/items/{item_id}",
        **OPENAI.write(schema.ConversationOut),
    )
    async def delete_item(
        project: ProjectName, conversation_id: str, item_id: str, agents: Agents, access: Access
    ) -> dict:
        await _reach_conversation(agents, access, project, conversation_id)
        conversation = await agents.delete_item(project, conversation_id, item_id)
        return wire.conversation_json(conversation, agents.settings.default_catalog)

    # -- responses -------------------------------------------------------------------------

    @router.post("/responses", **OPENAI.write(
        schema.ResponseOut, also=(502,),
        content={"text/event-stream": {"schema": {"type": "string"}}},
    ))
    async def create_response(
        project: ProjectName, body: wire.ResponseCreateIn, request: Request, agents: Agents,
        access: Access,
    ) -> JSONResponse | StreamingResponse:
        turn_request = body.to_request()
        if turn_request.conversation_id:
            await _reach_conversation(agents, access, project, turn_request.conversation_id)
        turn = await agents.start_response(
            project, turn_request, user_id=memory_user_id(request), principal=access.principal
        )
        if not body.stream:
            return JSONResponse(await agents.respond(turn))
        # Opened before the first byte: a refusal is still an HTTP error, not a failed stream.
        stream = await agents.open_stream(turn)
        return StreamingResponse(
            response_events(agents, turn, stream), media_type="text/event-stream",
            headers=SSE_HEADERS,
        )

    @router.get("/responses/{response_id}", **OPENAI.read(schema.ResponseOut))
    async def get_response(project: ProjectName, response_id: str, agents: Agents) -> dict:
        return (await agents.get_response(project, response_id)).body

    @router.delete("/responses/{response_id}", **OPENAI.write(schema.ResponseDeletedOut))
    async def delete_response(project: ProjectName, response_id: str, agents: Agents) -> dict:
        await agents.delete_response(project, response_id)
        return {"id": response_id, "object": "response.deleted", "deleted": True}

    @router.get("/responses/{response_id}/input_items", **OPENAI.read(schema.ItemListOut))
    async def list_input_items(
        project: ProjectName, response_id: str, query: ItemsQuery, agents: Agents
    ) -> dict:
        stored = await agents.get_response(project, response_id)
        items, has_more = wire.page_of(list(stored.input_items), query)
        return wire.items_json(items, has_more)

    @router.api_route("/{path:path}", methods=FALLBACK_METHODS, include_in_schema=False)
    async def no_route(request: Request) -> None:
        """Unmatched paths under the face answer in OpenAI's shape too (the app's handler
        would use the Foundry shape)."""
        allowed = allowed_methods(request)
        if allowed:
            raise MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}",
                                   allow=allowed)
        raise NotFound(f"No route for {request.method} {request.url.path}")

    return router


ga_router = make_router(GA_PREFIX)
preview_router = make_router(PREVIEW_PREFIX, include_in_schema=False)
