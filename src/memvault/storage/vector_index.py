"""An in-process vector and word index for backends that keep embeddings as BLOBs (SQLite).

One :class:`ScopeVectors` per (store, scope) holds that scope's active memories as one dense
matrix, searched by brute force: embeddings are unit length, so cosine similarity is a
matrix-vector product, which beats any approximate index up to ~100k vectors per scope. The
matrix is half precision (float16): the scan reads memory, not arithmetic, so half the bytes is
half the time (SimSIMD's kernels; numpy has no fast float16 product) and the cache holds twice
the memories. A cosine in float16 is within ~1e-3 of the float32 one: the index picks the
candidates and the backend scores them from the stored float32 embeddings.

In a large scope a search reads even less: beside each vector the index keeps the signs of its
components (one bit per dimension, 1/16 of the float16 bytes), ranks every row by how many signs
it shares with the query (Hamming distance), and compares only the best ``SHORTLIST`` (or 10 x
the limit) in float16. On the load benchmark's 10k-memory scopes the shortlist of 500 holds
~99.5% of a float32 scan's top 30 (bench/load reports it), for a sixth of the scan's CPU.

Beside the vectors, the words of each row (:class:`~memvault.storage.term_index.ScopeTerms`)
rank the full-text half of a search by bm25, with the same kind and expiry filters. A
:class:`ScopeView` is one snapshot of both with those filters applied once.

:class:`VectorCache` keeps recently used scopes within a byte budget (LRU of whole scopes). Each
index carries the *version* of the scope it reflects, ``(scope_row_id, generation)``, which only
ever grows; the backend compares it with the stored one to tell when another process changed the
scope, and applies its own writes to the cached index only when the index was exactly at the
version the write started from (:meth:`VectorCache.apply`).

Threading: one thread (the backend's writer) mutates an index; any number of threads search it.
Searches read one immutable snapshot of the arrays (:class:`_Arrays`). Appends write only to rows
beyond the published ``size`` and then publish a new snapshot; removals flip ``alive`` flags in
place (a search that raced a removal may still return that row; the backend re-checks rows in SQL);
compaction builds new arrays.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import simsimd

from memvault.models import ENTRY_KIND, MemoryKind
from memvault.storage import fts
from memvault.storage.term_index import ScopeTerms

Version = tuple[int, int]
"""``(scope_row_id, generation)``: compared lexicographically, it only ever grows."""

KINDS: tuple[str, ...] = (*(kind.value for kind in MemoryKind), ENTRY_KIND)
"""Every kind a row of the index may have: the memory kinds and memory entries."""
KIND_CODES: dict[str, int] = {kind: code for code, kind in enumerate(KINDS)}
NO_EXPIRY = np.iinfo(np.int64).max
VECTOR_DTYPE = np.float16
# Rows a search in a large scope compares in float16 (at least; see the module). It shortlists
# only when the eligible rows outnumber the shortlist PREFILTER_FACTOR times: below that, one
# float16 pass over them costs less than the two passes.
SHORTLIST = 500
PREFILTER_FACTOR = 4


def kind_code(kind: MemoryKind | str) -> int:
    """The index's code of a memory kind or of ``ENTRY_KIND``."""
    return KIND_CODES[kind.value if isinstance(kind, MemoryKind) else kind]


# Per row, beyond the vector and its sign bits: key (8) + expiry (8) + kind (1) + alive (1),
# plus the key -> slot dict (~100 bytes per entry in CPython).
_ROW_OVERHEAD = 8 + 8 + 1 + 1 + 100


def signs(vectors: np.ndarray) -> np.ndarray:
    """One bit per component, set where it is positive, packed 8 to a byte along the last
    axis (what the Hamming prefilter compares)."""
    return np.packbits(vectors > 0, axis=-1)


@dataclass(frozen=True)
class VectorRow:
    """One active memory as the index sees it. ``key`` is the backend's integer row key;
    ``text`` what the full-text index holds for it (content, or an entry's
    :func:`~memvault.models.entry_text`)."""

    key: int
    kind: MemoryKind | str
    expires_at: int | None
    embedding: np.ndarray
    text: str = ""


