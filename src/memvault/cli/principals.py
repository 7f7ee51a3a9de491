"""``memvault principals``: create, list and revoke the principals (API keys) of the configured
database, directly (like ``memvault migrate``; no server needs to run).

``create`` prints the new key on its last line of standard output, once: only its SHA-256 is
stored. ``list`` never shows keys nor their hashes. A running server notices a revocation within
``MEMVAULT_AUTH_CACHE_SECONDS``. Each creation and revocation is recorded in the audit log, by
``cli:<user>``.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from memvault.cli._store import database_options, opened, settings_for
from memvault.settings import Settings

T = TypeVar("T")


@click.group("principals")
def command() -> None:
    """Create, list and revoke principals: who may call the API, with which key."""


@command.command()
@click.argument("name")
@click.option("--admin", is_flag=True, help="Hold every privilege on everything.")
@click.option("--scope", default=None,
              help="Restrict the key to this one scope (a key for an end user's client).")
@database_options
def create(name: str, admin: bool, scope: str | None, database_url: str | None,
           data_dir: str | None) -> None:
    """Create principal NAME and print its new API key (on the last line, shown only once)."""
    from memvault.api.auth import key_hash, new_key
    from memvault.engine.privileges import validate_principal_name
    from memvault.engine.validation import validate_scope
    from memvault.models import now

    settings = settings_for(database_url, data_dir)
    _check(lambda: validate_principal_name(name))
    if scope is not None:
        _check(lambda: validate_scope(scope, settings))
        if admin:
            raise click.UsageError("an admin holds every privilege on every scope: give --admin"
                                   " or --scope, not both")
    key = new_key()
    record = _run(settings, lambda governance: governance.create_principal(
        name, key_hash=key_hash(key), admin=admin, scope=scope, created_at=now(),
        actor=_actor(),
    ))  # fmt: skip
    role = "an admin" if record.admin else "no privileges yet (grant some)"
    if record.scope is not None:
        role += f", scope {record.scope!r} only"
    click.echo(f"created principal {record.name}: {role}")
    click.echo("its API key, shown this once (send it as 'Authorization: Bearer <key>'):")
    click.echo(key)


@command.command("list")
@database_options
def list_(database_url: str | None, data_dir: str | None) -> None:
    """List every principal (never its key): name, role, scope, created, revoked."""
    settings = settings_for(database_url, data_dir)
    records = _run(settings, lambda governance: governance.list_principals())
    click.echo("NAME\tROLE\tSCOPE\tCREATED\tREVOKED")
    for record in records:
        click.echo("\t".join([
            record.name,
            "admin" if record.admin else "-",
            "-" if record.scope is None else record.scope,
            _when(record.created_at),
            "-" if record.revoked_at is None else _when(record.revoked_at),
        ]))


@command.command()
@click.argument("name")
@database_options
def revoke(name: str, database_url: str | None, data_dir: str | None) -> None:
    """Revoke principal NAME: its key stops working (the name stays taken)."""
    from memvault.models import now

    settings = settings_for(database_url, data_dir)

    async def revoke_once(governance: Any) -> tuple[Any, bool]:
        # Asked first, not told by the timestamps: two revocations can fall in one second.
        before = await governance.get_principal(name)
        if before.revoked_at is not None:
            return before, False
        return await governance.revoke_principal(name, revoked_at=now(), actor=_actor()), True

    record, revoked = _run(settings, revoke_once)
    if revoked:
        click.echo(f"revoked principal {name}")
    else:
        click.echo(f"principal {name} was already revoked at {_when(record.revoked_at)}")


def _check(validate: Callable[[], object]) -> None:
    from memvault.errors import MemvaultError

    try:
        validate()
    except MemvaultError as exc:
        raise click.UsageError(exc.message) from exc


def _run(settings: Settings, fn: Callable[..., Awaitable[T]]) -> T:
    """``fn(governance)`` on the configured database (migrated first, as ``serve`` does)."""
    from memvault.errors import MemvaultError
    from memvault.storage.governance import open_governance_store

    async def run() -> T:
        async with opened(settings) as store:
            governance = open_governance_store(store)
            assert governance is not None
            return await fn(governance)

    try:
        return asyncio.run(run())
    except MemvaultError as exc:
        raise click.ClickException(exc.message) from exc


def _actor() -> str:
    """Who ran the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _when(at: int | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
