"""Numbered SQL migrations, one directory per database dialect.

``migrations/<dialect>/NNNN_description.sql`` files are applied in order, each in its own
transaction together with its row in ``schema_migrations``; applying twice is a no-op, and two
processes migrating at once apply each file once (the check happens under the write lock).

:func:`load_migrations` is dialect-agnostic; each backend supplies the few lines that run a file
in a transaction under its own lock (:func:`apply_sqlite` here; PostgreSQL will take an advisory
lock instead of ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from memvault.errors import MemvaultError
from memvault.models import now

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

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
        if not entry.name.endswith(".sql"):
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
