"""``memvault export``: a memory store (or one scope of it) to a JSON Lines file.

The format is described in :mod:`memvault.engine.transfer`. The file is written next to its
destination and renamed into place once complete, so an interrupted export leaves no file that
looks whole.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.console import Console

from memvault.cli._store import (
    database_options,
    fail,
    opened,
    project_option,
    settings_for,
    stderr_console,
)
from memvault.errors import MemvaultError
from memvault.settings import Settings

if TYPE_CHECKING:
    from memvault.engine.transfer import ExportSummary


@click.command("export")
@click.argument("store")
@click.option("--scope", "-s", default=None, help="Export this scope only. [default: every scope]")
@project_option("Project of the store.")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write ('-' for standard output).")
@click.option("--with-embeddings", is_flag=True,
              help="Include each memory's embedding (base64 float32), so that an import into a"
                   " store of the same model need not embed again.")
@database_options
def command(store: str, scope: str | None, project: str, output: str, with_embeddings: bool,
            database_url: str | None, data_dir: str | None) -> None:
    """Export the memories of STORE as JSON Lines, with their provenance and history."""
    settings = settings_for(database_url, data_dir)
    console = stderr_console()
    if output == "-":
        summary = _run(settings, store, scope, project, with_embeddings, sys.stdout.write,
                       console)
    else:
        target = Path(output)
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as out:
                summary = _run(settings, store, scope, project, with_embeddings, out.write,
                               console)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    where = "standard output" if output == "-" else output
    entries = f" and {summary.entries} memory entries" if summary.entries else ""
    console.print(f"exported {summary.memories} memories{entries} of {project}/{store} to {where}")


def _run(settings: Settings, store: str, scope: str | None, project: str, embeddings: bool,
         write: Callable[[str], object], console: Console) -> ExportSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from memvault.engine.transfer import export_store

    async def run() -> ExportSummary:
        async with opened(settings) as database:
            memory_store = await database.get_store(project, store)
            counts = await database.count_memories_per_store()
            total = counts.get((project, store)) if scope is None else None
            with Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), console=console, transient=True,
            ) as progress:  # fmt: skip
                task = progress.add_task("exporting", total=total)
                summary = await export_store(
                    database, memory_store, write, scope=scope,
                    embeddings=embeddings, progress=lambda n: progress.advance(task, n),
                )  # fmt: skip
            return summary

    try:
        return asyncio.run(run())
    except MemvaultError as exc:
        raise fail(exc, store=store, project=project) from exc
