"""Benchmark of the local embedding model: throughput by batch size, single-query latency, and
the same work through ``EmbeddingBatcher``, against a plain numpy forward pass of the same model.

    python -m bench.embeddings [--quick]

Texts: short sentences of 8-20 words, the size of memories and search queries. Every number
includes tokenisation. Throughputs are the best of a few rounds, since other processes on a
small machine steal time from any single one.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import numpy as np
import onnxruntime

from memvault.providers.batching import EmbeddingBatcher
from memvault.providers.local_minilm import MiniLMEmbedder, load_weights, pad

SENTENCES = [
    "The user prefers dark mode in every editor they use.",
    "Remind me to water the plants on Tuesday morning before work.",
    "She moved from Lisbon to Berlin in 2019 to join a robotics startup.",
    "Always run the database migrations before deploying a new version of the API server.",
    "I'm allergic to peanuts, so never suggest recipes with them.",
    "My favourite programming language is Python, but I have started learning Rust this year.",
    "The quarterly planning meeting moved to Thursday afternoon at three.",
    "He drinks his coffee black with no sugar every morning.",
    "Our team uses trunk-based development with short-lived feature branches and daily reviews.",
    "Send invoices to the finance address, not to the general support inbox.",
    "The customer asked for a refund because the package arrived two weeks late.",
    "Use metric units when you give me distances or weights.",
    "My daughter's birthday is on the fourth of May and she loves dinosaurs.",
    "Prefer concise answers with code examples over long explanations.",
    "The staging cluster runs in the west Europe region and production in north Europe.",
    "I usually work from home on Mondays and Fridays.",
    "When summarising meetings, list the decisions first and then the open questions.",
    "The vegetarian restaurant near the office closes early on Sundays.",
    "Our on-call rotation changes every Wednesday at noon local time.",
    "Book aisle seats for flights longer than three hours whenever possible.",
]
BATCH_SIZES = (1, 8, 32, 64)


def numpy_forward(weights: dict[str, np.ndarray]) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The same BERT encoder, mean pooling and normalisation in plain numpy (the baseline)."""
    heads, hidden = 12, weights["embeddings.word_embeddings.weight"].shape[1]
    head_dim = hidden // heads
    w = {name: np.ascontiguousarray(array) for name, array in weights.items()}
    layers = 1 + max(int(n.split(".")[2]) for n in w if n.startswith("encoder.layer."))
    kernels = {n: np.ascontiguousarray(a.T) for n, a in w.items() if a.ndim == 2 and "encoder" in n}

    def layer_norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[prefix + ".weight"] + w[prefix + ".bias"]

    def linear(x: np.ndarray, prefix: str) -> np.ndarray:
        return x @ kernels[prefix + ".weight"] + w[prefix + ".bias"]

    def erf(x: np.ndarray) -> np.ndarray:  # Abramowitz & Stegun 7.1.26, |error| < 1.5e-7
        a = np.abs(x)
        t = 1 / (1 + 0.3275911 * a)
        poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t
                + 0.254829592) * t  # fmt: skip
        return np.sign(x) * (1 - poly * np.exp(-a * a))

    def forward(input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, seq = input_ids.shape
        x = (w["embeddings.word_embeddings.weight"][input_ids]
             + w["embeddings.position_embeddings.weight"][:seq]
             + w["embeddings.token_type_embeddings.weight"][0])  # fmt: skip
        x = layer_norm(x, "embeddings.LayerNorm")
        bias = np.where(mask[:, None, None, :] > 0, 0, np.finfo(np.float32).min)
        bias = bias.astype(np.float32)

        def heads_of(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

        for i in range(layers):
            p = f"encoder.layer.{i}"
            q = heads_of(linear(x, p + ".attention.self.query"))
            k = heads_of(linear(x, p + ".attention.self.key"))
            v = heads_of(linear(x, p + ".attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head_dim)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
            x = layer_norm(linear(context, p + ".attention.output.dense") + x,
                           p + ".attention.output.LayerNorm")  # fmt: skip
            h = linear(x, p + ".intermediate.dense")
            h = 0.5 * h * (1 + erf(h / np.float32(np.sqrt(2))))
            x = layer_norm(linear(h, p + ".output.dense") + x, p + ".output.LayerNorm")
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)

    return forward


def rate(embed: Callable[[Sequence[str]], object], batch: int, seconds: float) -> float:
    """Sentences per second embedding ``batch`` sentences a call, for about ``seconds``."""
    texts = [SENTENCES[i % len(SENTENCES)] for i in range(batch)]
    embed(texts)
    calls, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds or calls < 1:
        embed(texts)
        calls += 1
    return batch * calls / elapsed


def latencies(embed: Callable[[Sequence[str]], object], count: int, idle: float = 0) -> list[float]:
    samples = []
    for i in range(count):
        if idle:
            time.sleep(idle)
        started = time.perf_counter()
        embed([SENTENCES[i % len(SENTENCES)]])
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def pct(samples: list[float], q: int) -> float:
    return float(np.percentile(samples, q))


async def batcher_numbers(
    embedder: MiniLMEmbedder, callers: int, lone: int
) -> tuple[float, float, list[float]]:
    """Sentences/s for ``callers`` concurrent one-sentence calls through the batcher and for
    the same texts passed to the model 64 at a time, plus lone-query latencies (ms)."""
    texts = [f"{SENTENCES[i % len(SENTENCES)]} ({i})" for i in range(callers)]  # all distinct
    started = time.perf_counter()
    for start in range(0, callers, 64):
        embedder.embed(texts[start : start + 64])
    direct = callers / (time.perf_counter() - started)
    async with EmbeddingBatcher(embedder, max_batch=64, max_wait_ms=2) as batcher:
        await batcher.embed(["warm up"])
        started = time.perf_counter()
        await asyncio.gather(*(batcher.embed([text]) for text in texts))
        batched = callers / (time.perf_counter() - started)
        samples = []
        for i in range(lone):
            begun = time.perf_counter()
            await batcher.embed([f"lone query {i}"])
            samples.append((time.perf_counter() - begun) * 1000)
    return batched, direct, samples


def run(quick: bool = False) -> str:
    """The benchmark's Markdown section (``quick``: one short round of everything)."""
    rounds, seconds, lat_count = (1, 0.25, 200) if quick else (6, 0.6, 1000)
    embedder = MiniLMEmbedder()
    started = time.perf_counter()
    embedder.load()
    load_s = time.perf_counter() - started
    forward = numpy_forward(load_weights(embedder.model_dir))

    def numpy_embed(texts: Sequence[str]) -> np.ndarray:
        return forward(*pad(embedder.tokenize(texts)))

    # onnxruntime first: numpy's BLAS threads keep spinning after use and would slow it down.
    best: dict[str, dict[int, float]] = {"onnx": {}, "numpy": {}}
    for _ in range(rounds):
        for batch in BATCH_SIZES:
            value = rate(embedder.embed, batch, seconds)
            best["onnx"][batch] = max(best["onnx"].get(batch, 0.0), value)
    hot = latencies(embedder.embed, lat_count)
    idle = latencies(embedder.embed, 20 if quick else 100, idle=0.02)
    through_batcher, direct_64, lone = asyncio.run(
        batcher_numbers(embedder, 256 if quick else 1024, 50 if quick else 200)
    )
    drift = float(np.abs(numpy_embed(SENTENCES) - embedder.embed(SENTENCES)).max())
    for _ in range(rounds):
        for batch in BATCH_SIZES:
            value = rate(numpy_embed, batch, seconds / 2)
            best["numpy"][batch] = max(best["numpy"].get(batch, 0.0), value)
    numpy_hot = latencies(numpy_embed, lat_count // 4)

    out = [
        "## Embeddings: local all-MiniLM-L6-v2",
        "",
        f"onnxruntime {onnxruntime.__version__}, numpy {np.__version__};"
        f" {embedder.threads} intra-op threads; model load {load_s:.1f} s. Runtime: an ONNX"
        " graph of standard operators built from the safetensors weights at load, fused by"
        " onnxruntime. Baseline: the same model as a numpy forward pass (largest difference"
        f" between their vectors: {drift:.1e}). Sentences of 8-20 words, tokenisation included;"
        f" best of {rounds} round(s).",
        "",
        "| batch size | onnxruntime | numpy baseline | speed-up |",
        "|---:|---:|---:|---:|",
    ]
    for batch in BATCH_SIZES:
        fast, slow = best["onnx"][batch], best["numpy"][batch]
        out.append(f"| {batch} | {fast:,.0f} sentences/s | {slow:,.0f} sentences/s"
                   f" | {fast / slow:.1f}x |")  # fmt: skip
    out += [
        "",
        "| single query | p50 | p95 |",
        "|---|---:|---:|",
        f"| onnxruntime, back to back | {pct(hot, 50):.2f} ms | {pct(hot, 95):.2f} ms |",
        f"| onnxruntime, after 20 ms idle | {pct(idle, 50):.2f} ms | {pct(idle, 95):.2f} ms |",
        f"| numpy baseline, back to back | {pct(numpy_hot, 50):.2f} ms"
        f" | {pct(numpy_hot, 95):.2f} ms |",
        f"| through `EmbeddingBatcher` (max_wait_ms=2), alone | {pct(lone, 50):.2f} ms"
        f" | {pct(lone, 95):.2f} ms |",
        "",
        f"Through `EmbeddingBatcher` (max_batch=64), {256 if quick else 1024} concurrent"
        f" one-sentence callers: **{through_batcher:,.0f} sentences/s**, against"
        f" {direct_64:,.0f} sentences/s handing the same texts to the model 64 at a time"
        f" ({through_batcher / direct_64:.2f}x).",
        "",
        "A query after an idle gap is slower than back-to-back queries"
        f" ({statistics.median(idle) / statistics.median(hot):.1f}x at p50), most likely because"
        " the caches have gone cold: the encoder's float32 weights alone are 43 MB.",
        "",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
