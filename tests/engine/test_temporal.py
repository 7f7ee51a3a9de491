"""Reading periods out of queries and dates out of memory texts (``memvault.engine.temporal``)."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime

import pytest

from memvault.engine.temporal import query_periods, text_periods

TODAY = date(2024, 11, 20)


def _ts(day: str) -> int:
    return calendar.timegm(date.fromisoformat(day).timetuple())


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("What did I cook in May 2023?", "2023-05-01", "2023-06-01"),
        ("what happened in may of 2023", "2023-05-01", "2023-06-01"),
        ("anything from Sept. 2023?", "2023-09-01", "2023-10-01"),
        ("notes from 2023-05", "2023-05-01", "2023-06-01"),
        ("notes from 05/2023", "2023-05-01", "2023-06-01"),
        ("what did I do on 2023-05-14?", "2023-05-14", "2023-05-15"),
        ("what did I do on 14 May 2023", "2023-05-14", "2023-05-15"),
        ("what did I do on May 14th, 2023", "2023-05-14", "2023-05-15"),
        ("the book club read in the summer of 2023", "2023-06-01", "2023-09-01"),
        ("spring 2024 plans", "2024-03-01", "2024-06-01"),
        ("what changed in autumn 2023", "2023-09-01", "2023-12-01"),
        ("early 2024", "2024-01-01", "2024-05-01"),
        ("late 2023", "2023-09-01", "2024-01-01"),
        ("the first half of 2023", "2023-01-01", "2023-07-01"),
        ("Q2 2023 goals", "2023-04-01", "2023-07-01"),
        ("What news did I get in 2024?", "2024-01-01", "2025-01-01"),
        ("last spring", "2024-03-01", "2024-06-01"),
        ("last summer", "2024-06-01", "2024-09-01"),
        ("last May", "2024-05-01", "2024-06-01"),
        ("last month", "2024-10-01", "2024-11-01"),
        ("this month", "2024-11-01", "2024-12-01"),
        ("last year", "2023-01-01", "2024-01-01"),
        ("last week", "2024-11-11", "2024-11-18"),
        ("yesterday", "2024-11-19", "2024-11-20"),
        ("two years ago", "2022-01-01", "2023-01-01"),
    ],
)
def test_a_query_names_one_period(query: str, start: str, end: str) -> None:
    [period] = query_periods(query, today=TODAY)
    assert (period.start, period.end) == (_ts(start), _ts(end))


def test_winter_covers_both_ends_of_the_year() -> None:
    spans = {(p.start, p.end) for p in query_periods("winter 2023", today=TODAY)}
    assert spans == {(_ts("2023-12-01"), _ts("2024-03-01")),
                     (_ts("2023-01-01"), _ts("2023-03-01"))}


def test_a_month_without_a_year_means_that_month_of_recent_years() -> None:
    periods = query_periods("what did I plant in April?", today=TODAY)
    assert (_ts("2024-04-01"), _ts("2024-05-01")) in {(p.start, p.end) for p in periods}
    assert (_ts("2023-04-01"), _ts("2023-05-01")) in {(p.start, p.end) for p in periods}
    assert all(datetime.fromtimestamp(p.start, UTC).month == 4 for p in periods)


@pytest.mark.parametrize(
    "query",
    ["What may I eat?", "March on to the next step", "I can't recall the 5 things",
     "Who is my boss?", "", "my phone number is 555 0199"],
)
def test_words_that_only_look_like_dates_name_no_period(query: str) -> None:
    assert query_periods(query, today=TODAY) == []


def test_a_memory_text_names_dates_in_the_year_it_was_written() -> None:
    written = _ts("2024-09-23")
    [wedding] = text_periods("We got married on September 14th!", written)
    assert (wedding.start, wedding.end) == (_ts("2024-09-14"), _ts("2024-09-15"))
    [flight] = text_periods("Flying to Lisbon on 12 June 2025 for the conference", written)
    assert flight.start == _ts("2025-06-12")
    assert text_periods("Sorted out my tax return, less painful than last year.", written) == []
    assert text_periods("The mechanic says 3,500 to rebuild the gearbox", written) == []
