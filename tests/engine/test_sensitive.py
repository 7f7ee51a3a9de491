"""The sensitive-data filter shared by every extractor."""

from __future__ import annotations

import pytest

from memvault.engine.extraction import Candidate, filter_candidates, parse_guidance
from memvault.engine.extraction.sensitive import (
    AGE,
    CREDENTIALS,
    FINANCIAL,
    HEALTH,
    LOCATION,
    PRECISE_LOCATION,
    secret_reason,
    sensitive_reason,
    trim_sensitive,
)
from memvault.models import MemoryKind, StoreOptions

HOWTO = ("Avoid irrelevant or sensitive data, such as age, financials, precise location, and"
         " credentials")


def test_howto_sentence():
    guidance = parse_guidance(HOWTO)
    assert {AGE, FINANCIAL, PRECISE_LOCATION, CREDENTIALS} <= guidance.excluded
    assert LOCATION not in guidance.excluded
    assert HEALTH not in guidance.excluded
    assert guidance.focus == frozenset()


@pytest.mark.parametrize(
    ("details", "excluded", "not_excluded"),
    [
        ("Do not store anything about health or medical conditions.", {HEALTH}, {AGE}),
        ("Never store my location.", {LOCATION, PRECISE_LOCATION}, set()),
        ("don't remember passwords or API keys", {CREDENTIALS}, {FINANCIAL}),
        ("Exclude salary and bank details", {FINANCIAL}, {CREDENTIALS}),
        (None, set(), {AGE, FINANCIAL}),
        ("", set(), {AGE}),
    ],
)
def test_parse_guidance(details, excluded, not_excluded):
    guidance = parse_guidance(details)
    assert excluded <= guidance.excluded
    assert not (not_excluded & guidance.excluded)


def test_focus_topics():
    guidance = parse_guidance("Focus on food and travel preferences; avoid health data")
    assert guidance.excluded == {HEALTH}
    assert guidance.allows_topic("coffee") and guidance.allows_topic("travel")
    assert parse_guidance("food, travel").allows_topic("diet")
    assert not parse_guidance("food, travel").allows_topic("music")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("my password is hunter2", "password"),
        ("Password: Tr0ub4dor&3", "password"),
        ("key sk-proj-4f9XQ2bLmN8vT1rZ7kW3yH6cJ0dP5sA2", "api_key"),
        ("AKIAIOSFODNN7EXAMPLE", "api_key"),
        ("ghp_abcdefghijklmnopqrstuvwxyz123456", "api_key"),
        ("card 4111 1111 1111 1111", "card_number"),
        ("IBAN DE89370400440532013000", "iban"),
        ("SSN 123-45-6789", "government_id"),
    ],
)
def test_secrets_always(text, reason):
    assert secret_reason(text) == reason
    assert sensitive_reason(text, ()) == reason


@pytest.mark.parametrize(
    "text",
    ["Uses a password manager", "Runs 5k every morning", "Is 6 feet tall",
     "Has a 2019 Honda Civic", "Flight 4111 to Oslo", "Order number 1234 5678 9012 3456"],
)
def test_not_secrets(text):
    assert secret_reason(text) is None


def test_trimming():
    excluded = parse_guidance(HOWTO).excluded
    assert trim_sensitive("Is 34, earns 120k and loves hiking", excluded) == "Loves hiking"
    assert trim_sensitive("Lives at 12 Baker Street, London", excluded) == "Lives in London"
    assert trim_sensitive("Earns 120k", excluded) is None
    assert trim_sensitive("Loves hiking", excluded) == "Loves hiking"
    everything = parse_guidance("Never store location.").excluded
    assert trim_sensitive("Lives at 12 Baker Street, London", everything) is None


def test_filter_candidates_for_llm_output():
    candidates = [
        Candidate(MemoryKind.USER_PROFILE, "Is 34 years old and loves hiking", topic="hiking"),
        Candidate(MemoryKind.USER_PROFILE, "Password is hunter2"),
        Candidate(MemoryKind.CHAT_SUMMARY, "Discussed their salary of $95,000"),
        Candidate(MemoryKind.USER_PROFILE, "Lives at 12 Baker Street, London", topic="home"),
        Candidate(MemoryKind.USER_PROFILE, "Address", action="forget"),
    ]
    kept = filter_candidates(candidates, StoreOptions(user_profile_details=HOWTO))
    assert [c.content for c in kept] == ["Loves hiking", "Lives in London", "Address"]
    assert kept[0].topic == "hiking"
