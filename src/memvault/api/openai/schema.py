"""The OpenAI-compatible face's response objects, as the OpenAPI document describes them (the
routes build plain dicts; these models only document them). Items and responses keep OpenAI's
open shapes: the fields every one carries are named, the rest are allowed."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class MemoryStoreRefOut(BaseModel):
    name: str
    full_name: str | None = None


class ScopeRefOut(BaseModel):
    kind: str
    value: str


class ConversationOut(BaseModel):
    """``memory_store`` and ``scope`` only on a conversation bound to a store."""

    id: str
    object: Literal["conversation"]
    created_at: int
    metadata: dict[str, Any] | None
    memory_store: MemoryStoreRefOut | None = None
    scope: ScopeRefOut | None = None


class ConversationDeletedOut(BaseModel):
    id: str
    object: Literal["conversation.deleted"]
    deleted: Literal[True]


class ItemOut(BaseModel):
    """A conversation item: a ``message`` or a ``memory_search_call``."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str


class ItemListOut(BaseModel):
    object: Literal["list"]
    data: list[ItemOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class ResponseOut(BaseModel):
    """A model response; ``output`` holds its ``memory_search_call`` and message items."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["response"]
    created_at: int
    status: str
    model: str | None
    output: list[ItemOut]
    error: dict[str, Any] | None
    usage: dict[str, Any] | None
    metadata: dict[str, Any] | None


class ResponseDeletedOut(BaseModel):
    id: str
    object: Literal["response.deleted"]
    deleted: Literal[True]
