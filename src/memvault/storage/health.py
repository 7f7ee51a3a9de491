"""What ``memvault doctor`` asks of a database, read-only: is it there, how far is it migrated,
which models do its stores use. Nothing here creates, migrates or changes anything."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass

from memvault.errors import ServiceUnavailable
from memvault.storage import _scheme, sqlite_path
from memvault.storage.migrations import load_migrations


@dataclass(frozen=True)
class StoreModels:
    project: str
    name: str
    chat_model: str
    embedding_model: str


@dataclass(frozen=True)
class DatabaseStatus:
    """``exists`` is False for a SQLite file not created yet (the rest is then empty)."""

    dialect: str
    exists: bool
    applied: frozenset[int]
    known: tuple[int, ...]
    stores: tuple[StoreModels, ...]
    server: str = ""
    """The server's version (PostgreSQL and pgvector), or SQLite's library version."""

    @property
    def pending(self) -> list[int]:
        return [version for version in self.known if version not in self.applied]

    @property
    def unknown(self) -> list[int]:
        """Migrations applied by a newer memvault than this one."""
        return sorted(self.applied - set(self.known))


async def database_status(url: str, *, timeout: float = 5.0) -> DatabaseStatus:
    """Raises ``ServiceUnavailable`` when the database cannot be reached or read, and
    ``InvalidRequest`` for a URL no backend handles.

    Example::

        status = await database_status(settings.resolved_database_url)
        if status.pending: print("run memvault migrate")
    """
    if _scheme(url) == "sqlite":
        return await asyncio.to_thread(_sqlite_status, url, timeout)
    return await _postgres_status(url, timeout)


def _sqlite_status(url: str, timeout: float) -> DatabaseStatus:
    path = sqlite_path(url)
    known = tuple(m.version for m in load_migrations("sqlite"))
    library = f"SQLite {sqlite3.sqlite_version}"
    if not path.exists():
        return DatabaseStatus("sqlite", False, frozenset(), known, (), library)
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            applied: frozenset[int] = frozenset()
            if "schema_migrations" in tables:
                applied = frozenset(
                    row[0] for row in conn.execute("SELECT version FROM schema_migrations")
                )
            stores: tuple[StoreModels, ...] = ()
            if "memory_stores" in tables:
                stores = tuple(
                    StoreModels(*row)
                    for row in conn.execute(
                        "SELECT project, name, chat_model, embedding_model FROM memory_stores"
                    )
                )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ServiceUnavailable(f"cannot read the SQLite database {path}: {exc}") from exc
    return DatabaseStatus("sqlite", True, applied, known, stores, library)


async def _postgres_status(url: str, timeout: float) -> DatabaseStatus:
    import psycopg

    known = tuple(m.version for m in load_migrations("postgres"))
    try:
        async with await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=max(1, round(timeout))
        ) as conn:
            await conn.execute("SET default_transaction_read_only = on")
            await conn.execute("SELECT set_config('memvault.all_stores', 'on', false)")
            cursor = await conn.execute(
                "SELECT current_setting('server_version'),"
                " (SELECT extversion FROM pg_extension WHERE extname = 'vector'),"
                " to_regclass('schema_migrations') IS NOT NULL,"
                " to_regclass('memory_stores') IS NOT NULL"
            )
            row = await cursor.fetchone()
            assert row is not None
            version, pgvector, migrated, has_stores = row
            applied: frozenset[int] = frozenset()
            if migrated:
                cursor = await conn.execute("SELECT version FROM schema_migrations")
                applied = frozenset(v for (v,) in await cursor.fetchall())
            stores: tuple[StoreModels, ...] = ()
            if has_stores:
                cursor = await conn.execute(
                    "SELECT project, name, chat_model, embedding_model FROM memory_stores"
                )
                stores = tuple(StoreModels(*r) for r in await cursor.fetchall())
    except psycopg.Error as exc:
        message = (str(exc) or type(exc).__name__).strip().splitlines()[0]
        raise ServiceUnavailable(f"cannot reach the PostgreSQL database: {message}") from exc
    server = f"PostgreSQL {version}, " + (f"pgvector {pgvector}" if pgvector else "no pgvector")
    return DatabaseStatus("postgresql", True, applied, known, stores, server)
