"""Numbered SQL migrations, one directory per database dialect.

``migrations/<dialect>/NNNN_description.sql`` files are applied in order, each in its own
transaction together with its row in ``schema_migrations``; applying twice is a no-op, and two
processes migrating at once apply each file once (the check happens under the write lock).

:func:`load_migrations` is dialect-agnostic; each backend supplies the few lines that run a file
in a transaction under its own lock: :func:`apply_sqlite` takes SQLite's write lock with
``BEGIN IMMEDIATE``, :func:`apply_postgres` a transaction-level advisory lock.

A dialect may also ship ``schema.sql``, the current schema in one file: an empty database is built
from it in one step and every numbered migration is recorded as applied (PostgreSQL does; a test
checks that it builds the same catalog as replaying the migrations).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING

from memvault.errors import MemvaultError
from memvault.models import now
from memvault.storage import fts

if TYPE_CHECKING:
    import psycopg

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

SCHEMA_FILE = "schema.sql"

SCHEMA_MIGRATIONS_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(dialect: str) -> list[Migration]:
    """The migrations shipped for ``dialect``, in version order."""
    migrations = []
    for entry in (resources.files(__name__) / dialect).iterdir():
        if not entry.name.endswith(".sql") or entry.name == SCHEMA_FILE:
            continue
        match = _FILENAME.match(entry.name)
        if match is None:
            raise MemvaultError(f"migration file {entry.name!r} is not named NNNN_name.sql")
        migrations.append(
            Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8"))
        )
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MemvaultError(f"two {dialect} migrations share a number: {versions}")
    return migrations


def check_not_newer(applied: set[int], migrations: list[Migration]) -> None:
    """Refuse a database that a newer memvault has migrated past what this one knows."""
    known = {migration.version for migration in migrations}
    unknown = sorted(applied - known)
    if unknown:
        raise MemvaultError(
            f"the database has migrations {unknown} that this memvault does not know; upgrade it"
        )


def split_sqlite_statements(script: str) -> list[str]:
    """The statements of ``script``: split at semicolons that end a complete statement (not those
    inside strings, comments or trigger bodies)."""
    statements = []
    buffer = ""
    *pieces, rest = script.split(";")
    for piece in pieces:
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if _strip_comments(buffer).strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    buffer += rest
    if _strip_comments(buffer).strip(" \t\r\n;"):
        raise MemvaultError(f"incomplete SQL statement at the end of a migration: {buffer!r}")
    return statements


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*|/\*.*?\*/", "", sql, flags=re.DOTALL)


def apply_sqlite(conn: sqlite3.Connection) -> list[int]:
    """Apply pending migrations on ``conn`` (autocommit mode); returns the versions applied."""
    migrations = load_migrations("sqlite")
    # SQL functions migrations may call.
    conn.create_function("memvault_scoped_words", 2, fts.scoped_words, deterministic=True)
    conn.execute(SCHEMA_MIGRATIONS_SQL)
    applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    check_not_newer(applied, migrations)
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            already = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if already is None:
                for statement in split_sqlite_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, now()),
                )
                done.append(migration.version)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return done


# -- PostgreSQL ------------------------------------------------------------------------------

# The pg_advisory_xact_lock key that migrations take (any constant no other code uses).
POSTGRES_MIGRATION_LOCK = 0x3E1C_7A5B_9D04_2F61

POSTGRES_SCHEMA_MIGRATIONS_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at bigint NOT NULL
)
"""


def load_schema(dialect: str) -> str:
    """The dialect's ``schema.sql``."""
    return (resources.files(__name__) / dialect / SCHEMA_FILE).read_text(encoding="utf-8")


async def apply_postgres(conn: psycopg.AsyncConnection, *, use_schema: bool = True) -> list[int]:
    """Apply pending migrations on ``conn`` (autocommit mode); returns the versions applied.

    An empty database (no ``schema_migrations``) is built from ``schema.sql`` unless
    ``use_schema=False``, which replays every migration instead (the test comparing both uses
    it). Each step runs in its own transaction under an advisory lock, so replicas starting
    together migrate once.
    """
    migrations = load_migrations("postgres")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_MIGRATION_LOCK,))
        cursor = await conn.execute("SELECT to_regclass('schema_migrations') IS NULL")
        row = await cursor.fetchone()
        empty = row is not None and row[0]
        await conn.execute(POSTGRES_SCHEMA_MIGRATIONS_SQL)
        if empty and use_schema and migrations:
            await conn.execute(load_schema("postgres").encode())
            await _record_postgres(conn, migrations)
            return [migration.version for migration in migrations]
        cursor = await conn.execute("SELECT version FROM schema_migrations")
        applied = {version for (version,) in await cursor.fetchall()}
    check_not_newer(applied, migrations)
    done = []
    for migration in migrations:
        if migration.version in applied:
            continue
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_MIGRATION_LOCK,))
            cursor = await conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
            )
            if await cursor.fetchone() is None:
                # Bytes: run as one simple-protocol script (several statements, no parameters).
                await conn.execute(migration.sql.encode())
                await _record_postgres(conn, [migration])
                done.append(migration.version)
    return done


async def _record_postgres(conn: psycopg.AsyncConnection, migrations: list[Migration]) -> None:
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
            [(migration.version, migration.name, now()) for migration in migrations],
        )
