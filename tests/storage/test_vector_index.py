"""The in-process vector index against a brute-force model, and the cache's rules."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.models import MemoryKind
from memvault.storage.vector_index import (
    PREFILTER_FACTOR,
    SHORTLIST,
    ScopeVectors,
    VectorCache,
    VectorRow,
)
from tests.storage.conftest import unit_vector, unit_vectors

KINDS = list(MemoryKind)


def row(key: int, seed: int, kind: MemoryKind = MemoryKind.USER_PROFILE,
        expires_at: int | None = None) -> VectorRow:  # fmt: skip
    return VectorRow(key, kind, expires_at, unit_vector(seed))


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.booleans(), st.lists(st.integers(0, 80), min_size=1, max_size=40)),
        min_size=1, max_size=25,
    ),
    query_seed=st.integers(0, 1000),
)  # fmt: skip
def test_index_matches_brute_force(steps: list[tuple[bool, list[int]]], query_seed: int) -> None:
    index = ScopeVectors(8, (1, 1))
    model: dict[int, VectorRow] = {}
    seeds = iter(range(10**6))  # distinct vectors, so no ties
    for insert, keys in steps:
        if insert:
            rows = {key: row(key, next(seeds), KINDS[key % 3], 100 + key) for key in keys}
            index.upsert(rows.values())
            model.update(rows)
        else:
            index.remove(keys)
            for key in keys:
                model.pop(key, None)
        assert len(index) == len(model)
    query = unit_vector(query_seed + 10_000)
    for kinds, now in ((KINDS, 0), (KINDS[:1], 0), (KINDS, 140)):
        live = [r for r in model.values() if r.kind in kinds and r.expires_at > now]
        exact = {r.key: float(r.embedding @ query) for r in live}
        hits = index.search(query, kinds=kinds, now=now, limit=10)
        assert len(hits) == min(10, len(live))
        assert [score for _, score in hits] == sorted((s for _, s in hits), reverse=True)
        # The index compares in half precision: it may swap rows whose cosines are within
        # ~1e-3 of each other, never pass over one that is clearly better.
        tenth = sorted(exact.values(), reverse=True)[len(hits) - 1] if hits else 0.0
        for key, score in hits:
            assert abs(score - exact[key]) <= 2e-3
            assert exact[key] >= tenth - 4e-3


def test_from_arrays_then_grow() -> None:
    vectors = unit_vectors(5)
    index = ScopeVectors.from_arrays(
        dim=8, version=(1, 1), keys=np.arange(5), kinds=np.zeros(5),
        expires=np.full(5, 2**62), vectors=vectors,
    )  # fmt: skip
    index.upsert([row(10, 99)])
    index.remove([0])
    hits = index.search(unit_vector(99), kinds=KINDS, now=0, limit=3)
    assert hits[0][0] == 10
    assert 0 not in [key for key, _ in index.search(vectors[0], kinds=KINDS, now=0, limit=6)]
    assert index.search(vectors[0], kinds=[], now=0, limit=6) == []
    assert index.search(vectors[0], kinds=KINDS, now=0, limit=0) == []


def clustered(count: int, seed: int, dim: int = 384) -> np.ndarray:
    """Unit vectors shaped like a sentence model's: a direction all share, topics, and noise
    enough that near neighbours are close calls (a shortlist of 100 finds 78% of them)."""
    shared = np.random.default_rng(0)
    common, topics = shared.standard_normal(dim), shared.standard_normal((50, dim))
    rng = np.random.default_rng(seed)
    vectors = (0.6 * common + topics[rng.integers(0, 50, count)]
               + 2.5 * rng.standard_normal((count, dim)))  # fmt: skip
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


LARGE = PREFILTER_FACTOR * SHORTLIST + 1_000  # a scope the sign-bit shortlist serves


def test_large_scope_finds_what_the_full_scan_finds() -> None:
    vectors = clustered(LARGE, seed=1)
    built = ScopeVectors.from_arrays(
        dim=384, version=(1, 1), keys=np.arange(LARGE), kinds=np.zeros(LARGE),
        expires=np.full(LARGE, 2**62), vectors=vectors,
    )  # fmt: skip
    grown = ScopeVectors(384, (1, 1))
    grown.upsert(VectorRow(key, MemoryKind.USER_PROFILE, None, vector)
                 for key, vector in enumerate(vectors))  # fmt: skip
    found = 0
    for query in clustered(40, seed=2):
        exact = vectors @ query
        best = set(np.argsort(-exact)[:10].tolist())
        hits = built.search(query, kinds=KINDS, now=0, limit=10)
        assert hits == grown.search(query, kinds=KINDS, now=0, limit=10)
        assert [score for _, score in hits] == sorted((s for _, s in hits), reverse=True)
        for key, score in hits:
            assert abs(score - exact[key]) <= 2e-3
        found += len(best & {key for key, _ in hits})
    assert found / 400 >= 0.95  # 0.98 (the misses are close calls in float16)


def test_large_scope_keeps_its_filters() -> None:
    vectors = clustered(LARGE, seed=3)
    kinds = np.where(np.arange(LARGE) % 2 == 0, 0, 1)  # user profile, chat summary
    expires = np.where(np.arange(LARGE) % 7 == 0, 50, 2**62)
    index = ScopeVectors.from_arrays(
        dim=384, version=(1, 1), keys=np.arange(LARGE), kinds=kinds, expires=expires,
        vectors=vectors,
    )  # fmt: skip
    for key in (2, 14, 3):  # a user profile row, one that expired at 50, a chat summary
        hits = index.search(vectors[key], kinds=[MemoryKind.USER_PROFILE], now=100, limit=20)
        assert len(hits) == 20
        assert all(k % 2 == 0 and k % 7 != 0 for k, _ in hits)
        assert (hits[0][0] == key) == (key == 2)
    index.remove(range(0, LARGE, 2))
    hits = index.search(vectors[4], kinds=KINDS, now=0, limit=30)
    assert len(hits) == 30 and all(k % 2 == 1 for k, _ in hits)


def test_cache_versions() -> None:
    cache = VectorCache(max_bytes=10**6)
    key = ("memstore_a", "u")
    index = ScopeVectors(8, (1, 3))
    cache.put(key, index)
    cache.put(key, ScopeVectors(8, (1, 2)))  # older: ignored
    assert cache.get(key) is index

    cache.apply(key, (1, 3), (1, 4), lambda ix: ix.upsert([row(1, 1)]))
    assert cache.get(key) is index and index.version == (1, 4) and len(index) == 1
    cache.apply(key, (1, 4), (1, 4), lambda ix: ix.upsert([row(2, 2)]))  # already there
    assert len(index) == 1
    cache.apply(key, (1, 6), (1, 7), lambda ix: None)  # missed (1, 5): dropped
    assert cache.get(key) is None

    newer = ScopeVectors(8, (2, 1))
    cache.put(key, newer)
    cache.put(("memstore_b", "u"), ScopeVectors(8, (3, 1)))
    cache.drop_store("memstore_a")
    assert cache.get(key) is None and cache.get(("memstore_b", "u")) is not None
    assert cache.nbytes == cache.get(("memstore_b", "u")).nbytes  # type: ignore[union-attr]


def test_cache_evicts_least_recently_used() -> None:
    one = ScopeVectors(8, (1, 1)).nbytes
    cache = VectorCache(max_bytes=2 * one)
    for name in "abc":
        cache.put(("s", name), ScopeVectors(8, (ord(name), 1)))
        if name == "b":
            cache.get(("s", "a"))
    assert cache.get(("s", "a")) is not None
    assert cache.get(("s", "b")) is None
    assert cache.get(("s", "c")) is not None
    assert cache.nbytes <= cache.max_bytes
