"""BM25 over one scope's words, in memory, beside its vectors (:mod:`.vector_index`).

The SQLite backend ranked a search's full-text half with FTS5's ``bm25()``: at 10k memories a
scope, a question's words match ~1,200 of them, and FTS5 looks up each match's length in a B-tree
before it can rank, ~2.7 ms of CPU a query, more than the whole vector scan. Here each word
(:func:`memvault.storage.fts.stems`) maps to numpy arrays of the slots holding it and how often,
and a query is a few vectorised sums: ~0.1 ms. The score is FTS5's bm25 (k1 = 1.2, b = 0.75,
idf = ln((N - n + 0.5) / (n + 0.5)), at least 1e-6), with N, n and the average length counted
over the scope's live rows.

Threading is :class:`~memvault.storage.vector_index.ScopeVectors`'s: one writer adds rows in
slots beyond what readers see (they ignore postings at or past their snapshot's size) and
replaces a word's arrays whole, never edits them; compaction builds a new index.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

K1 = 1.2
B = 0.75
_NO_POSTINGS = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
# A word's two arrays and its dict entry, beyond 8 bytes a posting.
_WORD_OVERHEAD = 250


class ScopeTerms:
    """Postings of one scope's rows by slot. ``capacity``: slots with room for a length."""

    def __init__(self, capacity: int = 16) -> None:
        self._postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lengths = np.zeros(max(capacity, 16), dtype=np.int32)
        self._total_length = 0
        self._count = 0

    @classmethod
    def from_rows(
        cls,
        rows: Sequence[Sequence[str]],
        capacity: int = 0,
        normalize: Callable[[list[str]], list[str]] | None = None,
    ) -> ScopeTerms:
        """The index of ``rows[slot]`` = that slot's words, every slot live. ``normalize`` maps
        a list of distinct tokens to their words (stemming, say): a scope's 10k rows hold ~20
        tokens each but a few thousand distinct ones, so it is called once per distinct token."""
        n = len(rows)
        index = cls(max(capacity, n))
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=n)
        every = list(itertools.chain.from_iterable(rows))
        tokens = list(dict.fromkeys(every))
        ids = {token: i for i, token in enumerate(tokens)}
        token_ids = np.fromiter(map(ids.__getitem__, every), dtype=np.int64, count=len(every))
        names = normalize(tokens) if normalize else tokens
        if normalize:  # tokens with one word in common ("tea", "teas") share one id
            word_ids: dict[str, int] = {}
            remap = np.fromiter((word_ids.setdefault(word, len(word_ids)) for word in names),
                                dtype=np.int64, count=len(names))
            token_ids = remap[token_ids]
            names = list(word_ids)
        # One sort of (word, slot) pairs gives every word's slots in order and their counts.
        slots = np.repeat(np.arange(n, dtype=np.int64), lengths)
        pairs, tfs = np.unique(token_ids * max(n, 1) + slots, return_counts=True)
        words, slots = np.divmod(pairs, max(n, 1))
        starts = np.flatnonzero(np.diff(words, prepend=-1))
        ends = np.append(starts[1:], len(words))[: len(starts)]
        slots32, tfs32 = slots.astype(np.int32), tfs.astype(np.float32)
        for word, start, end in zip(words[starts].tolist(), starts.tolist(), ends.tolist(),
                                    strict=True):  # fmt: skip
            index._postings[names[word]] = (slots32[start:end], tfs32[start:end])
        index._lengths[:n] = lengths
        index._total_length = int(lengths.sum())
        index._count = len(pairs)
        return index

    @property
    def nbytes(self) -> int:
        return self._lengths.nbytes + 8 * self._count + _WORD_OVERHEAD * len(self._postings)

    def add(self, rows: Sequence[tuple[int, Sequence[str]]]) -> None:
        """Index new ``(slot, words)`` rows (in slots beyond every slot readers can see yet).
        Each word's arrays are copied once per call, however many of the rows hold it."""
        if not rows:
            return
        top = max(slot for slot, _ in rows)
        if top >= len(self._lengths):
            grown = np.zeros(max(top + 1, 2 * len(self._lengths)), dtype=np.int32)
            grown[: len(self._lengths)] = self._lengths
            self._lengths = grown
        new: dict[str, tuple[list[int], list[int]]] = {}
        for slot, terms in rows:
            for term, tf in Counter(terms).items():
                slots, tfs = new.setdefault(term, ([], []))
                slots.append(slot)
                tfs.append(tf)
            self._lengths[slot] = len(terms)
            self._total_length += len(terms)
        for term, (slots, tfs) in new.items():
            old_slots, old_tfs = self._postings.get(term, _NO_POSTINGS)
            self._postings[term] = (
                np.concatenate([old_slots, np.array(slots, dtype=np.int32)]),
                np.concatenate([old_tfs, np.array(tfs, dtype=np.float32)]),
            )
            self._count += len(slots)

    def discard(self, slot: int) -> None:
        """The row in ``slot`` is gone (its postings stay until compaction; readers skip dead
        slots)."""
        self._total_length -= int(self._lengths[slot])

    def compacted(self, live: np.ndarray, capacity: int) -> ScopeTerms:
        """A new index of the ``live`` slots, renumbered ``0..len(live)-1`` in that order."""
        fresh = ScopeTerms(capacity)
        renumber = np.full(len(self._lengths), -1, dtype=np.int32)
        renumber[live] = np.arange(len(live), dtype=np.int32)
        for term, (slots, tfs) in self._postings.items():
            moved = renumber[slots]
            kept = moved >= 0
            if kept.any():
                fresh._postings[term] = (moved[kept], tfs[kept])
                fresh._count += int(kept.sum())
        fresh._lengths[: len(live)] = self._lengths[live]
        fresh._total_length = int(fresh._lengths[: len(live)].sum())
        return fresh

    def search(
        self, terms: Sequence[str], *, alive: np.ndarray, eligible: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The best ``limit`` ``(slot, bm25)`` among ``eligible`` slots holding any of
        ``terms``, best first. ``alive`` and ``eligible`` are boolean over the visible slots."""
        size = len(alive)
        live = int(np.count_nonzero(alive))
        if live == 0 or limit <= 0:
            return []
        average = max(self._total_length / live, 1e-9)
        lengths = self._lengths
        scores: np.ndarray | None = None
        for term in dict.fromkeys(terms):
            slots, tfs = self._postings.get(term, _NO_POSTINGS)
            if len(slots) and slots[-1] >= size:
                visible = slots < size
                slots, tfs = slots[visible], tfs[visible]
            held = alive[slots]
            if not held.any():
                continue
            slots, tfs = slots[held], tfs[held]
            n = len(slots)
            idf = math.log((live - n + 0.5) / (n + 0.5))
            idf = idf if idf > 0 else 1e-6
            norm = K1 * (1 - B + B * lengths[slots] / average)
            if scores is None:
                scores = np.zeros(size, dtype=np.float32)
            scores[slots] += idf * tfs * (K1 + 1) / (tfs + norm)
        if scores is None:
            return []
        found = np.flatnonzero((scores > 0) & eligible)
        if len(found) == 0:
            return []
        values = scores[found]
        if len(found) > limit:
            best = np.argpartition(-values, limit - 1)[:limit]
            found, values = found[best], values[best]
        order = np.lexsort((found, -values))
        return list(zip(found[order].tolist(), values[order].tolist(), strict=True))
