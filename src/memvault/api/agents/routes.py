"""The Agents API under ``/api/projects/{project}`` (contract §5.1): create an agent or a version
of it, read, list and delete them. Errors use the Foundry shape, like the memory-store face.

Every success is 200, as the SDK requires.

Agents are objects of their project, not of a memory store: any principal may read them, and
those who may create memory stores in the project (``CREATE_MEMORY_STORE`` on its schema; admins)
create, version and delete them, except with a key restricted to one scope. An agent's memory
tools give nobody access to anything: each response checks its caller's privileges on the
stores it searches (:meth:`memvault.engine.agents.AgentService.authorize_memory`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from memvault.api.access import Access
from memvault.api.agents import schema, wire
from memvault.api.foundry.wire import ListQuery, list_json
from memvault.api.openapi import FOUNDRY, AgentName, ProjectName
from memvault.engine.agents import AgentService
from memvault.engine.privileges import CREATE_MEMORY_STORE
from memvault.engine.validation import validate_name
from memvault.errors import InvalidRequest, ServiceUnavailable
from memvault.models import Page

router = APIRouter(prefix="/api/projects/{project}")

AGENTS_UNAVAILABLE = (
    "agents, conversations and responses are not available on this storage backend; they need"
    " the SQLite or the PostgreSQL backend"
)


async def get_agent_service(request: Request) -> AgentService:
    """The app's :class:`AgentService`; ``ServiceUnavailable`` on a backend without one."""
    agents = getattr(request.app.state, "agents", None)
    if agents is None:
        raise ServiceUnavailable(AGENTS_UNAVAILABLE)
    return agents


Agents = Annotated[AgentService, Depends(get_agent_service)]
Listing = Annotated[ListQuery, Query()]


async def _may_change_agents(access: Access, project: str) -> None:
    validate_name(project, "project")
    access.require_all_scopes("create, change or delete agents")
    await access.require_on_schema(CREATE_MEMORY_STORE, project)


def _no_drafts(body: wire.CreateVersionIn) -> None:
    if body.draft:
        raise InvalidRequest("draft agent versions are not supported", param="draft")


@router.post("/agents", **FOUNDRY.write(schema.AgentOut))
async def create_agent(
    project: ProjectName, body: wire.CreateAgentIn, agents: Agents, access: Access
) -> dict:
    await _may_change_agents(access, project)
    _no_drafts(body)
    agent = await agents.create_agent(
        project, body.name, body.definition, description=body.description,
        metadata=body.metadata,
    )
    return wire.agent_json(agent)


@router.get("/agents", **FOUNDRY.read(schema.AgentListOut))
async def list_agents(
    project: ProjectName, query: Listing, agents: Agents, kind: str | None = None
) -> dict:
    page = await agents.list_agents(
        project, limit=query.limit, order=query.order, after=query.after, before=query.before
    )
    if kind is not None and kind != "prompt":
        page = Page([], False)  # memvault holds prompt agents only
    return list_json(page, wire.agent_json, lambda agent: agent.name)


@router.get("/agents/{agent_name}", **FOUNDRY.read(schema.AgentOut))
async def get_agent(project: ProjectName, agent_name: AgentName, agents: Agents) -> dict:
    return wire.agent_json(await agents.get_agent(project, agent_name))


@router.delete("/agents/{agent_name}", **FOUNDRY.write(schema.AgentDeletedOut))
async def delete_agent(
    project: ProjectName, agent_name: AgentName, agents: Agents, access: Access
) -> dict:
    await _may_change_agents(access, project)
    await agents.delete_agent(project, agent_name)
    return {"object": "agent.deleted", "name": agent_name, "deleted": True}


@router.post("/agents/{agent_name}/versions", **FOUNDRY.write(schema.AgentVersionOut))
async def create_version(
    project: ProjectName, agent_name: AgentName, body: wire.CreateVersionIn, agents: Agents,
    access: Access,
) -> dict:
    await _may_change_agents(access, project)
    _no_drafts(body)
    version = await agents.create_agent_version(
        project, agent_name, body.definition, description=body.description,
        metadata=body.metadata,
    )
    return wire.version_json(version)


@router.get("/agents/{agent_name}/versions", **FOUNDRY.read(schema.AgentVersionListOut))
async def list_versions(
    project: ProjectName, agent_name: AgentName, query: Listing, agents: Agents
) -> dict:
    page = await agents.list_agent_versions(
        project, agent_name, limit=query.limit, order=query.order, after=query.after,
        before=query.before,
    )
    return list_json(page, wire.version_json, lambda version: str(version.version))


@router.get(
    "/agents/{agent_name}/versions/{version}", **FOUNDRY.read(schema.AgentVersionOut)
)
async def get_version(
    project: ProjectName, agent_name: AgentName, version: str, agents: Agents
) -> dict:
    return wire.version_json(await agents.get_agent_version(project, agent_name, version))


@router.delete(
    "/agents/{agent_name}/versions/{version}", **FOUNDRY.write(schema.AgentVersionDeletedOut)
)
async def delete_version(
    project: ProjectName, agent_name: AgentName, version: str, agents: Agents, access: Access
) -> dict:
    await _may_change_agents(access, project)
    await agents.delete_agent_version(project, agent_name, version)
    return {"object": "agent.version.deleted", "name": agent_name, "version": version,
            "deleted": True}
