"""Benchmark of the offline extraction + consolidation pipeline on memvault's own conversations.

    python -m bench.extraction [--quick]

``conversations.json`` holds conversations written for memvault (conflicts, duplicates,
forgetting, sensitive data, assistant-only facts, chit-chat, procedural and summary memories).
Each is replayed update by update through memvault's real update pipeline
(:mod:`bench.extraction.replay`), offline by default or with the configured LLM. The scope's final
active memories are then scored against the conversation's ``expected`` facts (matching rule in
``bench/extraction/scoring.py``):

* **precision**: stored memories that match an expected fact and carry no superseded or
  forbidden phrase / all stored memories;
* **recall**: expected facts matched by some stored memory / all expected facts;
* **conflicts resolved**: superseded values no longer present / all superseded values;
* **forbidden leaks**: forbidden phrases found in stored memories (sensitive data, assistant-only
  or hypothetical facts);
* **redundant**: stored memories that match a fact another stored memory already matches.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.extraction.replay import Replayer, Scope
from bench.extraction.scoring import MIN_COSINE, MIN_COVERAGE, contains_phrase, support
from memvault.engine.extraction import ChatMessage, OfflineExtractor
from memvault.models import MemoryKind, StoreOptions

DATA = Path(__file__).with_name("conversations.json")


@dataclass
class Result:
    id: str
    covers: list[str]
    stored: int = 0
    correct: int = 0
    expected: int = 0
    recalled: int = 0
    conflicts: int = 0
    resolved: int = 0
    leaks: list[str] = field(default_factory=list)
    redundant: int = 0
    quarantined: int = 0
    forbidden: int = 0
    missing: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


def load_conversations() -> list[dict]:
    return json.loads(DATA.read_text())["conversations"]


def score(conversation: dict, scope: Scope, embed) -> Result:
    result = Result(conversation["id"], conversation.get("covers", []))
    expected = conversation.get("expected", [])
    forbidden = conversation.get("forbidden", [])
    superseded = conversation.get("superseded", [])
    stored = scope.active
    result.stored, result.expected, result.quarantined = len(stored), len(expected), \
        len(scope.quarantined)
    facts = [e["fact"] for e in expected]
    fact_vectors = embed(facts) if facts else np.zeros((0, 1))
    supported_by: dict[int, list[int]] = defaultdict(list)
    recalled: set[int] = set()
    for m_index, memory in enumerate(stored):
        spoiled = any(contains_phrase(memory.content, p) for p in forbidden) or any(
            contains_phrase(memory.content, p) for group in superseded for p in group
        )
        close = [
            e_index for e_index, e in enumerate(expected)
            if e["kind"] == memory.kind.value
            and float(fact_vectors[e_index] @ memory.embedding) >= MIN_COSINE
        ]
        supports = [i for i in close
                    if max(support(memory.content, expected[i]["fact"]),
                           support(expected[i]["fact"], memory.content)) >= MIN_COVERAGE]
        if not spoiled:
            recalled.update(i for i in close if support(expected[i]["fact"], memory.content)
                            >= MIN_COVERAGE)
        for e_index in supports:
            supported_by[e_index].append(m_index)
        if supports and not spoiled:
            result.correct += 1
        else:
            result.wrong.append(f"{memory.kind.value}: {memory.content}")
    result.recalled = len(recalled)
    result.missing = [f"{e['kind']}: {e['fact']}" for i, e in enumerate(expected)
                      if i not in recalled]
    result.redundant = sum(max(0, len(v) - 1) for v in supported_by.values())
    result.conflicts = len(superseded)
    result.resolved = sum(
        1 for group in superseded
        if not any(contains_phrase(m.content, p) for m in stored for p in group)
    )
    result.leaks = [p for p in forbidden if any(contains_phrase(m.content, p) for m in stored)]
    return result


def _total(pairs: list[tuple[dict, Result]]) -> Result:
    total = Result("total", [])
    for conversation, r in pairs:
        total.stored += r.stored
        total.correct += r.correct
        total.expected += r.expected
        total.recalled += r.recalled
        total.conflicts += r.conflicts
        total.resolved += r.resolved
        total.leaks += r.leaks
        total.redundant += r.redundant
        total.quarantined += r.quarantined
        total.forbidden += len(conversation.get("forbidden", []))
    return total


def _row(label: str, totals: dict[str, Result], cell) -> str:
    return f"| {label} | " + " | ".join(cell(t) for t in totals.values()) + " |"


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f} ({a}/{b})" if b else "n/a"


async def _replay_all(conversations: list[dict]) -> tuple[str, list[tuple[dict, Scope]]]:
    out = []
    async with Replayer() as replayer:
        for conversation in conversations:
            updates = [[(m["role"], m["text"]) for m in update]
                       for update in conversation["updates"]]
            options = StoreOptions(**conversation.get("options", {}))
            out.append((conversation,
                        await replayer.replay(conversation["id"], updates, options)))
        return replayer.extractor_name, out


def _latency_ten_messages(conversations: list[dict], repeats: int) -> tuple[float, float]:
    """Median and p95 milliseconds to extract one update of 10 user/assistant messages."""
    messages = [ChatMessage(m["role"], m["text"]) for c in conversations for u in c["updates"]
                for m in u][:10]
    extractor, options = OfflineExtractor(), StoreOptions()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        extractor.extract_now(messages, options)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * (len(timings) - 1))]


def run(quick: bool = False) -> str:
    """The benchmark's Markdown section (``quick``: every other conversation, fewer timings)."""
    from memvault.providers.local_minilm import MiniLMEmbedder

    embedder = MiniLMEmbedder()
    embed = embedder.embed
    conversations = load_conversations()
    if quick:
        conversations = conversations[::2]
    extractor_name, replayed = asyncio.run(_replay_all(conversations))
    results = [score(c, s, embed) for c, s in replayed]
    median_ms, p95_ms = _latency_ten_messages(conversations, 50 if quick else 300)
    per_update = [t * 1000 for _, s in replayed for t in s.update_seconds]

    splits: dict[str, list] = {"dev": [], "dev2": [], "holdout": []}
    for conversation, r in zip(conversations, results, strict=True):
        splits.setdefault(conversation.get("split", "dev"), []).append((conversation, r))
    columns = [(name, pairs) for name, pairs in splits.items() if pairs]
    columns.append(("all", list(zip(conversations, results, strict=True))))
    totals = {name: _total(pairs) for name, pairs in columns}

    by_cover: dict[str, Result] = defaultdict(lambda: Result("", []))
    for r in results:
        for cover in r.covers:
            bucket = by_cover[cover]
            bucket.stored += r.stored
            bucket.correct += r.correct
            bucket.expected += r.expected
            bucket.recalled += r.recalled

    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (conversation, scope), r in zip(replayed, results, strict=True):
        for kind in MemoryKind:
            wanted = [e for e in conversation.get("expected", []) if e["kind"] == kind.value]
            by_kind[kind.value][2] += len(wanted)
            by_kind[kind.value][0] += sum(1 for m in scope.active if m.kind is kind)
        for line in r.wrong:
            by_kind[line.split(":")[0]][1] += 1
        for line in r.missing:
            by_kind[line.split(":")[0]][3] += 1

    lines = [
        f"## Extraction: {extractor_name}",
        "",
        f"{len(conversations)} conversations ({sum(len(c['updates']) for c in conversations)}"
        f" updates) from `bench/extraction/conversations.json`, replayed through memvault's"
        " update pipeline (`submit_update`, then the worker: extraction, quarantine,"
        " all-MiniLM-L6-v2 embeddings, neighbours, consolidation, commit) on a SQLite store, one"
        " scope per conversation. A stored memory is correct when some expected fact of its kind has a"
        f" cosine of at least {MIN_COSINE} with it and one of the two contains at least"
        f" {MIN_COVERAGE:.0%} of the other's key terms; an expected fact is recalled when some"
        f" stored memory contains at least {MIN_COVERAGE:.0%} of the fact's key terms (same"
        " cosine guard). A memory holding a superseded or forbidden phrase never counts (see"
        " `bench/extraction/scoring.py` for why cosine alone cannot decide).",
        "",
        "| Metric | " + " | ".join(f"{name} ({len(pairs)})" for name, pairs in columns) + " |",
        "|---|" + "---|" * len(columns),
        _row("Precision (correct stored / stored)", totals, lambda t: _ratio(t.correct, t.stored)),
        _row("Recall (expected facts found / expected)", totals,
             lambda t: _ratio(t.recalled, t.expected)),
        _row("Conflicts resolved (superseded values gone)", totals,
             lambda t: _ratio(t.resolved, t.conflicts)),
        _row("Forbidden leaks (phrases found / phrases)", totals,
             lambda t: f"{len(t.leaks)} / {t.forbidden}"),
        _row("Redundant memories (second match of one fact)", totals, lambda t: str(t.redundant)),
        _row("Quarantined candidates (poisoning)", totals, lambda t: str(t.quarantined)),
        "",
        f"The offline extractor takes {median_ms:.2f} ms on a 10-message update (median; p95"
        f" {p95_ms:.2f} ms); a whole update through the pipeline took"
        f" {statistics.median(per_update) if per_update else 0:.1f} ms (median, embeddings and"
        " commit included).",
        "",
        "| Kind | Stored | Wrong | Expected | Missed |",
        "|---|---|---|---|---|",
    ]
    for kind, (stored, wrong, expected, missed) in by_kind.items():
        lines.append(f"| {kind} | {stored} | {wrong} | {expected} | {missed} |")
    lines += ["", "| Covers | Precision | Recall |", "|---|---|---|"]
    for cover in sorted(by_cover):
        bucket = by_cover[cover]
        lines.append(f"| {cover} | {_ratio(bucket.correct, bucket.stored)} |"
                     f" {_ratio(bucket.recalled, bucket.expected)} |")
    failures = [r for r in results if r.missing or r.wrong or r.leaks
                or r.resolved < r.conflicts]
    if failures:
        lines += ["", "Where it fell short:", ""]
        for r in failures:
            notes = [f"missed `{m}`" for m in r.missing] + [f"stored `{w}`" for w in r.wrong]
            notes += [f"leaked `{leak}`" for leak in r.leaks]
            if r.resolved < r.conflicts:
                notes.append(f"{r.conflicts - r.resolved} superseded value(s) still present")
            lines.append(f"* **{r.id}**: " + "; ".join(notes))
    lines += ["", "`dev` conversations were read while the rules were written. `dev2` ones were"
              " written afterwards as a holdout and measured once before any rule saw them"
              " (precision 0.81, recall 0.48, conflicts resolved 0.50, no leaks), then used to"
              " improve the rules. `holdout` ones were written after that and measured once"
              " (precision 0.73, recall 0.57, conflicts resolved 0.67, no leaks) before four"
              " general bugs they"
              " exposed were fixed. Expect new conversations to score nearer those first"
              " measurements than the dev columns."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
