"""Coalesce embedding requests from concurrent tasks into batches on one worker thread."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType

import numpy as np

from memvault.errors import ServiceUnavailable
from memvault.providers.embeddings import Embedder

_MAX_CACHED_CHARS = 4_096


@dataclass(eq=False)
class _Call:
    """One ``embed()`` call waiting for its missing rows."""

    future: asyncio.Future[None]
    rows: list[np.ndarray | None]
    missing: int


@dataclass(eq=False)
class _Item:
    """One distinct text of a call, and the positions of its vector in the call's rows."""

    text: str
    call: _Call
    positions: list[int]
    enqueued_at: float


class EmbeddingBatcher:
    """Embeds texts for many concurrent asyncio tasks with one model, in batches.

    Texts from concurrent ``embed()`` calls are queued and handed to ``embedder.embed`` in
    batches of up to ``max_batch``, on one dedicated worker thread (the model may use its own
    intra-op threads). When the worker is idle, the first queued text waits at most
    ``max_wait_ms`` for others to join its batch; texts queued while a batch runs go in the next
    one. Each caller gets exactly its own rows. If ``embedder.embed`` raises, the callers with
    texts in that batch get the exception; everyone else, and later batches, are unaffected.

    A bounded LRU cache (``cache_size`` texts; 0 disables it) answers texts seen recently without
    touching the model, since agents re-send the same queries. Texts longer than 4,096
    characters are not cached. Identical texts queued together are embedded once.

    The batcher belongs to one event loop: the one running its first ``embed()`` (the server's).
    Calling it from another loop raises ``RuntimeError``. ``aclose()`` lets queued texts finish,
    then stops the worker; ``embed()`` afterwards raises ``ServiceUnavailable``.

    Args:
        embedder: the model; its ``embed`` runs only on the batcher's worker thread.
        max_batch: most texts passed to one ``embedder.embed`` call.
        max_wait_ms: longest a text waits for company before an idle worker takes it.
        cache_size: texts remembered by the LRU cache.

    Example::

        batcher = EmbeddingBatcher(MiniLMEmbedder(), max_batch=64, max_wait_ms=2)
        vectors = await batcher.embed(["likes green tea", "works at Contoso"])
        await batcher.aclose()
    """

    def __init__(
        self,
        embedder: Embedder,
        *,
        max_batch: int = 64,
        max_wait_ms: float = 2,
        cache_size: int = 4096,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        if max_wait_ms < 0 or cache_size < 0:
            raise ValueError("max_wait_ms and cache_size must be >= 0")
        self.embedder = embedder
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._pending: deque[_Item] = deque()
        self._wakeup: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._collector: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memvault-embed")
        self._closed = False

    async def __aenter__(self) -> EmbeddingBatcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns ``(len(texts), dimension)`` float32 unit rows.

        Raises ``TypeError`` for a non-string text, ``ServiceUnavailable`` once closed, and
        whatever ``embedder.embed`` raised for a batch holding one of these texts.
        """
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError("embed() takes a sequence of strings")
        if self._closed:
            raise ServiceUnavailable("the embedding batcher is closed")
        loop = self._bind_loop()
        if not texts:
            dimension = await loop.run_in_executor(self._executor, lambda: self.embedder.dimension)
            return np.empty((0, dimension), dtype=np.float32)

        rows: list[np.ndarray | None] = [self._cache_get(text) for text in texts]
        wanted: dict[str, list[int]] = {}
        for position, (text, row) in enumerate(zip(texts, rows, strict=True)):
            if row is None:
                wanted.setdefault(text, []).append(position)
        if wanted:
            call = _Call(loop.create_future(), rows, len(wanted))
            now = loop.time()
            for text, positions in wanted.items():
                self._pending.append(_Item(text, call, positions, now))
            assert self._wakeup is not None
            self._wakeup.set()
            await call.future
        return np.stack(rows)  # type: ignore[arg-type]

    async def aclose(self) -> None:
        """Finish the texts already queued, then stop the worker thread. Idempotent."""
        self._closed = True
        if self._collector is not None:
            assert self._wakeup is not None
            self._wakeup.set()
            await asyncio.shield(self._collector)
        self._executor.shutdown(wait=True)

    # -- internals -------------------------------------------------------------------------

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
            self._wakeup = asyncio.Event()
            self._collector = loop.create_task(self._collect(), name="memvault-embed-batcher")
        elif self._loop is not loop:
            raise RuntimeError("EmbeddingBatcher is bound to another event loop")
        return loop

    def _cache_get(self, text: str) -> np.ndarray | None:
        vector = self._cache.get(text)
        if vector is not None:
            self._cache.move_to_end(text)
        return vector

    def _cache_put(self, text: str, vector: np.ndarray) -> None:
        if self.cache_size == 0 or len(text) > _MAX_CACHED_CHARS:
            return
        self._cache[text] = vector
        self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def _collect(self) -> None:
        assert self._loop is not None and self._wakeup is not None
        try:
            while True:
                if not self._pending:
                    if self._closed:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                await self._wait_for_company()
                await self._run_batch(self._take_batch())
        except BaseException as exc:
            # Only a bug or the loop shutting down gets here: never leave a caller hanging.
            for item in self._pending:
                if not item.call.future.done():
                    item.call.future.set_exception(
                        ServiceUnavailable("the embedding batcher stopped")
                    )
            self._pending.clear()
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _wait_for_company(self) -> None:
        assert self._loop is not None and self._wakeup is not None
        deadline = self._pending[0].enqueued_at + self.max_wait
        while len(self._pending) < self.max_batch and not self._closed:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except TimeoutError:
                return

    def _take_batch(self) -> list[_Item]:
        batch: list[_Item] = []
        texts: set[str] = set()
        while self._pending and len(texts) < self.max_batch:
            item = self._pending.popleft()
            if item.call.future.done():  # the caller was cancelled
                continue
            batch.append(item)
            texts.add(item.text)
        return batch

    async def _run_batch(self, batch: list[_Item]) -> None:
        if not batch:
            return
        assert self._loop is not None
        texts = list(dict.fromkeys(item.text for item in batch))
        try:
            vectors = await self._loop.run_in_executor(self._executor, self.embedder.embed, texts)
            if len(vectors) != len(texts):
                raise ServiceUnavailable(
                    f"the embedding model returned {len(vectors)} vectors for {len(texts)} texts"
                )
        except BaseException as exc:
            # A future cannot hold a CancelledError (nor should a caller see KeyboardInterrupt).
            failure = exc if isinstance(exc, Exception) else ServiceUnavailable(
                "the embedding batcher stopped"
            )
            for item in batch:
                if not item.call.future.done():
                    item.call.future.set_exception(failure)
            if failure is not exc:
                raise
            return
        by_text = {}
        for text, vector in zip(texts, vectors, strict=True):
            by_text[text] = vector = np.array(vector, dtype=np.float32)
            self._cache_put(text, vector)
        for item in batch:
            call = item.call
            for position in item.positions:
                call.rows[position] = by_text[item.text]
            call.missing -= 1
            if call.missing == 0 and not call.future.done():
                call.future.set_result(None)
