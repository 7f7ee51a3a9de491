"""Ranking: turn a backend's candidate lists into one ranking.

:class:`Ranking` is what :meth:`~memvault.engine.service.MemoryService.search` uses:

* **meaning first, words second**: a memory's score is its cosine similarity to the query (from
  its stored embedding, whichever list found it) plus ``LEXICAL_WEIGHT`` x its full-text score
  relative to the best text match. Rank fusion (what search did before; bench/quality keeps
  it as a baseline) let one shared word ("cat", "work") outrank the memory that answers in
  other words; scores keep how close each match is;
* **dates**: a query naming a period ("in May 2023", "last spring": :mod:`.temporal`) adds
  ``PERIOD_BONUS`` to the memories about that period (written in it, or naming a date in it),
  so they come first, ordered by relevance among themselves;
* **a second round** for questions whose answer spans memories ("which city does the coworker
  who recommended The Overstory live in now?" needs "Jonah recommended The Overstory" and "Jonah
  is moving to Portland"): the names (capitalised words: people, places, things) that the best
  memory adds to the query are searched in full text, and what that finds is lifted by
  ``SECOND_WEIGHT``, never past the memory that led to it.

The weights were chosen on the development half of ``bench/quality`` and checked on its held-out
half (``python -m bench.quality``; docs/benchmarks.md).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from memvault.engine import temporal
from memvault.models import Memory, ScoredMemory, SearchCandidates
from memvault.storage import fts

# The best text match adds this to its cosine similarity (relevant memories sit around 0.4-0.7
# on the local model, unrelated ones around 0.0-0.3).
LEXICAL_WEIGHT = 0.1
# Added for a memory about a period the query names: about the gap between a relevant and an
# unrelated memory, so a dated match beats an undated near-miss but not everything.
PERIOD_BONUS = 0.3
# How many candidates each list gives when the query names a period (else 3 x the limit).
PERIOD_DEPTH = 50
# The second round follows the best memory (``SEEDS``) that names something the query does not,
# among the best ``SEED_POOL``; it searches at most ``EXPANSION_TERMS`` names, and its best match
# gains ``SECOND_WEIGHT``.
SEEDS = 1
SEED_POOL = 3
EXPANSION_TERMS = 8
SECOND_WEIGHT = 0.2

_NAME = re.compile(r"\b[A-Z][\w'-]*[a-z][\w'-]*")
# A sentence's first word is capitalised anyway: there, "Thinking" or "Hiked" is no name.
_OPENING_VERB = re.compile(r"(?:^|[.!?;:]\s+)([A-Z][a-z]+(?:ing|ed))\b")


class Ranking:
    """Scores of the memories found so far, over one or more rounds of candidates.

    A memory's score is its cosine similarity to the query (computed from its stored embedding,
    whichever list found it), plus ``weight`` x its full-text score relative to the best of that
    text list, for each text list that found it, plus ``PERIOD_BONUS`` when it is about a period
    the query names.

    Example::

        ranking = Ranking(query_vector, temporal.query_periods(query, today=today))
        names = ranking.add_first_round(first_round_candidates, query)
        if names:
            ranking.add_second_round(full_text_matches(names))
        best = ranking.top(10)
    """

    def __init__(self, query_vector: np.ndarray | None,
                 periods: Sequence[temporal.Period] = ()) -> None:
        self.vector = None if query_vector is None else np.asarray(query_vector, np.float32)
        self.periods = tuple(periods)
        self.scores: dict[str, float] = {}
        self.memories: dict[str, Memory] = {}
        self._unread: set[str] = set()
        """Memories not (yet) about a period by their date whose text has not been read."""
        self._seeds: list[ScoredMemory] = []

    def _see(self, hit: ScoredMemory, cosine: float) -> str:
        memory = hit.memory
        if memory.id not in self.memories:
            self.memories[memory.id] = memory
            self.scores[memory.id] = cosine
            if self.periods:
                if any(memory.created_at in period for period in self.periods):
                    self.scores[memory.id] += PERIOD_BONUS
                else:
                    self._unread.add(memory.id)
        return memory.id

    def add_vector(self, hits: Sequence[ScoredMemory]) -> None:
        """A vector list: its scores are cosine similarities to the query."""
        for hit in hits:
            self._see(hit, hit.score)

    def add_text(self, hits: Sequence[ScoredMemory], weight: float,
                 seeds: Sequence[ScoredMemory] = ()) -> None:
        """A full-text list (higher score is better). With ``seeds`` (the memories a second
        round's query came from), the seeds gain nothing from it and nothing it lifts passes
        them: what it links to comes after what led there."""
        seed_ids = {seed.memory.id for seed in seeds}
        ceiling = min((self.scores[seed.memory.id] for seed in seeds), default=math.inf)
        hits = [hit for hit in hits if hit.memory.id not in seed_ids]
        best = max((hit.score for hit in hits), default=0.0)
        cosines = _cosines(self.vector, [hit.memory for hit in hits
                                         if hit.memory.id not in self.memories])
        for rank, hit in enumerate(hits):
            memory_id = self._see(hit, cosines.get(hit.memory.id, 0.0))
            relative = hit.score / best if best > 0 else 1.0 / (rank + 1)
            lifted = self.scores[memory_id] + weight * relative
            self.scores[memory_id] = max(self.scores[memory_id], min(lifted, ceiling - 1e-6))

    def add_first_round(self, candidates: SearchCandidates, query: str) -> str:
        """Both lists of a search's first round; returns what its second round searches
        (:meth:`seeds`' names, empty for none), whose matches go to :meth:`add_second_round`."""
        self.add_vector(candidates.by_vector)
        self.add_text(candidates.by_text, LEXICAL_WEIGHT)
        self._seeds, names = self.seeds(query)
        return names

    def add_second_round(self, hits: Sequence[ScoredMemory]) -> None:
        """The full-text matches of :meth:`add_first_round`'s names, below their seed."""
        if hits:
            self.add_text(hits, SECOND_WEIGHT, self._seeds)

    def seeds(self, query: str) -> tuple[list[ScoredMemory], str]:
        """What a second round follows: the best ``SEEDS`` of the top ``SEED_POOL`` memories
        that name something ``query`` does not, and those names (:func:`expansion_text`)."""
        seeds = [hit for hit in self.top(SEED_POOL)
                 if expansion_text(query, [hit.memory])][:SEEDS]
        return seeds, expansion_text(query, [seed.memory for seed in seeds])

    def top(self, limit: int) -> list[ScoredMemory]:
        """The best ``limit`` memories, best first; ties keep the order they were found in."""
        ranked = sorted(self.scores.items(), key=lambda item: item[1], reverse=True)
        if self._unread:
            # Reading dates out of text costs tens of microseconds a memory: only the texts of
            # those that could still make the top (the bonus cannot lift the others past it).
            floor = ranked[min(limit, len(ranked)) - 1][1] - PERIOD_BONUS
            for memory_id, score in ranked:
                if score < floor:
                    break
                if memory_id in self._unread:
                    self._unread.discard(memory_id)
                    memory = self.memories[memory_id]
                    named = temporal.text_periods(memory.content, memory.created_at)
                    if any(a.overlaps(b) for a in named for b in self.periods):
                        self.scores[memory_id] += PERIOD_BONUS
            ranked = sorted(self.scores.items(), key=lambda item: item[1], reverse=True)
        return [ScoredMemory(self.memories[memory_id], score)
                for memory_id, score in ranked[:limit]]


def _cosines(vector: np.ndarray | None, memories: Sequence[Memory]) -> dict[str, float]:
    """The cosine to ``vector`` of each of ``memories`` that has an embedding (unit vectors: a
    dot product), as one matrix product; none without a vector. An embedding of another
    dimension raises ``ValueError``."""
    if vector is None:
        return {}
    embedded = [memory for memory in memories if memory.embedding is not None]
    if not embedded:
        return {}
    matrix = np.stack([np.asarray(m.embedding, dtype=np.float32) for m in embedded])
    return dict(zip([m.id for m in embedded], (matrix @ vector).tolist(), strict=True))


def expansion_text(query: str, seeds: Sequence[Memory]) -> str:
    """The names (capitalised words of three letters or more) that ``seeds`` add to ``query``,
    in order, at most ``EXPANSION_TERMS``; empty when they add none.

    Example: for "Where does the coworker who recommended The Overstory live?" and a seed
    "My coworker Jonah recommended The Overstory", the expansion is ``"jonah"``.
    """
    asked = set(fts.query_terms(query))
    names: dict[str, None] = {}
    for memory in seeds:
        capitalised = {m.group().casefold() for m in _NAME.finditer(memory.content)}
        capitalised -= {m.group(1).casefold() for m in _OPENING_VERB.finditer(memory.content)}
        for word in fts.query_terms(memory.content):
            if word in capitalised and word not in asked and len(word) > 2:
                names.setdefault(word, None)
    return " ".join(list(names)[:EXPANSION_TERMS])
