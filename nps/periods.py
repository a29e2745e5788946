"""Report periods: parsing `/nps [survey] [period]`, previous periods and trend buckets.

Pure date arithmetic on local calendar dates; the caller supplies `today` (in the owner's time
zone), so nothing here reads the clock.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Final, Literal

__all__ = [
    "DEFAULT_DAYS",
    "EARLIEST",
    "MAX_DAYS",
    "Period",
    "PeriodError",
    "Unit",
    "choose_unit",
    "iter_buckets",
    "parse_period",
    "previous",
]

#: Length of the default report period, ending today.
DEFAULT_DAYS: Final = 30
#: Longest "Nd" accepted: about ten years.
MAX_DAYS: Final = 3660
#: Start of "all" when the caller does not know its first answer.
EARLIEST: Final = date(2000, 1, 1)

Unit = Literal["day", "week", "month"]

# English abbreviations spelled out: strftime("%b") depends on the process locale.
_MONTHS: Final = tuple("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_MONTH_NAMES: Final = tuple(
    "January February March April May June July August September October November December".split()
)

_HELP: Final = (
    "use today, 7d, 30d, 90d, all, a month like 2026-10, or a range like 2026-10-01..2026-10-31"
)
_ECHO_LIMIT: Final = 40

_DAYS_RE: Final = re.compile(r"(\d+)\s*(?:d|days?)")
# A bound is a day (2026-10-01) or a month (2026-10); one or two digits are tolerated.
_BOUND: Final = r"\d{4}-\d{1,2}(?:-\d{1,2})?"
_BOUND_RE: Final = re.compile(rf"({_BOUND})")
# "..", "-", "--", what phone keyboards make of ".." or "--" ("…", "–", "—"), or "to".
_RANGE_RE: Final = re.compile(rf"({_BOUND})\s*(?:\.\.+|…|–|—|-+|\bto\b)\s*({_BOUND})")
# "month" is the current calendar month so far; "last month" (or "last-month") the full one before.
_CALENDAR_RE: Final = re.compile(r"(last[ -]?)?(week|month|quarter|year)")


class PeriodError(ValueError):
    """A period the user typed that cannot be understood; the message is one line for the chat."""


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """An inclusive range of local calendar dates."""

    start: date
    end: date

    def __post_init__(self) -> None:
        """Reject datetimes and reversed ranges: both would silently skew every report."""
        for value in (self.start, self.end):
            if isinstance(value, datetime) or not isinstance(value, date):
                raise TypeError(f"A period is made of dates, got {value!r}.")
        if self.start > self.end:
            raise PeriodError(_reversed_message(self.start.isoformat(), self.end.isoformat()))

    @property
    def days(self) -> int:
        """Number of days in the period, both ends included."""
        return (self.end - self.start).days + 1

    @property
    def key(self) -> str:
        """Machine-friendly form for file names: "2026-10-23..2026-11-22"."""
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def describe(self, with_year: bool = True) -> str:
        """Short English form: "23 Oct – 22 Nov 2026", "1 – 31 Oct 2026", "22 Nov 2026"."""
        start, end = self.start, self.end
        if start.year != end.year:
            # Both years are needed as soon as the range crosses New Year, whatever with_year says.
            return f"{_day_month(start)} {start.year} – {_day_month(end)} {end.year}"
        end_text = _day_month(end) + (f" {end.year}" if with_year else "")
        if start == end:
            return end_text
        if start.month != end.month:
            return f"{_day_month(start)} – {end_text}"
        return f"{start.day} – {end_text}"

    def __contains__(self, day: object) -> bool:
        """Tell whether a date falls within the period."""
        if isinstance(day, datetime) or not isinstance(day, date):
            return False
        return self.start <= day <= self.end

    def bounds(self, tz: tzinfo) -> tuple[datetime, datetime]:
        """Return the half-open [start, end) instants of the period in a time zone, for queries."""
        # Half-open so that an answer at 23:59:59.9 on the last day is never lost.
        return (
            datetime.combine(self.start, time(), tzinfo=tz),
            datetime.combine(self.end + timedelta(days=1), time(), tzinfo=tz),
        )


def _day_month(day: date) -> str:
    """Return "5 Oct"-style day and month."""
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _reversed_message(first: str, second: str) -> str:
    """Explain a range written end first, with the same range the right way round."""
    return (
        f"The range starts after it ends: {first}..{second} — write the earlier date first, "
        f"e.g. {second}..{first}."
    )


def _echo(text: str) -> str:
    """Quote user input safely in a one-line message: whitespace collapsed, length capped."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _ECHO_LIMIT else flat[: _ECHO_LIMIT - 1] + "…"


def _last_day(year: int, month: int) -> date:
    """Return the last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


def _month_start(day: date) -> date:
    """Return the first day of the month containing day."""
    return day.replace(day=1)


def _quarter_start(day: date) -> date:
    """Return the first day of the quarter containing day."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _week_start(day: date) -> date:
    """Return the Monday of the ISO week containing day."""
    return day - timedelta(days=day.weekday())


_UNIT_STARTS: Final[dict[str, Callable[[date], date]]] = {
    "week": _week_start,
    "month": _month_start,
    "quarter": _quarter_start,
    "year": lambda day: date(day.year, 1, 1),
}


