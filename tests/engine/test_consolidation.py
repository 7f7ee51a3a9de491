"""Consolidation decisions, with hand-made neighbours and with the real embedding model."""

from __future__ import annotations

import numpy as np
import pytest

from memvault.engine.consolidation import (
    Consolidator,
    Decision,
    Neighbour,
    OfflineConsolidator,
    content_words,
    frame_of,
)
from memvault.engine.extraction import Candidate, ChatMessage, OfflineExtractor, topic_of
from memvault.models import Memory, MemoryKind, StoreOptions
from tests.engine.conftest import make_memory

PROFILE = MemoryKind.USER_PROFILE


def remember(content: str, kind: MemoryKind = PROFILE, topic: str | None = None) -> Candidate:
    return Candidate(kind, content, "remember", topic or topic_of(content, kind), (0,))


def forget(content: str, kind: MemoryKind = PROFILE, topic: str | None = None) -> Candidate:
    return Candidate(kind, content, "forget", topic or topic_of(content, kind), (0,))


async def decide(candidates, neighbours) -> list[Decision]:
    return (await OfflineConsolidator().consolidate(candidates, neighbours)).decisions


def test_implements_the_protocol():
    assert isinstance(OfflineConsolidator(), Consolidator)


async def test_new_fact_with_no_neighbours_is_created():
    [decision] = await decide([remember("Loves hiking")], [[]])
    assert (decision.op, decision.content, decision.target) == ("create", "Loves hiking", None)


async def test_duplicate_is_a_noop_naming_the_memory():
    existing = make_memory("Loves hiking")
    [decision] = await decide([remember("Enjoys hiking")], [[Neighbour(existing, 0.93)]])
    assert decision.op == "noop"
    assert decision.target is existing


async def test_same_topic_value_change_updates():
    paris = make_memory("Lives in Paris, in a tiny flat with a great view")
    [decision] = await decide([remember("Lives in Berlin", topic="home")],
                              [[Neighbour(paris, 0.62)]])
    assert (decision.op, decision.target, decision.content) == ("update", paris, "Lives in Berlin")


async def test_switch_substitutes_the_value_in_place():
    dark = make_memory("Prefers dark roast coffee, usually in the morning")
    cappuccino = make_memory("Likes cappuccinos in the afternoon")
    [decision] = await decide([remember("Has switched to light roast")],
                              [[Neighbour(dark, 0.54), Neighbour(cappuccino, 0.16)]])
    assert decision.op == "update"
    assert decision.target is dark
    assert decision.content == "Prefers light roast coffee, usually in the morning"


async def test_addition_on_the_same_topic_is_created():
    dark = make_memory("Prefers dark roast coffee, usually in the morning")
    [decision] = await decide([remember("Likes cappuccinos in the afternoon")],
                              [[Neighbour(dark, 0.44)]])
    assert decision.op == "create"


async def test_negation_flip_updates():
    dislike = make_memory("Does not like mushrooms")
    [decision] = await decide([remember("Likes mushrooms")], [[Neighbour(dislike, 0.81)]])
    assert (decision.op, decision.target, decision.content) == ("update", dislike,
                                                                "Likes mushrooms")


async def test_no_longer_updates_the_fact_it_negates():
    meat = make_memory("Eats meat most days")
    [decision] = await decide([remember("No longer eats meat", topic="diet")],
                              [[Neighbour(meat, 0.7)]])
    assert decision.op == "update" and decision.target is meat


async def test_new_allergy_extends_the_list():
    peanuts = make_memory("Is allergic to peanuts")
    [decision] = await decide([remember("Is allergic to shellfish")],
                              [[Neighbour(peanuts, 0.71)]])
    assert (decision.op, decision.content) == ("update", "Is allergic to peanuts and shellfish")


async def test_goal_achieved_replaces_the_goal():
    goal = make_memory("Goal this year is to run a half marathon")
    [decision] = await decide([remember("Ran the half marathon")], [[Neighbour(goal, 0.8)]])
    assert decision.op == "update" and decision.target is goal


