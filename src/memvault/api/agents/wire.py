"""The Agents API wire format (contract §5.1): request bodies in, ``AgentDetails`` and
``AgentVersionDetails`` out, in the shapes ``azure-ai-projects`` 2.10 parses."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from memvault.api.openapi import AGENT_NAME_PATTERN

from memvault.storage.agents import Agent, AgentVersion


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class CreateVersionIn(_Wire):
    definition: dict[str, Any]
    description: str | None = None
    metadata: dict[str, Any] | None = None
    draft: bool | None = None


class CreateAgentIn(CreateVersionIn):
    name: str = Field(json_schema_extra={"pattern": AGENT_NAME_PATTERN})


def version_json(version: AgentVersion) -> dict[str, Any]:
    """``AgentVersionDetails``: ``id`` is ``name:version``, ``version`` a string."""
    return {
        "object": "agent.version",
        "id": f"{version.name}:{version.version}",
        "name": version.name,
        "version": str(version.version),
        "description": version.description,
        "created_at": version.created_at,
        "metadata": version.metadata,
        "definition": version.definition,
        "status": "active",
        "draft": False,
    }


def agent_json(agent: Agent) -> dict[str, Any]:
    """``AgentDetails``: the agent's id is its name; ``versions.latest`` its newest version."""
    return {
        "object": "agent",
        "id": agent.name,
        "name": agent.name,
        "state": "enabled",
        "configuration_state": "enabled",
        "created_at": agent.created_at,
        "versions": {"latest": version_json(agent.latest)},
    }
