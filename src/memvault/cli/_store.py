"""What the commands that work on the configured database directly (export, import, stores,
memories) share: the database options, opening the store, and the output consoles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click
from rich.console import Console

from memvault.errors import MemvaultError, StoreNotFound
from memvault.settings import Settings
from memvault.storage import Store, open_store

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_PROJECT = "default"


def database_options(fn: F) -> F:
    """``--database-url`` and ``--data-dir``, as ``memvault migrate`` has them."""
    fn = click.option(
        "--data-dir", envvar="MEMVAULT_DATA_DIR", show_envvar=True, default=None,
        help="Directory of the embedded SQLite database. [default: ./.memvault]",
    )(fn)  # fmt: skip
    fn = click.option(
        "--database-url", envvar="MEMVAULT_DATABASE_URL", show_envvar=True, default=None,
        help="Database to use: sqlite:///path.db or postgresql://user:password@host/db."
             " [default: sqlite:///<data-dir>/memvault.db]",
    )(fn)  # fmt: skip
    return fn


def project_option(help: str) -> Callable[[F], F]:
    return click.option(
        "--project", "-p", default=DEFAULT_PROJECT, show_default=True, help=help,
    )  # fmt: skip


def settings_for(database_url: str | None, data_dir: str | None) -> Settings:
    values: dict[str, Any] = {"database_url": database_url, "data_dir": data_dir}
    return Settings(**{key: value for key, value in values.items() if value is not None})


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Store]:
    """The configured database, opened (and migrated, as ``serve`` would) and closed after."""
    store = await open_store(settings.resolved_database_url, settings)
    try:
        yield store
    finally:
        await store.close()


def stderr_console() -> Console:
    """Progress and summaries: on stderr, so that stdout stays data."""
    return Console(stderr=True)


def stdout_console() -> Console:
    return Console()


def fail(
    error: MemvaultError, *, store: str | None = None, project: str | None = None
) -> click.ClickException:
    """``error`` as the message a user sees (with a hint for a store that is not there)."""
    message = error.message
    if isinstance(error, StoreNotFound) and store is not None:
        message = (
            f"no memory store named {store!r} in project {project or DEFAULT_PROJECT!r}"
            " (`memvault stores` lists them)"
        )
    return click.ClickException(message)
