"""Procedural memories: how the user wants the assistant to work.

"Always answer in bullet points", "When you write SQL, use CTEs", "Please keep your answers
short", "I'd like detailed explanations from now on". A one-off request ("write me a poem") is
not procedural: a directive needs a sign of generality (always, never, from now on, whenever…)
or to be about the form of the assistant's output (answers, replies, units, tone…).
"""

from __future__ import annotations

import re

from memvault.engine.extraction import english as en
from memvault.engine.extraction.facts import Fact, finish
from memvault.engine.extraction.topics import topic_of
from memvault.models import MemoryKind

_GENERAL = re.compile(
    r"\b(?:always|never|from now on|going forward|in (?:the )?future|whenever|every time"
    r"|each time|by default|in general|all (?:of )?your|any ?time|from here on|no more"
    r"|do not ever|ever again|henceforth|as a rule|stop)\b",
    re.IGNORECASE,
)
_STYLE_NOUNS = re.compile(
    r"\b(?:answers?|responses?|replies|reply|explanations?|code examples?|examples?|summaries"
    r"|tone|format(?:ting)?|units|emojis?|emoticons?|bullet points?|bullets|tables?|markdown"
    r"|headings|paragraphs|messages?|output|commit messages|docstrings|comments|variable names"
    r"|citations|sources|jargon|language|sentences|wording|type hints|code blocks?|ctes?)\b",
    re.IGNORECASE,
)
IMPERATIVE_VERBS = frozenset(
    """answer reply respond write use keep avoid stop start include format give show explain
    address speak talk be make add put list mention cite ask tell provide structure limit skip
    omit default remember assume refer translate focus label return wrap comment sort number
    summarize summarise double-check check try ignore recommend suggest send post do prefer
    spell round convert express present lead open end sign greet follow stick reference quote
    prioritise prioritize drop leave lay break split""".split()
)

_LEAD = re.compile(
    r"^(?:(?:please|and|also|so|ok|okay|oh|actually|just|kindly|by the way|btw|one more thing"
    r"|one thing|going forward|from now on|from here on|in (?:the )?future|for (?:the )?future"
    r"|in general|as a rule|by default)\b[\s,:;-]*)+",
    re.IGNORECASE,
)
_WANT_YOU = re.compile(
    r"^I (?:would (?:really )?(?:like|love|prefer)|want|need|prefer|expect) (?:it if )?you to "
    r"(.+)$|^I (?:would )?prefer (?:it )?(?:when|if) you (.+)$|^I like it when you (.+)$"
    r"|^you (?:should|must|need to|have to)(?: always)? (.+)$",
    re.IGNORECASE,
)
_DONT_WANT_YOU = re.compile(
    r"^I (?:do not|never) want you to (.+)$|^I (?:hate|dislike|do not like) (?:it )?when you "
    r"(.+)$|^you should (?:never|not) (.+)$",
    re.IGNORECASE,
)
_PREFER_STYLE = re.compile(
    r"^I (prefer|want|would like|like|need|would prefer|would rather have|do not want"
    r"|do not like|hate|dislike|love) ((?:(?:my|your|the|all|more|less|fewer|shorter|longer"
    r"|short|long|brief|concise|detailed|simple|plain|simpler|formal|casual|[\w-]+)\s+){0,3}"
    r"(?:answers|responses|replies|explanations|code examples|examples|summaries|units|tone"
    r"|emojis|bullet points|tables|markdown|messages|output|sentences|code blocks)\b.*)$",
    re.IGNORECASE,
)
_CONDITION = re.compile(r"^(?:when|whenever|if) you (?:are )?([^,]{2,60}?),\s*(.+)$", re.IGNORECASE)


