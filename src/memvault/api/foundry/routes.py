"""Foundry Memory Store API under ``/api/projects/{project}`` (contract §4).

Every success is 200 (the SDK raises on 201/204); ``:update_memories`` alone answers 202. Action
routes (``{name}:action``) are declared before ``{name}`` so that a store route never swallows
an action; store names cannot contain ``:``.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import JSONResponse

from memvault.api.access import Access
from memvault.api.admission import admit_search
from memvault.api.auth import caller
from memvault.api.foundry import schema, wire
from memvault.api.openapi import (
    FOUNDRY,
    PAGE_LIMIT,
    SCOPE,
    ProjectName,
    StoreName,
    documented,
)
from memvault.engine.privileges import (
    CREATE_MEMORY_STORE,
    MANAGE,
    READ_MEMORY_STORE,
    WRITE_MEMORY_STORE,
)
from memvault.engine.service import MemoryService
from memvault.engine.validation import validate_limit, validate_name
from memvault.models import Memory, MemoryKind, MemoryStore, new_id

router = APIRouter(prefix="/api/projects/{project}")
# The SDK polls at Retry-After, else at its 30 s default (contract §0.3).
RETRY_AFTER = {"Retry-After": "1"}


async def get_service(request: Request) -> MemoryService:
    return request.app.state.service


Service = Annotated[MemoryService, Depends(get_service)]
Listing = Annotated[wire.ListQuery, Query()]
MemoryKindQuery = Annotated[str | None, Query(**documented(enum=[k.value for k in MemoryKind]))]


async def _store(
    service: MemoryService, project: str, name: str, access: Access, privilege: str, *,
    recent: bool = False,
) -> MemoryStore:
    """The store (``StoreNotFound`` first), once the caller is known to hold ``privilege``;
    ``recent``: see ``MemoryService.get_store``."""
    validate_name(project, "project")
    store = await service.get_store(project, name, recent=recent)
    await access.require(privilege, store)
    return store


async def _memory_in_scope(
    service: MemoryService, store: MemoryStore, memory_id: str, access: Access
) -> None:
    """A key restricted to one scope reaches a memory by id only in that scope."""
    if access.principal.scope is not None:
        await access.require_scope((await service.get_memory(store, memory_id)).scope)


def _memory_list(page: Any) -> dict[str, Any]:
    return wire.list_json(page, wire.memory_json, lambda m: m.id)


# -- stores ----------------------------------------------------------------------------------


@router.post("/memory_stores", **FOUNDRY.write(schema.MemoryStoreOut))
async def create_store(
    project: ProjectName, body: wire.CreateStoreIn, service: Service, access: Access
) -> dict:
    validate_name(project, "project")
    access.require_all_scopes("create a memory store")
    await access.require_on_schema(CREATE_MEMORY_STORE, project)
    definition = body.definition or wire.DefinitionIn()
    options = (definition.options or wire.StoreOptionsIn()).to_options()
    store = await service.create_store(
        project,
        body.name,
        chat_model=definition.chat_model,
        embedding_model=definition.embedding_model,
        options=options,
        description=body.description,
        metadata=body.metadata,
        owner=access.principal.name,
    )
    return wire.store_json(store)


@router.get("/memory_stores", **FOUNDRY.read(schema.MemoryStoreListOut))
async def list_stores(
    project: ProjectName, query: Listing, service: Service, access: Access
) -> dict:
    """The stores the caller may see: those it owns or holds a privilege on (admins: all)."""
    validate_name(project, "project")
    page = await access.visible_stores(
        functools.partial(service.list_stores, project, order=query.order),
        limit=validate_limit(query.limit), after=query.after, before=query.before,
    )  # fmt: skip
    return wire.list_json(page, wire.store_json, lambda s: s.id)


@router.post("/memory_stores/{name}:search_memories", **FOUNDRY.read(schema.SearchOut))
async def search_memories(
    request: Request, project: ProjectName, name: StoreName, body: wire.SearchIn,
    service: Service, access: Access,
) -> JSONResponse:
    async with admit_search(request):  # or 503 overloaded, before any work
        store = await _store(service, project, name, access, READ_MEMORY_STORE, recent=True)
        await access.require_scope(body.scope)
        texts = wire.message_texts(body.items)
        query = "\n".join(text for _, text in texts)
        max_memories = body.options.max_memories if body.options else None
        outcome = await service.search(store, body.scope, query, max_memories=max_memories)
    return JSONResponse({
        "search_id": new_id("search"),
        "memories": [
            {"memory_item": wire.memory_json(hit.memory), "score": round(hit.score, 6)}
            for hit in outcome.memories
        ],
        "usage": wire.usage_json(),
    })


@router.post(
    "/memory_stores/{name}:update_memories",
    **FOUNDRY.write(schema.UpdateAcceptedOut, status=202),
)
async def update_memories(
    project: ProjectName, name: StoreName, body: wire.UpdateIn, service: Service, access: Access
) -> JSONResponse:
    store = await _store(service, project, name, access, WRITE_MEMORY_STORE)
    await access.require_scope(body.scope)
    job = await service.submit_update(
        store,
        body.scope,
        wire.message_texts(body.items),
        update_delay=body.update_delay,
        previous_update_id=body.previous_update_id,
    )
    # No Location header: azure-core would then make an extra final GET (contract §4.3).
    return JSONResponse(
        {"update_id": job.id, "status": job.status.value}, status_code=202, headers=RETRY_AFTER
    )


@router.get("/memory_stores/{name}/updates/{update_id}", **FOUNDRY.read(schema.UpdateOut))
async def get_update(
    project: ProjectName, name: StoreName, update_id: str, service: Service, access: Access
) -> JSONResponse:
    store = await _store(service, project, name, access, READ_MEMORY_STORE)
    job = await service.get_update(store, update_id)
    await access.require_scope(job.scope)
    return JSONResponse(wire.update_json(job), headers=RETRY_AFTER)


@router.post("/memory_stores/{name}:delete_scope", **FOUNDRY.write(schema.ScopeDeletedOut))
async def delete_scope(
    request: Request, project: ProjectName, name: StoreName, body: wire.DeleteScopeIn,
    service: Service, access: Access,
) -> dict:
    store = await _store(service, project, name, access, WRITE_MEMORY_STORE)
    await access.require_scope(body.scope)
    count = await service.delete_scope(store, body.scope, actor=caller(request).name)
    return {
        "object": "memory_store.scope.deleted",
        "name": store.name,
        "scope": body.scope,
        "deleted": True,
        "deleted_count": count,
    }


@router.get("/memory_stores/{name}/scopes", **FOUNDRY.read(schema.ScopeListOut))
async def list_scopes(
    project: ProjectName, name: StoreName, service: Service, access: Access,
    limit: Annotated[int | None, Query(**PAGE_LIMIT)] = None, after: str | None = None,
) -> dict:
    """memvault's own: the scopes holding memories, in code point order, with their counts;
    ``first_id``/``last_id`` are scopes, and ``after`` takes the last one for the next page."""
    store = await _store(service, project, name, access, READ_MEMORY_STORE)
    access.require_all_scopes("list the scopes of a store")
    page = await service.list_scopes(store, limit=limit, after=after)
    return wire.list_json(page, wire.scope_json, lambda summary: summary.scope)


# -- items -----------------------------------------------------------------------------------


@router.post("/memory_stores/{name}/items:list", **FOUNDRY.read(schema.MemoryListOut))
async def list_memories(
    project: ProjectName,
    name: StoreName,
    query: Listing,
    service: Service,
    access: Access,
    body: wire.ListMemoriesIn | None = None,
    scope: str | None = None,
    kind: MemoryKindQuery = None,
) -> dict:
    store = await _store(service, project, name, access, READ_MEMORY_STORE)
    scope = body.scope if body and body.scope is not None else scope
    await access.require_scope(scope)
    page = await service.list_memories(
        store,
        scope,
        kind=kind,
        limit=query.limit,
        order=query.order,
        after=query.after,
        before=query.before,
    )
    return _memory_list(page)


@router.get("/memory_stores/{name}/items:list", **FOUNDRY.read(schema.MemoryListOut))
async def list_memories_get(
    project: ProjectName, name: StoreName, query: Listing, service: Service, access: Access,
    scope: Annotated[str, Query(**SCOPE)], kind: MemoryKindQuery = None,
) -> dict:
    """The REST docs' form: the scope in the query string instead of the body."""
    return await list_memories(project, name, query, service, access, None, scope, kind)


