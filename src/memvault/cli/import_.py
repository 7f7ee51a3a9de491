"""``memvault import``: a JSON Lines export into a memory store of the configured database.

The store named in the file (or ``--store``) is created from the file's definition when it does
not exist. Memories are written in chunks of one transaction each, so an interrupted import
leaves whole memories only; running it again finishes it, since memories whose id the store
already holds are skipped (``--on-conflict new-ids`` imports a second copy instead).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from memvault.cli._store import database_options, fail, settings_for, stderr_console
from memvault.errors import MemvaultError
from memvault.settings import Settings

if TYPE_CHECKING:
    from memvault.engine.transfer import ImportSummary

INTERRUPTED = 130


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", "store_name", default=None,
              help="Store to import into. [default: the store named in the file]")
@click.option("--project", "-p", default=None,
              help="Project of that store. [default: the project named in the file]")
@click.option("--on-conflict", type=click.Choice(["skip", "new-ids"]), default="skip",
              show_default=True,
              help="A memory whose id the store already holds: skip it (importing again adds"
                   " nothing, and resumes an interrupted import), or import every memory under"
                   " a new id (a second copy).")
@database_options
def command(file: Path, store_name: str | None, project: str | None, on_conflict: str,
            database_url: str | None, data_dir: str | None) -> None:
    """Import the memories of FILE (written by `memvault export`).

    Embeddings in the file are kept when they come from the target store's model; otherwise
    (or when the file has none) the memories are embedded again, in batches.
    """
    settings = settings_for(database_url, data_dir)
    console = stderr_console()
    done = [0]
    try:
        summary = asyncio.run(_import(settings, file, store_name, project, on_conflict, done))
    except KeyboardInterrupt:
        console.print(
            f"interrupted after {done[0]} memories (each chunk is committed whole); run the"
            " same command again to finish: memories already imported are skipped"
        )
        raise SystemExit(INTERRUPTED) from None
    except MemvaultError as exc:
        raise fail(exc, store=store_name, project=project) from exc
    store = summary.store
    parts = [f"imported {summary.imported} memories into {store.project}/{store.name}"]
    if summary.created_store:
        parts.append(f"(created, embedding with {store.embedding_model})")
    details = [
        (summary.skipped, "already there (skipped)"),
        (summary.expired, "expired since the export (left out)"),
        (summary.embedded, "embedded again"),
        (summary.renamed, "under a new id"),
        (summary.entries, "memory entries imported"),
        (summary.entries_skipped, "memory entries already there (skipped)"),
    ]
    extra = ", ".join(f"{n} {what}" for n, what in details if n)
    console.print(" ".join(parts) + (f"; {extra}" if extra else ""))
    if not summary.complete:
        console.print(
            "[yellow]warning:[/] the file has no end-of-export line: the export was cut short,"
            " so memories may be missing"
        )


async def _import(settings: Settings, file: Path, store_name: str | None, project: str | None,
                  on_conflict: str, done: list[int]) -> ImportSummary:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from memvault.engine.service import MemoryService
    from memvault.engine.transfer import OnConflict, import_lines
    from memvault.providers.registry import EmbeddingProviders
    from memvault.storage import open_store

    with file.open(encoding="utf-8") as lines:
        total = max(0, sum(1 for line in lines if line.strip()) - 2)
    store = await open_store(settings.resolved_database_url, settings)
    embeddings = EmbeddingProviders(settings)
    try:
        service = MemoryService(store, embeddings, settings)
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=stderr_console(), transient=True,
        ) as progress, file.open(encoding="utf-8") as lines:  # fmt: skip
            task = progress.add_task("importing", total=total)

            def advance(n: int) -> None:
                done[0] += n
                progress.advance(task, n)

            return await import_lines(
                service, lines, project=project, store_name=store_name,
                on_conflict=cast("OnConflict", on_conflict), progress=advance,
            )  # fmt: skip
    finally:
        await embeddings.aclose()
        await store.close()
