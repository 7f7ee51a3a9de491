"""Full-text rows and queries: user text never becomes FTS5 syntax, and a scope's words never
match another scope's."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.storage.fts import (
    MAX_TERMS,
    query_terms,
    scope_prefix,
    scoped_match,
    scoped_words,
    unscoped_words,
    words,
)

ROWS = [
    (1, "green tea OR NEAR sk s2 s2xcoffee"),
    (2, "green tea and coffee"),
    (1, "café Straße"),
    (3, "Tea_Time in İstanbul"),
]


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (words,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        "INSERT INTO t (rowid, words) VALUES (?, ?)",
        [(i, scoped_words(scope_prefix(scope), text)) for i, (scope, text) in enumerate(ROWS)],
    )
    return conn


def matches(conn: sqlite3.Connection, scope: int, text: str) -> list[int]:
    query = scoped_match(scope_prefix(scope), text)
    if query is None:
        return []
    return [rowid for (rowid,) in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", (query,))]


def test_terms() -> None:
    assert query_terms("Green TEA, green tea!") == ["green", "tea"]
    assert query_terms('"" * ^ : ( ) {} -- _ __') == []
    assert query_terms("What do I think about coffee?") == ["think", "coffee"]
    assert query_terms("Who are you?") == ["who", "are", "you"]  # nothing but stopwords
    assert query_terms("tea_time") == ["tea", "time"]
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == MAX_TERMS
    assert scoped_match("s1x", 'coffee OR "tea"*') == '"s1xcoffee" OR "s1xtea"'
    assert scoped_match("s1x", "   ") is None


def test_scoped_words() -> None:
    assert scoped_words("s7x", "Green tea, OR coffee_beans!") == "s7xgreen s7xtea s7xor s7xcoffee s7xbeans"
    # Scope 1's "2coffee" and scope 12's "coffee" differ: digits then "x" end the prefix.
    assert scoped_words(scope_prefix(1), "2coffee") != scoped_words(scope_prefix(12), "coffee")


@given(scope=st.integers(1, 10**6), text=st.text())
def test_stored_words_read_back_as_the_texts_words(scope: int, text: str) -> None:
    prefix = scope_prefix(scope)
    assert unscoped_words(prefix, scoped_words(prefix, text).split()) == words(text)


def test_a_scope_matches_only_its_own_rows(fts: sqlite3.Connection) -> None:
    assert matches(fts, 1, "s2 coffee tea") == [0]
    # Scope 2's indexed word spelt out in scope 1's text is only a word of scope 1.
    assert matches(fts, 2, "s2xcoffee") == []
    assert matches(fts, 2, "coffee") == [1]
    assert matches(fts, 1, "?!") == []


def test_folding_and_stemming_agree(fts: sqlite3.Connection) -> None:
    assert matches(fts, 1, "CAFE") == [2]
    assert matches(fts, 1, "strasse") == matches(fts, 1, "STRASSE") == [2]
    assert matches(fts, 2, "teas") == [1]
    assert matches(fts, 3, "istanbul") == matches(fts, 3, "İSTANBUL") == [3]
    assert matches(fts, 3, "time") == [3]


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")),
       scope=st.sampled_from([1, 2, 3]))
def test_any_text_is_a_valid_query_of_its_scope(
    fts: sqlite3.Connection, text: str, scope: int
) -> None:
    for rowid in matches(fts, scope, text):
        assert ROWS[rowid][0] == scope


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"),
                    min_size=1))
def test_every_word_of_a_text_finds_it(text: str) -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5 (words,"
                 " tokenize = 'porter unicode61 remove_diacritics 2')")
    conn.execute("INSERT INTO t (rowid, words) VALUES (5, ?)",
                 (scoped_words(scope_prefix(4), text),))
    for term in query_terms(text):
        assert matches(conn, 4, term) == [5], term
