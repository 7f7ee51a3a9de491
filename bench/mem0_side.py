"""Mem0 OSS (the ``mem0ai`` package, ``make bench`` installs it) run locally for the peer
comparison, embedding with memvault's own local model so both sides pay the same embedding cost.

Mem0 is configured as its quick start does it, with its defaults kept: Qdrant in local (embedded,
on-disk) mode as the vector store, its SQLite history database, ``infer=False`` on every add (no
LLM). Its LLM and embedder providers are set to ``openai`` with a dummy key only so that the
constructor succeeds; neither is ever called: the embedder is replaced by
:class:`MemvaultEmbedding` and no LLM call happens without ``infer``.

Telemetry is switched off (``MEM0_TELEMETRY=False``, read once when mem0 is imported) and mem0's
home folder (``MEM0_DIR``) moved into a temporary directory, both before the first import;
:func:`import_mem0` refuses to go on if mem0 was already imported with telemetry on.
:func:`outbound_connections` lists every non-loopback connection or name lookup this process has
attempted since :func:`import_mem0` (an audit hook records them), so a run can show that nothing
was sent.
"""

from __future__ import annotations

import atexit
import hashlib
import ipaddress
import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from memvault.providers.registry import shared_local_embedder

DIMENSION = 384
_outbound: list[str] = []
_hook_installed = False
_embedding_class: type | None = None


def _is_local(host: object) -> bool:
    if not isinstance(host, str) or host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _is_local(address[0]):
            _outbound.append(f"connect {address[0]}:{address[1]}")
    elif event == "socket.getaddrinfo" and not _is_local(args[0]):
        _outbound.append(f"lookup {args[0]}")


def outbound_connections() -> list[str]:
    """Non-loopback connects and name lookups attempted since :func:`import_mem0`."""
    return list(_outbound)


def import_mem0() -> Any:
    """Import mem0 with telemetry off and its home folder in a temporary directory; returns
    the ``mem0`` module. Raises ``RuntimeError`` if mem0's telemetry is on anyway."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    if "mem0" not in sys.modules:
        os.environ["MEM0_TELEMETRY"] = "False"
        if "MEM0_DIR" not in os.environ:
            home = os.environ["MEM0_DIR"] = tempfile.mkdtemp(prefix="mem0-home-")
            atexit.register(shutil.rmtree, home, ignore_errors=True)
    import mem0
    import mem0.memory.telemetry as telemetry

    if telemetry.MEM0_TELEMETRY or telemetry.client_telemetry.posthog is not None:
        raise RuntimeError("mem0 was imported with telemetry on; set MEM0_TELEMETRY=False")
    return mem0


def embedding_class() -> type:
    """:class:`MemvaultEmbedding`, a subclass of mem0's ``EmbeddingBase`` (defined on first use,
    since mem0 is an optional dependency)."""
    global _embedding_class
    if _embedding_class is not None:
        return _embedding_class
    import_mem0()
    from mem0.configs.embeddings.base import BaseEmbedderConfig
    from mem0.embeddings.base import EmbeddingBase

    class MemvaultEmbedding(EmbeddingBase):
        """memvault's local all-MiniLM-L6-v2 (the process's shared instance) as a Mem0 embedder.

        The model may be called by one thread at a time (its contract), so concurrent Mem0
        threads take turns on a lock, one text per call, as Mem0 hands them over.
        """

        def __init__(self) -> None:
            super().__init__(BaseEmbedderConfig(embedding_dims=DIMENSION))
            self.model = shared_local_embedder()
            self.lock = threading.Lock()

        def embed(self, text: str, memory_action: str | None = None) -> list[float]:
            with self.lock:
                return self.model.embed([text])[0].tolist()

        def embed_batch(self, texts: Sequence[str], memory_action: str = "add") -> list:
            with self.lock:
                return self.model.embed(list(texts)).tolist()

    _embedding_class = MemvaultEmbedding
    return MemvaultEmbedding


class Mem0Side:
    """One Mem0 ``Memory`` in ``directory`` (its own Qdrant collection and history database).

    Example::

        with Mem0Side(tmp_path / "mem0") as mem0:
            mem0.add("Likes green tea", "user_1")
            hits = mem0.search("what tea do I like?", "user_1", limit=10)
    """

    def __init__(self, directory: Path) -> None:
        import_mem0()
        from mem0 import Memory

        directory.mkdir(parents=True, exist_ok=True)
        self.memory = Memory.from_config({
            "vector_store": {"provider": "qdrant", "config": {
                "path": str(directory / "qdrant"), "collection_name": "mem0",
                "embedding_model_dims": DIMENSION}},
            "llm": {"provider": "openai", "config": {"api_key": "unused-infer-is-false"}},
            "embedder": {"provider": "openai", "config": {"api_key": "unused",
                                                          "embedding_dims": DIMENSION}},
            "history_db_path": str(directory / "history.db"),
        })
        self.memory.embedding_model = embedding_class()()

    def __enter__(self) -> Mem0Side:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.memory.close()
        self.memory.vector_store.client.close()

    def add(self, text: str, scope: str) -> str:
        """``Memory.add(text, user_id=scope, infer=False)``; returns the new memory's id."""
        [result] = self.memory.add(text, user_id=scope, infer=False)["results"]
        return result["id"]

    def search(self, query: str, scope: str, *, limit: int) -> list[dict]:
        return self.memory.search(query, filters={"user_id": scope}, top_k=limit)["results"]

    def _qdrant_storage(self) -> Any:
        """The local Qdrant collection's SQLite connection (its on-disk persistence)."""
        client = self.memory.vector_store.client._client
        return client.collections[self.memory.vector_store.collection_name].storage.storage

    def seed(self, scope: str, texts: Sequence[str], vectors: np.ndarray,
             chunk: int = 1_000) -> None:
        """Bulk insert through Mem0's vector store (``Qdrant.insert``, ``chunk`` points a call)
        with the payload ``Memory.add(infer=False)`` writes. Local Qdrant commits each point on
        its own (a journal file and fsyncs each); while seeding the journal stays in memory and
        nothing is synced, and both are restored after."""
        from mem0.utils.lemmatization import lemmatize_for_bm25

        storage = self._qdrant_storage()
        journal = storage.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = storage.execute("PRAGMA synchronous").fetchone()[0]
        storage.execute("PRAGMA synchronous=OFF")
        storage.execute("PRAGMA journal_mode=MEMORY")
        try:
            for start in range(0, len(texts), chunk):
                stamp = datetime.now(UTC).isoformat()
                part = texts[start:start + chunk]
                payloads = [{
                    "user_id": scope, "role": "user", "data": text,
                    "hash": hashlib.md5(text.encode()).hexdigest(),
                    "created_at": stamp, "updated_at": stamp,
                    "text_lemmatized": lemmatize_for_bm25(text),
                } for text in part]
                self.memory.vector_store.insert(
                    vectors=vectors[start:start + len(part)].tolist(),
                    ids=[str(uuid.uuid4()) for _ in part], payloads=payloads,
                )
        finally:
            storage.execute(f"PRAGMA journal_mode={journal}")
            storage.execute(f"PRAGMA synchronous={synchronous}")