class _Arrays(NamedTuple):
    vectors: np.ndarray  # (capacity, dim) VECTOR_DTYPE
    signs: np.ndarray  # (capacity, ceil(dim / 8)) uint8: see signs()
    keys: np.ndarray  # (capacity,) int64
    kinds: np.ndarray  # (capacity,) int8
    expires: np.ndarray  # (capacity,) int64
    alive: np.ndarray  # (capacity,) bool
    terms: ScopeTerms  # the words of each slot
    size: int


def _allocate(capacity: int, dim: int, terms: ScopeTerms | None = None) -> _Arrays:
    return _Arrays(
        vectors=np.zeros((capacity, dim), dtype=VECTOR_DTYPE),
        signs=np.zeros((capacity, (dim + 7) // 8), dtype=np.uint8),
        keys=np.zeros(capacity, dtype=np.int64),
        kinds=np.zeros(capacity, dtype=np.int8),
        expires=np.zeros(capacity, dtype=np.int64),
        alive=np.zeros(capacity, dtype=bool),
        terms=ScopeTerms(capacity) if terms is None else terms,
        size=0,
    )


class ScopeVectors:
    """The vectors of one scope's active memories."""

    def __init__(self, dim: int, version: Version, capacity: int = 16) -> None:
        self.dim = dim
        self.version = version
        self._arrays = _allocate(max(capacity, 16), dim)
        self._slots: dict[int, int] = {}

    @classmethod
    def from_arrays(
        cls,
        *,
        dim: int,
        version: Version,
        keys: np.ndarray,
        kinds: np.ndarray,
        expires: np.ndarray,
        vectors: np.ndarray,
        terms: Sequence[Sequence[str]] = (),
        normalize: Callable[[list[str]], list[str]] | None = None,
    ) -> ScopeVectors:
        """Build an index from column arrays (what a bulk load produces), ``terms`` holding each
        row's :func:`~memvault.storage.fts.stems` (none: no words), or its tokens and
        ``normalize`` what turns distinct tokens into stems; takes ownership."""
        n = len(keys)
        index = cls(dim, version, capacity=0)
        if n:
            vectors = vectors.reshape(n, dim).astype(VECTOR_DTYPE, copy=False)
            index._arrays = _Arrays(
                vectors=vectors,
                signs=signs(vectors),
                keys=keys.astype(np.int64, copy=False),
                kinds=kinds.astype(np.int8, copy=False),
                expires=expires.astype(np.int64, copy=False),
                alive=np.ones(n, dtype=bool),
                terms=ScopeTerms.from_rows(terms or [()] * n, normalize=normalize),
                size=n,
            )
            index._slots = {int(key): slot for slot, key in enumerate(keys.tolist())}
        return index

    def __len__(self) -> int:
        return len(self._slots)

    @property
    def nbytes(self) -> int:
        capacity = len(self._arrays.keys)
        arrays = self._arrays
        row = self.dim * arrays.vectors.itemsize + arrays.signs.shape[1] + _ROW_OVERHEAD
        return capacity * row + arrays.terms.nbytes

    def view(self, *, kinds: Collection[MemoryKind | str], now: int) -> ScopeView:
        """The index as it is now, restricted to live rows of ``kinds`` unexpired at ``now``."""
        return ScopeView(self._arrays, kinds, now)

    def search(
        self, query: np.ndarray, *, kinds: Collection[MemoryKind | str], now: int, limit: int
    ) -> list[tuple[int, float]]:
        """See :meth:`ScopeView.nearest`."""
        return self.view(kinds=kinds, now=now).nearest(query, limit)

    def text_search(
        self, terms: Sequence[str], *, kinds: Collection[MemoryKind | str], now: int, limit: int
    ) -> list[tuple[int, float]]:
        """See :meth:`ScopeView.best_text`."""
        return self.view(kinds=kinds, now=now).best_text(terms, limit)

    # -- mutation (one thread only) --------------------------------------------------------

    def upsert(self, rows: Iterable[VectorRow]) -> None:
        """Insert rows, replacing any row with the same key."""
        rows = list(rows)
        if not rows:
            return
        self.remove(row.key for row in rows)
        arrays = self._arrays
        n, k = arrays.size, len(rows)
        if n + k > len(arrays.keys):
            arrays = self._compacted(extra=k)
            n = arrays.size
        for offset, row in enumerate(rows):
            slot = n + offset
            arrays.vectors[slot] = row.embedding
            arrays.signs[slot] = signs(arrays.vectors[slot])
            arrays.keys[slot] = row.key
            arrays.kinds[slot] = kind_code(row.kind)
            arrays.expires[slot] = NO_EXPIRY if row.expires_at is None else row.expires_at
            arrays.alive[slot] = True
            self._slots[row.key] = slot
        arrays.terms.add([(n + offset, fts.stems(fts.words(row.text)))
                          for offset, row in enumerate(rows)])
        self._arrays = arrays._replace(size=n + k)

    def remove(self, keys: Iterable[int]) -> None:
        """Drop the rows with these keys (absent keys are ignored)."""
        arrays = self._arrays
        for key in keys:
            slot = self._slots.pop(key, None)
            if slot is not None:
                arrays.alive[slot] = False
                arrays.terms.discard(slot)
        dead = arrays.size - len(self._slots)
        if dead > 64 and dead > arrays.size // 2:
            self._arrays = self._compacted(extra=0)

    def _compacted(self, extra: int) -> _Arrays:
        """New arrays holding the live rows, with room for ``extra`` more; updates the slot map."""
        old = self._arrays
        live = np.flatnonzero(old.alive[: old.size])
        count = len(live)
        capacity = count + extra + max(16, count // 4)
        fresh = _allocate(capacity, self.dim, old.terms.compacted(live, capacity))
        fresh.vectors[:count] = old.vectors[live]
        fresh.signs[:count] = old.signs[live]
        fresh.keys[:count] = old.keys[live]
        fresh.kinds[:count] = old.kinds[live]
        fresh.expires[:count] = old.expires[live]
        fresh.alive[:count] = True
        self._slots = {key: slot for slot, key in enumerate(fresh.keys[:count].tolist())}
        return fresh._replace(size=count)


class ScopeView:
    """One snapshot of a scope's index with the kind and expiry filters applied: both halves of
    a search read the same rows and share one eligibility mask."""

    def __init__(self, arrays: _Arrays, kinds: Collection[MemoryKind | str], now: int) -> None:
        self._arrays = arrays
        self._eligible = _eligible(arrays, kinds, now) if arrays.size and kinds else None

    def nearest(self, query: np.ndarray | None, limit: int) -> list[tuple[int, float]]:
        """The ``limit`` best ``(key, cosine)`` pairs, best first (cosines in half precision:
        within ~1e-3; in a large scope, among the sign-bit shortlist: see the module); none
        without a query."""
        arrays, mask = self._arrays, self._eligible
        if mask is None or query is None or limit <= 0:
            return []
        candidates = np.flatnonzero(mask)
        if len(candidates) == 0:
            return []
        query16 = query.astype(VECTOR_DTYPE)[None]
        n = arrays.size
        shortlist = max(SHORTLIST, 10 * limit)
        # SimSIMD's kernels run on the calling thread without the GIL: concurrent searches
        # scale (BLAS's own threads would contend), and there is no float16 BLAS anyway.
        if len(candidates) > PREFILTER_FACTOR * shortlist:
            distances = np.asarray(simsimd.cdist(
                signs(query)[None], arrays.signs[:n], metric="hamming", dtype="bin8",
                out_dtype="float32",
            ))[0]  # fmt: skip
            if len(candidates) < n:
                distances = distances[candidates]
            # Whole counts of differing bits: as uint16, the partition takes a fifth of the time.
            closest = np.argpartition(distances.astype(np.uint16), shortlist - 1)[:shortlist]
            candidates = candidates[closest]
            scores = np.asarray(simsimd.cdist(
                query16, arrays.vectors[candidates], metric="dot", out_dtype="float32"
            ))[0]  # fmt: skip
        else:
            scores = np.asarray(simsimd.cdist(
                query16, arrays.vectors[:n], metric="dot", out_dtype="float32"
            ))[0][candidates]  # fmt: skip
        k = min(limit, len(candidates))
        if k < len(candidates):
            top = np.argpartition(-scores, k - 1)[:k]
        else:
            top = np.arange(len(candidates))
        top = top[np.argsort(-scores[top], kind="stable")]
        keys = arrays.keys[candidates[top]]
        return list(zip(keys.tolist(), scores[top].tolist(), strict=True))

    def best_text(self, terms: Sequence[str], limit: int) -> list[tuple[int, float]]:
        """The ``limit`` best ``(key, bm25)`` pairs among rows holding any of ``terms``
        (:func:`~memvault.storage.fts.search_terms`), best first."""
        arrays, mask = self._arrays, self._eligible
        if mask is None or limit <= 0 or not terms:
            return []
        hits = arrays.terms.search(
            terms, alive=arrays.alive[: arrays.size], eligible=mask, limit=limit
        )
        return [(int(arrays.keys[slot]), score) for slot, score in hits]


def _eligible(arrays: _Arrays, kinds: Collection[MemoryKind | str], now: int) -> np.ndarray:
    """Which visible slots hold live, unexpired rows of ``kinds``."""
    n = arrays.size
    allowed = np.zeros(len(KINDS), dtype=bool)
    allowed[[kind_code(kind) for kind in kinds]] = True
    mask = arrays.alive[:n] & allowed.take(arrays.kinds[:n])
    expires = arrays.expires[:n]
    if n and expires.min() <= now:  # most scopes hold nothing that expires
        mask &= expires > now
    return mask


class VectorCache:
    """Scope indexes kept within ``max_bytes``, least recently used evicted first. Thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], ScopeVectors] = OrderedDict()
        self._sizes: dict[tuple[str, str], int] = {}
        self._total = 0

    @property
    def nbytes(self) -> int:
        return self._total

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str]) -> ScopeVectors | None:
        with self._lock:
            index = self._entries.get(key)
            if index is not None:
                self._entries.move_to_end(key)
            return index

    def put(self, key: tuple[str, str], index: ScopeVectors) -> None:
        """Cache ``index`` unless the cache already holds a newer version of the scope, or the
        index alone exceeds the budget."""
        with self._lock:
            current = self._entries.get(key)
            if current is not None and current.version >= index.version:
                return
            if index.nbytes > self.max_bytes:
                self._pop(key)
                return
            self._pop(key)
            self._entries[key] = index
            self._account(key, index)
            self._evict()

    def apply(
        self,
        key: tuple[str, str],
        before: Version | None,
        after: Version,
        change: Callable[[ScopeVectors], None],
    ) -> None:
        """Apply a committed write that moved the scope from ``before`` to ``after``.

        The cached index is changed only when it is exactly at ``before``; otherwise it missed
        some other change and is dropped (the next search reloads it)."""
        with self._lock:
            index = self._entries.get(key)
            if index is None or index.version == after:
                return
            if index.version != before:
                self._pop(key)
                return
            try:
                change(index)
            except Exception:
                self._pop(key)
                raise
            index.version = after
            if index.nbytes > self.max_bytes:
                self._pop(key)
                return
            self._account(key, index)
            self._evict()

    def drop(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._pop(key)

    def drop_store(self, store_id: str) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == store_id]:
                self._pop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self._total = 0

    def _account(self, key: tuple[str, str], index: ScopeVectors) -> None:
        size = index.nbytes
        self._total += size - self._sizes.get(key, 0)
        self._sizes[key] = size

    def _pop(self, key: tuple[str, str]) -> None:
        if self._entries.pop(key, None) is not None:
            self._total -= self._sizes.pop(key)

    def _evict(self) -> None:
        while self._total > self.max_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            self._pop(oldest)


def stack_embeddings(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """One ``(len(blobs), dim)`` float32 matrix from little-endian float32 BLOBs."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    # Read-only, which is fine: an index never writes into the rows it was built with (growing
    # reallocates), only into its own spare capacity.
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
