"""The GovernanceStore protocol on the SQLite file of the memory store.

It shares the :class:`~memvault.storage.sqlite_threads.SQLiteDatabase` of
:class:`~memvault.storage.sqlite.SQLiteStore` (``store.database``): every write is a task of the
one writer thread, so it commits in one ``BEGIN IMMEDIATE`` transaction with its audit row.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from memvault.errors import PrincipalAlreadyExists, PrincipalNotFound
from memvault.storage.audit import append_audit_sqlite
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
from memvault.storage.sqlite_threads import SQLiteDatabase, WriteContext


class SQLiteGovernanceStore:
    """Principals and grants in the memory store's SQLite file.

    Example::

        governance = SQLiteGovernanceStore(sqlite_store.database)
    """

    def __init__(self, database: SQLiteDatabase) -> None:
        self._db = database

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

        def create(tx: WriteContext) -> PrincipalRecord:
            if _principal_row(tx.conn, name) is not None:
                raise PrincipalAlreadyExists(
                    f"a principal named {name!r} already exists", param="name"
                )
            tx.conn.execute(
                "INSERT INTO principals (name, key_hash, admin, scope, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, key_hash, int(admin), scope, created_at),
            )
            append_audit_sqlite(
                tx.conn, actor=actor, action="key.create",
                target={"principal": name, "admin": admin, "scope": scope},
            )  # fmt: skip
            return record

        return await self._db.write(create)

    async def get_principal(self, name: str) -> PrincipalRecord:
        def get(conn: sqlite3.Connection) -> PrincipalRecord:
            row = _principal_row(conn, name)
            if row is None:
                raise PrincipalNotFound(f"no principal named {name!r}", param="principal")
            return row_to_principal(row)

        return await self._db.read(get)

    async def principal_by_key_hash(self, key_hash: str) -> PrincipalRecord | None:
        def find(conn: sqlite3.Connection) -> PrincipalRecord | None:
            row = conn.execute(
                f"SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE key_hash = ?", (key_hash,)
            ).fetchone()
            return None if row is None else row_to_principal(row)

        return await self._db.read(find)

    async def list_principals(self) -> list[PrincipalRecord]:
        def list_(conn: sqlite3.Connection) -> list[PrincipalRecord]:
            rows = conn.execute(
                f"SELECT {PRINCIPAL_COLUMNS} FROM principals ORDER BY name"
            ).fetchall()
            return [row_to_principal(row) for row in rows]

        return await self._db.read(list_)

    async def has_principals(self) -> bool:
        def any_(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM principals LIMIT 1"
            ).fetchone()
            return row is not None

        return await self._db.read(any_)

    async def revoke_principal(self, name: str, *, revoked_at: int, actor: str) -> PrincipalRecord:
        def revoke(tx: WriteContext) -> PrincipalRecord:
            row = _principal_row(tx.conn, name)
            if row is None:
                raise PrincipalNotFound(f"no principal named {name!r}", param="name")
            if row["revoked_at"] is not None:
                return row_to_principal(row)
            tx.conn.execute(
                "UPDATE principals SET revoked_at = ? WHERE name = ?", (revoked_at, name)
            )
            append_audit_sqlite(
                tx.conn, actor=actor, action="key.revoke", target={"principal": name}
            )
            return row_to_principal(_principal_row(tx.conn, name))

        return await self._db.write(revoke)

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

        def update(tx: WriteContext) -> list[Grant]:
            for change in changes:
                if _principal_row(tx.conn, change.principal) is None:
                    raise PrincipalNotFound(
                        f"Could not find principal with name {change.principal}",
                        param="principal",
                    )
                tx.conn.executemany(
                    "INSERT OR IGNORE INTO grants"
                    f" ({GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    [(securable_type, securable, change.principal, privilege, at, actor)
                     for privilege in change.add],
                )  # fmt: skip
                tx.conn.executemany(
                    "DELETE FROM grants WHERE securable_type = ? AND securable = ?"
                    " AND principal = ? AND privilege = ?",
                    [(securable_type, securable, change.principal, privilege)
                     for privilege in change.remove],
                )  # fmt: skip
            if changes:
                append_audit_sqlite(
                    tx.conn, actor=actor, action="grant.change",
                    target=grant_audit_target(securable_type, securable, changes),
                )  # fmt: skip
            return _grants(tx.conn, securable_type, securable, None)

        return await self._db.write(update)

    async def list_grants(
        self, securable_type: SecurableType, securable: str, *, principal: str | None = None
    ) -> list[Grant]:
        return await self._db.read(
            lambda conn: _grants(conn, securable_type, securable, principal)
        )

    async def privileges(
        self, principal: str, securable_type: SecurableType, securable: str
    ) -> frozenset[str]:
        def read(conn: sqlite3.Connection) -> frozenset[str]:
            rows = conn.execute(
                "SELECT privilege FROM grants"
                " WHERE principal = ? AND securable_type = ? AND securable = ?",
                (principal, securable_type, securable),
            ).fetchall()
            return frozenset(row[0] for row in rows)

        return await self._db.read(read)

    async def granted_securables(
        self, principal: str, securable_type: SecurableType
    ) -> frozenset[str]:
        def read(conn: sqlite3.Connection) -> frozenset[str]:
            rows = conn.execute(
                "SELECT DISTINCT securable FROM grants WHERE principal = ? AND securable_type = ?",
                (principal, securable_type),
            ).fetchall()
            return frozenset(row[0] for row in rows)

        return await self._db.read(read)


def _principal_row(conn: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    return conn.execute(
        f"SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE name = ?", (name,)
    ).fetchone()


def _grants(
    conn: sqlite3.Connection, securable_type: str, securable: str, principal: str | None
) -> list[Grant]:
    sql = f"SELECT {GRANT_COLUMNS} FROM grants WHERE securable_type = ? AND securable = ?"
    params: tuple[str, ...] = (securable_type, securable)
    if principal is not None:
        sql += " AND principal = ?"
        params += (principal,)
    rows = conn.execute(sql + " ORDER BY principal, privilege", params).fetchall()
    return [row_to_grant(row) for row in rows]