def procedural_fact(clause: str) -> Fact | None:
    """The procedural memory a cleaned user clause states, or ``None``.

    Example::

        procedural_fact("Always answer in bullet points please")
        # Fact("Wants the assistant to always answer in bullet points", "format")
    """
    text = clause.strip().rstrip(".!")
    general = bool(_GENERAL.search(text))
    text = re.sub(r",?\s*\b(?:from now on|going forward|from here on|in (?:the )?future"
                  r"|henceforth)\b,?", " ", text, flags=re.IGNORECASE).strip()
    text = _LEAD.sub("", text).strip()
    text = re.sub(r"[\s,]+please$", "", text, flags=re.IGNORECASE)
    if not text or re.match(r"(?:please\s+)?call me\b", text, re.IGNORECASE):
        return None

    condition = ""
    match = _CONDITION.match(text)
    if match:
        cond_verb = match.group(1).split()
        if cond_verb and cond_verb[0].lower() in en.BASE_VERBS:
            rest = " ".join(cond_verb[1:])
            condition = f"When {en.gerund(cond_verb[0])} {rest}, ".replace(" ,", ",")
        else:
            condition = f"When the assistant is {match.group(1)}, "
        text = _LEAD.sub("", match.group(2)).strip()
        general = True

    match = _DONT_WANT_YOU.match(text)
    if match:
        body = next(g for g in match.groups() if g)
        return _make(f"{condition}Does not want the assistant to {body}")
    match = _WANT_YOU.match(text)
    if match:
        body = next(g for g in match.groups() if g)
        if not (general or _STYLE_NOUNS.search(body)):
            return None
        return _make(f"{condition}Wants the assistant to {body}")
    match = _PREFER_STYLE.match(text)
    if match:
        verb, what = match.group(1).lower(), match.group(2)
        lead = {"prefer": "Prefers", "like": "Likes", "love": "Loves", "need": "Needs",
                "do not want": "Does not want", "do not like": "Does not like",
                "hate": "Dislikes", "dislike": "Dislikes", "would rather have": "Prefers",
                "would prefer": "Prefers"}.get(verb, "Wants")
        return _make(f"{condition}{lead} {what}")

    bare_no = re.match(r"^no (?:more )?([\w' -]{2,30}?) (in|for|with|on) (.+)$", text,
                       re.IGNORECASE)
    if bare_no and (_STYLE_NOUNS.search(bare_no.group(3)) or _STYLE_NOUNS.search(bare_no.group(1))):
        return _make(f"{condition}Does not want {bare_no.group(1)} {bare_no.group(2)} "
                     f"{bare_no.group(3)}")
    negative = re.match(r"^(?:do not|don't|never|please do not|stop)\s+(.+)$", text, re.IGNORECASE)
    body = negative.group(1) if negative else text
    words = re.sub(r"^(?:always|never|also|just)\s+", "", body, flags=re.IGNORECASE).split()
    if not words or words[0].lower() not in IMPERATIVE_VERBS:
        return None
    if not (general or _STYLE_NOUNS.search(body) or condition):
        return None
    if re.match(r"^(?:tell|show|give|send|find|explain) me\b(?!.*\b(?:always|every time"
                r"|whenever)\b)", body, re.IGNORECASE) and not general:
        return None
    if negative:
        lead = text[: negative.start(1)].strip().lower()
        if lead == "stop":
            return _make(f"{condition}Wants the assistant to stop {body}")
        if lead == "never":
            return _make(f"{condition}Wants the assistant to never {body}")
        return _make(f"{condition}Does not want the assistant to {body}")
    return _make(f"{condition}Wants the assistant to {body}")


def _make(content: str) -> Fact:
    content = re.sub(r"^(When [^,]+, )(\w)", lambda m: m.group(1) + m.group(2).lower(), content)
    for lead in (r"the assistant to", r"(?:Prefers|Wants|Likes|Needs|Loves)"):
        content = re.sub(rf"\b({lead}) (\w+)",
                         lambda m: f"{m.group(1)} {m.group(2)[:1].lower()}{m.group(2)[1:]}"
                         if not m.group(2).isupper() else m.group(0), content)
    content = re.sub(r"\byour\s+", "", content, flags=re.IGNORECASE)
    content = re.sub(r"\byou\b", "the assistant", content, flags=re.IGNORECASE)
    content = finish(content)
    return Fact(content, topic_of(content, MemoryKind.PROCEDURAL))