async def test_one_value_frames():
    assert frame_of("Favourite movie is Inception") == ("favourite", "movie")
    inception = make_memory("Favourite movie is Inception")
    band = make_memory("Favourite band is Radiohead")
    decisions = await decide([remember("Favourite movie is Interstellar")],
                             [[Neighbour(inception, 0.8), Neighbour(band, 0.4)]])
    assert [(d.op, d.target) for d in decisions] == [("update", inception)]
    nickname = make_memory("Goes by Bex")
    [decision] = await decide([remember("Name is Rebecca", topic="name")],
                              [[Neighbour(nickname, 0.5)]])
    assert decision.op == "create"


async def test_forget_deletes_the_best_match():
    tennis = make_memory("Plays tennis on Saturdays with their brother")
    band = make_memory("Favourite band is Radiohead")
    [decision] = await decide([forget("Plays tennis")],
                              [[Neighbour(tennis, 0.78), Neighbour(band, 0.1)]])
    assert (decision.op, decision.target) == ("delete", tennis)


async def test_forget_by_topic_with_low_similarity():
    job = make_memory("Works as a data analyst at Globex")
    [decision] = await decide([forget("Works at", topic="employer")], [[Neighbour(job, 0.41)]])
    assert (decision.op, decision.target) == ("delete", job)


async def test_forget_with_nothing_matching_is_a_noop():
    band = make_memory("Favourite band is Radiohead")
    [decision] = await decide([forget("Plays tennis")], [[Neighbour(band, 0.12)]])
    assert decision.op == "noop" and decision.target is None


async def test_candidates_of_one_update_are_merged():
    again = Candidate(PROFILE, "Enjoys hiking", "remember", "hiking", (1,))
    decisions = await decide([remember("Loves hiking"), again], [[], []])
    assert [d.op for d in decisions] == ["create", "noop"]
    assert decisions[0].candidate.source_indexes == (0, 1)
    assert decisions[1].candidate is again


async def test_changes_within_one_update_chain_on_one_target():
    vegetarian = make_memory("Is vegetarian")
    fish = remember("Has started eating fish", topic="diet")
    pescatarian = remember("Is pescatarian", topic="diet")
    decisions = await decide([fish, pescatarian], [[Neighbour(vegetarian, 0.6)],
                                                    [Neighbour(vegetarian, 0.7)]])
    updates = [d for d in decisions if d.op == "update"]
    assert len(updates) == 1
    assert updates[0].content == "Is pescatarian"
    assert set(updates[0].candidate.source_indexes) == {0}
    assert [d.op for d in decisions] == ["update", "noop"]


async def test_create_then_forget_in_one_update_cancels_out():
    decisions = await decide([remember("Likes sushi"), forget("Likes sushi")], [[], []])
    assert [d.op for d in decisions] == ["noop", "noop"]


async def test_other_kinds_in_neighbours_are_ignored():
    summary = make_memory("Discussed hiking trails", MemoryKind.CHAT_SUMMARY)
    [decision] = await decide([remember("Loves hiking")], [[Neighbour(summary, 0.9)]])
    assert decision.op == "create"


async def test_chat_summaries_of_a_topic_are_extended():
    oslo = make_memory("Discussed planning a trip to Oslo in March", MemoryKind.CHAT_SUMMARY)
    [decision] = await decide([remember("Asked what to pack for Oslo", MemoryKind.CHAT_SUMMARY)],
                              [[Neighbour(oslo, 0.66)]])
    assert decision.op == "update"
    assert decision.content == ("Discussed planning a trip to Oslo in March; asked what to pack"
                                " for Oslo")


async def test_neighbours_must_match_candidates():
    with pytest.raises(ValueError):
        await decide([remember("Loves hiking")], [])


def test_content_words():
    assert content_words("Likes cappuccinos in the afternoon") == {"cappuccino", "afternoon"}


# -- with the real local embedding model -------------------------------------------------------


