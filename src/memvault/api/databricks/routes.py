"""Databricks' managed-memory REST API under ``/api/2.1/unity-catalog`` (contract §6.1, §6.2).

Stores are addressed by their full name ``catalog.schema.store``
(:mod:`memvault.engine.namespaces` maps it to the Foundry project that holds the store, so both
faces show the same stores). Entries live under ``/memory-stores/{full_name}/entries``; every
entry call names its ``scope``, in the query string or the body.

Every success is 200; deletes answer ``{}``. Errors are in the Databricks shape
(:mod:`memvault.api.databricks.errors`).

Privileges (:mod:`memvault.engine.access`): creating a store needs ``CREATE_MEMORY_STORE`` on its
schema; reading a store or its entries ``READ_MEMORY_STORE``, changing entries
``WRITE_MEMORY_STORE``, updating or deleting the store ``MANAGE``; a list shows the stores the
caller may see. A key restricted to one scope names only that scope.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from memvault.api.access import request_access
from memvault.api.admission import admit_search
from memvault.api.auth import caller
from memvault.api.databricks import schema, wire
from memvault.api.databricks.errors import PREFIX
from memvault.api.openapi import DATABRICKS, Deleted, FullName
from memvault.engine import namespaces
from memvault.engine.entries import EntryService
from memvault.engine.namespaces import StoreLocation
from memvault.engine.privileges import (
    CREATE_MEMORY_STORE,
    MANAGE,
    READ_MEMORY_STORE,
    WRITE_MEMORY_STORE,
)
from memvault.engine.service import MemoryService
from memvault.errors import InvalidRequest, StoreAlreadyExists, StoreNotFound
from memvault.models import MemoryStore

router = APIRouter(prefix=PREFIX)

ENTRIES = "/memory-stores/{full_name}/entries"
OptionalQuery = Annotated[str | None, Query()]


def _service(request: Request) -> MemoryService:
    return request.app.state.service


def _catalog(request: Request) -> str:
    return request.app.state.settings.default_catalog


def _entries(request: Request) -> EntryService:
    return request.app.state.entries


async def _store(
    request: Request, full_name: FullName, privilege: str, *, recent: bool = False
) -> tuple[MemoryStore, StoreLocation]:
    """The store ``full_name`` names, once the caller is known to hold ``privilege`` on it.
    Raises ``InvalidRequest``, ``StoreNotFound`` and ``Forbidden``, in that order. ``recent``:
    see ``MemoryService.get_store``."""
    location = namespaces.locate(full_name, catalog=_catalog(request))
    try:
        store = await _service(request).get_store(location.project, location.name, recent=recent)
    except StoreNotFound:
        raise StoreNotFound(
            f"Memory store '{location.full_name}' does not exist.", param="full_name"
        ) from None
    await (await request_access(request)).require(privilege, store)
    return store, location


async def _in_scope(request: Request, scope: object) -> None:
    """A key restricted to one scope names no other (``Forbidden``)."""
    await (await request_access(request)).require_scope(scope)


# -- memory stores ---------------------------------------------------------------------------


@router.post("/memory-stores", **DATABRICKS.write(schema.DatabricksMemoryStoreOut))
async def create_store(
    request: Request, body: Annotated[wire.DatabricksCreateStoreIn | None, Body()] = None
) -> dict[str, Any]:
    body = body or wire.DatabricksCreateStoreIn()
    location = namespaces.new_location(
        body.catalog_name, body.schema_name, body.name, catalog=_catalog(request)
    )
    description = wire.store_description(body.description, body.comment)
    access = await request_access(request)
    access.require_all_scopes("create a memory store")
    await access.require_on_schema(CREATE_MEMORY_STORE, location.project)
    try:
        store = await _service(request).create_store(
            location.project, location.name, description=description,
            owner=access.principal.name,
        )
    except StoreAlreadyExists:
        raise StoreAlreadyExists(
            f"Memory store '{location.full_name}' already exists.", param="name"
        ) from None
    return wire.store_json(store, location)


@router.get("/memory-stores", **DATABRICKS.read(schema.DatabricksMemoryStoreListOut))
async def list_stores(
    request: Request,
    catalog_name: OptionalQuery = None,
    schema_name: OptionalQuery = None,
    max_results: Annotated[int | None, Query()] = None,
    page_size: Annotated[int | None, Query()] = None,
    page_token: OptionalQuery = None,
) -> dict[str, Any]:
    """The stores of one schema (``catalog_name`` and ``schema_name`` are required), oldest
    first; ``max_results`` (or ``page_size``) at most 100."""
    if catalog_name is None or schema_name is None:
        raise InvalidRequest(
            "'catalog_name' and 'schema_name' are required: memory stores are listed per schema",
            param="catalog_name" if catalog_name is None else "schema_name",
        )
    project = namespaces.project_key(catalog_name, schema_name, catalog_default=_catalog(request))
    limit = wire.page_size(
        max_results if max_results is not None else page_size, what="max_results",
        default=wire.DEFAULT_STORE_PAGE, maximum=wire.MAX_STORE_PAGE,
    )  # fmt: skip
    after = wire.decode_token("store", page_token)
    page = await (await request_access(request)).visible_stores(
        functools.partial(_service(request).list_stores, project, order="asc"),
        limit=limit, after=after, before=None,
    )  # fmt: skip
    body: dict[str, Any] = {}
    if page.items:
        body["memory_stores"] = [
            wire.store_json(
                store, StoreLocation(catalog_name, schema_name, store.name, project)
            )
            for store in page.items
        ]
    if page.has_more:
        body["next_page_token"] = wire.encode_token("store", page.items[-1].id)
    return body


@router.get("/memory-stores/{full_name}", **DATABRICKS.read(schema.DatabricksMemoryStoreOut))
async def get_store(request: Request, full_name: FullName) -> dict[str, Any]:
    store, location = await _store(request, full_name, READ_MEMORY_STORE)
    return wire.store_json(store, location)


@router.patch("/memory-stores/{full_name}", **DATABRICKS.write(schema.DatabricksMemoryStoreOut))
async def update_store(
    request: Request,
    full_name: FullName,
    body: Annotated[wire.DatabricksUpdateStoreIn | None, Body()] = None,
) -> dict[str, Any]:
    body = body or wire.DatabricksUpdateStoreIn()
    store, location = await _store(request, full_name, MANAGE)
    (await request_access(request)).require_all_scopes("change a memory store")
    if body.new_name is not None:
        raise InvalidRequest("renaming a memory store is not supported", param="new_name")
    if body.owner is not None:
        raise InvalidRequest("changing a memory store's owner is not supported", param="owner")
    description = wire.store_description(body.description, body.comment)
    if description is not None:
        store = await _service(request).update_store(
            location.project, location.name, description=description
        )
    return wire.store_json(store, location)


@router.delete("/memory-stores/{full_name}", **DATABRICKS.write(Deleted))
async def delete_store(request: Request, full_name: FullName) -> dict[str, Any]:
    store, location = await _store(request, full_name, MANAGE)
    (await request_access(request)).require_all_scopes("delete a memory store")
    await _service(request).delete_store(store.project, store.name, actor=caller(request).name)
    return {}


# -- memory entries --------------------------------------------------------------------------


@router.post(ENTRIES, **DATABRICKS.write(schema.EntryOut))
async def create_entry(
    request: Request,
    full_name: FullName,
    scope: OptionalQuery = None,
    body: Annotated[wire.CreateEntryIn | None, Body()] = None,
) -> dict[str, Any]:
    body = body or wire.CreateEntryIn()
    store, _ = await _store(request, full_name, WRITE_MEMORY_STORE)
    fields = body.fields()
    scope = wire.one_of("scope", scope, body.scope)
    await _in_scope(request, scope)
    entry = await _entries(request).create_entry(
        store, scope, fields.path,
        description=fields.description, contents=fields.contents,
        created_by=caller(request).name,
    )  # fmt: skip
    return wire.entry_json(entry)


@router.get(ENTRIES + ":get", **DATABRICKS.read(schema.EntryOut))
async def get_entry(
    request: Request, full_name: FullName, scope: OptionalQuery = None, path: OptionalQuery = None
) -> dict[str, Any]:
    store, _ = await _store(request, full_name, READ_MEMORY_STORE)
    await _in_scope(request, scope)
    return wire.entry_json(await _entries(request).get_entry(store, scope, path))


@router.get(ENTRIES, **DATABRICKS.read(schema.EntryListOut))
async def list_entries(
    request: Request,
    full_name: FullName,
    scope: OptionalQuery = None,
    page_size: Annotated[int | None, Query()] = None,
    page_token: OptionalQuery = None,
) -> dict[str, Any]:
    """The scope's entries by path, without contents; ``page_size`` at most 1000."""
    store, _ = await _store(request, full_name, READ_MEMORY_STORE)
    await _in_scope(request, scope)
    after = wire.decode_token("entry", page_token)
    page = await _entries(request).list_entries(store, scope, limit=page_size, after=after)
    body: dict[str, Any] = {}
    if page.items:
        body["entries"] = [wire.entry_summary_json(entry) for entry in page.items]
    if page.has_more:
        body["next_page_token"] = wire.encode_token("entry", page.items[-1].path)
    return body


