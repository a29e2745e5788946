"""QUIET_HOURS arithmetic: windows within a day and across midnight, the change to and from
summer time, and `off`."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nps.quiet_hours import outside_quiet_hours, quiet_until

CHISINAU = ZoneInfo("Europe/Chisinau")  # EET/EEST: +2, +3 from the last Sunday of March
NIGHT = (time(21, 0), time(9, 0))
LUNCH = (time(12, 0), time(14, 0))


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHISINAU)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 12, 10, 20, 59), None),  # just before
        (local(2026, 12, 10, 21, 0), local(2026, 12, 11, 9, 0)),  # the start is quiet
        (local(2026, 12, 10, 23, 30), local(2026, 12, 11, 9, 0)),  # before midnight
        (local(2026, 12, 11, 0, 0), local(2026, 12, 11, 9, 0)),  # after midnight
        (local(2026, 12, 11, 8, 59), local(2026, 12, 11, 9, 0)),
        (local(2026, 12, 11, 9, 0), None),  # the end is not quiet
        (local(2026, 12, 11, 15, 0), None),
    ],
)
def test_a_window_across_midnight(moment: datetime, expected: datetime | None) -> None:
    assert quiet_until(moment, NIGHT, CHISINAU) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (local(2026, 12, 10, 11, 59), None),
        (local(2026, 12, 10, 12, 0), local(2026, 12, 10, 14, 0)),
        (local(2026, 12, 10, 13, 59), local(2026, 12, 10, 14, 0)),
        (local(2026, 12, 10, 14, 0), None),
        (local(2026, 12, 10, 23, 0), None),
    ],
)
def test_a_window_within_a_day(moment: datetime, expected: datetime | None) -> None:
    assert quiet_until(moment, LUNCH, CHISINAU) == expected


def test_the_result_is_utc_and_the_wall_clock_end_survives_summer_time() -> None:
    # The night summer time starts (29 March 2026, 02:00 → 03:00 in Chisinau): 09:00 is
    # 06:00 UTC, not 07:00 as the evening before would say; ten hours, not eleven.
    until = quiet_until(local(2026, 3, 28, 22, 0), NIGHT, CHISINAU)
    assert until == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert until is not None and until.tzinfo is UTC
    assert until - datetime(2026, 3, 28, 20, 0, tzinfo=UTC) == timedelta(hours=10)
    # The night it ends (25 October 2026, 03:00 → 02:00): twelve hours, not eleven.
    until = quiet_until(local(2026, 10, 24, 22, 0), NIGHT, CHISINAU)
    assert until == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)
    assert until - datetime(2026, 10, 24, 19, 0, tzinfo=UTC) == timedelta(hours=12)


def test_an_end_the_clock_skips_or_repeats() -> None:
    window = (time(21, 0), time(2, 30))
    # 02:30 does not exist on 29 March 2026 in Chisinau (02:00 jumps to 03:00): read in
    # the offset before the jump, it is 03:30 summer time, outside the window.
    until = quiet_until(local(2026, 3, 29, 1, 0), window, CHISINAU)
    assert until == datetime(2026, 3, 29, 0, 30, tzinfo=UTC)
    assert until is not None and until.astimezone(CHISINAU).time() == time(3, 30)
    # 02:30 happens twice on 25 October 2026: the first one, unless already past.
    first = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 02:00 the first time (EEST)
    assert quiet_until(first, window, CHISINAU) == datetime(2026, 10, 24, 23, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 0, 10, tzinfo=UTC)  # 02:10 the second time (EET)
    assert quiet_until(second, window, CHISINAU) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_off_and_outside() -> None:
    moment = local(2026, 12, 10, 23, 0)
    assert quiet_until(moment, None, CHISINAU) is None
    assert outside_quiet_hours(moment, None, CHISINAU) == moment
    assert outside_quiet_hours(moment, NIGHT, CHISINAU) == local(2026, 12, 11, 9, 0)
    daytime = local(2026, 12, 10, 10, 0)
    assert outside_quiet_hours(daytime, NIGHT, CHISINAU) == daytime
    assert outside_quiet_hours(daytime, NIGHT, CHISINAU).tzinfo is UTC


@given(
    moment=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
    start=st.times(),
    end=st.times(),
)
def test_never_quiet_after_and_never_earlier(moment: datetime, start: time, end: time) -> None:
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    if start == end:
        return
    sent = outside_quiet_hours(moment, (start, end), CHISINAU)
    assert sent >= moment
    assert quiet_until(sent, (start, end), CHISINAU) is None
    assert sent - moment < timedelta(days=1, hours=2)
