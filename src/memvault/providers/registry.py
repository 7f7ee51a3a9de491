"""Which embedding model a memory store uses, and the batched embedders behind those models.

A store asks for a model by name (the Foundry how-to asks for ``text-embedding-3-small``). When an
OpenAI-compatible service is configured and answers for that name, the store uses it; otherwise
the store falls back to the bundled local model and records a notice (or, with
``MEMVAULT_STRICT_MODELS=1``, creation is refused). A store keeps the model it was created with,
so vectors of different models never mix.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from memvault.errors import ModelUnavailable, ServiceUnavailable
from memvault.providers.batching import EmbeddingBatcher
from memvault.providers.embeddings import Embedder
from memvault.providers.openai_client import make_openai_client
from memvault.settings import Settings

log = logging.getLogger(__name__)

LOCAL_MODEL = "all-MiniLM-L6-v2"
LOCAL_DIMENSION = 384
_LOCAL_ALIASES = {"", "local", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}


@dataclass(frozen=True)
class EmbeddingChoice:
    model: str
    dimension: int
    notice: str | None = None


def is_local_model(name: str | None) -> bool:
    return (name or "").strip().lower() in _LOCAL_ALIASES


_local_lock = threading.Lock()
_local_embedders: dict[tuple[int, str], Embedder] = {}


def shared_local_embedder(threads: int = 0, precision: str = "float32") -> Embedder:
    """One loaded local model per process (and thread and precision setting): apps and tests
    share it."""
    with _local_lock:
        if (threads, precision) not in _local_embedders:
            from memvault.providers.local_minilm import MiniLMEmbedder

            _local_embedders[threads, precision] = MiniLMEmbedder(
                threads=threads, precision=precision
            )
        return _local_embedders[threads, precision]


class EmbeddingProviders:
    """Owns one :class:`EmbeddingBatcher` per embedding model in use in this process, and, when
    search queries on the local model are embedded in int8 (the default;
    ``MEMVAULT_QUERY_EMBEDDING_PRECISION``), one more for them, on a thread of its own."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._batchers: dict[str, EmbeddingBatcher] = {}
        self._query_batcher: EmbeddingBatcher | None = None
        self._lock = asyncio.Lock()

    def local_embedder(self) -> Embedder:
        return shared_local_embedder(self._settings.embedding_threads)

    def local_query_embedder(self) -> Embedder:
        """What embeds search queries for stores on the local model."""
        if self._settings.query_embedding_precision == "float32":
            return self.local_embedder()
        # One intra-op thread: a short query gains little from two, and under load the other
        # core serves requests (about a third less CPU per query than two threads).
        return shared_local_embedder(1, self._settings.query_embedding_precision)

    async def warm_up(self) -> None:
        """Load the local model(s), side by side, and run each once, so the first requests do
        not pay for loading and for the runtime's first allocations."""
        embedders = dict.fromkeys([self.local_embedder(), self.local_query_embedder()])
        texts = [f"warm up {'with a few more words ' * (i % 4)}{i}" for i in range(8)]
        await asyncio.gather(*(asyncio.to_thread(e.embed, texts) for e in embedders))

    async def choose(self, requested: str | None) -> EmbeddingChoice:
        """The model a new store will embed with, given the name the client asked for."""
        if is_local_model(requested):
            return EmbeddingChoice(LOCAL_MODEL, LOCAL_DIMENSION)
        reason = await self._probe_remote(requested or "")
        if reason is None:
            dimension = self._batchers[requested].embedder.dimension  # type: ignore[index]
            return EmbeddingChoice(requested, dimension)  # type: ignore[arg-type]
        if self._settings.strict_models:
            raise ModelUnavailable(
                f"embedding model {requested!r} is not reachable: {reason}",
                param="definition.embedding_model",
            )
        return EmbeddingChoice(
            LOCAL_MODEL,
            LOCAL_DIMENSION,
            notice=f"embedding model {requested!r} is not reachable ({reason}); this store embeds"
            f" with the local {LOCAL_MODEL} instead",
        )

    async def _probe_remote(self, model: str) -> str | None:
        """None when ``model`` answers; otherwise why not."""
        async with self._lock:
            if model in self._batchers:
                return None
            client = make_openai_client(self._settings)
            if client is None:
                return "no OpenAI or Azure OpenAI service is configured"
            from memvault.providers.openai_embeddings import OpenAIEmbedder

            embedder = OpenAIEmbedder(model=model, client=client)
            try:
                await asyncio.to_thread(embedder.embed, ["probe"])
            except Exception as exc:  # any failure means: not usable for this store
                log.warning("embedding model %r unreachable: %s", model, exc)
                return f"{type(exc).__name__}: {exc}"[:300]
            self._batchers[model] = self._new_batcher(embedder)
            return None

    def _new_batcher(self, embedder: Embedder) -> EmbeddingBatcher:
        return EmbeddingBatcher(
            embedder,
            max_batch=self._settings.embedding_batch_size,
            max_wait_ms=self._settings.embedding_wait_ms,
        )

    async def embed(self, model: str, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 rows, one per text, from ``model`` (batched across callers)."""
        batcher = self._batchers.get(model)
        if batcher is None:
            if model == LOCAL_MODEL:
                batcher = self._batchers[model] = self._new_batcher(self.local_embedder())
            else:
                reason = await self._probe_remote(model)
                if reason is not None:
                    raise ServiceUnavailable(
                        f"this store embeds with {model!r}, which is not reachable now: {reason}"
                    )
                batcher = self._batchers[model]
        return await batcher.embed(texts)

    async def embed_query(self, model: str, query: str) -> np.ndarray:
        """``query`` as a search embeds it: like :meth:`embed`, except on the local model, in
        int8 unless ``MEMVAULT_QUERY_EMBEDDING_PRECISION=float32``."""
        if model != LOCAL_MODEL or self._settings.query_embedding_precision == "float32":
            [vector] = await self.embed(model, [query])
            return vector
        if self._query_batcher is None:
            self._query_batcher = self._new_batcher(self.local_query_embedder())
        [vector] = await self._query_batcher.embed([query])
        return vector

    async def aclose(self) -> None:
        batchers = [*self._batchers.values(), self._query_batcher]
        for batcher in batchers:
            if batcher is not None:
                await batcher.aclose()
        self._batchers.clear()
        self._query_batcher = None
