"""Chat summaries: one short third-person line per topic the user brought up.

The offline summariser does not paraphrase; it recognises what the user *asked for or worked
on* ("Can you help me plan a trip to Oslo in March?", "How do I fix …", "I'm building a Flask
app", "my login route keeps returning a 500 error") and turns each into a gist ("planning a
trip to Oslo in March"). Gists are grouped by topic and joined: "Discussed planning a trip to
Oslo in March; asked what to pack". Statements of fact alone make no summary (they become
profile memories), and assistant text is never used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from memvault.engine.extraction import english as en
from memvault.engine.extraction.facts import strip_prefixes
from memvault.engine.extraction.topics import topic_of

_MAX_CHARS = 280


@dataclass(frozen=True)
class Gist:
    verb: str
    """"Discussed", "Asked for", "Asked how to"…"""
    what: str
    topic: str | None


_FOR_VERBS = ("suggest", "recommend", "give me", "find me", "find", "show me", "send me",
              "share", "provide", "get me", "list", "name", "pick", "point me to")


def gist_of(clause: str) -> Gist | None:
    """What a user clause asks for or works on, or ``None`` (facts, thanks, small talk).

    Example::

        gist_of("Can you help me plan a trip to Oslo in March?")
        # Gist("Discussed", "planning a trip to Oslo in March", "travel")
    """
    text = strip_prefixes(clause.strip()).rstrip(" ?.!")
    text = re.sub(r"^(?:hey|hi|hello|so|ok|okay|also|and|but|quick question|one more thing"
                  r"|question|totally different question|different question|another question"
                  r"|unrelated)\b[\s,:;-]*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"[\s,]+please$", "", text, flags=re.IGNORECASE)
    if len(text.split()) < 2:
        return None
    for rule in _RULES:
        found = rule(text)
        if found is not None:
            verb, what = found
            what = _tidy_what(what)
            if not what or re.fullmatch(r"(?:it|that|this|them|so|one)", what, re.IGNORECASE):
                return None
            return Gist(verb, what, topic_of(what))
    return None


def _tidy_what(what: str) -> str:
    what = en.swap_pronouns(what)
    what = re.sub(r"\byour\b", "the assistant's", what)
    what = re.sub(r"\byou\b", "the assistant", what)
    what = re.sub(r"\b(?:for them|to them)\s*$", "", what)
    what = re.sub(r"\s+", " ", what).strip(" ,;:-")
    return what


def _help(text: str) -> tuple[str, str] | None:
    match = re.match(r"^(?:(?:can|could|would|will) you (?:please )?|please )?help me "
                     r"(?:to |with )?(.+)$", text, re.IGNORECASE)
    if match:
        what = match.group(1)
        words = what.split()
        if words and words[0].lower() in en.BASE_VERBS:
            return "Discussed", " ".join([en.gerund(words[0])] + words[1:])
        return "Discussed", what
    match = re.match(r"^I (?:need|would like|want) (?:some )?(?:help|advice|tips) (?:with|on|for"
                     r"|about) (.+)$", text, re.IGNORECASE)
    if match:
        return "Discussed", match.group(1)
    return None


def _request(text: str) -> tuple[str, str] | None:
    match = re.match(r"^(?:(?:can|could|would|will) you (?:please )?|please )?("
                     + "|".join(_FOR_VERBS) + r") (?:me )?(.+)$", text, re.IGNORECASE)
    if match:
        return "Asked for", match.group(2)
    match = re.match(r"^(?:can|could|would|will) you (?:please )?(?:tell me about|explain) (.+)$",
                     text, re.IGNORECASE)
    if match:
        return "Asked about", match.group(1)
    match = re.match(r"^(?:can|could|would|will) you (?:please )?(\w+) (.+)$", text, re.IGNORECASE)
    if match and match.group(1).lower() in en.BASE_VERBS:
        return "Asked the assistant to", f"{match.group(1).lower()} {match.group(2)}"
    match = re.match(r"^(?:please )?(?:tell me about|explain) (.+)$", text, re.IGNORECASE)
    if match:
        return "Asked about", match.group(1)
    match = re.match(r"^(?:please )?(write|draft|translate|summari[sz]e|fix|review|plan|create"
                     r"|design|compare|build|outline|proofread|rewrite|convert|calculate)"
                     r" (?:me )?(.+)$", text, re.IGNORECASE)
    if match:
        return "Asked the assistant to", f"{match.group(1).lower()} {match.group(2)}"
    match = re.match(r"^I (?:need|want|would like|am looking for) (?:an? |some |the )?"
                     r"((?:good |great |nice |new )?(?:recipe|book|restaurant|idea|ideas"
                     r"|recommendation|recommendations|suggestion|suggestions|name|gift|place"
                     r"|hotel|plan|way|tool|library|course)\b.*)$", text, re.IGNORECASE)
    if match:
        return "Asked for", match.group(1)
    return None


def _question(text: str) -> tuple[str, str] | None:
    match = re.match(r"^how (?:do|can|should|would|could|might) (?:I|we|you|one) (.+)$", text,
                     re.IGNORECASE)
    if match:
        return "Asked how to", match.group(1)
    match = re.match(r"^how (?:to|much|many|long|often) (.+)$", text, re.IGNORECASE)
    if match:
        return "Asked how " + text.split()[1].lower(), match.group(1)
    match = re.match(r"^(what|where|when|which \w+) (?:should|can|could|do|would) (?:I|we) (.+)$",
                     text, re.IGNORECASE)
    if match:
        return f"Asked {match.group(1).lower()} to", match.group(2)
    match = re.match(r"^(?:what|which) (\w+(?: \w+)?) (?:would|should|could|will|goes|go|pairs?"
                     r"|works?) (.+)$", text, re.IGNORECASE)
    if match and match.group(1).lower() not in {"is", "are", "do", "does", "did", "should",
                                                 "can", "would"}:
        return "Asked which " + match.group(1).lower() + " would", match.group(2)
    match = re.match(r"^(?:what|which) (?:is|are|would be) (?:the |a |an |some )?(best|good"
                     r"|great|nice|top|cheapest|easiest|fastest|quickest|recommended|simplest"
                     r"|healthiest|safest) (.+)$", text, re.IGNORECASE)
    if match:
        article = "the" if match.group(1).lower() not in {"good", "great", "nice"} else "a"
        return "Asked for", f"{article} {match.group(1).lower()} {match.group(2)}"
    match = re.match(r"^(?:what|which|who) (?:is|are|was|were) (.+)$", text, re.IGNORECASE)
    if match:
        return "Asked about", match.group(1)
    match = re.match(r"^why (?:is|are|does|do|did|would|can|cannot|does not|do not) (.+)$", text,
                     re.IGNORECASE)
    if match:
        return "Asked why", match.group(1)
    match = re.match(r"^(?:should|shall|can|could) (?:I|we) (.+)$", text, re.IGNORECASE)
    if match:
        return "Asked whether to", match.group(1)
    match = re.match(r"^(?:is|are|does|do|can|should|would|will) (?!it\b|that\b|this\b|they\b"
                     r"|you\b|I\b)(.+)$", text, re.IGNORECASE)
    if match:
        body = re.sub(r"^it true that ", "", match.group(1), flags=re.IGNORECASE)
        return "Asked whether", body
    match = re.match(r"^any (?:tips|ideas|suggestions|advice|recommendations) (?:on|for|about) "
                     r"(.+)$", text, re.IGNORECASE)
    if match:
        return "Asked for tips on", match.group(1)
    return None


_WORKING_ON = ("building", "working on", "writing", "planning", "organising", "organizing",
               "preparing", "debugging", "migrating", "setting up", "designing", "developing",
               "renovating", "fixing", "learning", "studying", "trying to", "looking into",
               "hosting", "throwing", "organizing a", "celebrating",
               "deciding", "choosing", "comparing", "researching", "refactoring", "deploying")


def _activity(text: str) -> tuple[str, str] | None:
    match = re.match(r"^I am (" + "|".join(_WORKING_ON) + r") (.+)$", text, re.IGNORECASE)
    if match:
        verb, what = match.group(1).lower(), match.group(2)
        if verb == "trying to":
            words = what.split()
            if not words or words[0].lower() not in en.BASE_VERBS:
                return None
            return "Discussed", " ".join([en.gerund(words[0])] + words[1:])
        return "Discussed", f"{verb} {what}"
    match = re.match(r"^(?:my|our|the) ([\w' -]{2,40}?) (?:keeps|kept|is|are|was|were|started) "
                     r"(\w+ing|not working|broken|failing|crashing|down)\b(.*)$", text,
                     re.IGNORECASE)
    if match:
        return "Discussed", f"their {match.group(1)} {match.group(2)}{match.group(3)}"
    match = re.match(r"^I (?:keep )?(?:am )?(?:getting|get|got|see|am seeing) (an? .*(?:error"
                     r"|exception|warning|crash|bug).*)$", text, re.IGNORECASE)
    if match:
        return "Discussed", f"getting {match.group(1)}"
    return None


_RULES = (_help, _request, _question, _activity)


@dataclass
class SummaryGroup:
    topic: str | None
    gists: list[Gist] = field(default_factory=list)
    source_indexes: list[int] = field(default_factory=list)

    def render(self) -> str:
        parts: list[str] = []
        last_verb = None
        for gist in self.gists:
            if gist.verb == last_verb:
                parts[-1] += f" and {gist.what}"
            else:
                verb = gist.verb if not parts else gist.verb[:1].lower() + gist.verb[1:]
                parts.append(f"{verb} {gist.what}")
            last_verb = gist.verb
        text = "; ".join(parts)
        if len(text) > _MAX_CHARS:
            text = text[:_MAX_CHARS].rsplit(" ", 1)[0]
        return en.tidy(text)


_CONTINUATION = re.compile(r"^(?:and|also|then|ok|okay|what about|how about|plus|oh|so)\b",
                           re.IGNORECASE)


class SummaryBuilder:
    """Collects gists of one update and groups them by topic, in order of first mention."""

    def __init__(self) -> None:
        self.groups: list[SummaryGroup] = []

    def add(self, gist: Gist, source_index: int, clause: str, *, follow_up: bool = False,
            switch: bool = False) -> None:
        """Add a gist; ``follow_up``: its message continues the previous one ("Nice. What…");
        ``switch``: it opens a new subject ("Totally different question: …")."""
        current = self.groups[-1] if self.groups else None
        target: SummaryGroup | None = None
        if current is not None and not switch and (
            source_index in current.source_indexes or follow_up
        ):
            target = current
        elif switch:
            target = None
        elif gist.topic is not None:
            target = next((g for g in self.groups if g.topic == gist.topic), None)
            if target is None and current is not None and current.topic is None:
                current.topic = gist.topic
                target = current
            elif target is None and current is not None and (
                _CONTINUATION.match(clause.strip()) and source_index in current.source_indexes
            ):
                target = current
        elif current is not None:
            target = current
        if target is None:
            target = SummaryGroup(gist.topic)
            self.groups.append(target)
        if any(g.what.lower() == gist.what.lower() for g in target.gists):
            return
        if len(target.gists) < 4:
            target.gists.append(gist)
        if source_index not in target.source_indexes:
            target.source_indexes.append(source_index)
