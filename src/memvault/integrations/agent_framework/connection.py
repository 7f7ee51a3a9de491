"""What the memvault providers share: the SDK client they talk through and the scope they use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Self

from agent_framework import AgentSession

from memvault.client import AsyncClient
from memvault.client.http import DEFAULT_URL

__all__ = ["MemvaultConnection", "Scope", "resolve_scope"]

Scope = str | Callable[[AgentSession], str]
"""A scope (memvault's isolation boundary: a user id, a team id), or a function of the session
that gives it, e.g. ``lambda session: session.state["user_id"]``. Set by trusted code, never by
the model."""


def resolve_scope(scope: Scope, session: AgentSession) -> str:
    value = scope(session) if callable(scope) else scope
    if not isinstance(value, str) or not value:
        raise ValueError(f"the memvault scope must be a non-empty string; got {value!r}")
    return value


class MemvaultConnection:
    """An :class:`~memvault.client.AsyncClient`, either borrowed (``client=``, the caller closes
    it) or made from ``url``/``api_key``/``project`` and closed by :meth:`aclose` (or
    ``async with provider``)."""

    def _connect(self, client: AsyncClient | None, url: str | None, api_key: str | None,
                 project: str | None) -> None:
        if client is not None:
            if url is not None or api_key is not None or project is not None:
                raise ValueError("pass either client= or url=/api_key=/project=, not both")
            self.client = client
            self._owns_client = False
        else:
            self.client = AsyncClient(url or DEFAULT_URL, api_key=api_key,
                                      project=project or "default")
            self._owns_client = True

    async def aclose(self) -> None:
        """Close the client if this provider made it."""
        if self._owns_client:
            await self.client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
