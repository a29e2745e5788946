"""Streaming reads for exports: answers row by row from a cursor, in constant memory.

An export can cover millions of answers, so rows are never collected into a list: the
query runs on a server-side cursor (asyncpg) or a stepped SQLite cursor, and rows arrive
in batches of `STREAM_BATCH` (`yield_per`), each dropped before the next is fetched.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import ColumnElement, DateTime, Executable, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Respondent, Response, Survey

# Rows fetched per round trip: big enough that the per-batch overhead is noise, small
# enough that one batch (with long comments) stays well under a megabyte.
STREAM_BATCH = 2000

_TIMESTAMPS = ("asked_at", "scored_at", "completed_at")

#: The keys of every streamed row, in export order.
RESPONSE_FIELDS = (
    "id",
    "survey_slug",
    "survey_name",
    "asked_at",
    "scored_at",
    "completed_at",
    "score",
    "why",
    "improve",
    "language",
    "source",
    "agent",
    "campaign",
    "channel",
    "start_payload",
    "respondent_id",
    "username",
    "first_name",
    "step",
)


@runtime_checkable
class SessionSource(Protocol):
    """What can open a bare read session for streaming (storage.db.Database)."""

    def new_session(self) -> AsyncSession:
        """A new session; the caller closes it."""
        ...


def _scored_between(
    survey_ids: Sequence[int], start: datetime, end: datetime
) -> tuple[ColumnElement[bool], ...]:
    """Conditions: answers of the surveys scored in the half-open range [start, end)."""
    return (
        Response.survey_id.in_(list(survey_ids)),
        Response.scored_at.is_not(None),
        Response.scored_at >= start,
        Response.scored_at < end,
    )


def responses_query(survey_ids: Sequence[int], start: datetime, end: datetime) -> Executable:
    """One row per answer scored in [start, end), with its survey and respondent."""
    query = (
        select(
            Response.id,
            Survey.slug.label("survey_slug"),
            Survey.name.label("survey_name"),
            # Plain DateTime: naive UTC as stored. The UTCDateTime decorator's per-value
            # tz attachment was a third of the streaming cost, and exports print UTC anyway.
            type_coerce(Response.asked_at, DateTime()).label("asked_at"),
            type_coerce(Response.scored_at, DateTime()).label("scored_at"),
            type_coerce(Response.completed_at, DateTime()).label("completed_at"),
            Response.score,
            Response.why,
            Response.improve,
            Response.language,
            Response.source,
            Response.agent,
            Response.campaign,
            Response.channel,
            Response.start_payload,
            Response.respondent_id,
            Respondent.username,
            Respondent.first_name,
            Response.step,
        )
        .join(Survey, Survey.id == Response.survey_id)
        # Outer: erased (/forgetme) and anonymous answers have no respondent, yet count.
        .outerjoin(Respondent, Respondent.id == Response.respondent_id)
    )
    # (scored_at, id) is a total order, so two exports of the same period list the same
    # rows in the same order; ix_responses_survey_scored serves the range.
    where = _scored_between(survey_ids, start, end)
    return query.where(*where).order_by(Response.scored_at, Response.id)


async def count_responses(
    source: SessionSource, survey_ids: Sequence[int], start: datetime, end: datetime
) -> int:
    """How many answers `stream_responses` will yield (for a progress bar)."""
    if not survey_ids:
        return 0
    query = select(func.count(Response.id)).where(*_scored_between(survey_ids, start, end))
    async with source.new_session() as session, session.begin():
        return int(await session.scalar(query) or 0)


async def stream_responses(
    source: SessionSource,
    survey_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    batch: int = STREAM_BATCH,
) -> AsyncGenerator[dict[str, Any], None]:
    """Yields the answers scored in [start, end) as dicts keyed by RESPONSE_FIELDS.

    Runs in its own read session and transaction (never the caller's write
    transaction), holding at most `batch` rows at a time. Close the generator (or let
    `async with aclosing(...)` do it) to release the cursor early.
    """
    async with aclosing(
        stream_response_batches(source, survey_ids, start, end, batch=batch)
    ) as it:
        async for rows in it:
            for row in rows:
                # The per-row API hands out aware UTC datetimes like the rest of storage;
                # the batch path leaves them naive for speed.
                for key in _TIMESTAMPS:
                    if row[key] is not None:
                        row[key] = row[key].replace(tzinfo=UTC)
                yield row


async def stream_response_batches(
    source: SessionSource,
    survey_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    batch: int = STREAM_BATCH,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Like `stream_responses`, one list per cursor fetch (the fast path for exports)."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if not survey_ids:
        return
    query = responses_query(survey_ids, start, end).execution_options(yield_per=batch)
    async with source.new_session() as session, session.begin():
        result = await session.stream(query)
        try:
            # Plain tuples zipped into dicts: SQLAlchemy's RowMapping costs far more per row.
            async for partition in result.partitions():
                yield [dict(zip(RESPONSE_FIELDS, row, strict=True)) for row in partition]
        finally:
            await result.close()
