"""EmbeddingBatcher: coalescing, per-caller rows, error isolation, the cache."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import numpy as np
import pytest

from memvault.errors import ServiceUnavailable
from memvault.providers.batching import EmbeddingBatcher
from memvault.providers.local_minilm import MiniLMEmbedder


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    model = MiniLMEmbedder(threads=2)
    model.load()
    return model


class CountingEmbedder:
    """Wraps the real model; records each batch, the thread it ran on, and can be told to fail."""

    def __init__(self, inner: MiniLMEmbedder) -> None:
        self.inner = inner
        self.model = inner.model
        self.dimension = inner.dimension
        self.batches: list[list[str]] = []
        self.threads: set[int] = set()
        self.fail_on: str | None = None
        self.gate: threading.Event | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append(list(texts))
        self.threads.add(threading.get_ident())
        if self.fail_on is not None and self.fail_on in texts:
            raise ValueError(f"refusing {self.fail_on!r}")
        return self.inner.embed(texts)


@pytest.fixture
def counting(minilm: MiniLMEmbedder) -> CountingEmbedder:
    return CountingEmbedder(minilm)


SENTENCES = [f"caller {i} likes topic number {i * 7 % 13}" for i in range(40)]


async def test_concurrent_callers_get_their_own_rows(
    counting: CountingEmbedder, minilm: MiniLMEmbedder
) -> None:
    requests = [SENTENCES[i : i + 1 + i % 3] for i in range(0, 36, 3)]
    async with EmbeddingBatcher(counting, max_batch=64, max_wait_ms=20) as batcher:
        results = await asyncio.gather(*(batcher.embed(texts) for texts in requests))
    for texts, vectors in zip(requests, results, strict=True):
        assert vectors.shape == (len(texts), 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(vectors, minilm.embed(texts), atol=1e-5)
    assert len(counting.threads) == 1
    assert threading.get_ident() not in counting.threads


async def test_calls_coalesce_into_batches(counting: CountingEmbedder) -> None:
    async with EmbeddingBatcher(counting, max_batch=16, max_wait_ms=50) as batcher:
        await asyncio.gather(*(batcher.embed([text]) for text in SENTENCES))
    assert sum(len(batch) for batch in counting.batches) == len(SENTENCES)
    assert len(counting.batches) == 3  # 16 + 16 + 8
    assert max(len(batch) for batch in counting.batches) == 16


async def test_texts_queued_while_the_model_is_busy_go_in_the_next_batch(
    counting: CountingEmbedder,
) -> None:
    counting.gate = threading.Event()
    async with EmbeddingBatcher(counting, max_batch=64, max_wait_ms=0) as batcher:
        first = asyncio.create_task(batcher.embed(["first"]))
        await asyncio.sleep(0.05)  # "first" is now blocked inside the model
        rest = [asyncio.create_task(batcher.embed([text])) for text in SENTENCES[:10]]
        await asyncio.sleep(0.05)
        counting.gate.set()
        await asyncio.gather(first, *rest)
    assert counting.batches == [["first"], SENTENCES[:10]]


async def test_one_callers_long_list_is_split_by_max_batch(counting: CountingEmbedder) -> None:
    async with EmbeddingBatcher(counting, max_batch=8, max_wait_ms=0) as batcher:
        vectors = await batcher.embed(SENTENCES[:20])
    assert [len(batch) for batch in counting.batches] == [8, 8, 4]
    np.testing.assert_allclose(vectors, counting.inner.embed(SENTENCES[:20]), atol=1e-5)


async def test_an_error_reaches_the_failing_batch_only(counting: CountingEmbedder) -> None:
    counting.gate = threading.Event()
    async with EmbeddingBatcher(counting, max_batch=4, max_wait_ms=0) as batcher:
        blocker = asyncio.create_task(batcher.embed(["blocker"]))
        await asyncio.sleep(0.05)
        counting.fail_on = "poison"
        # Queued while the model is busy: batch 1 = these four, batch 2 = the last two.
        doomed = [asyncio.create_task(batcher.embed([t])) for t in ("a", "poison", "b", "c")]
        fine = [asyncio.create_task(batcher.embed([t])) for t in ("d", "e")]
        await asyncio.sleep(0.05)
        counting.gate.set()
        await blocker
        for task in doomed:
            with pytest.raises(ValueError, match="poison"):
                await task
        assert [vectors.shape for vectors in await asyncio.gather(*fine)] == [(1, 384)] * 2
        counting.fail_on = None
        again = await batcher.embed(["poison", "after"])  # the batcher still works
    assert again.shape == (2, 384)
    assert counting.batches[1] == ["a", "poison", "b", "c"]


async def test_cache_answers_repeated_texts(counting: CountingEmbedder) -> None:
    async with EmbeddingBatcher(counting, max_wait_ms=0, cache_size=2) as batcher:
        first = await batcher.embed(["what do I like?", "where do I live?"])
        again = await batcher.embed(["where do I live?", "what do I like?"])
        assert len(counting.batches) == 1
        np.testing.assert_array_equal(again, first[::-1])
        again[:] = 0  # the caller owns its array; the cache is untouched
        np.testing.assert_array_equal(await batcher.embed(["what do I like?"]), first[:1])
        await batcher.embed(["third text evicts the oldest"])
        await batcher.embed(["where do I live?"])  # evicted: computed again
    assert counting.batches[1:] == [["third text evicts the oldest"], ["where do I live?"]]


async def test_duplicates_are_embedded_once(counting: CountingEmbedder) -> None:
    async with EmbeddingBatcher(counting, max_wait_ms=20, cache_size=0) as batcher:
        a, b = await asyncio.gather(
            batcher.embed(["same", "same", "other"]), batcher.embed(["same"])
        )
    assert counting.batches == [["same", "other"]]
    np.testing.assert_array_equal(a[0], a[1])
    np.testing.assert_array_equal(a[0], b[0])


async def test_empty_input_and_bad_input(counting: CountingEmbedder) -> None:
    async with EmbeddingBatcher(counting) as batcher:
        assert (await batcher.embed([])).shape == (0, 384)
        with pytest.raises(TypeError):
            await batcher.embed("a string")
        with pytest.raises(TypeError):
            await batcher.embed(["ok", None])  # type: ignore[list-item]
    assert counting.batches == []


async def test_cancelled_caller_does_not_disturb_others(counting: CountingEmbedder) -> None:
    counting.gate = threading.Event()
    async with EmbeddingBatcher(counting, max_wait_ms=0) as batcher:
        blocker = asyncio.create_task(batcher.embed(["blocker"]))
        await asyncio.sleep(0.05)
        gone = asyncio.create_task(batcher.embed(["cancelled text"]))
        kept = asyncio.create_task(batcher.embed(["kept text"]))
        await asyncio.sleep(0)
        gone.cancel()
        counting.gate.set()
        await blocker
        assert (await kept).shape == (1, 384)
    assert ["kept text"] in counting.batches
    assert all("cancelled text" not in batch for batch in counting.batches)


async def test_aclose_finishes_queued_work_then_refuses(counting: CountingEmbedder) -> None:
    batcher = EmbeddingBatcher(counting, max_wait_ms=50)
    pending = asyncio.create_task(batcher.embed(["queued before close"]))
    await asyncio.sleep(0)
    await batcher.aclose()
    assert (await pending).shape == (1, 384)
    with pytest.raises(ServiceUnavailable):
        await batcher.embed(["too late"])
    await batcher.aclose()  # idempotent
