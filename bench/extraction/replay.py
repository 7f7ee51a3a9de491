"""Replays a conversation's updates through an extractor and a consolidator over one in-memory
scope, the way the update pipeline does: extract, quarantine poisoned candidates, embed, find the
top-5 same-kind neighbours by cosine, consolidate, apply the decisions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from memvault.engine.consolidation import Consolidator, Decision, Neighbour
from memvault.engine.extraction import ChatMessage, Extractor
from memvault.engine.poisoning import check_poisoning
from memvault.models import Memory, MemoryStatus, StoreOptions, new_id

NEIGHBOURS = 5


@dataclass
class Scope:
    """The memories of one scope: active ones (searchable) and quarantined ones."""

    active: list[Memory] = field(default_factory=list)
    quarantined: list[Memory] = field(default_factory=list)
    extract_seconds: list[float] = field(default_factory=list)
    consolidate_seconds: list[float] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


async def replay(
    updates: Sequence[Sequence[ChatMessage]],
    options: StoreOptions,
    extractor: Extractor,
    consolidator: Consolidator,
    embed,
) -> Scope:
    """Run every update in order; ``embed(texts) -> (n, d)`` unit rows."""
    scope = Scope()
    clock = 0
    for messages in updates:
        clock += 1
        started = time.perf_counter()
        extraction = await extractor.extract(messages, options)
        scope.extract_seconds.append(time.perf_counter() - started)
        candidates = []
        for candidate in extraction.candidates:
            if candidate.action == "remember" and check_poisoning(candidate.content):
                scope.quarantined.append(_memory(candidate.kind, candidate.content, None, clock,
                                                 MemoryStatus.QUARANTINED))
            else:
                candidates.append(candidate)
        if not candidates:
            continue
        vectors = embed([c.content for c in candidates])
        neighbours = [_nearest(scope.active, c.kind, vectors[i]) for i, c in enumerate(candidates)]
        started = time.perf_counter()
        decisions = (await consolidator.consolidate(candidates, neighbours)).decisions
        scope.consolidate_seconds.append(time.perf_counter() - started)
        scope.decisions.extend(decisions)
        _apply(scope, decisions, clock, embed)
    return scope


def _nearest(active: list[Memory], kind, vector: np.ndarray) -> list[Neighbour]:
    same = [m for m in active if m.kind is kind]
    if not same:
        return []
    matrix = np.stack([m.embedding for m in same])
    scores = matrix @ vector
    order = np.argsort(-scores)[:NEIGHBOURS]
    return [Neighbour(same[i], float(scores[i])) for i in order]


def _memory(kind, content, embedding, clock, status=MemoryStatus.ACTIVE) -> Memory:
    return Memory(id=new_id("mem"), store_id="bench", scope="bench", kind=kind, content=content,
                  created_at=clock, updated_at=clock, status=status, embedding=embedding)


def _apply(scope: Scope, decisions: Sequence[Decision], clock: int, embed) -> None:
    writes = [d for d in decisions if d.op in ("create", "update") and d.content]
    vectors = embed([d.content for d in writes]) if writes else []
    by_id = {m.id: m for m in scope.active}
    for decision, vector in zip(writes, vectors, strict=True):
        if decision.op == "create":
            memory = _memory(decision.candidate.kind, decision.content, vector, clock)
            by_id[memory.id] = memory
        elif decision.target is not None and decision.target.id in by_id:
            old = by_id[decision.target.id]
            by_id[old.id] = replace(old, content=decision.content, embedding=vector,
                                    updated_at=clock, version=old.version + 1)
    for decision in decisions:
        if decision.op == "delete" and decision.target is not None:
            by_id.pop(decision.target.id, None)
    scope.active = list(by_id.values())
