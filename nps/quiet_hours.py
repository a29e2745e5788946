"""Quiet hours (QUIET_HOURS, e.g. 21:00-09:00 in TIMEZONE): no invitation goes out at night.

Pure time arithmetic, shared by the trigger API (the 202's `send_at` already says when an
invitation will go) and the sender (an invitation that falls due at night, e.g. because
the bot was down, waits too). The window is in local wall-clock time: across a change to
or from summer time it still ends at 09:00 on the clock, whatever that is in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo

Window = tuple[time, time]  # (start, end), local; start > end crosses midnight


def quiet_until(moment: datetime, window: Window | None, tz: tzinfo) -> datetime | None:
    """The end of the quiet window `moment` (aware) falls in, as aware UTC; None when it
    falls outside (or there are no quiet hours).

    An end the clock skips (02:30 on the night it jumps from 02:00 to 03:00) is read in
    the offset before the jump: 03:30 summer time. An end the clock shows twice (the night
    summer time ends) is its first showing, unless `moment` is already past that.
    """
    if window is None:
        return None
    start, end = window
    local = moment.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= clock < end, local.date()
    elif clock >= start:  # before midnight in a window that crosses it: ends tomorrow
        inside, day = True, local.date() + timedelta(days=1)
    else:
        inside, day = clock < end, local.date()
    if not inside:
        return None
    for fold in (0, 1):
        until = datetime.combine(day, end, tzinfo=tz).replace(fold=fold).astimezone(UTC)
        if until > moment:
            return until
    return None  # only the repeated hour of an ended summer time gets here: not quiet


def outside_quiet_hours(moment: datetime, window: Window | None, tz: tzinfo) -> datetime:
    """`moment`, or the end of the quiet window it falls in (aware UTC either way)."""
    return quiet_until(moment, window, tz) or moment.astimezone(UTC)