@router.post("/memory_stores/{name}/items", **FOUNDRY.write(schema.MemoryItemOut))
async def create_memory(
    project: ProjectName, name: StoreName, body: wire.CreateMemoryIn, service: Service,
    access: Access,
) -> dict:
    store = await _store(service, project, name, access, WRITE_MEMORY_STORE)
    await access.require_scope(body.scope)
    memory = await service.add_memory(store, body.scope, body.kind, body.content)
    return wire.memory_json(memory)


@router.get("/memory_stores/{name}/items/{memory_id}", **FOUNDRY.read(schema.MemoryItemOut))
async def get_memory(
    project: ProjectName, name: StoreName, memory_id: str, service: Service, access: Access
) -> dict:
    store = await _store(service, project, name, access, READ_MEMORY_STORE)
    memory = await service.get_memory(store, memory_id)
    await access.require_scope(memory.scope)
    return wire.memory_json(memory)


@router.get(
    "/memory_stores/{name}/items/{memory_id}/history", **FOUNDRY.read(schema.MemoryHistoryOut)
)
async def memory_history(
    project: ProjectName, name: StoreName, memory_id: str, service: Service, access: Access
) -> dict:
    """memvault's own: the earlier texts of a memory, oldest first."""
    store = await _store(service, project, name, access, READ_MEMORY_STORE)
    await _memory_in_scope(service, store, memory_id, access)
    revisions = await service.memory_history(store, memory_id)
    return {
        "object": "list",
        "memory_id": memory_id,
        "data": [
            {"version": r.version, "content": r.content, "changed_at": r.changed_at,
             "changed_by": r.changed_by}
            for r in revisions
        ],
    }