@router.patch(ENTRIES, **DATABRICKS.write(schema.EntryOut))
async def update_entry(
    request: Request,
    full_name: FullName,
    scope: OptionalQuery = None,
    path: OptionalQuery = None,
    body: Annotated[wire.UpdateEntryIn | None, Body()] = None,
) -> dict[str, Any]:
    body = body or wire.UpdateEntryIn()
    store, _ = await _store(request, full_name, WRITE_MEMORY_STORE)
    scope = wire.one_of("scope", scope, body.scope)
    await _in_scope(request, scope)
    entry = await _entries(request).update_entry(
        store, scope, wire.one_of("path", path, body.path),
        body.edit(), updated_by=caller(request).name,
    )  # fmt: skip
    return wire.entry_json(entry)


@router.delete(ENTRIES, **DATABRICKS.write(Deleted))
async def delete_entry(
    request: Request, full_name: FullName, scope: OptionalQuery = None, path: OptionalQuery = None
) -> dict[str, Any]:
    store, _ = await _store(request, full_name, WRITE_MEMORY_STORE)
    await _in_scope(request, scope)
    await _entries(request).delete_entry(store, scope, path, actor=caller(request).name)
    return {}


@router.post(ENTRIES + ":search", **DATABRICKS.read(schema.EntrySearchOut))
async def search_entries(
    request: Request,
    full_name: FullName,
    scope: OptionalQuery = None,
    body: Annotated[wire.SearchEntriesIn | None, Body()] = None,
) -> dict[str, Any]:
    """Best first, at most ``top_k`` (default 10, at most 50)."""
    body = body or wire.SearchEntriesIn()
    async with admit_search(request):  # or 503 overloaded, before any work
        store, _ = await _store(request, full_name, READ_MEMORY_STORE, recent=True)
        scope = wire.one_of("scope", scope, body.scope)
        await _in_scope(request, scope)
        hits = await _entries(request).search_entries(store, scope, body.query, top_k=body.top_k)
    return wire.search_json(hits)
