"""The built-in extractor: rule-based, deterministic, offline, a few hundred microseconds.

For each user message it splits sentences into clauses and tries, in order:

1. "forget that …" / "please forget my …" -> a ``forget`` candidate phrased like the memory it
   should remove ("Plays tennis", "Works at");
2. a procedural directive ("always answer in bullet points") -> a procedural memory;
3. a first-person statement of a durable fact -> a profile memory
   (:mod:`~memvault.engine.extraction.facts`);
4. a request, question or piece of work -> a gist for the chat summary of its topic.

Assistant, system and developer text is never mined. Hypotheticals, hedges and questions give
no facts. Every candidate goes through :mod:`~memvault.engine.extraction.sensitive`: secrets
are dropped always, and the categories ``user_profile_details`` excludes are cut out clause by
clause.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memvault.engine.extraction import english as en
from memvault.engine.extraction.base import Candidate, ChatMessage, Extraction, Usage
from memvault.engine.extraction.facts import (
    Fact,
    clean_clause,
    is_hypothetical,
    is_question,
    profile_facts,
    strip_prefixes,
)
from memvault.engine.extraction.procedures import procedural_fact
from memvault.engine.extraction.sensitive import (
    ProfileGuidance,
    parse_guidance,
    secret_reason,
    trim_sensitive,
)
from memvault.engine.extraction.summaries import SummaryBuilder, gist_of
from memvault.engine.extraction.topics import topic_of
from memvault.models import MemoryKind, StoreOptions

_FORGET = re.compile(
    r"^(?:please\s+|can you\s+|could you\s+|would you\s+|you can\s+|you may\s+|go ahead and\s+"
    r"|I (?:want|need) you to\s+|I would like you to\s+|kindly\s+)*"
    r"(?:forget|delete|erase|remove|drop|scrap|wipe|discard|unlearn|stop remembering"
    r"|do not remember|no need to remember|you do not need to remember|do not keep)\s+"
    r"(?:about\s+|(?:the )?(?:memory|memories|fact|note|info|information) (?:about|that)\s+)?"
    r"(?:(?:that|the fact that|what I (?:said|told you) about|everything (?:you know )?about"
    r"|anything about|all about|I said|I told you|I mentioned)\s+)?(.+)$",
    re.IGNORECASE,
)
_FORGET_NOTHING = re.compile(
    r"^(?:it|that|this|about it|about that|everything|all|it all|what I said|them|those)$",
    re.IGNORECASE,
)
_FORGET_TEMPLATES = {
    "employer": "Works at",
    "job": "Works as",
    "home": "Lives in",
    "origin": "Is from",
    "name": "Name is",
    "allergy": "Is allergic to",
}
_COUPLE = re.compile(
    r"\bmy (wife|husband|partner|girlfriend|boyfriend|fianc[ée]e?) ((?-i:[A-Z][\w'-]+)) and I\b",
    re.IGNORECASE,
)
_PRONOUN_OBJECT = re.compile(r"^(.*\b(?:Likes|Loves|Enjoys|Prefers|Hates|Dislikes|like|love|enjoy"
                             r"|eat|eats|drink|drinks))\s+(them|it|those|that)\b(.*)$")
_ANTECEDENT = re.compile(r"\b(?:on|about|with|of|to|for|like|love|tried|try|eat|ate|drink"
                         r"|drank|hate|hated|liked)\s+((?:[a-z-]+\s+){0,2}[a-z-]+)\s*[.!,]?$",
                         re.IGNORECASE)


def _couple(match: re.Match[str]) -> str:
    relation, name = match.group(1).lower(), match.group(2)
    if relation in {"wife", "husband"}:
        return f"I am married to {name}; I"
    return f"I have a {relation} named {name}; I"


_FOLLOW_UP = re.compile(
    r"^(?:nice|great|cool|ok|okay|thanks|thank you|perfect|awesome|sounds good|good point|got it"
    r"|makes sense|and|also|what about|how about|follow[- ]up)\b",
    re.IGNORECASE,
)
_SWITCH = re.compile(
    r"\b(?:different|unrelated|another|separate|new) (?:question|topic|thing)\b|\bon another note"
    r"|\bchanging (?:the )?(?:subject|topic)|\bswitching (?:gears|topics)",
    re.IGNORECASE,
)
_PET_NAME = re.compile(
    r"\b((?:an?|my|our)\s+(?:[\w-]+\s+){0,2}[\w-]+)(?:\s+too|\s+as well)?,?\s+(?:and\s+)?"
    r"(?:his|her|its|their)\s+name\s+is\s+([A-Z][\w'-]+)",
    re.IGNORECASE,
)


class OfflineExtractor:
    """Rule-based extractor with no model and no network.

    Example::

        extractor = OfflineExtractor()
        extraction = await extractor.extract(
            [ChatMessage("user", "I prefer dark roast coffee and usually drink it in the morning")],
            StoreOptions(),
        )
        [c.content for c in extraction.candidates]
        # ["Prefers dark roast coffee, usually in the morning"]
    """

    async def extract(
        self,
        messages: Sequence[ChatMessage],
        options: StoreOptions,
        *,
        model: str | None = None,
    ) -> Extraction:
        return Extraction(tuple(self.extract_now(messages, options)), Usage())

    def extract_now(
        self, messages: Sequence[ChatMessage], options: StoreOptions
    ) -> list[Candidate]:
        """The same as :meth:`extract`, synchronously (it does no I/O)."""
        guidance = parse_guidance(options.user_profile_details)
        found: list[Candidate] = []
        summaries = SummaryBuilder()
        for index, message in enumerate(messages):
            if message.role != "user" or not message.text or not message.text.strip():
                continue
            self._read_message(index, message.text, options, guidance, found, summaries)
        if options.chat_summary_enabled:
            for group in summaries.groups:
                content = trim_sensitive(group.render(), guidance.excluded)
                if content and len(content.split()) >= 3:
                    found.append(Candidate(MemoryKind.CHAT_SUMMARY, content, "remember",
                                           topic_of(content) or group.topic,
                                           tuple(group.source_indexes)))
        return _merge_duplicates(found)

    def _read_message(self, index: int, text: str, options: StoreOptions,
                      guidance: ProfileGuidance, found: list[Candidate],
                      summaries: SummaryBuilder) -> None:
        text = en.normalise(text)
        follow_up = bool(_FOLLOW_UP.match(text))
        switch = bool(_SWITCH.search(text))
        for sentence in en.split_sentences(text):
            asked = sentence.rstrip().endswith("?")
            sentence = _PET_NAME.sub(r"\1 named \2", sentence)
            sentence = _COUPLE.sub(_couple, sentence)
            hypothetical = is_hypothetical(sentence)
            clauses = en.split_clauses(strip_prefixes(sentence))
            for position, clause in enumerate(clauses):
                if secret_reason(clause):
                    continue
                forget = self._forget(clause, index)
                if forget is not None:
                    found.extend(forget)
                    continue
                last = position == len(clauses) - 1
                if is_question(clause, asked and last):
                    gist = gist_of(clause)
                    if gist and not hypothetical:
                        summaries.add(gist, index, clause, follow_up=follow_up, switch=switch)
                        switch = False
                    continue
                if hypothetical:
                    continue
                cleaned = clean_clause(clause)
                procedural = procedural_fact(cleaned) if cleaned else None
                if procedural is not None:
                    if options.procedural_memory_enabled:
                        found.extend(_accept(MemoryKind.PROCEDURAL, procedural, index, guidance))
                    continue
                if options.user_profile_enabled:
                    for fact in profile_facts(clause):
                        fact = _resolve_pronoun(fact, clauses[:position])
                        if fact is not None:
                            found.extend(_accept(MemoryKind.USER_PROFILE, fact, index,
                                                 guidance))
                gist = gist_of(clause)
                if gist:
                    summaries.add(gist, index, clause, follow_up=follow_up, switch=switch)
                    switch = False

    def _forget(self, clause: str, index: int) -> list[Candidate] | None:
        text = strip_prefixes(clause.strip()).rstrip(" .!?")
        match = _FORGET.match(text)
        if not match:
            return None
        what = match.group(1).strip()
        if _FORGET_NOTHING.match(what) or not what:
            return []
        kind = MemoryKind.USER_PROFILE
        if re.search(r"\b(?:conversation|chat|discussion|we (?:discussed|talked about))\b", what,
                     re.IGNORECASE):
            kind = MemoryKind.CHAT_SUMMARY
        content, topic = _forget_target(what)
        procedural = procedural_fact(what)
        if procedural is not None and kind is MemoryKind.USER_PROFILE:
            kind, content, topic = MemoryKind.PROCEDURAL, procedural.content, procedural.topic
        if not content:
            return []
        return [Candidate(kind, content, "forget", topic, (index,))]


def _resolve_pronoun(fact: Fact, earlier: Sequence[str]) -> Fact | None:
    """"Likes them" -> "Likes mushrooms" from "I've come around on mushrooms"; else drop it."""
    match = _PRONOUN_OBJECT.match(fact.content)
    if not match:
        return fact
    for clause in reversed(earlier):
        antecedent = _ANTECEDENT.search(clause.strip())
        if antecedent:
            content = f"{match.group(1)} {antecedent.group(1)}{match.group(3)}"
            return Fact(content, topic_of(content))
    return None


def _forget_target(what: str) -> tuple[str, str | None]:
    """How the memory to forget is likely phrased, and its topic."""
    where = re.match(r"^where I (work|live|am from|grew up)\b", what, re.IGNORECASE)
    if where:
        topic = {"work": "employer", "live": "home", "am from": "origin",
                 "grew up": "origin"}[where.group(1).lower()]
        return _FORGET_TEMPLATES[topic], topic
    if re.match(r"^(?:I|we)\b", what):
        facts = profile_facts(what)
        if facts:
            return facts[0].content, facts[0].topic
        converted = en.tidy(en.conjugate_predicate(re.sub(r"^(?:I|we)\s+", "", what)))
        converted = en.swap_pronouns(converted)
        return converted, topic_of(converted)
    my = re.match(r"^(?:my|our)\s+(.+)$", what, re.IGNORECASE)
    phrase = my.group(1) if my else what
    phrase = re.sub(r"^(?:the|a|an)\s+", "", phrase, flags=re.IGNORECASE)
    topic = topic_of(phrase) or topic_of(what)
    if topic in _FORGET_TEMPLATES and re.fullmatch(
        r"(?:job|work|employer|company|workplace|address|home|city|hometown|name|allerg\w*"
        r"|location|origin|nationality)", phrase.lower()
    ):
        return _FORGET_TEMPLATES[topic], topic
    return en.tidy(en.swap_pronouns(phrase)), topic


def _accept(kind: MemoryKind, fact: Fact, index: int,
            guidance: ProfileGuidance) -> list[Candidate]:
    content = trim_sensitive(fact.content, guidance.excluded)
    if not content or len(content.split()) < 2:
        return []
    topic = fact.topic if content == fact.content else (topic_of(content, kind) or fact.topic)
    if kind is MemoryKind.USER_PROFILE and not guidance.allows_topic(topic):
        return []
    return [Candidate(kind, content, "remember", topic, (index,))]


def _merge_duplicates(candidates: list[Candidate]) -> list[Candidate]:
    merged: dict[tuple[MemoryKind, str, str], Candidate] = {}
    for candidate in candidates:
        key = (candidate.kind, candidate.action, candidate.content.lower())
        if key in merged:
            previous = merged[key]
            indexes = tuple(dict.fromkeys(previous.source_indexes + candidate.source_indexes))
            merged[key] = Candidate(previous.kind, previous.content, previous.action,
                                    previous.topic, indexes)
        else:
            merged[key] = candidate
    return list(merged.values())
