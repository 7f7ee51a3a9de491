"""The topic classifier shared by extraction and consolidation."""

from __future__ import annotations

import pytest

from memvault.engine.extraction import topic_of, topics_of
from memvault.models import MemoryKind


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Prefers dark roast coffee, usually in the morning", "coffee"),
        ("I have switched to light roast", "coffee"),
        ("Likes cappuccinos in the afternoon", "coffee"),
        ("Lives in Berlin", "home"),
        ("I live in Berlin", "home"),
        ("Used to live in Rome", "past_home"),
        ("Is originally from Canada", "origin"),
        ("Name is Tim", "name"),
        ("Works as a nurse at St. Mary's Hospital", "job"),
        ("Works at Globex", "employer"),
        ("Is a data engineer", "job"),
        ("Is vegetarian", "diet"),
        ("No longer eats meat", "diet"),
        ("Is allergic to shellfish", "allergy"),
        ("Has a sister who lives in Madrid", "family"),
        ("Has a golden retriever named Max", "pets"),
        ("Is married to Anna", "partner"),
        ("Loves hiking", "hiking"),
        ("Runs a small bakery in Hamburg", "employer"),
    ],
)
def test_profile_topics(text, topic):
    assert topic_of(text) == topic


def test_procedural_topics():
    assert topic_of("Wants the assistant to always answer in bullet points",
                    MemoryKind.PROCEDURAL) == "format"
    assert topic_of("Wants the assistant to keep answers short", MemoryKind.PROCEDURAL) == "length"
    assert topic_of("Wants the assistant to reply in Spanish", MemoryKind.PROCEDURAL) == (
        "reply_language")
    assert topic_of("When writing SQL, wants the assistant to use CTEs",
                    MemoryKind.PROCEDURAL) == "sql"
    assert topic_of("Wants the assistant to be nice", MemoryKind.PROCEDURAL) == "style"


def test_no_topic():
    assert topic_of("Is left of centre on most things") is None
    assert "employer" in topics_of("Works as a nurse at St. Mary's Hospital")
