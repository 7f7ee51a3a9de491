"""``memvault memories``: the memories of one scope of a store, newest first, as a table."""

from __future__ import annotations

import asyncio

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
from memvault.cli.stores import when
from memvault.errors import MemvaultError
from memvault.models import Memory, MemoryKind, MemoryStatus


@click.command("memories")
@click.argument("store")
@click.option("--scope", "-s", required=True, help="Scope whose memories to show.")
@click.option("--kind", "-k", type=click.Choice([kind.value for kind in MemoryKind]),
              default=None, help="Only memories of this kind. [default: every kind]")
@click.option("--status", type=click.Choice([status.value for status in MemoryStatus]),
              default=MemoryStatus.ACTIVE.value, show_default=True,
              help="'quarantined' shows the candidates kept out of search.")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True,
              help="How many of the newest memories to show.")
@project_option("Project of the store.")
@database_options
def command(store: str, scope: str, kind: str | None, status: str, limit: int, project: str,
            database_url: str | None, data_dir: str | None) -> None:
    """Show the newest memories of one scope of STORE."""
    settings = settings_for(database_url, data_dir)

    async def read() -> tuple[list[Memory], bool]:
        async with opened(settings) as database:
            memory_store = await database.get_store(project, store)
            page = await database.list_memories(
                memory_store.id, scope, kind=MemoryKind(kind) if kind else None,
                status=MemoryStatus(status), limit=limit, order="desc",
            )  # fmt: skip
            return page.items, page.has_more

    try:
        memories, more = asyncio.run(read())
    except MemvaultError as exc:
        raise fail(exc, store=store, project=project) from exc
    console = stdout_console()
    if not memories:
        console.print(f"no {status} memories in scope {scope!r} of {project}/{store}")
        return
    title = f"{project}/{store}, scope {scope!r}: the {len(memories)} newest {status} memories"
    if more:
        title += f" (more with --limit {min(limit * 2, 1000)})"
    table = Table(title=title, title_justify="left")
    for column in ("id", "kind", "content", "version", "updated", "by"):
        table.add_column(column, overflow="fold")
    for memory in memories:
        table.add_row(
            memory.id, memory.kind.value, memory.content, str(memory.version),
            when(memory.updated_at), memory.updated_by or memory.created_by or "",
        )  # fmt: skip
    console.print(table)
