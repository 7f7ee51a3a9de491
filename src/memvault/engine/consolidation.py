"""Consolidation: what each candidate does to the memories the scope already holds.

The caller embeds every candidate, finds its most similar existing memories of the same kind
(``neighbours[i]`` for ``candidates[i]``, similarity = cosine of unit embeddings) and asks a
:class:`Consolidator` for decisions:

* **noop**: the candidate adds nothing (a duplicate, or absorbed into another decision); a
  duplicate of an existing memory that nothing else changes names it as ``target``, so the
  caller can refresh its TTL;
* **create**: a new memory with ``content``;
* **update**: ``target`` gets ``content`` (a changed value, a negation, a switch, a merged list);
* **delete**: ``target`` goes (an explicit "forget …").

:class:`OfflineConsolidator` decides by rule. Memories have no topic column, so the topic of an
existing memory is re-derived from its content with the extractor's own classifier
(:func:`~memvault.engine.extraction.topics.topics_of`). An LLM consolidator makes one call per
update and returns the same decisions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

from memvault.engine.extraction.base import Candidate, Usage
from memvault.engine.extraction.topics import SINGLE_VALUED, topic_of, topics_of
from memvault.models import Memory, MemoryKind

Op = Literal["create", "update", "delete", "noop"]


@dataclass(frozen=True)
class Neighbour:
    """An existing memory close to a candidate; ``similarity`` is the cosine of unit embeddings."""

    memory: Memory
    similarity: float


@dataclass(frozen=True)
class Decision:
    """What to do for one candidate.

    ``target`` is the memory to update or delete; ``content`` the text to create or write. A
    decision that absorbed other candidates of the same update carries a candidate whose
    ``source_indexes`` cover them all.
    """

    op: Op
    candidate: Candidate
    target: Memory | None = None
    content: str | None = None


@dataclass(frozen=True)
class Consolidation:
    decisions: list[Decision]
    usage: Usage = field(default_factory=Usage)


@runtime_checkable
class Consolidator(Protocol):
    async def consolidate(
        self,
        candidates: Sequence[Candidate],
        neighbours: Sequence[Sequence[Neighbour]],
        *,
        model: str | None = None,
    ) -> Consolidation:
        """Decide what each candidate does to the scope's memories.

        Args:
            candidates: the extractor's candidates for one update, in order.
            neighbours: ``neighbours[i]`` are the existing memories most similar to
                ``candidates[i]`` (same kind, most similar first, any number, possibly none).
            model: the store's chat model, for consolidators that call one.

        Returns:
            The decisions and the tokens spent. Decisions come in candidate order. Every candidate appears in at least one decision; a
            forget may delete several memories. No two decisions update or delete the same
            memory, so they can be applied in any order.

        Example::

            result = await OfflineConsolidator().consolidate(
                [Candidate(MemoryKind.USER_PROFILE, "Lives in Berlin", topic="home")],
                [[Neighbour(paris_memory, 0.71)]],
            )
            result.decisions[0].op, result.decisions[0].content  # ("update", "Lives in Berlin")
        """
        ...


# -- text comparison ---------------------------------------------------------------------------

_STOPWORDS = frozenset(
    """a an the and or but of to in on at for with by from as is are was were be been being has
    have had do does did it its this that these those they them their theirs themselves who
    which what when where how why i me my we our you your he she his her also very really just
    so too usually especially mostly often always sometimes some any all much many more most
    like likes love loves enjoy enjoys prefer prefers adore adores favourite favorite
    thing things to wants want would about into fan big huge great lot lots quite bit
    user""".split()
)
_NEGATIVE = re.compile(
    r"^(?:does not|do not|doesn't|never|no longer|is not|isn't|dislikes|hates|detests|loathes"
    r"|cannot stand|avoids|stopped|quit|gave up|has given up|has stopped|has quit)\b"
    r"|\b(?:does not|do not|not a fan|never|no longer|dislikes|hates|avoid|stop)\b",
    re.IGNORECASE,
)
_CHANGE = re.compile(
    r"^(?:has switched|switched|has moved their|has changed|no longer|is no longer|quit"
    r"|stopped|gave up|has given up|has stopped|has quit|has started|started|has taken up"
    r"|now\b|is now)|\binstead of\b|\bstop\b|\bno more\b|\banymore\b",
    re.IGNORECASE,
)
_GOAL = re.compile(r"^(?:wants to|goals? (?:[\w ]+ )?(?:is|are)|hopes to|plans to|is planning"
                   r"|would love to|would like to|intends to|aims to|dreams to|is going to"
                   r"|is training for)\b", re.IGNORECASE)
_ACHIEVED = re.compile(r"^(?:ran|finished|completed|climbed|graduated|passed|won|published"
                       r"|visited|achieved|reached|hiked|swam|cycled|learned|became)\b",
                       re.IGNORECASE)
_SWITCH_VALUE = re.compile(r"^(?:has )?switched (?:\w+ )?to (.+)$", re.IGNORECASE)
_MERGEABLE_PREDICATE = re.compile(
    r"^(is (?:severely |mildly )?(?:allergic|intolerant|sensitive) to|speaks|likes|loves|enjoys"
    r"|dislikes|hates|plays|is learning|is interested in|avoids) (.+)$",
    re.IGNORECASE,
)
# "Frames" of facts that hold one value at a time: same frame, different value -> a conflict.
_FRAMES: tuple[tuple[str, str], ...] = (
    ("name", r"^(?:(?:first |full |real )?name is)\b"),
    ("nickname", r"^(?:goes by|prefers to be called|is called)\b"),
    ("home", r"^(?:lives (?:in|at)|is based in|is living in|resides in)\b"),
    ("origin", r"^(?:is (?:originally )?from|comes from)\b"),
    ("birthplace", r"^was born in\b"),
    ("job", r"^(?:works as|is an? (?:[\w-]+ ){0,3}[\w-]+ (?:at|for)\b)"),
    ("employer", r"^works (?:at|for)\b"),
    ("partner", r"^(?:is (?:married|engaged) to|has an? (?:wife|husband|partner|girlfriend"
                r"|boyfriend|fianc[ée]e?)\b)"),
    ("favourite", r"^favou?rite ([\w' -]+?) (?:is|are)\b"),
    ("count", r"^has (?:\d+|one|two|three|four|five|six|seven|eight|nine|ten) (kids|children"
              r"|sons|daughters|dogs|cats|pets|siblings|brothers|sisters|grandchildren)\b"),
    ("wakes", r"^(?:usually )?wakes up\b"),
)
_FRAME_RES = tuple((name, re.compile(p, re.IGNORECASE)) for name, p in _FRAMES)


def frame_of(text: str) -> tuple[str, str] | None:
    """The one-value frame a fact fills ("favourite", "movie") or ``None``."""
    for name, pattern in _FRAME_RES:
        match = pattern.search(text)
        if match:
            detail = match.group(1).lower() if match.groups() else ""
            return name, detail
    return None


def _preference_head(text: str) -> tuple[str, str] | None:
    """("seats", "window seats") for "Prefers window seats": what a preference is *about*."""
    match = re.match(r"^prefers ((?:[\w-]+ ){0,3}?([a-z-]+?)s?)\b(?:,|$| (?:for|on|in|when|over"
                     r"|to|at|with|instead)\b)", text, re.IGNORECASE)
    if not match:
        return None
    return match.group(2).lower(), match.group(1).lower()


def content_words(text: str) -> frozenset[str]:
    """Lower-cased, crudely stemmed content words ("Likes cappuccinos" -> {"cappuccino"})."""
    words = re.findall(r"[a-z0-9][a-z0-9'+#.-]*[a-z0-9+#]|[a-z0-9]", text.lower())
    return frozenset(_stem(w) for w in words if w not in _STOPWORDS and len(w) > 1)


def _stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix, replacement in (("ies", "y"), ("ing", ""), ("es", ""), ("s", ""), ("ed", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _negative(text: str) -> bool:
    return bool(_NEGATIVE.search(text))


# -- the offline consolidator -----------------------------------------------------------------


@dataclass
class _Slot:
    """A memory as this update leaves it: an existing one (maybe changed) or a new one."""

    kind: MemoryKind
    content: str
    candidate: Candidate | None = None
    target: Memory | None = None
    deleted_by: Candidate | None = None
    absorbed: list[Candidate] = field(default_factory=list)
    similarity: float = 0.0

    @property
    def is_new(self) -> bool:
        return self.target is None


class OfflineConsolidator:
    """Rule-based consolidation over the neighbours the caller found.

    Args:
        duplicate_similarity: cosine at or above which a candidate repeats a memory even though
            it brings words the memory lacks. Below it, a duplicate must add no content word.
            With all-MiniLM-L6-v2 the "dark roast" and "light roast" versions of one sentence
            score 0.947 and "allergic to peanuts" vs "… peanuts and shellfish" about 0.9, so
            similarity alone cannot tell a repeat from a change: the default is 0.97.
        related_similarity: cosine above which two memories without a shared topic are still
            treated as about the same thing.
        forget_similarity: cosine at which a forget request matches a memory on its own;
            with a shared topic, ``forget_topic_similarity`` is enough.
        summary_merge_similarity: cosine above which a chat summary of the same topic is
            extended rather than a new one created.
    """

    def __init__(
        self,
        *,
        duplicate_similarity: float = 0.97,
        related_similarity: float = 0.75,
        forget_similarity: float = 0.55,
        forget_topic_similarity: float = 0.3,
        summary_merge_similarity: float = 0.45,
        max_merged_chars: int = 280,
    ) -> None:
        self.duplicate_similarity = duplicate_similarity
        self.related_similarity = related_similarity
        self.forget_similarity = forget_similarity
        self.forget_topic_similarity = forget_topic_similarity
        self.summary_merge_similarity = summary_merge_similarity
        self.max_merged_chars = max_merged_chars

    async def consolidate(
        self,
        candidates: Sequence[Candidate],
        neighbours: Sequence[Sequence[Neighbour]],
        *,
        model: str | None = None,
    ) -> Consolidation:
        return Consolidation(self.consolidate_now(candidates, neighbours))

    def consolidate_now(
        self, candidates: Sequence[Candidate], neighbours: Sequence[Sequence[Neighbour]]
    ) -> list[Decision]:
        """The same as :meth:`consolidate`, synchronously (it does no I/O)."""
        if len(neighbours) != len(candidates):
            raise ValueError("neighbours must have one list per candidate")
        existing: dict[str, _Slot] = {}
        new: list[_Slot] = []
        unmatched: list[Candidate] = []
        for candidate, near in zip(candidates, neighbours, strict=True):
            slots = self._slots_for(candidate, near, existing, new)
            if candidate.action == "forget":
                self._forget(candidate, slots, unmatched)
            else:
                self._remember(candidate, slots, new, unmatched)
        return self._decisions(candidates, existing, new, unmatched)

    # -- slots ---------------------------------------------------------------------------

    def _slots_for(self, candidate: Candidate, near: Sequence[Neighbour],
                   existing: dict[str, _Slot], new: list[_Slot]) -> list[_Slot]:
        slots: list[_Slot] = []
        for neighbour in near:
            memory = neighbour.memory
            if memory.kind is not candidate.kind:
                continue
            slot = existing.setdefault(memory.id, _Slot(memory.kind, memory.content,
                                                        target=memory))
            slot.similarity = neighbour.similarity
            if slot.deleted_by is None:
                slots.append(slot)
        for slot in new:
            if slot.kind is candidate.kind and slot.deleted_by is None:
                words_a, words_b = content_words(slot.content), content_words(candidate.content)
                slot.similarity = 0.5 * _overlap(words_a, words_b) + 0.4
                slots.append(slot)
        return slots

    @staticmethod
    def _topic(candidate: Candidate) -> str | None:
        return candidate.topic or topic_of(candidate.content, candidate.kind)

    def _same_topic(self, topic: str | None, slot: _Slot, *, primary: bool = False) -> bool:
        if topic is None:
            return False
        if slot.candidate is not None and slot.is_new and slot.candidate.topic == topic:
            return True
        topics = topics_of(slot.content, slot.kind)
        return bool(topics) and (topics[0] == topic if primary else topic in topics)

    def _score(self, candidate: Candidate, slot: _Slot) -> float:
        return slot.similarity + 0.3 * _overlap(content_words(candidate.content),
                                                content_words(slot.content))

    # -- forget --------------------------------------------------------------------------

    def _forget(self, candidate: Candidate, slots: list[_Slot], unmatched: list[Candidate]) -> None:
        topic = self._topic(candidate)
        words = content_words(candidate.content)
        matches: list[tuple[float, _Slot]] = []
        for slot in slots:
            same = self._same_topic(topic, slot)
            overlap = _overlap(words, content_words(slot.content))
            if (same and (slot.similarity >= self.forget_topic_similarity or overlap >= 0.5)) \
                    or slot.similarity >= self.forget_similarity or (overlap >= 0.75 and words):
                matches.append((self._score(candidate, slot) + (0.2 if same else 0.0), slot))
        if not matches:
            unmatched.append(candidate)
            return
        matches.sort(key=lambda m: m[0], reverse=True)
        best_score, best = matches[0]
        best.deleted_by = candidate
        for score, slot in matches[1:]:
            if self._same_topic(topic, slot) and score >= best_score - 0.1 \
                    and slot.similarity >= 0.6:
                slot.deleted_by = candidate

    # -- remember ------------------------------------------------------------------------

    def _remember(self, candidate: Candidate, slots: list[_Slot], new: list[_Slot],
                  unmatched: list[Candidate]) -> None:
        topic = self._topic(candidate)
        words = content_words(candidate.content)
        negative = _negative(candidate.content)

        # 1. Nothing new: every content word is already in one memory with the same polarity.
        for slot in sorted(slots, key=lambda s: s.similarity, reverse=True):
            slot_words = content_words(slot.content)
            same_polarity = _negative(slot.content) == negative
            if same_polarity and not _CHANGE.search(candidate.content) and (
                (words and words <= slot_words)
                or (slot.similarity >= self.duplicate_similarity and not slot.is_new)
                or slot.content.lower() == candidate.content.lower()
            ):
                slot.absorbed.append(candidate)
                if slot.is_new:
                    slot.candidate = _with_sources(slot.candidate, candidate)
                return

        # 2. A conflict: same topic and a change, a flipped polarity, or a single-valued topic.
        target = self._conflict_target(candidate, topic, words, negative, slots)
        if target is not None:
            target.content = self._replacement(candidate, target)
            target.absorbed.append(candidate)
            if target.is_new:
                target.candidate = _with_sources(target.candidate, candidate)
            return

        # 3. Same list-valued predicate: merge ("Is allergic to peanuts and shellfish").
        merged = self._merge_target(candidate, topic, slots)
        if merged is not None:
            slot, content = merged
            slot.content = content
            slot.absorbed.append(candidate)
            if slot.is_new:
                slot.candidate = _with_sources(slot.candidate, candidate)
            return

        new.append(_Slot(candidate.kind, candidate.content, candidate=candidate))

    def _conflict_target(self, candidate: Candidate, topic: str | None, words: frozenset[str],
                         negative: bool, slots: list[_Slot]) -> _Slot | None:
        change = bool(_CHANGE.search(candidate.content))
        achieved = bool(_ACHIEVED.search(candidate.content))
        best: tuple[float, _Slot] | None = None
        for slot in slots:
            slot_words = content_words(slot.content)
            same = self._same_topic(topic, slot)
            framed = frame_of(candidate.content) is not None and \
                frame_of(candidate.content) == frame_of(slot.content)
            related = same or framed or (topic is None
                                         and slot.similarity >= self.related_similarity)
            if not related:
                continue
            flipped = _negative(slot.content) != negative and bool(words & slot_words)
            mine, theirs = frame_of(candidate.content), frame_of(slot.content)
            if mine is not None and theirs is not None:
                single = mine == theirs
            else:
                single = topic in SINGLE_VALUED and self._same_topic(topic, slot, primary=True)
            head, other = _preference_head(candidate.content), _preference_head(slot.content)
            if head and other and head[0] == other[0] and head[1] != other[1]:
                single = True
            goal_done = achieved and bool(_GOAL.search(slot.content)) and bool(words & slot_words)
            if candidate.kind is MemoryKind.CHAT_SUMMARY:
                continue
            if not (change or flipped or single or goal_done):
                continue
            score = self._score(candidate, slot) + (0.3 if flipped or goal_done else 0.0)
            if best is None or score > best[0]:
                best = (score, slot)
        return best[1] if best else None

    def _replacement(self, candidate: Candidate, slot: _Slot) -> str:
        """The new text: substitute a switched value in place when possible, else replace."""
        switch = _SWITCH_VALUE.match(candidate.content)
        if switch:
            value = switch.group(1).strip()
            head = value.split()[-1]
            pattern = re.compile(rf"\b((?:[\w-]+[\s-]+)?){re.escape(head)}\b", re.IGNORECASE)
            found = pattern.search(slot.content)
            if found and found.group(0).lower() != value.lower():
                return slot.content[: found.start()] + value + slot.content[found.end():]
        return candidate.content

    def _merge_target(self, candidate: Candidate, topic: str | None,
                      slots: list[_Slot]) -> tuple[_Slot, str] | None:
        if candidate.kind is MemoryKind.CHAT_SUMMARY:
            return self._summary_merge(candidate, topic, slots)
        mine = _MERGEABLE_PREDICATE.match(candidate.content)
        if not mine or "," in mine.group(2) or len(mine.group(2).split()) > 4:
            return None
        for slot in sorted(slots, key=lambda s: s.similarity, reverse=True):
            theirs = _MERGEABLE_PREDICATE.match(slot.content)
            if not theirs or theirs.group(1).lower() != mine.group(1).lower():
                continue
            if not self._same_topic(topic, slot) or len(theirs.group(2).split(",")) > 4:
                continue
            items = re.split(r",\s*(?:and\s+)?|\s+and\s+", theirs.group(2))
            if mine.group(2).lower() in (i.lower() for i in items):
                return None
            items.append(mine.group(2))
            joined = ", ".join(items[:-1]) + " and " + items[-1]
            content = f"{theirs.group(1)} {joined}"
            if len(content) <= self.max_merged_chars:
                return slot, content
        return None

    def _summary_merge(self, candidate: Candidate, topic: str | None,
                       slots: list[_Slot]) -> tuple[_Slot, str] | None:
        for slot in sorted(slots, key=lambda s: s.similarity, reverse=True):
            if not (self._same_topic(topic, slot) and slot.similarity
                    >= self.summary_merge_similarity):
                continue
            addition = candidate.content[:1].lower() + candidate.content[1:]
            content = f"{slot.content}; {addition}"
            if len(content) <= self.max_merged_chars:
                return slot, content
        return None

    # -- decisions -----------------------------------------------------------------------

    def _decisions(self, candidates: Sequence[Candidate], existing: dict[str, _Slot],
                   new: list[_Slot], unmatched: list[Candidate]) -> list[Decision]:
        placed: dict[int, list[Decision]] = {}
        position = {id(c): i for i, c in enumerate(candidates)}

        def put(candidate: Candidate, decision: Decision) -> None:
            placed.setdefault(position.get(id(candidate), len(candidates)), []).append(decision)

        for slot in new:
            assert slot.candidate is not None
            lead = _original(slot.candidate, candidates)
            if slot.deleted_by is not None:
                put(lead, Decision("noop", lead))
                put(slot.deleted_by, Decision("noop", slot.deleted_by))
            else:
                put(lead, Decision("create", slot.candidate, None, slot.content))
            for other in slot.absorbed:
                put(other, Decision("noop", other))
        for slot in existing.values():
            assert slot.target is not None
            changed = slot.content != slot.target.content
            if slot.deleted_by is not None:
                put(slot.deleted_by, Decision("delete", slot.deleted_by, slot.target))
                for other in slot.absorbed:
                    put(other, Decision("noop", other))
                continue
            if changed and slot.absorbed:
                lead = slot.absorbed[0]
                merged = lead
                for other in slot.absorbed[1:]:
                    merged = _with_sources(merged, other)
                put(lead, Decision("update", merged, slot.target, slot.content))
                for other in slot.absorbed[1:]:
                    put(other, Decision("noop", other))
            else:
                for other in slot.absorbed:
                    put(other, Decision("noop", other, slot.target))
        for candidate in unmatched:
            put(candidate, Decision("noop", candidate))
        decided = {id(d.candidate) for ds in placed.values() for d in ds}
        for index, candidate in enumerate(candidates):
            if id(candidate) not in decided and index not in placed:
                placed[index] = [Decision("noop", candidate)]
        return [d for index in sorted(placed) for d in _dedupe(placed[index])]


def _original(candidate: Candidate, candidates: Sequence[Candidate]) -> Candidate:
    for original in candidates:
        if original is candidate:
            return original
    for original in candidates:
        if original.content == candidate.content and original.kind is candidate.kind:
            return original
    return candidate


def _with_sources(base: Candidate | None, other: Candidate) -> Candidate:
    assert base is not None
    indexes = tuple(dict.fromkeys(base.source_indexes + other.source_indexes))
    return replace(base, source_indexes=indexes)


def _dedupe(decisions: list[Decision]) -> list[Decision]:
    """Drop a candidate's noop when the same candidate also has a real decision."""
    real = {id(d.candidate) for d in decisions if d.op != "noop"}
    out: list[Decision] = []
    seen: set[tuple[int, str, str | None]] = set()
    for decision in decisions:
        if decision.op == "noop" and id(decision.candidate) in real:
            continue
        key = (id(decision.candidate), decision.op,
               decision.target.id if decision.target is not None else None)
        if key not in seen:
            seen.add(key)
            out.append(decision)
    return out
