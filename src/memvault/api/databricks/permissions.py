"""Grants, as Unity Catalog's permissions API has them (part of the Databricks face; errors in its
shape, ``{"error_code", "message"}``).

``GET /api/2.1/unity-catalog/permissions/{securable_type}/{full_name}[?principal=P]`` returns
``{"privilege_assignments": [{"principal": ..., "privileges": [...]}]}``, and ``PATCH`` of the same
path with ``{"changes": [{"principal": ..., "add": [...], "remove": [...]}]}`` applies every
change in one transaction (recorded in the audit log) and returns the assignments as they are
afterwards (none with ``"omit_permissions_in_response": true``).

``securable_type`` is ``memory_store`` (``full_name``: ``catalog.schema.store``; grants need
``MANAGE`` on the store, its owner or an admin) or ``schema`` (``catalog.schema``, a project;
grants need an admin). The privileges are those of :mod:`memvault.engine.privileges`, in either
spelling; assignments list them in the underscore form, explicit grants only (a store's owner
holds every privilege without one). A change naming no principal is a 404, a privilege that does
not exist or does not apply to the securable a 400; either way nothing changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field

from memvault.api.access import Access
from memvault.api.databricks import schema
from memvault.api.openapi import DATABRICKS, documented
from memvault.engine import namespaces
from memvault.engine.privileges import (
    MANAGE,
    MEMORY_STORE,
    PRIVILEGES,
    normalize_privilege,
    securable_type,
)
from memvault.engine.service import MemoryService
from memvault.errors import InvalidRequest, ServiceUnavailable
from memvault.models import now
from memvault.storage.governance import GovernanceStore, Grant, GrantChange, SecurableType

router = APIRouter(prefix="/api/2.1/unity-catalog/permissions")
SecurableTypeName = Annotated[str, Path(**documented(enum=[MEMORY_STORE, "schema"]))]


class ChangeIn(BaseModel):
    principal: str
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)


class UpdatePermissionsIn(BaseModel):
    changes: list[ChangeIn] = Field(default_factory=list)
    omit_permissions_in_response: bool = False


def _governance(request: Request) -> GovernanceStore:
    governance: GovernanceStore | None = request.app.state.access.governance
    if governance is None:
        raise ServiceUnavailable("grants are not available on this storage backend")
    return governance


Governance = Annotated[GovernanceStore, Depends(_governance)]


async def _securable(
    request: Request, kind: str, full_name: str, access: Access
) -> tuple[SecurableType, str]:
    """The securable a path names, as ``(type, key)``, once the caller may manage its grants:
    a store (``StoreNotFound`` first) needs ``MANAGE``, a schema an admin."""
    on = securable_type(kind)
    catalog = request.app.state.settings.default_catalog
    access.require_all_scopes("read or change grants")
    if on == MEMORY_STORE:
        located = namespaces.locate(full_name, catalog=catalog)
        service: MemoryService = request.app.state.service
        store = await service.get_store(located.project, located.name)
        await access.require(MANAGE, store)
        return on, store.id
    catalog_name, dot, schema_name = full_name.partition(".")
    if not dot:
        raise InvalidRequest(
            f"a schema's full name is catalog.schema; got {full_name[:80]!r}", param="full_name"
        )
    namespaces.check_part(catalog_name, "catalog_name")
    namespaces.check_part(schema_name, "schema_name")
    access.require_admin("read or change the grants of a schema")
    return on, f"{catalog_name}.{schema_name}"


def assignments_json(on: SecurableType, grants: Sequence[Grant]) -> dict[str, Any]:
    """``{"privilege_assignments": [...]}``, by principal, privileges in their canonical order."""
    order = {privilege: index for index, privilege in enumerate(PRIVILEGES[on])}
    held: dict[str, list[str]] = {}
    for grant in grants:
        held.setdefault(grant.principal, []).append(grant.privilege)
    return {
        "privilege_assignments": [
            {"principal": principal,
             "privileges": sorted(privileges, key=lambda p: order.get(p, len(order)))}
            for principal, privileges in sorted(held.items())
        ]
    }  # fmt: skip


@router.get("/{securable_type}/{full_name}", **DATABRICKS.read(schema.PermissionsOut))
async def get_permissions(
    request: Request,
    securable_type: SecurableTypeName,
    full_name: str,
    access: Access,
    governance: Governance,
    principal: str | None = None,
) -> dict[str, Any]:
    on, key = await _securable(request, securable_type, full_name, access)
    return assignments_json(on, await governance.list_grants(on, key, principal=principal))


@router.patch("/{securable_type}/{full_name}", **DATABRICKS.write(schema.PermissionsOut))
async def update_permissions(
    request: Request,
    securable_type: SecurableTypeName,
    full_name: str,
    body: UpdatePermissionsIn,
    access: Access,
    governance: Governance,
) -> dict[str, Any]:
    on, key = await _securable(request, securable_type, full_name, access)
    changes = []
    for index, change in enumerate(body.changes):
        if not change.principal.strip():
            raise InvalidRequest(
                "'principal' must be a non-empty string", param=f"changes[{index}].principal"
            )
        changes.append(GrantChange(
            change.principal,
            add=tuple(dict.fromkeys(normalize_privilege(p, on) for p in change.add)),
            remove=tuple(dict.fromkeys(normalize_privilege(p, on) for p in change.remove)),
        ))  # fmt: skip
    grants = await governance.update_grants(
        on, key, changes, actor=access.principal.name, at=now()
    )
    if body.omit_permissions_in_response:
        return {}
    return assignments_json(on, grants)
