"""The autopilot's calendar (nps/schedule.py): weekday mornings, intervals, next runs."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from nps.schedule import (
    DAYS,
    MONTHS,
    Interval,
    day_cap,
    in_window,
    next_run,
    seconds_left,
    workdays_between,
    workdays_in,
)

TZ = ZoneInfo("Europe/Chisinau")  # UTC+2 in winter


def local(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=TZ)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 12, 9, 9, 0), True),  # Wednesday, the window opens
        (local(2026, 12, 9, 11, 59), True),
        (local(2026, 12, 9, 12, 0), False),  # it closes at noon
        (local(2026, 12, 9, 8, 59), False),
        (local(2026, 12, 9, 20, 0), False),  # an evening
        (local(2026, 12, 12, 10, 0), False),  # Saturday
        (local(2026, 12, 13, 10, 0), False),  # Sunday
        (local(2026, 12, 14, 10, 0), True),  # Monday
    ],
)
def test_the_window_is_weekday_mornings_in_the_zone(moment: datetime, expected: bool) -> None:
    assert in_window(moment, TZ) is expected
    # Whatever zone the moment arrives in: 08:30 UTC is 10:30 in Chisinau.
    assert in_window(moment.astimezone(ZoneInfo("UTC")), TZ) is expected


def test_seconds_left_and_the_day_cap_follow_the_rate() -> None:
    assert seconds_left(local(2026, 12, 9, 11, 0), TZ) == 3600
    assert day_cap(local(2026, 12, 9, 11, 0), TZ, rate=30) == 108_000
    assert day_cap(local(2026, 12, 9, 11, 59, 59), TZ, rate=0.5) == 1  # never zero inside
    assert day_cap(local(2026, 12, 9, 13, 0), TZ, rate=30) == 0
    assert seconds_left(local(2026, 12, 12, 10, 0), TZ) == 0


@pytest.mark.parametrize(
    ("now", "interval", "expected"),
    [
        (local(2026, 12, 9, 10), Interval(90, DAYS), local(2026, 9, 10, 10)),
        (local(2026, 5, 31, 10), Interval(3, MONTHS), local(2026, 2, 28, 10)),  # clamped
        (local(2028, 5, 31, 10), Interval(3, MONTHS), local(2028, 2, 29, 10)),  # leap year
        (local(2026, 1, 15, 10), Interval(1, MONTHS), local(2025, 12, 15, 10)),  # a year back
        (local(2026, 12, 9, 10), Interval(24, MONTHS), local(2024, 12, 9, 10)),
    ],
)
def test_an_interval_before_a_moment(
    now: datetime, interval: Interval, expected: datetime
) -> None:
    assert interval.before(now, TZ) == expected


def test_workdays_are_counted_between_two_days() -> None:
    wednesday = date(2026, 12, 9)
    assert workdays_between(wednesday, wednesday) == 0
    assert workdays_between(date(2026, 12, 2), wednesday) == 5  # one week
    assert workdays_between(date(2026, 12, 11), date(2026, 12, 14)) == 1  # Fri → Mon
    assert workdays_between(date(2026, 12, 11), date(2026, 12, 13)) == 0  # a weekend
    assert workdays_in(Interval(7, DAYS), local(2026, 12, 9, 10), TZ) == 5
    assert workdays_in(Interval(1, DAYS), local(2026, 12, 14, 10), TZ) == 1  # Sun → Mon
    assert workdays_in(Interval(1, DAYS), local(2026, 12, 13, 10), TZ) == 1  # at least one
    assert 60 <= workdays_in(Interval(3, MONTHS), local(2026, 12, 9, 10), TZ) <= 66


@pytest.mark.parametrize(
    ("now", "last_run", "expected"),
    [
        (local(2026, 12, 9, 10, 30), None, local(2026, 12, 9, 10, 30)),  # due now
        (local(2026, 12, 9, 10, 30), date(2026, 12, 9), local(2026, 12, 10, 9)),  # ran today
        (local(2026, 12, 9, 7, 0), date(2026, 12, 8), local(2026, 12, 9, 9)),  # this morning
        (local(2026, 12, 9, 15, 0), None, local(2026, 12, 10, 9)),  # after noon: tomorrow
        (local(2026, 12, 11, 15, 0), None, local(2026, 12, 14, 9)),  # Friday → Monday
        (local(2026, 12, 12, 10, 0), None, local(2026, 12, 14, 9)),  # Saturday → Monday
    ],
)
def test_the_next_run(now: datetime, last_run: date | None, expected: datetime) -> None:
    assert next_run(now, TZ, last_run) == expected
