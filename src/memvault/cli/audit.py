"""``memvault audit``: check and read the audit log of the configured database.

``verify`` exits 0 with a one-line summary (the row count and the chain head, worth recording
somewhere else) when the chain is intact, 1 naming the first bad row and why when it is not, and
2 when the log cannot be read. It only reads: nothing is migrated or changed.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

import click

from memvault.settings import Settings

BROKEN = 1
UNREADABLE = 2

_database_url = click.option(
    "--database-url", envvar="MEMVAULT_DATABASE_URL", show_envvar=True, default=None,
    help="Database whose log to read: sqlite:///path.db or postgresql://user:password@host/db."
         " [default: sqlite:///<data-dir>/memvault.db]",
)  # fmt: skip
_data_dir = click.option(
    "--data-dir", envvar="MEMVAULT_DATA_DIR", show_envvar=True, default=None,
    help="Directory of the embedded SQLite database. [default: ./.memvault]",
)  # fmt: skip


class Unreadable(click.ClickException):
    exit_code = UNREADABLE


@click.group("audit")
def command() -> None:
    """Verify and list the audit log (deletions, grant changes, keys)."""


@command.command()
@_database_url
@_data_dir
def verify(database_url: str | None, data_dir: str | None) -> None:
    """Check the hash chain: exit 0 when intact, 1 naming the first bad row."""
    from memvault.storage.audit import verify_audit_postgres, verify_audit_sqlite

    verdict = _read(database_url, data_dir, verify_audit_sqlite, verify_audit_postgres)
    click.echo(verdict.summary())
    if not verdict.ok:
        click.get_current_context().exit(BROKEN)


@command.command("list")
@_database_url
@_data_dir
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many of the newest rows to show.")
def list_(database_url: str | None, data_dir: str | None, limit: int) -> None:
    """Show the newest rows, oldest first: seq, time (UTC), actor, action, target."""
    from memvault.storage.audit import tail_audit_postgres, tail_audit_sqlite

    entries = _read(
        database_url, data_dir,
        lambda conn: tail_audit_sqlite(conn, limit=limit),
        lambda conn: tail_audit_postgres(conn, limit=limit),
    )  # fmt: skip
    for entry in entries:
        target = entry.target if isinstance(entry.target, str) else json.dumps(
            entry.target, sort_keys=True, ensure_ascii=False
        )
        click.echo(f"{entry.seq}\t{_when(entry.at)}\t{entry.actor}\t{entry.action}\t{target}")


def _when(at: Any) -> str:
    try:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError, OverflowError):
        return repr(at)


def _read(database_url: str | None, data_dir: str | None, on_sqlite: Any, on_postgres: Any) -> Any:
    """``on_sqlite(conn)`` on a read-only connection, or ``await on_postgres(conn)``, on the
    configured database. Raises ``Unreadable`` when there is no database or no log in it."""
    from memvault.errors import MemvaultError
    from memvault.storage import display_url, sqlite_path

    settings = Settings(**{k: v for k, v in {"database_url": database_url,
                                              "data_dir": data_dir}.items() if v is not None})
    url = settings.resolved_database_url
    scheme = url.partition(":")[0].lower()
    try:
        if scheme == "sqlite":
            return _read_sqlite(sqlite_path(url), on_sqlite)
        if scheme not in ("postgresql", "postgres"):
            raise MemvaultError("unsupported database URL: use sqlite:///path/to/file.db or"
                                " postgresql://user:password@host/dbname")
        return asyncio.run(_read_postgres(url, on_postgres))
    except MemvaultError as exc:
        raise Unreadable(f"{display_url(url)}: {exc.message}") from exc


def _read_sqlite(path: Any, fn: Any) -> Any:
    from memvault.errors import MemvaultError

    if not path.is_file():
        raise MemvaultError(f"no SQLite database at {path}")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        if conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'audit_log'"
        ).fetchone() is None:
            raise MemvaultError("the database has no audit log yet (run `memvault migrate`)")
        return fn(conn)
    except sqlite3.Error as exc:
        raise MemvaultError(f"could not read the audit log: {exc}") from exc
    finally:
        conn.close()


async def _read_postgres(url: str, fn: Any) -> Any:
    import psycopg

    from memvault.errors import MemvaultError
    from memvault.storage.postgres import translate_error

    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            cursor = await conn.execute("SELECT to_regclass('audit_log') IS NOT NULL")
            row = await cursor.fetchone()
            if not (row and row[0]):
                raise MemvaultError("the database has no audit log yet (run `memvault migrate`)")
            return await fn(conn)
    except psycopg.Error as exc:
        error = translate_error(exc)
        raise (error if isinstance(error, MemvaultError) else MemvaultError(str(exc))) from exc
