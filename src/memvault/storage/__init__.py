"""Storage backends behind one protocol (:class:`~memvault.storage.base.Store`).

:func:`open_store` picks the backend from the database URL:

* ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (the part after
  ``sqlite:///`` is the file's path, as in SQLAlchemy).
* ``postgresql://user:password@host:5432/dbname`` (or ``postgres://``; any libpq URL, with
  ``?sslmode=require`` and friends): PostgreSQL with pgvector.
"""

from __future__ import annotations

import re
from pathlib import Path

from memvault.errors import InvalidRequest
from memvault.settings import Settings
from memvault.storage.base import Store

__all__ = ["Store", "display_url", "migrate", "open_store", "sqlite_path"]

POSTGRES_SCHEMES = ("postgresql", "postgres")


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:///`` URL names. Raises ``InvalidRequest`` for anything else."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise InvalidRequest(
            f"invalid SQLite URL {url!r}: use sqlite:///relative/path.db or"
            " sqlite:////absolute/path.db",
            param="database_url",
        )
    path = url[len(prefix) :]
    if path == ":memory:" or path.startswith("file:") or "?" in path:
        raise InvalidRequest(
            f"unsupported SQLite URL {url!r}: memvault needs a database file (no :memory:, no"
            " URI parameters)",
            param="database_url",
        )
    return Path(path)


async def open_store(url: str, settings: Settings) -> Store:
    """Open (and migrate) the database at ``url``. Raises ``InvalidRequest`` for a URL no
    backend handles.

    Example::

        store = await open_store(settings.resolved_database_url, settings)
    """
    scheme = _scheme(url)
    store: Store
    if scheme == "sqlite":
        from memvault.storage.sqlite import SQLiteStore

        store = SQLiteStore(sqlite_path(url), settings)
    else:
        from memvault.storage.postgres import PostgresStore

        store = PostgresStore(url, settings)
    await store.open()
    return store


async def migrate(url: str) -> list[int]:
    """Apply the pending migrations of the database at ``url``; returns the versions applied.

    Example::

        applied = await migrate("postgresql://memvault@db/memvault")
    """
    scheme = _scheme(url)
    if scheme == "sqlite":
        import asyncio
        import sqlite3

        from memvault.storage.migrations import apply_sqlite

        path = sqlite_path(url)

        def apply() -> list[int]:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return apply_sqlite(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(apply)
    import psycopg

    from memvault.storage.migrations import apply_postgres
    from memvault.storage.postgres import translate_error

    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await apply_postgres(conn)
    except psycopg.Error as exc:
        raise translate_error(exc) from exc


def display_url(url: str) -> str:
    """``url`` fit for a log line: a password in it becomes ``***``."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)


def _scheme(url: str) -> str:
    """``sqlite`` or ``postgresql``. Raises ``InvalidRequest`` for anything else."""
    scheme = url.partition(":")[0].lower()
    if scheme == "sqlite":
        return scheme
    if scheme in POSTGRES_SCHEMES and url[len(scheme) :].startswith("://"):
        return "postgresql"
    raise InvalidRequest(
        f"unsupported database URL {url!r}: memvault supports sqlite:///path/to/file.db and"
        " postgresql://user:password@host/dbname",
        param="database_url",
    )
