"""How the extraction benchmark decides that a stored memory *is* an expected fact.

A stored memory matches an expected fact when both hold:

* **same kind**, and at least :data:`MIN_COVERAGE` of the key terms of one occur in the other
  (see :func:`support` for the direction). Key terms: lower-cased words minus stop words and
  interchangeable predicates such as likes/loves/prefers/enjoys, crudely stemmed. Key terms
  carry the *value*: "light roast" vs "dark roast", "Berlin" vs "Paris".
* **cosine >= MIN_COSINE** between the two embeddings, a guard against key-word collisions in
  unrelated sentences.

Cosine alone cannot decide: with all-MiniLM-L6-v2, "Prefers dark roast coffee, usually in the
morning" and the light-roast version score 0.947, above most true paraphrases. Keyword overlap
alone would accept "Does not like mushrooms" for "Likes mushrooms", which is why a stored memory
that contains a superseded or forbidden phrase never counts as correct, whatever it matches.

This module is deliberately independent of the engine's own text comparison
(``memvault.engine.consolidation.content_words``), so the benchmark does not grade the engine
with the engine's ruler.
"""

from __future__ import annotations

import re

MIN_COVERAGE = 0.6
MIN_COSINE = 0.5

_STOP = frozenset(
    """a an the and or but of to in on at for with by from as is are was were be been being has
    have had do does did it its this that these those they them their theirs who which what when
    how i me my we our you your he she his her also very really just so too usually especially
    mostly often sometimes some any all much many more most like likes love loves enjoy enjoys
    prefer prefers adore adores favourite favorite fan big huge thing things about into user
    discussed asked wants want would there here then than one""".split()
)


def key_terms(text: str) -> frozenset[str]:
    words = re.findall(r"[a-z0-9][a-z0-9'+#.-]*[a-z0-9+#]|[a-z0-9]", text.lower())
    return frozenset(_stem(w) for w in words if w not in _STOP)


def _stem(word: str) -> str:
    word = word.removesuffix("'s").removesuffix("'")
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    return word


def support(claim: str, evidence: str) -> float:
    """Share of ``claim``'s key terms that occur in ``evidence``.

    Recall asks it of an expected fact against the stored memories (did we store it?).
    Precision accepts either direction (the memory holds the fact, or the memory is part of
    the fact): a partial but true memory ("Loves hiking" for "Loves hiking, especially on
    weekends") is correct, and so is a wordier one ("Wants the assistant to always use metric
    units" for "Wants metric units"); the partial one alone does not recall the fuller fact.
    """
    wanted = key_terms(claim)
    if not wanted:
        return 0.0
    return len(wanted & key_terms(evidence)) / len(wanted)


def contains_phrase(text: str, phrase: str) -> bool:
    """Case-insensitive whole-phrase search ("Tom" is not found in "Tomorrow"); a leading "^"
    anchors the phrase at the start of ``text``."""
    start = r"^\s*" if phrase.startswith("^") else r"(?<![\w])"
    body = re.escape(phrase.removeprefix("^"))
    return re.search(rf"{start}{body}(?![\w])", text, re.IGNORECASE) is not None
