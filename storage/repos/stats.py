"""Score histograms: counted with each answer, summed per period for every report."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SCORE_COLUMNS, ScoreCount

DIMENSIONS = ("all", "agent", "source", "language")
Counts = tuple[int, ...]  # invited, then scores 0..10
EMPTY: Counts = (0,) * 12


def segments_of(
    agent: str | None, source: str | None, language: str | None
) -> list[tuple[str, str]]:
    """The (dimension, value) rows one answer counts in."""
    return [
        ("all", ""),
        ("agent", agent or ""),
        ("source", source or ""),
        ("language", language or ""),
    ]


class StatsRepo:
    """Maintains and reads the per-day score counters."""

    def __init__(self, session: AsyncSession, dialect: str, tz: tzinfo) -> None:
        self._session = session
        self._dialect = dialect
        self.tz = tz

    def local_day(self, moment: datetime) -> date:
        """The reporting day of a moment, in the configured time zone."""
        return moment.astimezone(self.tz).date()

    async def _bump(
        self, survey_id: int, day: date, segments: Iterable[tuple[str, str]], column: str
    ) -> None:
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        table = ScoreCount.__table__
        zeros = dict.fromkeys(("invited", *SCORE_COLUMNS), 0) | {column: 1}
        rows = [
            {"survey_id": survey_id, "day": day, "dimension": d, "value": v[:64], **zeros}
            for d, v in segments
        ]
        if not rows:
            return
        # One multi-row upsert, not one per segment: it runs with every answer.
        stmt = insert(table).values(rows)
        stmt = stmt.on_conflict_do_update(
            index_elements=["survey_id", "day", "dimension", "value"],
            set_={column: table.c[column] + 1},
        )
        await self._session.execute(stmt)

    async def count_invited(
        self, survey_id: int, moment: datetime, segments: Iterable[tuple[str, str]]
    ) -> None:
        """Counts a survey question sent (the denominator of the response rate)."""
        await self._bump(survey_id, self.local_day(moment), segments, "invited")

    async def count_score(
        self, survey_id: int, moment: datetime, segments: Iterable[tuple[str, str]], score: int
    ) -> None:
        """Counts a score in its day's histogram."""
        await self._bump(survey_id, self.local_day(moment), segments, SCORE_COLUMNS[score])

    async def _sum(
        self, key: str, survey_ids: Sequence[int], start: date, end: date, dimension: str
    ) -> dict[Any, Counts]:
        """Counters summed over [start, end] (inclusive local days), grouped by `key`."""
        table = ScoreCount.__table__
        columns = [func.sum(table.c[name]) for name in ("invited", *SCORE_COLUMNS)]
        query = (
            select(table.c[key], *columns)
            .where(
                table.c.survey_id.in_(survey_ids),
                table.c.dimension == dimension,
                table.c.day >= start,
                table.c.day <= end,
            )
            .group_by(table.c[key])
        )
        rows = await self._session.execute(query)
        return {group: tuple(int(c or 0) for c in counts) for group, *counts in rows}

    async def totals(
        self, survey_ids: Sequence[int], start: date, end: date, dimension: str = "all"
    ) -> dict[str, Counts]:
        """Invited and score counts per segment value of a dimension."""
        return await self._sum("value", survey_ids, start, end, dimension)

    async def totals_by_survey(
        self, survey_ids: Sequence[int], start: date, end: date
    ) -> dict[int, Counts]:
        """Invited and score counts per survey."""
        return await self._sum("survey_id", survey_ids, start, end, "all")

    async def daily(self, survey_ids: Sequence[int], start: date, end: date) -> dict[date, Counts]:
        """Invited and score counts per day (for trends); days without data are omitted."""
        return await self._sum("day", survey_ids, start, end, "all")

    async def first_day(self, survey_ids: Sequence[int]) -> date | None:
        """The earliest day with any data (for the `all` period)."""
        table = ScoreCount.__table__
        # One indexed min() per survey (the primary key starts with survey_id, day); a
        # single min() over an IN list made PostgreSQL scan the whole table.
        days = [
            await self._session.scalar(
                select(func.min(table.c.day)).where(table.c.survey_id == survey_id)
            )
            for survey_id in survey_ids
        ]
        found = [day for day in days if day is not None]
        return min(found) if found else None
