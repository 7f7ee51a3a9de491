"""Admin endpoints under ``/api/admin``: for operators, never for agents. Errors use the Foundry
shape (the default renderer).

``GET /api/admin/audit?after_seq=&limit=`` lists the audit log (``memvault.storage.audit``),
oldest first: ``{"object": "list", "data": [entries], "first_seq", "last_seq", "has_more"}``.
Pass the page's ``last_seq`` as the next ``after_seq``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from memvault.api.access import Access
from memvault.api.openapi import FOUNDRY, documented
from memvault.engine.service import MemoryService


async def _admin_only(access: Access) -> None:
    """A router dependency, so it runs before the parameters are validated: a non-admin gets a
    403 whatever it sends."""
    access.require_admin("use the admin endpoints")


router = APIRouter(prefix="/api/admin", dependencies=[Depends(_admin_only)])


class AuditEntryOut(BaseModel):
    object: str
    seq: int
    at: int
    actor: str
    action: str
    target: Any
    prev_hash: str
    hash: str


class AuditPageOut(BaseModel):
    object: str
    data: list[AuditEntryOut]
    first_seq: int | None
    last_seq: int | None
    has_more: bool


@router.get("/audit", **FOUNDRY.read(AuditPageOut))
async def list_audit(
    request: Request,
    after_seq: Annotated[int | None, Query(**documented(minimum=0))] = None,
    limit: Annotated[int | None, Query(**documented(minimum=1, maximum=1000))] = None,
) -> dict[str, Any]:
    service: MemoryService = request.app.state.service
    page = await service.list_audit(after_seq=after_seq, limit=limit)
    data = [{"object": "audit_entry", **entry.to_dict()} for entry in page.items]
    return {
        "object": "list",
        "data": data,
        "first_seq": page.items[0].seq if page.items else None,
        "last_seq": page.items[-1].seq if page.items else None,
        "has_more": page.has_more,
    }
