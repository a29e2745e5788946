"""Texts of the /chart pictures shared by the NPS and the CSAT/CES charts: bucket labels on
the x axis, the two-line title, shortened survey names."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from nps.periods import Period, Unit

# A title line of the picture (bold, 13 pt) holds about 60 characters at 1200 px: longer
# survey names are shortened there; the caption carries them whole.
TITLE_CHARS = 56
# Telegram allows 1024 characters in a caption; the rest of ours is well under 100.
CAPTION_TITLE_CHARS = 600


def shorten(text: str, limit: int) -> str:
    """The text cut to `limit` characters with "…" when it is longer."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def bucket_label(bucket: Period, unit: Unit, months: Sequence[str], *, first: bool) -> str:
    """ "5 Nov" for a day, "2–8 Nov" for a week, "Nov 2026" for a month (year when it turns)."""

    def day_month(day: date) -> str:
        return f"{day.day} {months[day.month - 1]}"

    start, end = bucket.start, bucket.end
    if unit == "day" or start == end:
        return day_month(start)
    if unit == "week":
        if start.month == end.month:
            return f"{start.day}–{day_month(end)}"
        return f"{day_month(start)}–{day_month(end)}"
    name = months[start.month - 1]
    # The year only where it is needed to read the axis: at the start and at each January.
    return f"{name} {start.year}" if first or start.month == 1 else name


def chart_title(heading: str, by_unit: str) -> str:
    """Two lines: the survey(s), then "NPS by week · last 30 days (…)"."""
    # scope_title ends with " · <period>" and a period never contains " · ", so the last
    # separator splits it even when a survey's name has one.
    surveys, _, period = heading.rpartition(" · ")
    return f"{shorten(surveys, TITLE_CHARS)}\n{by_unit} · {period}"
