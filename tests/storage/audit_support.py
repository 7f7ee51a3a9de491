"""Raw access to the audit tables of a test database (a SQLite file or a PostgreSQL database),
behind the Store's back: to read what was committed, and to tamper with it."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from memvault.storage import sqlite_path
from memvault.storage.audit import (
    COLUMNS,
    Verdict,
    entry_hash,
    verify_audit_postgres,
    verify_audit_sqlite,
)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


async def execute(url: str, *statements: str) -> None:
    """Run ``statements`` (no parameters; the same SQL on both backends) in one transaction."""
    if is_sqlite(url):
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            for statement in statements:
                conn.execute(statement)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    async with await psycopg.AsyncConnection.connect(url) as conn:
        async with conn.transaction():
            for statement in statements:
                await conn.execute(statement.encode())


async def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if is_sqlite(url):
        conn = sqlite3.connect(sqlite_path(url))
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(sql.encode())
        return await cursor.fetchall()


async def audit_rows(url: str) -> list[tuple[Any, ...]]:
    """Every stored row, ``(seq, at, actor, action, target, prev_hash, hash)``, by seq."""
    return await query(url, f"SELECT {COLUMNS} FROM audit_log ORDER BY seq")


async def head(url: str) -> tuple[int, str] | None:
    rows = await query(url, "SELECT seq, hash FROM audit_head")
    return rows[0] if rows else None


async def verify(url: str) -> Verdict:
    if is_sqlite(url):
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        try:
            return verify_audit_sqlite(conn)
        finally:
            conn.close()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        return await verify_audit_postgres(conn)


def insert_sql(
    seq: int, *, at: int, actor: str, action: str, target: str, prev_hash: str,
    hash: str | None = None,
) -> str:
    """An INSERT of a forged row; ``target`` is JSON text; ``hash`` defaults to the row's true
    hash (so the row itself looks genuine)."""
    import json

    if hash is None:
        hash = entry_hash(seq, at, actor, action, json.loads(target), prev_hash)
    return (
        f"INSERT INTO audit_log ({COLUMNS}) VALUES ({seq}, {at}, '{actor}', '{action}',"
        f" '{target}', '{prev_hash}', '{hash}')"
    )
