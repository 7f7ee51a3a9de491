"""The pure parts of memory entries: path rules, edits and ranking (``memvault.engine.entries``).
The operations themselves are tested through the API (tests/api/test_databricks_entries.py)."""

from __future__ import annotations

import numpy as np
import pytest

from memvault.engine.entries import (
    KEYWORD_BOOST,
    EntryEdit,
    apply_edit,
    rank_entries,
    validate_path,
)
from memvault.errors import InvalidRequest
from memvault.models import MemoryEntry, ScoredEntry


@pytest.mark.parametrize(
    "path", ["/memories/a.md", "/memories/preferences/food.md", "/memories/ä/ß.txt",
             "/memories/a..b", "/memories/.hidden"],
)
def test_valid_paths(path: str) -> None:
    assert validate_path(path) == path


@pytest.mark.parametrize(
    "path",
    ["", "/memories/", "/memories", "memories/a", "/Memories/a", "/memories//a", "/memories/a/",
     "/memories/./a", "/memories/a/..", "/memories/a b", "/memories/a\u00a0b", "/memories/a\u200bb",
     "/memories/a\x7fb", "/memories/" + "x" * 1015, None, 7],
)
def test_invalid_paths(path: object) -> None:
    with pytest.raises(InvalidRequest):
        validate_path(path)


@pytest.mark.parametrize(
    ("contents", "edit", "expected"),
    [
        ("a\nb\n", EntryEdit(insert=("x", None)), "a\nb\nx\n"),
        ("a\nb", EntryEdit(insert=("x", None)), "a\nb\nx"),
        ("a\nb\n", EntryEdit(insert=("x", 0)), "x\na\nb\n"),
        ("a\nb\n", EntryEdit(insert=("x\ny\n", 1)), "a\nx\ny\nb\n"),
        ("", EntryEdit(insert=("x", None)), "x"),
        ("", EntryEdit(insert=("x", 0)), "x"),
        ("tea and coffee", EntryEdit(str_replace=("tea", "water")), "water and coffee"),
        ("tea and coffee", EntryEdit(str_replace=(" and coffee", "")), "tea"),
        ("old", EntryEdit(replace_all=""), ""),
        ("same", EntryEdit(description="only the description"), "same"),
    ],
)
def test_apply_edit(contents: str, edit: EntryEdit, expected: str) -> None:
    edit.check()
    assert apply_edit(contents, edit) == expected


@pytest.mark.parametrize(
    ("contents", "edit", "message"),
    [
        ("tea", EntryEdit(str_replace=("coffee", "x")), "was not found"),
        ("tea tea tea", EntryEdit(str_replace=("tea", "x")), "matches 3 times"),
        ("a\nb", EntryEdit(insert=("x", 3)), "have 2 lines"),
    ],
)
def test_apply_edit_refuses(contents: str, edit: EntryEdit, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        apply_edit(contents, edit)


@pytest.mark.parametrize(
    "edit",
    [EntryEdit(), EntryEdit(str_replace=("a", "b"), replace_all="c"),
     EntryEdit(insert=("x", None), replace_all="c"), EntryEdit(str_replace=("", "b")),
     EntryEdit(insert=("x", -1))],
)
def test_malformed_edits(edit: EntryEdit) -> None:
    with pytest.raises(InvalidRequest):
        edit.check()


def _entry(path: str, description: str, vector: list[float]) -> MemoryEntry:
    return MemoryEntry(id=path, store_id="ms", scope="u", path=path, description=description,
                       contents="", created_at=1, updated_at=1,
                       embedding=np.array(vector, dtype=np.float32))  # fmt: skip


def test_ranking_is_semantic_with_a_keyword_boost() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    close = _entry("/memories/close.md", "diet", [0.6, 0.8])
    keyword = _entry("/memories/keyword.md", "apollo launch", [0.4, 0.9165])
    far = _entry("/memories/far.md", "unrelated", [0.0, 1.0])
    by_vector = [ScoredEntry(close, 0.6), ScoredEntry(keyword, 0.4)]
    # `far` is found by its words only: its cosine comes from its embedding.
    by_text = [ScoredEntry(keyword, 2.0), ScoredEntry(far, 1.0)]
    ranked = rank_entries(by_vector, by_text, query, "apollo launch", 10)
    assert [hit.entry.path for hit in ranked] == [
        "/memories/keyword.md", "/memories/close.md", "/memories/far.md",
    ]
    assert ranked[0].score == pytest.approx(0.4 + KEYWORD_BOOST)
    assert ranked[1].score == pytest.approx(0.6)
    # `far` holds neither word of the query: its text rank earns it no boost.
    assert ranked[2].score == pytest.approx(0.0)
    assert len(rank_entries(by_vector, by_text, query, "apollo launch", 1)) == 1


def test_one_shared_word_of_several_earns_part_of_the_boost() -> None:
    query = np.array([1.0, 0.0], dtype=np.float32)
    user = _entry("/memories/prefs.md", "user communication", [0.1, 0.995])
    food = _entry("/memories/food.md", "vegetarian", [0.35, 0.937])
    ranked = rank_entries(
        [ScoredEntry(food, 0.35), ScoredEntry(user, 0.1)], [ScoredEntry(user, 3.0)], query,
        "what does the user eat?", 10,
    )  # fmt: skip
    assert [hit.entry.path for hit in ranked] == ["/memories/food.md", "/memories/prefs.md"]
    assert ranked[1].score == pytest.approx(0.1 + KEYWORD_BOOST / 2)
