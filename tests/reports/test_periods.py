"""Tests for nps.periods: every accepted form, every error, previous() and buckets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nps.periods import (
    MAX_DAYS,
    Period,
    PeriodError,
    choose_unit,
    iter_buckets,
    parse_period,
    previous,
)

# No example database (nothing written to the tree) and no deadline (a busy 2-core machine).
PROPERTY = settings(max_examples=150, deadline=None, database=None)

TODAY = date(2026, 11, 22)  # a Sunday
sane_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31))
periods = st.builds(
    lambda start, length: Period(start, start + timedelta(days=length)),
    sane_dates,
    st.integers(min_value=0, max_value=800),
)
units = st.sampled_from(["day", "week", "month"])


def p(start: str, end: str) -> Period:
    """Build a period from ISO dates."""
    return Period(date.fromisoformat(start), date.fromisoformat(end))


# --- accepted forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, p("2026-10-24", "2026-11-22")),
        ("", p("2026-10-24", "2026-11-22")),
        ("   ", p("2026-10-24", "2026-11-22")),
        ("today", p("2026-11-22", "2026-11-22")),
        (" TODAY ", p("2026-11-22", "2026-11-22")),
        ("yesterday", p("2026-11-21", "2026-11-21")),
        ("1d", p("2026-11-22", "2026-11-22")),
        ("7d", p("2026-11-16", "2026-11-22")),
        ("7D", p("2026-11-16", "2026-11-22")),
        ("30d", p("2026-10-24", "2026-11-22")),
        ("30 days", p("2026-10-24", "2026-11-22")),
        ("90d", p("2026-08-25", "2026-11-22")),
        ("all", p("2000-01-01", "2026-11-22")),
        ("2026-10", p("2026-10-01", "2026-10-31")),
        ("2026-10-05", p("2026-10-05", "2026-10-05")),
        ("2026-10-01..2026-10-31", p("2026-10-01", "2026-10-31")),
        (" 2026-10-01 .. 2026-10-31 ", p("2026-10-01", "2026-10-31")),
        ("2026-10-01…2026-10-31", p("2026-10-01", "2026-10-31")),
        ("2026-10-01—2026-10-31", p("2026-10-01", "2026-10-31")),
        ("2026-10-01 to 2026-10-31", p("2026-10-01", "2026-10-31")),
        ("2026-10-01--2026-10-31", p("2026-10-01", "2026-10-31")),
        ("2026-10-01-2026-10-31", p("2026-10-01", "2026-10-31")),
        ("2026-9-1..2026-9-3", p("2026-09-01", "2026-09-03")),
        ("2026-08..2026-09", p("2026-08-01", "2026-09-30")),
        ("2026-10-07..2026-10-07", p("2026-10-07", "2026-10-07")),
        ("week", p("2026-11-16", "2026-11-22")),
        ("Month", p("2026-11-01", "2026-11-22")),
        ("quarter", p("2026-10-01", "2026-11-22")),
        ("year", p("2026-01-01", "2026-11-22")),
        ("last week", p("2026-11-09", "2026-11-15")),
        ("last  month", p("2026-10-01", "2026-10-31")),
        ("last-quarter", p("2026-07-01", "2026-09-30")),
        ("last year", p("2025-01-01", "2025-12-31")),
    ],
)
def test_parse_period_forms(text: str | None, expected: Period) -> None:
    assert parse_period(text, TODAY) == expected


def test_nd_lengths_are_exact() -> None:
    for days in (1, 2, 7, 30, 90, 365, MAX_DAYS):
        period = parse_period(f"{days}d", TODAY)
        assert period.days == days and period.end == TODAY


def test_all_uses_the_earliest_answer_when_known() -> None:
    assert parse_period("all", TODAY, earliest=date(2024, 3, 5)) == p("2024-03-05", "2026-11-22")
    # An "earliest" after today (clock skew, test data) still gives a valid period.
    assert parse_period("all", TODAY, earliest=date(2027, 1, 1)) == p("2026-11-22", "2026-11-22")


def test_leap_february_and_year_end() -> None:
    assert parse_period("2028-02", date(2029, 1, 1)) == p("2028-02-01", "2028-02-29")
    assert parse_period("2026-02", TODAY) == p("2026-02-01", "2026-02-28")
    assert parse_period("2028-02-29", date(2029, 1, 1)).days == 1
    assert parse_period("2025-12", TODAY) == p("2025-12-01", "2025-12-31")
    assert parse_period("2025-12-30..2026-01-02", TODAY).days == 4


def test_calendar_units_at_their_own_first_day() -> None:
    monday, new_year = date(2026, 11, 16), date(2027, 1, 1)
    assert parse_period("week", monday) == Period(monday, monday)
    assert parse_period("year", new_year) == Period(new_year, new_year)
    assert parse_period("quarter", new_year) == Period(new_year, new_year)
    assert parse_period("last month", new_year) == p("2026-12-01", "2026-12-31")
    assert parse_period("last quarter", new_year) == p("2026-10-01", "2026-12-31")
    assert parse_period("last month", date(2028, 3, 31)) == p("2028-02-01", "2028-02-29")


def test_periods_reaching_past_today_are_clipped_to_today() -> None:
    assert parse_period("2026-11", TODAY) == p("2026-11-01", "2026-11-22")
    assert parse_period("2026-11-20..2026-12-31", TODAY) == p("2026-11-20", "2026-11-22")


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "foo",
            'Unknown period "foo": use today, 7d, 30d, 90d, all, a month like 2026-10, '
            "or a range like 2026-10-01..2026-10-31.",
        ),
        (
            "2026-11-01..2026-10-01",
            "The range starts after it ends: 2026-11-01..2026-10-01 — write the earlier date "
            "first, e.g. 2026-10-01..2026-11-01.",
        ),
        ("2026-02-30", "There is no date 2026-02-30: February 2026 has 28 days."),
        ("2028-02-30..2028-03-01", "There is no date 2028-02-30: February 2028 has 29 days."),
        ("2026-04-31", "There is no date 2026-04-31: April 2026 has 30 days."),
        ("2026-10-00", "There is no date 2026-10-00: October 2026 has 31 days."),
        ("2026-13", 'There is no month 13 in "2026-13": months go from 01 to 12, e.g. 2026-10.'),
        (
            "2026-00-10",
            'There is no month 00 in "2026-00-10": months go from 01 to 12, e.g. 2026-10.',
        ),
        ("0d", '"0d" is an empty period: use 1d or more, e.g. 30d.'),
        ("3661d", '"3661d" is too long: use at most 3660d (about ten years), or all.'),
        ("2027-01", '"2027-01" is in the future (today is 2026-11-22): pick dates up to today.'),
        ("0000-01", 'There is no year 0000 in "0000-01": write a year like 2026.'),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text, TODAY)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "text",
    ["7x", "-7d", "d", "last", "last 7d", "2026", "26-10", "2026/10/01", "next month", "a\nb"],
)
def test_unknown_forms_get_the_help_line(text: str) -> None:
    with pytest.raises(PeriodError, match=r"^Unknown period \".*\": use today, 7d") as caught:
        parse_period(text, TODAY)
    assert "\n" not in str(caught.value)


def test_long_input_is_cut_in_the_message() -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period("x" * 500, TODAY)
    assert len(str(caught.value)) < 200 and "…" in str(caught.value)


def test_period_error_is_a_value_error() -> None:
    assert issubclass(PeriodError, ValueError)


def test_period_rejects_reversed_dates_and_datetimes() -> None:
    with pytest.raises(PeriodError, match="starts after it ends"):
        p("2026-11-01", "2026-10-01")
    with pytest.raises(TypeError):
        Period(datetime(2026, 1, 1), date(2026, 1, 2))
    with pytest.raises(TypeError):
        parse_period("7d", datetime(2026, 1, 1, tzinfo=UTC))


# --- Period helpers ------------------------------------------------------------------------


def test_describe_and_key() -> None:
    assert p("2026-10-23", "2026-11-22").describe() == "23 Oct – 22 Nov 2026"
    assert p("2026-10-23", "2026-11-22").describe(with_year=False) == "23 Oct – 22 Nov"
    assert p("2026-10-01", "2026-10-31").describe() == "1 – 31 Oct 2026"
    assert p("2026-11-22", "2026-11-22").describe() == "22 Nov 2026"
    assert p("2025-12-23", "2026-01-05").describe() == "23 Dec 2025 – 5 Jan 2026"
    assert p("2025-12-23", "2026-01-05").describe(with_year=False) == "23 Dec 2025 – 5 Jan 2026"
    assert p("2026-10-23", "2026-11-22").key == "2026-10-23..2026-11-22"
    assert p("2026-10-23", "2026-11-22").days == 31


def test_contains_and_bounds() -> None:
    period = p("2026-10-01", "2026-10-31")
    assert date(2026, 10, 31) in period and date(2026, 11, 1) not in period
    tz = timezone(timedelta(hours=3))
    start, end = period.bounds(tz)
    assert start == datetime(2026, 10, 1, tzinfo=tz)
    assert end == datetime(2026, 11, 1, tzinfo=tz)


def test_previous_has_equal_length_and_touches() -> None:
    assert previous(p("2026-10-24", "2026-11-22")) == p("2026-09-24", "2026-10-23")
    assert previous(p("2026-11-22", "2026-11-22")) == p("2026-11-21", "2026-11-21")
    # Equal length, not the calendar month before: March (31 days) → 29 Jan – 28 Feb.
    assert previous(p("2026-03-01", "2026-03-31")) == p("2026-01-29", "2026-02-28")
    with pytest.raises(PeriodError):
        previous(Period(date.min, date.min))


@PROPERTY
@given(periods)
def test_previous_property(period: Period) -> None:
    before = previous(period)
    assert before.days == period.days
    assert before.end + timedelta(days=1) == period.start


def test_buckets_by_hand() -> None:
    period = p("2026-10-28", "2026-11-22")  # Wednesday .. Sunday
    assert [b.key for b in iter_buckets(period, "week")] == [
        "2026-10-28..2026-11-01",
        "2026-11-02..2026-11-08",
        "2026-11-09..2026-11-15",
        "2026-11-16..2026-11-22",
    ]
    assert [b.key for b in iter_buckets(period, "month")] == [
        "2026-10-28..2026-10-31",
        "2026-11-01..2026-11-22",
    ]
    assert len(iter_buckets(period, "day")) == period.days
    assert iter_buckets(p("2028-02-01", "2028-03-31"), "month") == [
        p("2028-02-01", "2028-02-29"),
        p("2028-03-01", "2028-03-31"),
    ]
    # ISO week 1 of 2027 starts on Monday 4 Jan; the week across New Year stays whole.
    assert iter_buckets(p("2026-12-28", "2027-01-10"), "week") == [
        p("2026-12-28", "2027-01-03"),
        p("2027-01-04", "2027-01-10"),
    ]
    with pytest.raises(ValueError):
        iter_buckets(period, "fortnight")  # type: ignore[arg-type]


def test_buckets_at_the_end_of_time() -> None:
    assert iter_buckets(Period(date(9999, 12, 30), date.max), "month") == [
        Period(date(9999, 12, 30), date.max)
    ]
    assert iter_buckets(Period(date(9999, 12, 30), date.max), "week")[-1].end == date.max


@PROPERTY
@given(periods, units)
def test_buckets_tile_the_period(period: Period, unit: str) -> None:
    buckets = iter_buckets(period, unit)  # type: ignore[arg-type]
    assert buckets[0].start == period.start and buckets[-1].end == period.end
    for left, right in pairwise(buckets):
        assert left.end + timedelta(days=1) == right.start  # no gap, no overlap
    assert sum(b.days for b in buckets) == period.days
    for b in buckets:
        if unit == "week":
            assert b.start.isocalendar()[:2] == b.end.isocalendar()[:2]
            assert b.start == period.start or b.start.weekday() == 0
        elif unit == "month":
            assert (b.start.year, b.start.month) == (b.end.year, b.end.month)
            assert b.start == period.start or b.start.day == 1
        else:
            assert b.days == 1


@pytest.mark.parametrize(
    ("days", "unit"), [(1, "day"), (14, "day"), (15, "week"), (90, "week"), (120, "week")]
)
def test_choose_unit(days: int, unit: str) -> None:
    assert choose_unit(Period(TODAY - timedelta(days=days - 1), TODAY)) == unit


def test_choose_unit_for_long_periods() -> None:
    assert choose_unit(parse_period("121d", TODAY)) == "month"
    assert choose_unit(parse_period("all", TODAY)) == "month"


@PROPERTY
@given(st.integers(min_value=1, max_value=MAX_DAYS), sane_dates)
def test_nd_property(days: int, today: date) -> None:
    period = parse_period(f" {days}D ", today)
    assert period.days == days and period.end == today