@router.post(
    "/memory_stores/{name}/items/{memory_id}", **FOUNDRY.write(schema.MemoryItemOut)
)
async def update_memory(
    project: ProjectName, name: StoreName, memory_id: str, body: wire.UpdateMemoryIn,
    service: Service,
    access: Access,
) -> dict:
    store = await _store(service, project, name, access, WRITE_MEMORY_STORE)
    await _memory_in_scope(service, store, memory_id, access)
    memory: Memory = await service.update_memory(store, memory_id, body.content)
    return wire.memory_json(memory)


@router.delete(
    "/memory_stores/{name}/items/{memory_id}", **FOUNDRY.write(schema.MemoryDeletedOut)
)
async def delete_memory(
    request: Request, project: ProjectName, name: StoreName, memory_id: str, service: Service,
    access: Access,
) -> dict:
    store = await _store(service, project, name, access, WRITE_MEMORY_STORE)
    await _memory_in_scope(service, store, memory_id, access)
    memory = await service.delete_memory(store, memory_id, actor=caller(request).name)
    return {"object": "memory_store.item.deleted", "memory_id": memory.id, "deleted": True}


# -- one store -------------------------------------------------------------------------------


@router.get("/memory_stores/{name}", **FOUNDRY.read(schema.MemoryStoreOut))
async def get_store(
    project: ProjectName, name: StoreName, service: Service, access: Access
) -> dict:
    return wire.store_json(await _store(service, project, name, access, READ_MEMORY_STORE))


@router.post("/memory_stores/{name}", **FOUNDRY.write(schema.MemoryStoreOut))
async def update_store(
    project: ProjectName, name: StoreName, body: wire.UpdateStoreIn, service: Service,
    access: Access,
) -> dict:
    await _store(service, project, name, access, MANAGE)
    access.require_all_scopes("change a memory store")
    store = await service.update_store(
        project, name, description=body.description, metadata=body.metadata
    )
    return wire.store_json(store)


@router.delete("/memory_stores/{name}", **FOUNDRY.write(schema.MemoryStoreDeletedOut))
async def delete_store(
    request: Request, project: ProjectName, name: StoreName, service: Service, access: Access
) -> dict:
    store = await _store(service, project, name, access, MANAGE)
    access.require_all_scopes("delete a memory store")
    await service.delete_store(project, store.name, actor=caller(request).name)
    return {"object": "memory_store.deleted", "name": store.name, "deleted": True}
