"""Dates in text: the periods a search query names, and the dates a memory is about.

A query such as "what did I cook in May 2023?" names a period; :func:`query_periods` turns the
expressions it understands into half-open UTC ranges ``[start, end)`` of Unix seconds:

* a day: ``2023-05-14``, ``14 May 2023``, ``May 14th, 2023``;
* a month: ``May 2023``, ``May of 2023``, ``2023-05``, ``05/2023``; a month with no year
  (``in May``) means that month of every year;
* a season or part of a year: ``spring 2023``, ``the summer of 2023``, ``early``/``mid``/``late
  2023``, ``Q2 2023``, ``the first half of 2023``;
* a year: ``2023``, ``in 2023``;
* relative to ``today``: ``today``, ``yesterday``, ``last``/``this week``, ``month``, ``year``,
  ``last weekend``, ``last spring``, ``last May``, ``3 weeks ago``, ``a month ago``,
  ``recently``.

Seasons are the northern meteorological ones (spring = March-May); winter YYYY is December YYYY
to February YYYY+1 together with January-February YYYY (people use both). A memory is *about*
the day it was written (``created_at``) and any day, month or year its text names
(:func:`text_periods`, read relative to ``created_at``).

Example::

    >>> from datetime import date
    >>> [p.label for p in query_periods("what did I cook in May 2023?", today=date(2024, 1, 1))]
    ['2023-05']
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
_SEASONS = {"spring": (3, 3), "summer": (6, 3), "autumn": (9, 3), "fall": (9, 3),
            "winter": (12, 3)}
_PARTS = {"early": (1, 4), "mid": (5, 4), "late": (9, 4), "beginning of": (1, 3),
          "middle of": (5, 4), "end of": (10, 3), "first half of": (1, 6),
          "second half of": (7, 6), "start of": (1, 3)}
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
            "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
            "a couple of": 2, "a few": 3, "couple of": 2, "few": 3}  # fmt: skip

_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_NUMBER = r"(?P<count>\d+|" + "|".join(sorted(_NUMBERS, key=len, reverse=True)) + ")"

_PATTERNS: tuple[tuple[str, frozenset[str], re.Pattern[str]], ...] = tuple(
    (name, frozenset(needs.split()), re.compile(pattern))
    for name, needs, pattern in (
        ("iso_day", "digit", r"\b" + _YEAR + r"-(?P<mon>[01]?\d)-" + r"(?P<day>[0-3]?\d)\b"),
        ("iso_month", "digit", r"\b" + _YEAR + r"[-/](?P<mon>[01]?\d)\b(?![-/]\d)"),
        ("month_slash_year", "digit", r"\b(?P<mon>[01]?\d)/" + _YEAR + r"\b"),
        ("day_month_year", "digit month",
         r"\b" + _DAY + r"(?:\s+of)?\s+" + _MONTH + r",?\s+" + _YEAR + r"\b"),
        ("month_day_year", "digit month",
         r"\b" + _MONTH + r"\s+" + _DAY + r",?\s+" + _YEAR + r"\b"),
        ("month_year", "digit month", r"\b" + _MONTH + r",?\s+(?:of\s+)?" + _YEAR + r"\b"),
        ("season_year", "digit season", r"\b(?P<season>spring|summer|autumn|fall|winter)"
         r"(?:\s+of)?,?\s+" + _YEAR + r"\b"),
        ("part_year", "digit part", r"\b(?:the\s+)?(?P<part>early|mid|late|beginning of|middle of"
         r"|end of|start of|first half of|second half of)[-\s]+" + _YEAR + r"\b"),
        ("quarter_year", "digit", r"\bq(?P<quarter>[1-4])\s+" + _YEAR + r"\b"),
        ("day_month", "digit month", r"\b" + _DAY + r"(?:\s+of)?\s+" + _MONTH + r"\b"),
        ("month_day", "digit month",
         r"\b" + _MONTH + r"\s+" + _DAY + r"\b(?!\s*(?:,\s*)?(?:19|20)\d\d)"),
        ("relative_unit", "relative", r"\b(?P<which>last|this|past|previous)\s+(?P<unit>week"
         r"|weekend|month|year)\b"),
        ("relative_named", "relative", r"\b(?P<which>last|this)\s+(?P<name>spring|summer|autumn"
         r"|fall|winter|january|february|march|april|may|june|july|august|september|october"
         r"|november|december)\b"),
        ("ago", "ago", r"\b" + _NUMBER + r"\s+(?P<unit>day|week|month|year)s?\s+ago\b"),
        ("day_word", "day", r"\b(?P<word>today|yesterday|tonight|this morning|recently|lately)\b"),
        ("year", "digit", r"\b(?:in|during|of|since|throughout|for)\s+" + _YEAR + r"\b"),
        ("bare_year", "digit", r"\b" + _YEAR + r"\b"),
        ("month", "month", r"\b(?:in|during|of|since|early|mid|late|end of|beginning of)\s+"
         r"(?P<month>january|february|march|april|may|june|july|august|september|october"
         r"|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\b"),
    )
)
_RELATIVE_KINDS = frozenset({"relative_unit", "relative_named", "ago", "day_word"})
# What a text must contain for a pattern to be worth trying; found with one cheap pass.
_CUES = {
    "month": frozenset(_MONTHS), "season": frozenset(_SEASONS),
    "part": frozenset({"early", "mid", "late", "beginning", "middle", "end", "start", "first",
                       "second"}),
    "relative": frozenset({"last", "this", "past", "previous"}), "ago": frozenset({"ago"}),
    "day": frozenset({"today", "yesterday", "tonight", "morning", "recently", "lately"}),
}  # fmt: skip
_LETTERS = re.compile(r"[a-z]+")
_DIGIT = re.compile(r"\d")
# "May" and "march" are also words: a month name with no year counts only after a preposition
# (pattern "month"), or beside a day number.


@dataclass(frozen=True)
class Period:
    """A half-open range of UTC Unix seconds, with a short label for logs and tests."""

    start: int
    end: int
    label: str

    def __contains__(self, ts: int) -> bool:
        return self.start <= ts < self.end

    def overlaps(self, other: Period) -> bool:
        return self.start < other.end and other.start < self.end


def _ts(day: date) -> int:
    return calendar.timegm(day.timetuple())


def _month_start(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, 1)


def _months(year: int, month: int, count: int, label: str) -> Period:
    return Period(_ts(_month_start(year, month)), _ts(_month_start(year, month + count)), label)


def _day(year: int, month: int, day: int) -> Period | None:
    try:
        start = date(year, month, day)
    except ValueError:
        return None
    return Period(_ts(start), _ts(start + timedelta(days=1)), start.isoformat())


def _days(start: date, end: date, label: str) -> Period:
    return Period(_ts(start), _ts(end), label)


def _season(name: str, year: int) -> list[Period]:
    first, count = _SEASONS[name.lower()]
    if first == 12:
        return [_months(year, 12, count, f"winter {year}"),
                _months(year, 1, 2, f"winter {year} (Jan-Feb)")]
    return [_months(year, first, count, f"{name.lower()} {year}")]


def _count(text: str) -> int:
    text = text.lower()
    return int(text) if text.isdigit() else _NUMBERS[text]


def _relative(kind: str, match: re.Match[str], today: date) -> list[Period]:
    if kind == "day_word":
        word = match["word"].lower()
        if word in ("recently", "lately"):
            return [_days(today - timedelta(days=30), today + timedelta(days=1), "recently")]
        day = today - timedelta(days=1) if word == "yesterday" else today
        return [_days(day, day + timedelta(days=1), day.isoformat())]
    if kind == "ago":
        count, unit = _count(match["count"]), match["unit"].lower()
        if unit == "day":
            day = today - timedelta(days=count)
            return [_days(day - timedelta(days=1), day + timedelta(days=2), f"{count} days ago")]
        if unit == "week":
            day = today - timedelta(weeks=count)
            return [_days(day - timedelta(days=4), day + timedelta(days=4), f"{count} weeks ago")]
        if unit == "month":
            month = today.month - count
            return [_months(today.year, month - 1, 3, f"{count} months ago")]
        return [_months(today.year - count, 1, 12, f"{count} years ago")]
    which = match["which"].lower()
    if kind == "relative_unit":
        unit = match["unit"].lower()
        back = which != "this"
        if unit in ("week", "weekend"):
            monday = today - timedelta(days=today.weekday()) - timedelta(weeks=int(back))
            if unit == "weekend":
                saturday = monday + timedelta(days=5)
                return [_days(saturday, saturday + timedelta(days=2), f"weekend {saturday}")]
            return [_days(monday, monday + timedelta(weeks=1), f"week of {monday}")]
        if unit == "month":
            return [_months(today.year, today.month - int(back), 1, f"{which} month")]
        return [_months(today.year - int(back), 1, 12, f"{which} year")]
    name = match["name"].lower()
    if name in _SEASONS:
        first, count = _SEASONS[name]
        year = today.year
        if which == "last":
            # The latest one that is over: "last summer" in November is this year's.
            if _month_start(year, first + count) > today:
                year -= 1
        elif date(year, first, 1) > today and first != 12:
            year -= 1
        return _season(name, year)
    month = _MONTHS[name]
    year = today.year if (which == "this" or month < today.month) else today.year - 1
    return [_months(year, month, 1, f"{year}-{month:02d}")]


def _cues(lower: str) -> set[str]:
    words = set(_LETTERS.findall(lower))
    found = {cue for cue, cue_words in _CUES.items() if not words.isdisjoint(cue_words)}
    if _DIGIT.search(lower):
        found.add("digit")
    return found


def _periods(text: str, today: date, every_year: Iterable[int], *,
             relative: bool = True) -> list[Period]:
    lower = text.lower()
    cues = _cues(lower)
    found: list[Period] = []
    if not cues:
        return found
    taken: list[tuple[int, int]] = []
    for kind, needs, pattern in _PATTERNS:
        if not needs <= cues or (not relative and kind in _RELATIVE_KINDS):
            continue
        for match in pattern.finditer(lower):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            periods = _match_periods(kind, match, today, every_year)
            if periods:
                taken.append(match.span())
                found.extend(periods)
    return found


def _match_periods(kind: str, match: re.Match[str], today: date,
                   every_year: Iterable[int]) -> list[Period]:
    groups = {key: value for key, value in match.groupdict().items() if value}
    year = int(groups.get("year", 0))
    if "month" in groups:
        month = _MONTHS[groups["month"]]
    else:
        month = int(groups.get("mon", 1))
        if not 1 <= month <= 12:
            return []
    if kind in ("iso_day", "day_month_year", "month_day_year"):
        return [p for p in [_day(year, month, int(groups["day"]))] if p]
    if kind in ("iso_month", "month_slash_year", "month_year"):
        return [_months(year, month, 1, f"{year}-{month:02d}")]
    if kind == "season_year":
        return _season(groups["season"], year)
    if kind == "part_year":
        part = re.sub(r"\s+", " ", groups["part"])
        first, count = _PARTS[part]
        return [_months(year, first, count, f"{part} {year}")]
    if kind == "quarter_year":
        quarter = int(groups["quarter"])
        return [_months(year, 3 * quarter - 2, 3, f"Q{quarter} {year}")]
    if kind in ("year", "bare_year"):
        return [_months(year, 1, 12, str(year))]
    if kind in ("day_month", "month_day"):
        return [p for p in (_day(y, month, int(groups["day"])) for y in every_year) if p]
    if kind == "month":
        return [_months(y, month, 1, f"{y}-{month:02d}") for y in every_year]
    return _relative(kind, match, today)


def query_periods(text: str, *, today: date) -> list[Period]:
    """The periods ``text`` names, relative to ``today`` where it says "last month" and the
    like; empty when it names none. A month or day with no year stands for it in each of the
    ten years up to ``today``."""
    return _periods(text, today, range(today.year - 9, today.year + 1))


def text_periods(text: str, written_at: int) -> list[Period]:
    """The dates a memory's text names, read as of ``written_at`` (Unix seconds): a month or day
    with no year is taken in the year it was written; relative words ("last year") are not
    read."""
    written = datetime.fromtimestamp(written_at, UTC).date()
    return list(_text_periods(text, written.year))


@functools.lru_cache(maxsize=8192)
def _text_periods(text: str, year: int) -> tuple[Period, ...]:
    # Relative words in a stored memory ("last year") are left alone: only what it names.
    return tuple(_periods(text, date(year, 7, 1), (year,), relative=False))


def today_utc(ts: int) -> date:
    return datetime.fromtimestamp(ts, UTC).date()
