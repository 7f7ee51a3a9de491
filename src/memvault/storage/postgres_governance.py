"""The GovernanceStore protocol on the PostgreSQL database of the memory store.

It runs on :class:`~memvault.storage.postgres.PostgresStore`'s pool, through the store's own unit
of work (``PostgresStore._run``: one transaction per call, rolled back on any exception, psycopg
errors translated), so a change and its audit row commit together. The audit row is appended
last in each transaction (it locks the chain head until commit).

Concurrency: a grant change locks the rows of the principals it names (``FOR KEY SHARE``, which
a concurrent revocation does not wait for, but which keeps the principal from vanishing), and
grants are one row per privilege with ``ON CONFLICT DO NOTHING``, so concurrent changes of one
securable never fail and end as if applied one after the other. The tables belong to no memory
scope: no row-level-security policy, and every transaction starts with ``Guard.nothing()``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from memvault.errors import PrincipalAlreadyExists, PrincipalNotFound
from memvault.storage.audit import append_audit_postgres
from memvault.storage.governance import (
    GRANT_COLUMNS,
    PRINCIPAL_COLUMNS,
    Grant,
    GrantChange,
    PrincipalRecord,
    SecurableType,
    grant_audit_target,
    row_to_grant,
    row_to_principal,
)

# The PostgreSQL store's own helpers, shared on purpose (this module is its sibling).
from memvault.storage.postgres import Conn, Guard, PostgresStore, _fetchall, _fetchone

T = TypeVar("T")


class PostgresGovernanceStore:
    """Principals and grants in the memory store's PostgreSQL database.

    Example::

        governance = PostgresGovernanceStore(postgres_store)   # after postgres_store.open()
    """

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    async def _run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        return await self._store._run(Guard.nothing(), fn)

    # -- principals ------------------------------------------------------------------------

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
        record = PrincipalRecord(name=name, admin=admin, scope=scope, created_at=created_at)

        async def create(conn: Conn) -> PrincipalRecord:
            row = await _fetchone(
                conn,
                "INSERT INTO principals (name, key_hash, admin, scope, created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING RETURNING name",
                (name, key_hash, admin, scope, created_at),
            )
            if row is None:
                raise PrincipalAlreadyExists(
                    f"a principal named {name!r} already exists", param="name"
                )
            await append_audit_postgres(
                conn, actor=actor, action="key.create",
                target={"principal": name, "admin": admin, "scope": scope},
            )  # fmt: skip
            return record

        return await self._run(create)

    async def get_principal(self, name: str) -> PrincipalRecord:
        async def get(conn: Conn) -> PrincipalRecord:
            row = await _fetchone(
                conn, f"SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE name = %s", (name,)
            )
            if row is None:
                raise PrincipalNotFound(f"no principal named {name!r}", param="principal")
            return row_to_principal(row)

        return await self._run(get)

    async def principal_by_key_hash(self, key_hash: str) -> PrincipalRecord | None:
        async def find(conn: Conn) -> PrincipalRecord | None:
            row = await _fetchone(
                conn, f"SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE key_hash = %s",
                (key_hash,),
            )  # fmt: skip
            return None if row is None else row_to_principal(row)

        return await self._run(find)

    async def list_principals(self) -> list[PrincipalRecord]:
        async def list_(conn: Conn) -> list[PrincipalRecord]:
            rows = await _fetchall(
                conn, f"SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY name COLLATE \"C\""
            )
            return [row_to_principal(row) for row in rows]

        return await self._run(list_)

    async def has_principals(self) -> bool:
        async def any_(conn: Conn) -> bool:
            row = await _fetchone(
                conn, "SELECT 1 AS found FROM principals LIMIT 1"
            )
            return row is not None

        return await self._run(any_)

    async def revoke_principal(self, name: str, *, revoked_at: int, actor: str) -> PrincipalRecord:
        async def revoke(conn: Conn) -> PrincipalRecord:
            row = await _fetchone(
                conn,
                f"SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE name = %s FOR UPDATE",
                (name,),
            )
            if row is None:
                raise PrincipalNotFound(f"no principal named {name!r}", param="name")
            if row["revoked_at"] is not None:
                return row_to_principal(row)
            updated = await _fetchone(
                conn,
                f"UPDATE principals SET revoked_at = %s WHERE name = %s"
                f" RETURNING {PRINCIPAL_COLUMNS}",
                (revoked_at, name),
            )
            assert updated is not None
            await append_audit_postgres(
                conn, actor=actor, action="key.revoke", target={"principal": name}
            )
            return row_to_principal(updated)

        return await self._run(revoke)

    # -- grants ----------------------------------------------------------------------------

    async def update_grants(
        self,
        securable_type: SecurableType,
        securable: str,
        changes: Sequence[GrantChange],
        *,
        actor: str,
        at: int,
    ) -> list[Grant]:
        changes = list(changes)

        async def update(conn: Conn) -> list[Grant]:
            for change in changes:
                found = await _fetchone(
                    conn, "SELECT name FROM principals WHERE name = %s FOR KEY SHARE",
                    (change.principal,),
                )  # fmt: skip
                if found is None:
                    raise PrincipalNotFound(
                        f"Could not find principal with name {change.principal}",
                        param="principal",
                    )
                async with conn.cursor() as cursor:
                    if change.add:
                        await cursor.executemany(
                            f"INSERT INTO grants ({GRANT_COLUMNS})"
                            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            [(securable_type, securable, change.principal, privilege, at, actor)
                             for privilege in change.add],
                        )  # fmt: skip
                    if change.remove:
                        await cursor.executemany(
                            "DELETE FROM grants WHERE securable_type = %s AND securable = %s"
                            " AND principal = %s AND privilege = %s",
                            [(securable_type, securable, change.principal, privilege)
                             for privilege in change.remove],
                        )  # fmt: skip
            grants = await _grants(conn, securable_type, securable, None)
            if changes:
                await append_audit_postgres(
                    conn, actor=actor, action="grant.change",
                    target=grant_audit_target(securable_type, securable, changes),
                )  # fmt: skip
            return grants

        return await self._run(update)

    async def list_grants(
        self, securable_type: SecurableType, securable: str, *, principal: str | None = None
    ) -> list[Grant]:
        return await self._run(lambda conn: _grants(conn, securable_type, securable, principal))

    async def privileges(
        self, principal: str, securable_type: SecurableType, securable: str
    ) -> frozenset[str]:
        async def read(conn: Conn) -> frozenset[str]:
            rows = await _fetchall(
                conn,
                "SELECT privilege FROM grants"
                " WHERE principal = %s AND securable_type = %s AND securable = %s",
                (principal, securable_type, securable),
            )
            return frozenset(row["privilege"] for row in rows)

        return await self._run(read)

    async def granted_securables(
        self, principal: str, securable_type: SecurableType
    ) -> frozenset[str]:
        async def read(conn: Conn) -> frozenset[str]:
            rows = await _fetchall(
                conn,
                "SELECT DISTINCT securable FROM grants"
                " WHERE principal = %s AND securable_type = %s",
                (principal, securable_type),
            )
            return frozenset(row["securable"] for row in rows)

        return await self._run(read)


async def _grants(
    conn: Conn, securable_type: str, securable: str, principal: str | None
) -> list[Grant]:
    sql = f"SELECT {GRANT_COLUMNS} FROM grants WHERE securable_type = %s AND securable = %s"
    params: tuple[str, ...] = (securable_type, securable)
    if principal is not None:
        sql += " AND principal = %s"
        params += (principal,)
    rows = await _fetchall(
        conn, sql + ' ORDER BY principal COLLATE "C", privilege COLLATE "C"', params
    )
    return [row_to_grant(row) for row in rows]
