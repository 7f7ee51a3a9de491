"""``memvault stores``: the memory stores of a project, as a table."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import click
from rich.table import Table

from memvault.cli._store import (
    database_options,
    fail,
    opened,
    project_option,
    settings_for,
    stdout_console,
)
from memvault.errors import MemvaultError
from memvault.models import MemoryStore

PAGE = 100


@click.command("stores")
@project_option("Project whose stores to list.")
@database_options
def command(project: str, database_url: str | None, data_dir: str | None) -> None:
    """List the memory stores of a project with their models and memory counts."""
    settings = settings_for(database_url, data_dir)

    async def read() -> tuple[list[MemoryStore], dict[tuple[str, str], int]]:
        async with opened(settings) as database:
            stores: list[MemoryStore] = []
            after = None
            while True:
                page = await database.list_stores(project, limit=PAGE, order="asc", after=after)
                stores.extend(page.items)
                if not page.has_more or not page.items:
                    break
                after = page.items[-1].id
            return stores, await database.count_memories_per_store()

    try:
        stores, counts = asyncio.run(read())
    except MemvaultError as exc:
        raise fail(exc) from exc
    table = Table(title=f"memory stores of project {project!r}", title_justify="left")
    for column in ("name", "memories", "embedding model", "chat model", "created", "description"):
        table.add_column(column, justify="right" if column == "memories" else "left")
    for store in stores:
        table.add_row(
            store.name,
            str(counts.get((project, store.name), 0)),
            f"{store.embedding_model} ({store.embedding_dimension})",
            store.chat_model,
            when(store.created_at),
            store.description or "",
        )
    console = stdout_console()
    if stores:
        console.print(table)
    else:
        console.print(f"no memory stores in project {project!r}")


def when(ts: int | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM`` UTC."""
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")
