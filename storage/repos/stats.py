"""Score histograms: counted with each answer, summed per period for every report."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.models import SCORE_COLUMNS, Channel, ScoreCount
from storage.repos import upsert_insert
from storage.statements import Statement

# "channel" is the messaging channel (responses.messenger), not the door (responses.channel).
DIMENSIONS = ("all", "agent", "source", "language", "campaign", "channel")
COUNTERS = ("invited", *SCORE_COLUMNS)
Counts = tuple[int, ...]  # invited, then scores 0..10
EMPTY: Counts = (0,) * 12


def segments_of(
    agent: str | None,
    source: str | None,
    language: str | None,
    campaign: str | None,
    messenger: str = Channel.TELEGRAM.value,
) -> list[tuple[str, str]]:
    """The (dimension, value) rows one answer counts in (DIMENSIONS); `messenger`: the
    answer's messaging channel (responses.messenger)."""
    return [
        ("all", ""),
        ("agent", agent or ""),
        ("source", source or ""),
        ("language", language or ""),
        ("campaign", campaign or ""),
        ("channel", messenger),
    ]


def _bump(dialect: str, column: str) -> Any:
    """The upsert adding `n` to one counter of a histogram row (the others start at 0)."""
    table = ScoreCount.__table__
    insert = upsert_insert(dialect)(table).values(
        survey_id=bindparam("survey_id"),
        day=bindparam("day"),
        dimension=bindparam("dimension"),
        value=bindparam("value"),
        **{name: bindparam("n") if name == column else literal_column("0") for name in COUNTERS},
    )
    return insert.on_conflict_do_update(
        index_elements=["survey_id", "day", "dimension", "value"],
        set_={column: table.c[column] + insert.excluded[column]},
    )


@functools.cache
def _bump_statement(column: str) -> Statement:
    """`_bump` as driver SQL (storage/driver.py): it runs with every answer, once per
    segment."""
    return Statement(
        lambda dialect: _bump(dialect, column), "survey_id", "day", "dimension", "value", "n"
    )


class StatsRepo:
    """Maintains and reads the per-day score counters."""

    def __init__(self, session: AsyncSession, driver: DriverSQL, tz: tzinfo) -> None:
        self._session = session
        self._driver = driver
        self.tz = tz
        self._pending: list[tuple[str, list[tuple[Any, ...]]]] = []

    def local_day(self, moment: datetime) -> date:
        """The reporting day of a moment, in the configured time zone."""
        return moment.astimezone(self.tz).date()

    async def _bump(
        self,
        survey_id: int,
        day: date,
        segments: Iterable[tuple[str, str]],
        column: str,
        n: int = 1,
    ) -> None:
        stored_day = self._driver.day(day)
        rows = [(survey_id, stored_day, d, v[:64], n) for d, v in segments]
        if rows:
            # Written by `flush`, at the end of the transaction: every answer of a day
            # updates the same few rows, and on PostgreSQL each upsert holds its row's lock
            # until the commit; taken last, other answers wait for a commit, not for the
            # rest of a handler (the p99 of bench/e2e_throughput.py).
            self._pending.append((column, rows))

    def add_invited(self, counts: Mapping[tuple[int, date, str, str], int]) -> None:
        """Adds invitations counted elsewhere (a broadcast's batch), keyed by survey, day,
        dimension and value; written with the other counts, at the end of the transaction."""
        rows = [
            (survey_id, self._driver.day(day), d, v[:64], n)
            for (survey_id, day, d, v), n in counts.items()
        ]
        if rows:
            self._pending.append(("invited", rows))

    async def flush(self) -> None:
        """Writes the counts bumped so far (the transaction boundary calls this last)."""
        pending, self._pending = self._pending, []
        for column, rows in pending:
            # One executemany of a cached statement: it runs with every answer.
            await self._driver.executemany(_bump_statement(column), rows)

    async def count_invited(
        self, survey_id: int, moment: datetime, segments: Iterable[tuple[str, str]], n: int = 1
    ) -> None:
        """Counts a survey question sent (the denominator of the response rate);
        n = -1 takes one back (a replaced answer's)."""
        await self._bump(survey_id, self.local_day(moment), segments, "invited", n)

    async def count_score(
        self,
        survey_id: int,
        moment: datetime,
        segments: Iterable[tuple[str, str]],
        score: int,
        n: int = 1,
    ) -> None:
        """Counts a score in its day's histogram (n = -1 takes a replaced one back)."""
        await self._bump(survey_id, self.local_day(moment), segments, SCORE_COLUMNS[score], n)

    async def _sum(
        self, key: str, survey_ids: Sequence[int], start: date, end: date, dimension: str
    ) -> dict[Any, Counts]:
        """Counters summed over [start, end] (inclusive local days), grouped by `key`."""
        await self.flush()  # this transaction's own counts first
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
        await self.flush()
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
