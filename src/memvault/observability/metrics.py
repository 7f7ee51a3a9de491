"""The process's Prometheus metrics, in one registry of memvault's own.

Counters and histograms here are per process: HTTP requests (recorded by the API's request
middleware), embedding and LLM calls (recorded by the providers and the chat clients, in
whichever process makes the call). What must agree across replicas and workers (update jobs by
status, memories per store) is read from the database at scrape time instead
(:mod:`memvault.api.metrics`).

The processes of one ``memvault serve --processes N`` share theirs: ``serve`` gives them a fresh
``PROMETHEUS_MULTIPROC_DIR``, where prometheus_client keeps every value in a file per process,
and a scrape of any of them reports the sum over all (:func:`scrape_source`; the gauges: the
sum over the processes alive). The ``process_*`` and ``python_gc_*`` families, which describe
one process, are left out there.

Names and labels::

    memvault_http_requests_total{method, route, status}
    memvault_http_request_duration_seconds{method, route}          histogram
    memvault_embedding_texts_total{model}
    memvault_embedding_tokens_total{model}
    memvault_embedding_duration_seconds{model}                      histogram, per model call
    memvault_llm_requests_total{model, operation, outcome}          outcome: ok or error
    memvault_llm_tokens_total{model, operation, direction}          direction: input or output
    memvault_llm_request_duration_seconds{model, operation}         histogram
    memvault_searches_in_flight                                     gauge: holding a slot
    memvault_searches_queued                                        gauge: waiting for one
    memvault_searches_shed_total                                    refused with 503 overloaded

``route`` is the route's path template (``/api/projects/{project}/memory_stores/{name}``), never
the raw path, so label values stay bounded; a path no route matches counts as ``unmatched``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import gc_collector, multiprocess, platform_collector, process_collector

from memvault import __version__

# Read once, as prometheus_client reads it when first imported.
SHARED_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
"""Where the processes of one server keep their values, or None for this process alone."""

REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)
_MODEL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)

BUILD_INFO = Gauge(
    "memvault_build_info", "memvault's version (the value is always 1).", ["version"],
    registry=REGISTRY, multiprocess_mode="max",
)
BUILD_INFO.labels(__version__).set(1)

HTTP_REQUESTS = Counter(
    "memvault_http_requests", "HTTP requests answered, by route template and status.",
    ["method", "route", "status"], registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "memvault_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template.",
    ["method", "route"], buckets=_LATENCY_BUCKETS, registry=REGISTRY,
)
EMBEDDING_TEXTS = Counter(
    "memvault_embedding_texts", "Texts embedded, by embedding model.", ["model"],
    registry=REGISTRY,
)
EMBEDDING_TOKENS = Counter(
    "memvault_embedding_tokens", "Tokens embedded, by embedding model.", ["model"],
    registry=REGISTRY,
)
EMBEDDING_DURATION = Histogram(
    "memvault_embedding_duration_seconds", "Time of one call of an embedding model.", ["model"],
    buckets=_MODEL_BUCKETS, registry=REGISTRY,
)
LLM_REQUESTS = Counter(
    "memvault_llm_requests", "Calls of a chat model, by operation and outcome.",
    ["model", "operation", "outcome"], registry=REGISTRY,
)
LLM_TOKENS = Counter(
    "memvault_llm_tokens", "Tokens a chat model read (input) and wrote (output).",
    ["model", "operation", "direction"], registry=REGISTRY,
)
LLM_DURATION = Histogram(
    "memvault_llm_request_duration_seconds", "Time of one call of a chat model.",
    ["model", "operation"], buckets=_MODEL_BUCKETS, registry=REGISTRY,
)

SEARCHES_IN_FLIGHT = Gauge(
    "memvault_searches_in_flight",
    "Searches holding one of the MEMVAULT_MAX_CONCURRENT_SEARCHES slots.", registry=REGISTRY,
    multiprocess_mode="livesum",
)
SEARCHES_QUEUED = Gauge(
    "memvault_searches_queued", "Searches waiting for a slot.", registry=REGISTRY,
    multiprocess_mode="livesum",
)
SEARCHES_SHED = Counter(
    "memvault_searches_shed",
    "Searches refused (503 overloaded): the line for a slot was full"
    " (MEMVAULT_MAX_QUEUED_SEARCHES) or they waited MEMVAULT_SEARCH_QUEUE_TIMEOUT_MS.",
    registry=REGISTRY,
)


def observe_embedding(model: str, *, texts: int, tokens: int, seconds: float) -> None:
    """Record one call of an embedding model."""
    EMBEDDING_TEXTS.labels(model).inc(texts)
    if tokens:
        EMBEDDING_TOKENS.labels(model).inc(tokens)
    EMBEDDING_DURATION.labels(model).observe(seconds)


def observe_llm_call(
    model: str,
    operation: str,
    *,
    seconds: float,
    ok: bool,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> None:
    """Record one call of a chat model (``operation``: extract, consolidate, generate ...)."""
    LLM_REQUESTS.labels(model, operation, "ok" if ok else "error").inc()
    LLM_DURATION.labels(model, operation).observe(seconds)
    if input_tokens:
        LLM_TOKENS.labels(model, operation, "input").inc(input_tokens)
    if output_tokens:
        LLM_TOKENS.labels(model, operation, "output").inc(output_tokens)


_LIVE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def scrape_source() -> CollectorRegistry:
    """What a scrape reports: this process's registry, or with a ``SHARED_DIR`` the values of
    every process that wrote there (a process that is gone keeps its counts but no longer adds to
    the gauges)."""
    if SHARED_DIR is None:
        return REGISTRY
    for path in Path(SHARED_DIR).glob("gauge_live*_*.db"):
        found = _LIVE_FILE.fullmatch(path.name)
        if found and not _alive(int(found.group(1))):
            multiprocess.mark_process_dead(int(found.group(1)), SHARED_DIR)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, SHARED_DIR)
    return registry


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
