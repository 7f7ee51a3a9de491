"""Turning text into words: full-text index rows, safe full-text queries, and the stems the
in-memory word index (:mod:`.term_index`) ranks by.

User text never reaches the full-text engine as syntax: it is cut into words, each word becomes
a quoted phrase, and the phrases are joined with ``OR`` (bm25 ranks documents that match more of
them higher). ``OR``, ``NEAR``, ``*``, ``"``, ``:`` and ``^`` in the input are words or nothing,
never operators.

**Scoped words (SQLite).** The SQLite backend keeps one FTS5 table for every scope, and indexes
each word glued to its scope's prefix (``s7xcoffee`` for "coffee" in the scope whose row id is 7):
:func:`scoped_words` for rows, :func:`scoped_match` for queries. Every posting list then belongs
to one scope, so a query reads only its own scope's postings and bm25's document frequencies are
the scope's own: with one shared vocabulary, each term's frequency came from the whole table
(3.6x the CPU per query at 100 scopes x 10k memories, and other scopes' texts swayed the ranking).
Both sides cut and case-fold words with the same Python code; FTS5's tokenizer then applies the
same folding and stemming to each side, so they always agree.

Searches no longer query that table: it is the stored copy of each row's words
(:func:`unscoped_words` reads them back), and the scope's in-memory index ranks them by the same
bm25 from :func:`stems` (:func:`search_terms` for queries). :func:`scoped_match` remains the FTS5
query for the benchmark baseline and the table's own tests.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable

import Stemmer

MAX_TERMS = 32
"""Words beyond this many are ignored: they add cost and almost never change the top results."""

# Letters and digits: what FTS5's unicode61 tokenizer keeps by default ("L* N*"); "_" splits.
_WORD = re.compile(r"[^\W_]+")

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


def words(text: str) -> list[str]:
    """Every word of ``text``, case-folded, in order (what the SQLite index holds, unprefixed)."""
    return [match.group().casefold() for match in _WORD.finditer(text)]


def query_terms(text: str) -> list[str]:
    """The distinct words of ``text`` that carry meaning (case-folded, in order of first
    appearance, at most ``MAX_TERMS``); all of its words when every one is a stopword."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text):
        seen.setdefault(match.group().casefold(), None)
    words = [word for word in seen if word not in STOPWORDS] or list(seen)
    return words[:MAX_TERMS]


def quote(term: str) -> str:
    """``term`` as an FTS5 string (a phrase): nothing inside it is syntax."""
    return '"' + term.replace('"', '""') + '"'


def scope_prefix(scope_id: int) -> str:
    """The prefix of a scope's words in the SQLite index (digits then ``x``: no two scopes'
    prefixes can produce the same word)."""
    return f"s{scope_id}x"


def scoped_words(prefix: str, text: str) -> str:
    """What the SQLite index holds for ``text`` in the scope of ``prefix``: every word,
    case-folded, glued to the prefix, separated by spaces."""
    return " ".join(prefix + word for word in words(text))


def unscoped_words(prefix: str, stored: Iterable[str]) -> list[str]:
    """``stored`` words (what :func:`scoped_words` wrote with ``prefix``, split at spaces)
    unprefixed."""
    cut = len(prefix)
    return [word[cut:] for word in stored]


def scoped_match(prefix: str, text: str) -> str | None:
    """The MATCH expression for ``text`` within the scope of ``prefix``; ``None`` when ``text``
    has no word."""
    terms = query_terms(text)
    if not terms:
        return None
    return " OR ".join(quote(prefix + term) for term in terms)


_stemmers = threading.local()


def stems(words: Iterable[str]) -> list[str]:
    """``words`` (case-folded) as the in-memory text index keeps them: diacritics removed, then
    Porter-stemmed, as FTS5's ``porter unicode61 remove_diacritics 2`` tokenizer does."""
    stemmer = getattr(_stemmers, "stemmer", None)
    if stemmer is None:  # a PyStemmer object serves one thread at a time
        stemmer = _stemmers.stemmer = Stemmer.Stemmer("porter")
    return stemmer.stemWords([word if word.isascii() else _plain(word) for word in words])


def search_terms(text: str) -> list[str]:
    """The distinct stems of ``text``'s :func:`query_terms`, in order."""
    return list(dict.fromkeys(stems(query_terms(text))))


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
