"""The access policy (:mod:`memvault.engine.access`) bound to the caller of one request: what
the routes of every face call, one line per check.

Example::

    @router.get("/memory_stores/{name}")
    async def get_store(project: str, name: str, service: Service, access: Access) -> dict:
        store = await service.get_store(project, name)        # 404 first
        await access.require(READ_MEMORY_STORE, store)         # then 403
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from memvault.api.auth import caller
from memvault.api.limits import RateLimits, request_limits
from memvault.engine.access import AccessPolicy, ListPage
from memvault.models import MemoryStore, Page, Principal


@dataclass(frozen=True)
class RequestAccess:
    policy: AccessPolicy
    principal: Principal
    limits: RateLimits | None = None

    async def require(self, privilege: str, store: MemoryStore) -> None:
        await self.policy.require(self.principal, privilege, store)

    async def require_on_schema(self, privilege: str, project: str) -> None:
        await self.policy.require_on_schema(self.principal, privilege, project)

    async def require_scope(self, scope: object) -> None:
        """The caller may use ``scope``; also counts the request against the scope's rate
        limit (:mod:`memvault.api.limits`)."""
        self.policy.require_scope(self.principal, scope)
        if self.limits is not None:
            await self.limits.admit_scope(scope)

    def require_all_scopes(self, action: str) -> None:
        self.policy.require_all_scopes(self.principal, action)

    def require_admin(self, action: str) -> None:
        self.policy.require_admin(self.principal, action)

    async def visible_stores(
        self, list_page: ListPage, *, limit: int, after: str | None, before: str | None
    ) -> Page[MemoryStore]:
        return await self.policy.visible_stores(
            self.principal, list_page, limit=limit, after=after, before=before
        )


async def request_access(request: Request) -> RequestAccess:
    return RequestAccess(request.app.state.access, caller(request), request_limits(request))


Access = Annotated[RequestAccess, Depends(request_access)]
