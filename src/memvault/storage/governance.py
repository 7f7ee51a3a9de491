"""The GovernanceStore protocol: principals (holders of API keys) and the privileges granted to
them on schemas and memory stores.

Rules every backend keeps (``tests/storage/test_governance.py`` checks them):

* A key is never stored, only its hash (``key_hash``, the hex SHA-256 the caller computes); a
  principal is found by that hash. Principal names are unique and never freed: a principal is
  revoked (``revoked_at`` set), not deleted, so grants and audit rows keep naming it.
* A grant is one privilege of one principal on one securable: ``("schema", "catalog.schema")`` or
  ``("memory_store", <store id>)``. Privileges are opaque strings here (the engine validates and
  normalizes them, :mod:`memvault.engine.privileges`). A store's grants are deleted with the
  store, in its delete transaction.
* A write commits as a whole or not at all (a list of grant changes naming one unknown principal
  changes nothing), together with its audit row, and a call returns only after commit.
* Timestamps are integer Unix seconds.

Both backends keep the same tables (``sqlite/0005_governance.sql``,
``postgres/0006_governance.sql``) and pass the same suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from memvault.models import Principal

SecurableType = Literal["schema", "memory_store"]

__all__ = [
    "GovernanceStore",
    "Grant",
    "GrantChange",
    "PrincipalRecord",
    "SecurableType",
    "open_governance_store",
]


@dataclass(frozen=True)
class PrincipalRecord:
    """A principal as stored (never with its key or the key's hash)."""

    name: str
    admin: bool
    scope: str | None
    created_at: int
    revoked_at: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def principal(self) -> Principal:
        return Principal(self.name, admin=self.admin, scope=self.scope)


@dataclass(frozen=True)
class Grant:
    securable_type: SecurableType
    securable: str
    principal: str
    privilege: str
    granted_at: int
    granted_by: str | None = None


@dataclass(frozen=True)
class GrantChange:
    """Privileges to add to and remove from one principal (remove wins over add when a
    privilege is in both, as it is applied second)."""

    principal: str
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


@runtime_checkable
class GovernanceStore(Protocol):
    """Persistent principals and grants.

    Example::

        governance = open_governance_store(store)        # after the memory Store is open
        await governance.create_principal("alice", key_hash=sha256_hex(key), admin=False,
                                          scope=None, created_at=now(), actor="cli")
        await governance.update_grants("memory_store", store.id,
                                       [GrantChange("alice", add=("READ_MEMORY_STORE",))],
                                       actor="admin", at=now())
        await governance.privileges("alice", "memory_store", store.id)
        # frozenset({'READ_MEMORY_STORE'})
    """

    async def create_principal(
        self,
        name: str,
        *,
        key_hash: str,
        admin: bool,
        scope: str | None,
        created_at: int,
        actor: str,
    ) -> PrincipalRecord:
        """Insert a principal. Raises ``PrincipalAlreadyExists`` when ``name`` is taken (revoked
        principals included). ``actor`` is who did it, for the audit log."""

    async def get_principal(self, name: str) -> PrincipalRecord:
        """Raises ``PrincipalNotFound``."""

    async def principal_by_key_hash(self, key_hash: str) -> PrincipalRecord | None:
        """The principal whose key hashes to ``key_hash`` (revoked or not), else None."""

    async def list_principals(self) -> list[PrincipalRecord]:
        """Every principal, revoked ones included, by name."""

    async def has_principals(self) -> bool:
        """Whether the database holds any principal, revoked or not."""

    async def revoke_principal(self, name: str, *, revoked_at: int, actor: str) -> PrincipalRecord:
        """Revoke the principal's key. Revoking twice keeps the first time and records nothing
        the second. Raises ``PrincipalNotFound``."""

    async def update_grants(
        self,
        securable_type: SecurableType,
        securable: str,
        changes: Sequence[GrantChange],
        *,
        actor: str,
        at: int,
    ) -> list[Grant]:
        """Apply ``changes`` in one transaction (adding a held privilege or removing one not held
        is a no-op) and return every grant on the securable afterwards. Raises
        ``PrincipalNotFound`` for a change naming no principal; then nothing changes."""

    async def list_grants(
        self, securable_type: SecurableType, securable: str, *, principal: str | None = None
    ) -> list[Grant]:
        """The grants on one securable (of one principal, if given), by principal and privilege."""

    async def privileges(
        self, principal: str, securable_type: SecurableType, securable: str
    ) -> frozenset[str]:
        """The privileges ``principal`` holds on one securable."""

    async def granted_securables(
        self, principal: str, securable_type: SecurableType
    ) -> frozenset[str]:
        """The securables of that type on which ``principal`` holds any privilege."""


def row_to_principal(row: Any) -> PrincipalRecord:
    return PrincipalRecord(
        name=row["name"],
        admin=bool(row["admin"]),
        scope=row["scope"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


def row_to_grant(row: Any) -> Grant:
    return Grant(
        securable_type=row["securable_type"],
        securable=row["securable"],
        principal=row["principal"],
        privilege=row["privilege"],
        granted_at=row["granted_at"],
        granted_by=row["granted_by"],
    )


def grant_audit_target(
    securable_type: str, securable: str, changes: Sequence[GrantChange]
) -> dict[str, Any]:
    """The ``target`` of a ``grant.change`` audit row."""
    return {
        "securable_type": securable_type,
        "securable": securable,
        "changes": [
            {"principal": c.principal, "add": list(c.add), "remove": list(c.remove)}
            for c in changes
        ],
    }


PRINCIPAL_COLUMNS = "name, admin, scope, created_at, revoked_at"
GRANT_COLUMNS = "securable_type, securable, principal, privilege, granted_at, granted_by"


def open_governance_store(store: object) -> GovernanceStore | None:
    """The GovernanceStore that lives next to the memory ``store`` (same database, same
    connections), or None for an object that is no backend of ours."""
    from memvault.storage.postgres import PostgresStore
    from memvault.storage.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        from memvault.storage.sqlite_governance import SQLiteGovernanceStore

        return SQLiteGovernanceStore(store.database)
    if isinstance(store, PostgresStore):
        from memvault.storage.postgres_governance import PostgresGovernanceStore

        return PostgresGovernanceStore(store)
    return None
