"""The in-memory word index ranks exactly as FTS5's bm25 would over the same rows, through adds,
removals and compaction, and applies the index's kind and expiry filters."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from memvault.models import MemoryKind
from memvault.storage import fts
from memvault.storage.vector_index import ScopeVectors, VectorRow

VOCABULARY = ["tea", "teas", "coffee", "jazz", "hiking", "hikes", "Lisbon", "café", "cafe",
              "the", "and", "running", "runs", "Ørsted", "blue", "notes", "42"]
texts = st.lists(st.sampled_from(VOCABULARY), min_size=0, max_size=12).map(" ".join)


def row(key: int, text: str, kind: MemoryKind = MemoryKind.USER_PROFILE,
        expires_at: int | None = None) -> VectorRow:
    return VectorRow(key, kind, expires_at, np.ones(4, dtype=np.float32) / 2, text)


def fts5_ranking(rows: dict[int, str], query: str, limit: int) -> list[tuple[int, float]]:
    """What FTS5's bm25 makes of the same rows and query (the ranking search used before)."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(words,"
                 " tokenize = 'porter unicode61 remove_diacritics 2')")
    conn.executemany("INSERT INTO t (rowid, words) VALUES (?, ?)",
                     [(key, " ".join(fts.words(text))) for key, text in rows.items()])
    terms = fts.query_terms(query)
    if not terms:
        return []
    found = conn.execute(
        "SELECT rowid, -bm25(t) FROM t WHERE t MATCH ? ORDER BY 2 DESC, rowid LIMIT ?",
        (" OR ".join(fts.quote(term) for term in terms), limit),
    ).fetchall()
    return [(key, score) for key, score in found]


def ranking(index: ScopeVectors, query: str, limit: int, **filters) -> list[tuple[int, float]]:
    return index.text_search(fts.search_terms(query), kinds=filters.get("kinds", list(MemoryKind)),
                             now=filters.get("now", 0), limit=limit)


def assert_same(ours: list[tuple[int, float]], theirs: list[tuple[int, float]]) -> None:
    assert [key for key, _ in ours] == [key for key, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(texts, min_size=1, max_size=40), removed=st.sets(st.integers(0, 39)),
       added=st.lists(texts, max_size=10), query=texts)
def test_ranks_as_fts5_bm25_through_changes(rows, removed, added, query) -> None:
    # FTS5 counts a word twice when two query words share its stem ("tea teas"); the index once.
    assume(len(set(fts.search_terms(query))) == len(fts.query_terms(query)))
    index = ScopeVectors(4, (1, 1))
    index.upsert(row(key, text) for key, text in enumerate(rows))
    index.remove(key for key in removed)  # may compact
    index.upsert(row(100 + i, text) for i, text in enumerate(added))
    live = {key: text for key, text in enumerate(rows) if key not in removed}
    live.update({100 + i: text for i, text in enumerate(added)})
    # Compared by key: FTS5 and the index may order equal scores differently.
    ours = ranking(index, query, limit=100)
    theirs = fts5_ranking(live, query, limit=100)
    assert {key for key, _ in ours} == {key for key, _ in theirs}
    assert_same(sorted(ours), sorted(theirs))


def test_loaded_and_grown_indexes_agree() -> None:
    texts_ = ["green tea in Lisbon", "jazz and coffee", "running shoes", "tea and jazz", "blue"]
    loaded = ScopeVectors.from_arrays(
        dim=4, version=(1, 1), keys=np.arange(5), kinds=np.zeros(5, dtype=np.int8),
        expires=np.full(5, np.iinfo(np.int64).max), vectors=np.ones((5, 4), dtype=np.float32),
        terms=[fts.stems(fts.words(text)) for text in texts_],
    )
    grown = ScopeVectors(4, (1, 1))
    grown.upsert(row(key, text) for key, text in enumerate(texts_))
    for query in ["tea", "jazz coffee", "runs", "nothing here"]:
        assert_same(ranking(loaded, query, 10), ranking(grown, query, 10))
        assert_same(ranking(grown, query, 10), fts5_ranking(dict(enumerate(texts_)), query, 10))


def test_words_match_across_accents_and_word_forms() -> None:
    index = ScopeVectors(4, (1, 1))
    index.upsert([row(1, "Meet at the Café Ørsted"), row(2, "She runs marathons")])
    assert [key for key, _ in ranking(index, "cafe orsted", 5)] == [1]
    assert [key for key, _ in ranking(index, "running", 5)] == [2]


def test_kinds_expiry_and_limit_filter_the_matches() -> None:
    index = ScopeVectors(4, (1, 1))
    index.upsert([
        row(1, "tea every morning"),
        row(2, "tea with lemon", kind=MemoryKind.PROCEDURAL),
        row(3, "tea in Lisbon", expires_at=50),
        row(4, "tea tea tea"),
    ])
    assert {key for key, _ in ranking(index, "tea", 10)} == {1, 2, 3, 4}
    assert {key for key, _ in ranking(index, "tea", 10, now=60)} == {1, 2, 4}
    profile = ranking(index, "tea", 10, kinds=[MemoryKind.USER_PROFILE], now=60)
    assert {key for key, _ in profile} == {1, 4}
    assert [key for key, _ in ranking(index, "tea", 1)] == [4]  # most occurrences, shortest
    assert ranking(index, "tea", 10, kinds=[]) == []
    assert ranking(index, "", 10) == []


@pytest.mark.parametrize("replaced", [True, False])
def test_a_replaced_or_removed_row_is_found_by_its_new_words_only(replaced: bool) -> None:
    index = ScopeVectors(4, (1, 1))
    index.upsert([row(1, "likes green tea"), row(2, "plays jazz piano")])
    if replaced:
        index.upsert([row(1, "likes black coffee")])
        assert [key for key, _ in ranking(index, "coffee", 5)] == [1]
    else:
        index.remove([1])
        assert ranking(index, "coffee", 5) == []
    assert ranking(index, "green tea", 5) == []
    assert [key for key, _ in ranking(index, "jazz", 5)] == [2]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(texts, min_size=1, max_size=30), query=texts)
def test_a_bulk_load_of_tokens_ranks_as_rows_added_one_by_one(rows, query) -> None:
    # A scope's index loads from its stored tokens, stemmed once per distinct token.
    loaded = ScopeVectors.from_arrays(
        dim=4, version=(1, 1), keys=np.arange(len(rows)), kinds=np.zeros(len(rows)),
        expires=np.full(len(rows), np.iinfo(np.int64).max),
        vectors=np.ones((len(rows), 4), dtype=np.float32),
        terms=[fts.words(text) for text in rows], normalize=fts.stems,
    )  # fmt: skip
    grown = ScopeVectors(4, (1, 1))
    for key, text in enumerate(rows):
        grown.upsert([row(key, text)])
    assert_same(ranking(loaded, query, 50), ranking(grown, query, 50))
