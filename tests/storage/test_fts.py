"""The full-text query builder: user text never becomes FTS5 syntax."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memvault.storage.fts import MAX_TERMS, match_terms, query_terms, scope_match


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE VIRTUAL TABLE t USING fts5 (sk, content,"
        " tokenize = 'porter unicode61 remove_diacritics 2')"
    )
    conn.executemany(
        "INSERT INTO t (sk, content) VALUES (?, ?)",
        [("s1", "green tea OR NEAR sk s2"), ("s2", "green tea and coffee"), ("s1", "café")],
    )
    return conn


def test_terms() -> None:
    assert query_terms("Green TEA, green tea!") == ["green", "tea"]
    assert query_terms('"" * ^ : ( ) {} -- _ __') == []
    assert match_terms("   ") is None
    assert match_terms('coffee OR "tea"*') == '"coffee" OR "tea"'
    assert query_terms("What do I think about coffee?") == ["think", "coffee"]
    assert query_terms("Who are you?") == ["who", "are", "you"]  # nothing but stopwords
    assert len(query_terms(" ".join(f"w{i}" for i in range(100)))) == MAX_TERMS


def test_scope_match_stays_in_scope(fts: sqlite3.Connection) -> None:
    query = scope_match("s1", "s2 coffee tea")
    rows = fts.execute("SELECT sk FROM t WHERE t MATCH ?", (query,)).fetchall()
    assert rows == [("s1",)]
    assert scope_match("s1", "?!") is None
    accent = fts.execute("SELECT content FROM t WHERE t MATCH ?", (scope_match("s1", "CAFE"),))
    assert accent.fetchall() == [("café",)]


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")))
def test_any_text_is_a_valid_query(fts: sqlite3.Connection, text: str) -> None:
    query = scope_match("s2", text)
    if query is None:
        assert query_terms(text) == []
        return
    for (sk,) in fts.execute("SELECT sk FROM t WHERE t MATCH ?", (query,)):
        assert sk == "s2"
