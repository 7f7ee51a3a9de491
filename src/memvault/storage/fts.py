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


def query_terms(text: str) -> list[str]:
    """The distinct words of ``text`` (case-folded, in order of first appearance, at most
    ``MAX_TERMS``)."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text):
        word = match.group().casefold()
        if word.strip("_") and word not in seen:
            seen[word] = None
            if len(seen) == MAX_TERMS:
                break
    return list(seen)


def quote(term: str) -> str:
    """``term`` as an FTS5 string (a phrase): nothing inside it is syntax."""
    return '"' + term.replace('"', '""') + '"'


def match_terms(text: str) -> str | None:
    """An FTS5 expression matching any word of ``text``; ``None`` when there is no word.

    >>> match_terms('coffee OR "tea"*')
    '"coffee" OR "or" OR "tea"'
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
