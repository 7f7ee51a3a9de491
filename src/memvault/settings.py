"""Every setting memvault reads, in one table.

Each field is read from ``MEMVAULT_<NAME>`` (upper case) unless it names another variable in
``validation_alias`` (the OpenAI / Azure OpenAI variables are the ones their own SDKs use).
The README's settings table is generated from this class, and a test checks that it stays so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MEMVAULT_", extra="ignore", frozen=True)

    host: str = Field("127.0.0.1", description="Address `memvault serve` binds to.")
    port: int = Field(8080, description="Port `memvault serve` listens on.")
    server_processes: int = Field(
        1,
        description=(
            "Processes `memvault serve` answers requests with, on the one port. Each has its own"
            " interpreter lock, so one per core answers more searches at once (docs/benchmarks.md,"
            " sustained search load); each also keeps its own vector cache (memory x N),"
            " admission gate, rate-limit counts (unless MEMVAULT_RATE_LIMIT_REDIS_URL) and, with"
            " MEMVAULT_WORKER on, update worker."
            " `/metrics`, whichever process answers it, reports the sum over all of them."
        ),
        ge=1,
        le=64,
    )
    log_level: str = Field("info", description="Log level: debug, info, warning or error.")
    log_format: str = Field(
        "text",
        description=(
            "`text` or `json` (one JSON object per line). Every record written while serving a"
            " request carries its request id."
        ),
    )
    access_log: bool = Field(
        True,
        description=(
            "Log each request once (method, path, route, status, duration, request id) to the"
            " `memvault.access` logger."
        ),
    )
    metrics_public: bool = Field(
        False,
        description=(
            "Serve `/metrics` without a key, to anyone who can reach the port (it names memory"
            " stores and counts memories, never shows their contents). Default: admin keys only."
        ),
    )
    data_dir: Path = Field(
        Path("./.memvault"), description="Directory for the embedded SQLite database."
    )
    database_url: str | None = Field(
        None,
        description=(
            "Database to use: `sqlite:///path/to/file.db` or `postgresql://user:password@host/db`."
            " Default: `sqlite:///<data_dir>/memvault.db`."
        ),
    )
    api_keys: str = Field(
        "",
        description=(
            "Comma-separated admin API keys (more keys, admin or not: `memvault principals"
            " create`). Requests send `Authorization: Bearer <key>` or `api-key: <key>`."
        ),
    )
    auth: str = Field(
        "",
        description=(
            "`keys`: every request needs a valid key (else 401); `none`: no key, every caller is"
            " an admin (loopback only). Default: `keys` once `MEMVAULT_API_KEYS` is set or the"
            " database holds a principal, else `none`."
        ),
    )
    auth_cache_seconds: float = Field(
        1.0,
        description=(
            "How long a key looked up in the database stays cached: a revoked key stops working"
            " within this time."
        ),
        ge=0,
        le=60,
    )
    rate_limit_per_principal: str = Field(
        "",
        description=(
            "Most requests one principal (API key) may make, as `N/second` or `N/minute`; more"
            " get 429 with `Retry-After`. Counted per server process, or across all of them with"
            " MEMVAULT_RATE_LIMIT_REDIS_URL. Default: no limit."
        ),
    )
    rate_limit_per_scope: str = Field(
        "",
        description=(
            "Most requests naming one scope (any store, any principal) per `N/second` or"
            " `N/minute`; more get 429 with `Retry-After`. Counted per server process, or across"
            " all of them with MEMVAULT_RATE_LIMIT_REDIS_URL. Default: no limit."
        ),
    )
    rate_limit_redis_url: str = Field(
        "",
        description=(
            "Redis (`redis://host:6379/0`) where every server process and replica naming it"
            " counts the rate limits together, in one window per principal and per scope. While"
            " it does not answer, each process counts its own (logged). Default: each process"
            " counts its own."
        ),
    )
    max_concurrent_searches: int = Field(
        0,
        description=(
            "Most searches (Foundry `:search_memories`, Databricks entries `:search`) one server"
            " process runs at once; the next wait their turn (`MEMVAULT_MAX_QUEUED_SEARCHES`)."
            " 0: twice the cores the process may run on."
        ),
        ge=0,
    )
    max_queued_searches: int = Field(
        32,
        description=(
            "Most searches one server process keeps waiting for a slot, first come first"
            " served; one more is refused at once with 503 `overloaded` and `Retry-After`"
            " (having done nothing). 0: none wait."
        ),
        ge=0,
        le=100_000,
    )
    search_queue_timeout_ms: float = Field(
        10_000,
        description=(
            "Longest a search waits for a slot before it is refused with 503 `overloaded` (it"
            " has done nothing yet). 0: refuse at once when every slot is busy."
        ),
        ge=0,
        le=600_000,
    )
    max_memories_per_scope: int = Field(
        0,
        description=(
            "Most memories (and entries) one scope of a store may hold; a write past it is"
            " refused with 403 `quota_exceeded`. 0: unlimited."
        ),
        ge=0,
    )
    max_scopes_per_store: int = Field(
        0,
        description=(
            "Most scopes holding memories one store may have; a write that would start another"
            " is refused with 403 `quota_exceeded`. 0: unlimited."
        ),
        ge=0,
    )
    strict_models: bool = Field(
        False,
        description=(
            "Refuse (400) a memory store whose chat or embedding model the server cannot reach,"
            " instead of falling back to the local defaults."
        ),
    )
    max_content_chars: int = Field(
        10_000, description="Longest memory content accepted, in characters."
    )
    max_scope_chars: int = Field(2_048, description="Longest scope accepted, in characters.")
    default_catalog: str = Field(
        "main",
        description=(
            "Databricks face: the catalog whose schemas are the Foundry projects"
            " (`main.default.notes` is store `notes` of project `default`). A schema of another"
            " catalog is the project `catalog.schema`."
        ),
    )
    embedding_batch_size: int = Field(
        64, description="Most texts embedded in one call of the embedding model."
    )
    embedding_wait_ms: float = Field(
        0,
        description=(
            "How long a text waits for others to share its embedding batch (texts that arrive"
            " while a batch runs are batched anyway)."
        ),
    )
    embedding_threads: int = Field(
        0, description="Threads for the local embedding model (0: one per core)."
    )
    query_embedding_precision: Literal["float32", "int8"] = Field(
        "int8",
        description=(
            "How search queries are embedded on the local model: int8 (a third of float32's CPU"
            " per query, on one thread of its own; mean cosine 0.994 to the float32 vector, the"
            " same retrieval quality in bench/quality) or float32 (the reference). Stored"
            " memories are always embedded in float32."
        ),
    )
    vector_cache_mb: int = Field(
        2_048,
        description=(
            "Memory for the in-process vector and word index of the SQLite backend, in MiB"
            " (about 1 KB per memory with the local model: the default holds ~2.1M memories)."
        ),
    )
    sqlite_synchronous: str = Field(
        "FULL",
        description="SQLite `synchronous` pragma: FULL (durable on power loss) or NORMAL.",
    )
    sqlite_max_pages: int = Field(
        0,
        ge=0,
        description=(
            "SQLite: a cap on the database's size, in pages of 4 KiB (`max_page_count`); 0: no"
            " cap. A write past it fails with 507 `storage_full` and keeps nothing, as on a full"
            " disk."
        ),
    )
    postgres_pool_size: int = Field(
        10,
        description=(
            "PostgreSQL: most connections one memvault process opens (its pool's maximum). Size"
            " the server's `max_connections` for every replica and worker."
        ),
    )
    postgres_pool_min_size: int = Field(
        1, description="PostgreSQL: connections each process keeps open when idle."
    )
    postgres_pool_timeout: float = Field(
        30.0,
        description=(
            "PostgreSQL: seconds a request waits for a free pooled connection before failing"
            " with 503."
        ),
    )
    postgres_prepared_statements: bool = Field(
        True,
        description=(
            "PostgreSQL: prepare frequent statements on the server. Turn off behind a"
            " transaction-mode PgBouncer older than 1.21."
        ),
    )
    postgres_exact_search_rows: int = Field(
        10_000,
        description=(
            "PostgreSQL: scopes with at most this many memories are searched exactly (a scan"
            " of the scope); larger ones through the HNSW index."
        ),
    )
    postgres_ef_search: int = Field(
        200,
        description=(
            "PostgreSQL: `hnsw.ef_search` for searches through the HNSW index (raised to the"
            " number of results asked for): higher is more exact and slower."
        ),
    )
    extractor: str = Field(
        "",
        description=(
            "`offline` or `llm`: what extracts memories from conversations. Default: `llm` when"
            " an LLM is configured, else `offline`."
        ),
    )
    worker: bool = Field(
        True, description="Run the update worker inside `memvault serve` (off: run `memvault worker`)."
    )
    worker_concurrency: int = Field(2, description="Updates one worker processes at once.")
    job_lease_seconds: int = Field(
        60,
        description=(
            "Seconds a worker holds an update it claimed, renewed every third of it while the"
            " update runs: an update whose worker died is taken over by another worker (or the"
            " restarted one) this long after its last renewal."
        ),
        ge=2,
        le=3_600,
    )
    worker_metrics_port: int = Field(
        0,
        description=(
            "`memvault worker`: serve the process's Prometheus metrics (its LLM and embedding"
            " calls) at `http://<MEMVAULT_HOST>:<port>/metrics`; 0: off."
        ),
        ge=0,
        le=65_535,
    )
    agent_history_items: int = Field(
        100,
        description=(
            "Agents: how many of the newest items of a conversation (or of a"
            " `previous_response_id` chain) the chat model gets with each turn."
        ),
        ge=1,
    )
    conversation_update_delay: int = Field(
        300,
        description=(
            "Agents: seconds a conversation bound to a memory store waits after a turn before"
            " learning from it, when no memory tool of its agent on that store sets"
            " `update_delay` (a newer turn within the delay supersedes it)."
        ),
        ge=0,
        le=86_400,
    )
    chat_timeout: float = Field(
        120.0,
        description=(
            "Agents: seconds the chat model may take to answer one turn (per attempt; failed"
            " attempts are retried twice)."
        ),
        gt=0,
    )
    openai_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "MEMVAULT_OPENAI_API_KEY"),
        description="Key for OpenAI or any OpenAI-compatible server.",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "MEMVAULT_OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible server (Ollama, vLLM).",
    )
    azure_openai_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT", "MEMVAULT_AZURE_OPENAI_ENDPOINT"),
        description="An Azure OpenAI resource.",
    )
    azure_openai_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("AZURE_OPENAI_API_KEY", "MEMVAULT_AZURE_OPENAI_API_KEY"),
        description="Key of that Azure OpenAI resource.",
    )
    openai_api_version: str = Field(
        "2024-10-21",
        validation_alias=AliasChoices("OPENAI_API_VERSION", "MEMVAULT_OPENAI_API_VERSION"),
        description="api-version sent to Azure OpenAI.",
    )

    @field_validator("extractor")
    @classmethod
    def _check_extractor(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"", "offline", "llm"}:
            raise ValueError("must be offline or llm")
        return value

    @field_validator("rate_limit_per_principal", "rate_limit_per_scope")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not re.fullmatch(r"[1-9][0-9]*/(second|minute)", value):
            raise ValueError("must be N/second or N/minute (N at least 1), or empty for no limit")
        return value

    @field_validator("rate_limit_redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        value = value.strip()
        if value and not re.match(r"(redis|rediss|unix)://", value):
            raise ValueError("must be a redis://, rediss:// or unix:// URL, or empty")
        return value

    @field_validator("auth")
    @classmethod
    def _check_auth(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"", "keys", "none"}:
            raise ValueError("must be keys or none")
        return value

    @field_validator("default_catalog")
    @classmethod
    def _check_default_catalog(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}", value):
            raise ValueError("must be 1-63 letters, digits, '_' or '-', starting with a letter or digit")
        return value

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"text", "json"}:
            raise ValueError("must be text or json")
        return value

    @field_validator("sqlite_synchronous")
    @classmethod
    def _check_synchronous(cls, value: str) -> str:
        value = value.upper()
        if value not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("must be FULL, NORMAL or EXTRA")
        return value

    @property
    def api_key_list(self) -> list[str]:
        return [key.strip() for key in self.api_keys.split(",") if key.strip()]

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'memvault.db'}"

    @property
    def resolved_max_concurrent_searches(self) -> int:
        """``max_concurrent_searches``, or by default twice the cores this process may run on.

        A search is a short pipeline: event loop, a reader thread (full text, then vectors) and
        the embedding thread, so one search in flight per core leaves cores idle while it
        moves between stages or waits on I/O (PostgreSQL, a remote embedding model). Two per
        core keeps every stage busy and lets the embedding batcher batch; beyond that a search
        adds no throughput, only a longer wait in the queues inside the process (the SQLite
        reader pool has one thread per core, at least two). Past the slots, searches
        wait in memvault's own bounded queue instead, where they can be refused cheaply.
        """
        if self.max_concurrent_searches:
            return self.max_concurrent_searches
        return 2 * available_cores()

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url or self.azure_openai_endpoint)

    @property
    def resolved_extractor(self) -> str:
        return self.extractor or ("llm" if self.llm_configured else "offline")


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def env_name(field: str) -> str:
    """The environment variable a user sets for ``field``."""
    info = Settings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"MEMVAULT_{field.upper()}"


def settings_table() -> str:
    """The Markdown table of every setting, as the README shows it."""
    rows = ["| Variable | Default | What it does |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = info.default
        shown = "" if default in (None, "") else f"`{default}`"
        rows.append(f"| `{env_name(name)}` | {shown} | {info.description} |")
    return "\n".join(rows)

