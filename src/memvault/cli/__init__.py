"""The ``memvault`` command. With no subcommand it serves.

Every option can also be set by its ``MEMVAULT_*`` variable (shown in ``--help``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import socket
import tempfile
from typing import Any

import click

from memvault import __version__
from memvault.settings import Settings, env_name


def is_loopback(host: str) -> bool:
    """True when every address ``host`` resolves to is a loopback address."""
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _settings(**overrides: object) -> Settings:
    values = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**values)


class _ListsSettings:
    """Ends ``--help`` with every setting's variable, including those with no option
    (``MEMVAULT_API_KEYS``)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)  # type: ignore[misc]
        with formatter.section("Environment variables"):
            formatter.write_dl([
                (env_name(name), (info.description or "").replace("`", ""))
                for name, info in Settings.model_fields.items()
            ])


class _Command(_ListsSettings, click.Command):
    pass


class _Group(_ListsSettings, click.Group):
    command_class = _Command


@click.group(cls=_Group, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="memvault")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """memvault: self-hosted long-term memory for AI agents."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
@click.option("--host", envvar="MEMVAULT_HOST", show_envvar=True, default=None,
              help="Address to bind. [default: 127.0.0.1]")
@click.option("--port", envvar="MEMVAULT_PORT", show_envvar=True, type=int, default=None,
              help="Port to listen on. [default: 8080]")
@click.option("--data-dir", envvar="MEMVAULT_DATA_DIR", show_envvar=True, default=None,
              help="Directory of the embedded SQLite database. [default: ./.memvault]")
@click.option("--log-level", envvar="MEMVAULT_LOG_LEVEL", show_envvar=True, default=None,
              type=click.Choice(["debug", "info", "warning", "error"]), help="[default: info]")
@click.option("--processes", envvar="MEMVAULT_SERVER_PROCESSES", show_envvar=True, default=None,
              type=click.IntRange(1, 64), help="Server processes on the one port. [default: 1]")
def serve(host: str | None, port: int | None, data_dir: str | None, log_level: str | None,
          processes: int | None) -> None:
    """Serve every API face (the default command)."""
    overrides = {"host": host, "port": port, "data_dir": data_dir, "log_level": log_level}
    settings = _settings(**overrides, server_processes=processes)
    log_level = settings.log_level
    if not is_loopback(settings.host):
        exposed = f"refusing to serve on {settings.host} with"
        if settings.auth == "none":
            raise click.UsageError(
                f"{exposed} MEMVAULT_AUTH=none: anyone who can reach it could read every memory."
                " Set MEMVAULT_AUTH=keys, or bind to 127.0.0.1."
            )
        if settings.auth == "" and not settings.api_key_list:
            # MEMVAULT_AUTH=keys vouches for keys in the database (`memvault principals`).
            raise click.UsageError(
                f"{exposed} no API keys: anyone who can reach it could read every memory. Set"
                " MEMVAULT_API_KEYS, or MEMVAULT_AUTH=keys with keys made by `memvault principals"
                " create`, or bind to 127.0.0.1."
            )
    # Imported only now, so that the refusal above is quick and does not need the app to load.
    import uvicorn

    from memvault.api.app import create_app
    from memvault.observability.logs import configure_logging, logging_config

    configure_logging(log_level, settings.log_format)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from memvault.storage import display_url

    logging.getLogger("memvault").info(
        "memvault %s on http://%s:%s (%s)", __version__, settings.host, settings.port,
        display_url(settings.resolved_database_url),
    )
    if settings.server_processes > 1:
        # Each process builds its app from the environment: the options go there first.
        for name, value in overrides.items():
            if value is not None:
                os.environ[env_name(name)] = str(value)
        app: Any = "memvault.api.app:create_app_from_environment"
        # The processes' metrics, summed by whichever of them a scrape reaches; a directory of
        # this run's own, as prometheus_client needs (values left by another run would count).
        metrics_dir = tempfile.mkdtemp(prefix="memvault-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    else:
        app = create_app(settings)
        metrics_dir = None
    try:
        uvicorn.run(
            app,
            factory=settings.server_processes > 1,
            workers=settings.server_processes,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            log_config=logging_config(log_level, settings.log_format),
            access_log=False,  # memvault.access logs each request (MEMVAULT_ACCESS_LOG)
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


@cli.command()
@click.option("--data-dir", envvar="MEMVAULT_DATA_DIR", show_envvar=True, default=None,
              help="Directory of the embedded SQLite database. [default: ./.memvault]")
@click.option("--concurrency", envvar="MEMVAULT_WORKER_CONCURRENCY", show_envvar=True, type=int,
              default=None, help="Updates processed at once. [default: 2]")
def worker(data_dir: str | None, concurrency: int | None) -> None:
    """Process queued updates without serving HTTP (stop with Ctrl-C or SIGTERM)."""
    import asyncio

    from memvault.jobs.runner import run_worker

    settings = _settings(data_dir=data_dir, worker_concurrency=concurrency)
    from memvault.observability.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    from memvault.storage import display_url

    logging.getLogger("memvault").info(
        "memvault worker on %s", display_url(settings.resolved_database_url)
    )
    asyncio.run(run_worker(settings))


@cli.command()
@click.option("--database-url", envvar="MEMVAULT_DATABASE_URL", show_envvar=True, default=None,
              help="Database to migrate: sqlite:///path.db or postgresql://user:password@host/db."
                   " [default: sqlite:///<data-dir>/memvault.db]")
@click.option("--data-dir", envvar="MEMVAULT_DATA_DIR", show_envvar=True, default=None,
              help="Directory of the embedded SQLite database. [default: ./.memvault]")
def migrate(database_url: str | None, data_dir: str | None) -> None:
    """Apply pending database migrations, then exit.

    `serve` and `worker` migrate when they start too; run this as a release step, before new
    replicas roll out, so that old and new never race to change the schema.
    """
    import asyncio

    from memvault.errors import MemvaultError
    from memvault.storage import display_url
    from memvault.storage import migrate as migrate_database

    settings = _settings(database_url=database_url, data_dir=data_dir)
    url = settings.resolved_database_url
    try:
        applied = asyncio.run(migrate_database(url))
    except MemvaultError as exc:
        raise click.ClickException(exc.message) from exc
    if applied:
        versions = ", ".join(f"{version:04d}" for version in applied)
        click.echo(f"{display_url(url)}: applied migrations {versions}")
    else:
        click.echo(f"{display_url(url)}: up to date")


def _register_commands() -> None:
    """Add the command (or group) named ``command`` of every other module in this package
    (``memvault/cli/principals.py`` gives ``memvault principals``)."""
    import pkgutil
    from importlib import import_module

    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            cli.add_command(import_module(f"{__name__}.{module.name}").command)


def main() -> None:
    _register_commands()
    cli(auto_envvar_prefix="MEMVAULT")
