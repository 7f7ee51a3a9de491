"""Turning a user's text into a safe full-text query.

User text never reaches the full-text engine as syntax: it is cut into words, each word becomes
a quoted phrase, and the phrases are joined with ``OR`` (bm25 ranks documents that match more of
them higher). ``OR``, ``NEAR``, ``*``, ``"``, ``:`` and ``^`` in the input are words or nothing,
never operators. The SQLite backend wraps the result as ``sk : "<scope token>" AND content : (<terms>)``.
"""

from __future__ import annotations

import re

MAX_TERMS = 32
"""Words beyond this many are ignored: they add cost and almost never change the top results."""

_WORD = re.compile(r"\w+")

# Function words match most memories and rank none of them (memories are short third-person
# facts, questions are first-person): leaving them out keeps a query's cost to the words that
# carry meaning. A text made only of them is searched as it is.
STOPWORDS = frozenset("""
a about above after again all am an and any are as at be been being before below between both
but by can could did do does doing down during each few for from further had has have having he
her here hers him his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours out over own same she should so some such than that
the their theirs them then there these they this those through to too under until up very was
we were what when where which while who whom why will with would you your yours yourself
""".split())


def query_terms(text: str) -> list[str]:
    """The distinct words of ``text`` that carry meaning (case-folded, in order of first
    appearance, at most ``MAX_TERMS``); all of its words when every one is a stopword."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text):
        word = match.group().casefold()
        if word.strip("_") and word not in seen:
            seen[word] = None
    words = [word for word in seen if word not in STOPWORDS] or list(seen)
    return words[:MAX_TERMS]


def quote(term: str) -> str:
    """``term`` as an FTS5 string (a phrase): nothing inside it is syntax."""
    return '"' + term.replace('"', '""') + '"'


def match_terms(text: str) -> str | None:
    """An FTS5 expression matching any word of ``text``; ``None`` when there is no word.

    >>> match_terms('coffee OR "tea"*')
    '"coffee" OR "tea"'
    """
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join(quote(term) for term in terms)


def scope_match(scope_token: str, text: str) -> str | None:
    """The full MATCH expression for ``text`` within one scope; ``None`` when ``text`` has no word.

    Putting the scope token in the query (rather than only filtering joined rows afterwards) makes
    FTS5 intersect posting lists, so the cost follows the scope's size, not the table's.
    """
    terms = match_terms(text)
    if terms is None:
        return None
    return f"sk : {quote(scope_token)} AND content : ({terms})"
