"""The Databricks face's response objects, as the OpenAPI document describes them (the routes
build plain dicts with :mod:`memvault.api.databricks.wire`; these models only document them).
Timestamps are milliseconds; empty lists and the last page's ``next_page_token`` are left out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class DatabricksStoreExtrasOut(BaseModel):
    project: str
    embedding_model: str


class DatabricksMemoryStoreOut(BaseModel):
    name: str
    catalog_name: str
    schema_name: str
    full_name: str
    memory_store_id: str
    description: str | None
    comment: str | None
    owner: str | None
    created_at: int
    updated_at: int
    memvault: DatabricksStoreExtrasOut


class DatabricksMemoryStoreListOut(BaseModel):
    memory_stores: list[DatabricksMemoryStoreOut] | None = None
    next_page_token: str | None = None


class EntryOut(BaseModel):
    path: str
    description: str
    contents: str
    has_contents: bool
    scope: str
    version: int
    created_at: int
    updated_at: int


class EntrySummaryOut(BaseModel):
    path: str
    description: str
    has_contents: bool
    updated_at: int


class EntryListOut(BaseModel):
    entries: list[EntrySummaryOut] | None = None
    next_page_token: str | None = None


class ScoredEntryOut(BaseModel):
    memory_entry: EntryOut
    score: float


class EntrySearchOut(BaseModel):
    results: list[ScoredEntryOut] | None = None


class DatabricksMemoryStoreRefOut(BaseModel):
    name: str


class DatabricksScopeRefOut(BaseModel):
    kind: str
    value: str


class DatabricksConversationOut(BaseModel):
    id: str
    object: str
    created_at: int
    metadata: dict[str, Any] | None
    memory_store: DatabricksMemoryStoreRefOut | None = None
    scope: DatabricksScopeRefOut | None = None


class PrivilegeAssignmentOut(BaseModel):
    principal: str
    privileges: list[str]


class PermissionsOut(BaseModel):
    """Left out (``{}``) with ``omit_permissions_in_response``."""

    privilege_assignments: list[PrivilegeAssignmentOut] | None = None
