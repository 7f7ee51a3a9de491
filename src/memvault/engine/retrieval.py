"""Ranking: fuse the vector and full-text candidate lists of a backend into one ranking."""

from __future__ import annotations

from memvault.models import ScoredMemory, SearchCandidates

# Reciprocal-rank fusion constant; 60 is the value from Cormack et al. (2009) that hybrid search
# engines (Azure AI Search, Elasticsearch, pgvector examples) use as their default.
RRF_K = 60
# Text matches alone are weaker evidence than semantic neighbours for short memories.
TEXT_WEIGHT = 0.8


def fuse(candidates: SearchCandidates, limit: int) -> list[ScoredMemory]:
    """Reciprocal-rank fusion of both candidate lists; best first, at most ``limit``.

    A memory found by both lists outranks one found by either alone; ties keep vector order.
    """
    scores: dict[str, float] = {}
    memories = {}
    for rank, hit in enumerate(candidates.by_vector):
        scores[hit.memory.id] = scores.get(hit.memory.id, 0.0) + 1.0 / (RRF_K + rank + 1)
        memories[hit.memory.id] = hit.memory
    for rank, hit in enumerate(candidates.by_text):
        scores[hit.memory.id] = scores.get(hit.memory.id, 0.0) + TEXT_WEIGHT / (RRF_K + rank + 1)
        memories.setdefault(hit.memory.id, hit.memory)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)[:limit]
    return [ScoredMemory(memories[memory_id], score) for memory_id, score in ranked]
