"""The Foundry face's response objects, as the OpenAPI document describes them (the routes build
plain dicts with :mod:`memvault.api.foundry.wire`; these models only document them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MemoryKindName = Literal["user_profile", "chat_summary", "procedural"]
UpdateStatusName = Literal["queued", "in_progress", "completed", "failed", "superseded"]


class StoreOptionsOut(BaseModel):
    user_profile_enabled: bool
    chat_summary_enabled: bool
    procedural_memory_enabled: bool
    user_profile_details: str | None
    default_ttl_seconds: int


class StoreDefinitionOut(BaseModel):
    kind: Literal["default"]
    chat_model: str | None
    embedding_model: str | None
    options: StoreOptionsOut


class StoreExtrasOut(BaseModel):
    embedding_model: str
    embedding_dimension: int
    notices: list[str]


class MemoryStoreOut(BaseModel):
    object: Literal["memory_store"]
    id: str
    name: str
    created_at: int
    updated_at: int
    description: str | None
    metadata: dict[str, str]
    definition: StoreDefinitionOut
    memvault: StoreExtrasOut


class MemoryStoreListOut(BaseModel):
    object: Literal["list"]
    data: list[MemoryStoreOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class MemoryExtrasOut(BaseModel):
    created_at: int
    version: int
    status: Literal["active", "quarantined"]
    expires_at: int | None
    created_by: str | None
    updated_by: str | None
    source: list[Any]


class MemoryItemOut(BaseModel):
    memory_id: str
    updated_at: int
    scope: str
    content: str
    kind: MemoryKindName
    memvault: MemoryExtrasOut


class MemoryListOut(BaseModel):
    object: Literal["list"]
    data: list[MemoryItemOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class UsageOut(BaseModel):
    embedding_tokens: int
    input_tokens: int
    output_tokens: int
    total_tokens: int
    input_tokens_details: dict[str, int]
    output_tokens_details: dict[str, int]


class ScoredMemoryOut(BaseModel):
    memory_item: MemoryItemOut
    score: float


class SearchOut(BaseModel):
    search_id: str
    memories: list[ScoredMemoryOut]
    usage: UsageOut


class UpdateAcceptedOut(BaseModel):
    update_id: str
    status: UpdateStatusName


class MemoryOperationOut(BaseModel):
    kind: str = Field(examples=["create", "update", "delete"])
    memory_item: MemoryItemOut


class UpdateResultBodyOut(BaseModel):
    memory_operations: list[MemoryOperationOut]
    usage: UsageOut


class UpdateExtrasOut(BaseModel):
    scope: str
    created_at: int
    updated_at: int
    run_at: int
    previous_update_id: str | None
    attempts: int


class UpdateOut(BaseModel):
    """``result`` only once ``completed``."""

    update_id: str
    status: UpdateStatusName
    superseded_by: str | None
    error: dict[str, Any] | None
    memvault: UpdateExtrasOut
    result: UpdateResultBodyOut | None = None


class ScopeDeletedOut(BaseModel):
    object: Literal["memory_store.scope.deleted"]
    name: str
    scope: str
    deleted: Literal[True]
    deleted_count: int


class ScopeOut(BaseModel):
    object: Literal["memory_store.scope"]
    scope: str
    memory_count: int
    quarantined_count: int
    updated_at: int


class ScopeListOut(BaseModel):
    object: Literal["list"]
    data: list[ScopeOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class RevisionOut(BaseModel):
    version: int
    content: str
    changed_at: int
    changed_by: str | None


class MemoryHistoryOut(BaseModel):
    object: Literal["list"]
    memory_id: str
    data: list[RevisionOut]


class MemoryDeletedOut(BaseModel):
    object: Literal["memory_store.item.deleted"]
    memory_id: str
    deleted: Literal[True]


class MemoryStoreDeletedOut(BaseModel):
    object: Literal["memory_store.deleted"]
    name: str
    deleted: Literal[True]