class Scope:
    """Just enough of a scope to replay updates: memories, embeddings, top-5 neighbours."""

    def __init__(self, embedder) -> None:
        self.embedder = embedder
        self.memories: list[Memory] = []
        self.extractor, self.consolidator = OfflineExtractor(), OfflineConsolidator()

    async def update(self, *texts: str, options: StoreOptions | None = None) -> list[Decision]:
        options = options or StoreOptions(chat_summary_enabled=False)
        messages = [ChatMessage("user", t) for t in texts]
        candidates = list((await self.extractor.extract(messages, options)).candidates)
        vectors = self.embedder.embed([c.content for c in candidates]) if candidates else []
        neighbours = []
        for candidate, vector in zip(candidates, vectors, strict=True):
            same = [m for m in self.memories if m.kind is candidate.kind]
            scored = sorted(((float(m.embedding @ vector), m) for m in same),
                            key=lambda pair: pair[0], reverse=True)[:5]
            neighbours.append([Neighbour(m, s) for s, m in scored])
        decisions = (await self.consolidator.consolidate(candidates, neighbours)).decisions
        for decision in decisions:
            self._apply(decision)
        return decisions

    def _apply(self, decision: Decision) -> None:
        if decision.op in ("create", "update"):
            [vector] = self.embedder.embed([decision.content])
            if decision.op == "update":
                self.memories = [m for m in self.memories if m.id != decision.target.id]
            self.memories.append(make_memory(decision.content, decision.candidate.kind,
                                             memory_id=f"mem_{len(self.memories)}_{id(decision)}",
                                             embedding=vector))
        elif decision.op == "delete":
            self.memories = [m for m in self.memories if m.id != decision.target.id]

    def contents(self) -> list[str]:
        return sorted(m.content for m in self.memories)

    def search(self, query: str, limit: int = 3) -> list[str]:
        [vector] = self.embedder.embed([query])
        ranked = sorted(self.memories, key=lambda m: float(m.embedding @ vector), reverse=True)
        return [m.content for m in ranked[:limit]]


async def test_coffee_acceptance_flow(embedder):
    scope = Scope(embedder)
    await scope.update("I prefer dark roast coffee and usually drink it in the morning")
    assert scope.contents() == ["Prefers dark roast coffee, usually in the morning"]
    await scope.update("I also like cappuccinos in the afternoon")
    assert scope.contents() == ["Likes cappuccinos in the afternoon",
                                "Prefers dark roast coffee, usually in the morning"]
    decisions = await scope.update("I have switched to light roast")
    assert [d.op for d in decisions] == ["update"]
    assert scope.contents() == ["Likes cappuccinos in the afternoon",
                                "Prefers light roast coffee, usually in the morning"]
    await scope.update("I love hiking", "My favourite band is Radiohead")
    assert set(scope.search("What are my coffee preferences?", 2)) == {
        "Likes cappuccinos in the afternoon", "Prefers light roast coffee, usually in the morning"}


async def test_duplicates_across_updates_add_nothing(embedder):
    scope = Scope(embedder)
    await scope.update("I love hiking.")
    decisions = await scope.update("Honestly, I really enjoy hiking.")
    assert [d.op for d in decisions] == ["noop"]
    assert scope.contents() == ["Loves hiking"]


async def test_forget_and_conflicts_with_real_similarities(embedder):
    scope = Scope(embedder)
    await scope.update("My favourite band is Radiohead. I play tennis on Saturdays.",
                       "I live in Paris.", "I'm allergic to peanuts.")
    await scope.update("Please forget that I play tennis.")
    await scope.update("Actually I moved to Berlin last month.",
                       "Turns out I'm also allergic to shellfish.")
    assert scope.contents() == ["Favourite band is Radiohead",
                                "Is allergic to peanuts and shellfish", "Lives in Berlin"]


async def test_similarity_cannot_tell_a_change_from_a_repeat(embedder):
    """Why duplicate detection looks at words below a 0.97 cosine."""
    dark, light = embedder.embed(["Prefers dark roast coffee, usually in the morning",
                                  "Prefers light roast coffee, usually in the morning"])
    assert float(np.dot(dark, light)) > 0.9
    scope = Scope(embedder)
    await scope.update("I prefer dark roast coffee and usually drink it in the morning")
    await scope.update("I prefer light roast coffee")
    assert "Prefers dark roast coffee, usually in the morning" not in scope.contents()
