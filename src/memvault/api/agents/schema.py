"""The Agents API's response objects, as the OpenAPI document describes them (the routes build
plain dicts with :mod:`memvault.api.agents.wire`; these models only document them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class AgentVersionOut(BaseModel):
    object: Literal["agent.version"]
    id: str
    name: str
    version: str
    description: str | None
    created_at: int
    metadata: dict[str, Any] | None
    definition: dict[str, Any]
    status: str
    draft: bool


class AgentVersionsOut(BaseModel):
    latest: AgentVersionOut


class AgentOut(BaseModel):
    object: Literal["agent"]
    id: str
    name: str
    state: str
    configuration_state: str
    created_at: int
    versions: AgentVersionsOut


class AgentListOut(BaseModel):
    object: Literal["list"]
    data: list[AgentOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class AgentVersionListOut(BaseModel):
    object: Literal["list"]
    data: list[AgentVersionOut]
    first_id: str | None
    last_id: str | None
    has_more: bool


class AgentDeletedOut(BaseModel):
    object: Literal["agent.deleted"]
    name: str
    deleted: Literal[True]


class AgentVersionDeletedOut(BaseModel):
    object: Literal["agent.version.deleted"]
    name: str
    version: str
    deleted: Literal[True]
