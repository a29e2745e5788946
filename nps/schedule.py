"""The calendar of relationship surveys on autopilot (`/autopilot`): weekday mornings in
TIMEZONE, each person again N days or calendar months after their last invitation.

Pure date arithmetic, shared by the command (handlers/autopilot.py shows the next run) and
the job that sends (bot/autopilot.py).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

# Autopilot surveys go out on weekday mornings, local time (TIMEZONE): people answer a
# survey at the start of a working day, not at night or on a Sunday.
WINDOW_START = time(9, 0)
WINDOW_END = time(12, 0)
WORKDAYS = frozenset(range(5))  # Monday … Friday
DAYS = "days"
MONTHS = "months"
# The longest intervals accepted: two years either way.
MAX_COUNT = {DAYS: 730, MONTHS: 24}


@dataclass(frozen=True)
class Interval:
    """Every `count` days or calendar months."""

    count: int
    unit: str  # DAYS or MONTHS

    def before(self, moment: datetime, tz: tzinfo) -> datetime:
        """The moment one interval before `moment`; months on the local calendar (31 May
        minus 3 months is 28 or 29 February)."""
        if self.unit == DAYS:
            return moment - timedelta(days=self.count)
        local = moment.astimezone(tz)
        months = local.year * 12 + local.month - 1 - self.count
        year, month = divmod(months, 12)
        day = min(local.day, calendar.monthrange(year, month + 1)[1])
        return local.replace(year=year, month=month + 1, day=day)


def in_window(now: datetime, tz: tzinfo) -> bool:
    """True on a weekday morning (local): when autopilot surveys may go out."""
    local = now.astimezone(tz)
    return local.weekday() in WORKDAYS and WINDOW_START <= local.time() < WINDOW_END


def seconds_left(now: datetime, tz: tzinfo) -> float:
    """Seconds until today's window closes (0 outside the window)."""
    if not in_window(now, tz):
        return 0.0
    local = now.astimezone(tz)
    end = datetime.combine(local.date(), WINDOW_END, tzinfo=tz)
    return max(0.0, (end - local).total_seconds())


def workdays_between(first: date, last: date) -> int:
    """Weekdays after `first` up to and including `last`."""
    if last <= first:
        return 0
    weeks, extra = divmod((last - first).days, 7)
    count = weeks * len(WORKDAYS)
    day = first + timedelta(days=weeks * 7)
    for _ in range(extra):
        day += timedelta(days=1)
        count += day.weekday() in WORKDAYS
    return count


def workdays_in(interval: Interval, now: datetime, tz: tzinfo) -> int:
    """The weekday mornings one interval holds (at least 1), ending today."""
    today = now.astimezone(tz).date()
    start = interval.before(now, tz).astimezone(tz).date()
    return max(1, workdays_between(start, today))


def day_cap(now: datetime, tz: tzinfo, rate: float) -> int:
    """The most messages the rest of today's window holds at `rate` per second."""
    return max(1, math.floor(seconds_left(now, tz) * rate)) if in_window(now, tz) else 0


def next_run(now: datetime, tz: tzinfo, last_run: date | None) -> datetime:
    """When the job next runs a schedule (local, aware): now when today's window is open
    and today's run has not happened, else the next weekday's window start."""
    local = now.astimezone(tz)
    day = local.date()
    while True:
        if day.weekday() in WORKDAYS and day != last_run:
            end = datetime.combine(day, WINDOW_END, tzinfo=tz)
            if local < end:
                return max(datetime.combine(day, WINDOW_START, tzinfo=tz), local)
        day += timedelta(days=1)