def _parse_bound(text: str) -> Period:
    """Parse "YYYY-MM" into its whole month or "YYYY-MM-DD" into that day."""
    parts = [int(part) for part in text.split("-")]
    year, month = parts[0], parts[1]
    if not 1 <= month <= 12:
        raise PeriodError(
            f'There is no month {month:02d} in "{text}": months go from 01 to 12, e.g. 2026-10.'
        )
    if year < 1:
        raise PeriodError(f'There is no year 0000 in "{text}": write a year like 2026.')
    last = _last_day(year, month)
    if len(parts) == 2:
        return Period(date(year, month, 1), last)
    day = parts[2]
    if not 1 <= day <= last.day:
        raise PeriodError(
            f"There is no date {text}: {_MONTH_NAMES[month - 1]} {year} has {last.day} days."
        )
    return Period(date(year, month, day), date(year, month, day))


def _trailing(days: int, today: date) -> Period:
    """Return the `days` days ending today."""
    return Period(today - timedelta(days=days - 1), today)


def _calendar(spec: str, today: date) -> Period | None:
    """Return the current ("month") or previous full ("last month") calendar unit, or None."""
    match = _CALENDAR_RE.fullmatch(spec)
    if match is None:
        return None
    start_of = _UNIT_STARTS[match.group(2)]
    start = start_of(today)
    if match.group(1) is None:
        return Period(start, today)
    # The full unit before the current one: step back one day into it and take its start.
    end = start - timedelta(days=1)
    return Period(start_of(end), end)


def parse_period(text: str | None, today: date, earliest: date | None = None) -> Period:
    """Parse a period typed after /nps; None or blank means the last 30 days ending today."""
    if isinstance(today, datetime) or not isinstance(today, date):
        raise TypeError(f"today must be a date, got {today!r}.")
    raw = "" if text is None else text
    # Lower-case and collapse runs of whitespace so "  Last   Month " reads as "last month".
    spec = " ".join(raw.lower().split())
    if not spec:
        return _trailing(DEFAULT_DAYS, today)
    if spec == "today":
        return Period(today, today)
    if spec == "yesterday":
        yesterday = today - timedelta(days=1)
        return Period(yesterday, yesterday)
    if spec == "all":
        start = EARLIEST if earliest is None else min(earliest, today)
        return Period(start, today)
    calendar_unit = _calendar(spec, today)
    if calendar_unit is not None:
        return calendar_unit
    if match := _DAYS_RE.fullmatch(spec):
        days = int(match.group(1))
        if days < 1:
            raise PeriodError(f'"{_echo(raw)}" is an empty period: use 1d or more, e.g. 30d.')
        if days > MAX_DAYS:
            raise PeriodError(
                f'"{_echo(raw)}" is too long: use at most {MAX_DAYS}d (about ten years), or all.'
            )
        return _trailing(days, today)
    if match := _BOUND_RE.fullmatch(spec):
        period = _parse_bound(match.group(1))
    elif match := _RANGE_RE.fullmatch(spec):
        first, last = _parse_bound(match.group(1)), _parse_bound(match.group(2))
        if first.start > last.end:
            raise PeriodError(_reversed_message(match.group(1), match.group(2)))
        period = Period(first.start, last.end)
    else:
        raise PeriodError(f'Unknown period "{_echo(raw)}": {_HELP}.')
    if period.start > today:
        raise PeriodError(
            f'"{_echo(raw)}" is in the future (today is {today.isoformat()}): '
            "pick dates up to today."
        )
    # Nothing after today has answers yet; clipping keeps headers, file names and trend
    # charts honest ("1 – 22 Nov 2026" rather than a month that has not happened).
    return Period(period.start, min(period.end, today))


def previous(period: Period) -> Period:
    """Return the period of the same length that ends the day before this one starts."""
    try:
        end = period.start - timedelta(days=1)
        return Period(end - timedelta(days=period.days - 1), end)
    except OverflowError:
        raise PeriodError(f"There is no period before {period.describe()}.") from None


def _next_start(start: date, unit: Unit) -> date:
    """Return the first day of the unit after the one containing start."""
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return _week_start(start) + timedelta(days=7)
    return _last_day(start.year, start.month) + timedelta(days=1)


def iter_buckets(period: Period, unit: Unit) -> list[Period]:
    """Split a period into days, ISO weeks (Monday–Sunday) or calendar months, clipped to it."""
    if unit not in ("day", "week", "month"):
        raise ValueError(f'unit must be "day", "week" or "month", got {unit!r}.')
    buckets: list[Period] = []
    start = period.start
    while True:
        try:
            following: date | None = _next_start(start, unit)
        except OverflowError:
            # Only at date.max: there is no next bucket, so this one ends the period.
            following = None
        if following is None or following > period.end:
            buckets.append(Period(start, period.end))
            return buckets
        buckets.append(Period(start, following - timedelta(days=1)))
        start = following


def choose_unit(period: Period) -> Unit:
    """Pick a trend-chart unit giving a readable number of points: day, week or month."""
    if period.days <= 14:
        return "day"
    if period.days <= 120:
        return "week"
    return "month"
