"""Streaming reads for exports: answers a batch at a time from a cursor, in constant memory.

An export can cover millions of answers, so rows are never collected into a list: the
query runs on a server-side cursor (asyncpg) or a stepped SQLite cursor, and each batch is
dropped before the next is fetched. Two ways to read them:

* `stream_responses` / `stream_response_batches`: dicts through SQLAlchemy (XLSX, tests).
* `open_rows` (storage/raw_rows.py): any Core statement run on the driver itself, the rows
  as the driver returns them (tuples, asyncpg records), read by blocking calls from one
  worker thread. SQLAlchemy's per-row processing cost more than everything else in the CSV
  export, so that export has the database format its cells (storage/csv_cells.py) and
  reads them this way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Mapping, Sequence
from contextlib import aclosing
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Executable,
    Select,
    Text,
    case,
    cast,
    func,
    select,
    true,
    type_coerce,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.functions import aggregate_strings

from storage.attributes import ORDER_ID, is_custom_key
from storage.models import Respondent, Response, Survey
from storage.theme_models import ResponseTheme

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
    "themes",  # the keys of the themes its comments mention (issue 15), comma-separated
    "language",
    "source",
    "agent",
    "campaign",
    "order_id",
    "messenger",
    "channel",
    "start_payload",
    "respondent_id",
    "username",
    "first_name",
    "step",
    "survey_kind",  # nps, enps, csat, ces: what the score and its group mean
)
#: An export key naming one custom attribute of the answers ("attr.region").
ATTRIBUTE_PREFIX = "attr."
#: The export key of every attribute as JSON text: the column for keys beyond
#: MAX_ATTRIBUTE_COLUMNS, so no value is left out of a file.
ALL_ATTRIBUTES = "attributes"
#: Custom attributes that get a column of their own in an export (in key order).
MAX_ATTRIBUTE_COLUMNS = 50


def attribute_value(key: str) -> ColumnElement[str]:
    """One attribute of an answer as text, NULL when it has none (read by the database)."""
    return Response.attributes[key].as_string()


#: The id an export shows: the row id of an answer, the random public id of an anonymous
#: (eNPS) one, never its row id (the sequence all answers share would date it).
EXPORTED_ID: ColumnElement[Any] = case(
    (Response.public_id.is_not(None), Response.public_id),
    else_=cast(Response.id, Text),
)

#: An answer's themes (storage/theme_models.py), their keys comma-separated (in the
#: database's order); NULL when its comments mention none. One index range read per answer.
ANSWER_THEMES: ColumnElement[Any] = (
    select(aggregate_strings(ResponseTheme.theme_key, ", "))
    .where(ResponseTheme.response_id == Response.id)
    .scalar_subquery()
)

#: Where each field of RESPONSE_FIELDS comes from.
RESPONSE_SOURCES: Mapping[str, QueryableAttribute[Any] | ColumnElement[Any]] = {
    "id": Response.id,
    "survey_slug": Survey.slug,
    "survey_name": Survey.name,
    "asked_at": Response.asked_at,
    "scored_at": Response.scored_at,
    "completed_at": Response.completed_at,
    "score": Response.score,
    "why": Response.why,
    "improve": Response.improve,
    "themes": ANSWER_THEMES,
    "language": Response.language,
    "source": Response.source,
    "agent": Response.agent,
    "campaign": Response.campaign,
    "order_id": attribute_value(ORDER_ID),
    "messenger": Response.messenger,  # the messaging channel (telegram, whatsapp, web)
    "channel": Response.channel,  # the door (start, broadcast, invitation)
    "start_payload": Response.start_payload,
    "respondent_id": Response.respondent_id,
    "username": Respondent.username,
    "first_name": Respondent.first_name,
    "step": Response.step,
    "survey_kind": Survey.kind,
}


def column_source(key: str) -> QueryableAttribute[Any] | ColumnElement[Any]:
    """Where an export key's values come from: a RESPONSE_SOURCES field, one custom
    attribute (ATTRIBUTE_PREFIX + key) or all of them as JSON text (ALL_ATTRIBUTES)."""
    if key.startswith(ATTRIBUTE_PREFIX):
        return attribute_value(key.removeprefix(ATTRIBUTE_PREFIX))
    if key == ALL_ATTRIBUTES:
        return cast(Response.attributes, Text)
    return RESPONSE_SOURCES[key]


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
        # An answer replaced by a newer one (same person and door) is not exported.
        Response.superseded_by.is_(None),
    )


def answers_query(
    columns: Iterable[ColumnElement[Any] | QueryableAttribute[Any]],
    survey_ids: Sequence[int],
    start: datetime,
    end: datetime,
) -> Select[Any]:
    """The columns of every answer scored in [start, end), with its survey and respondent."""
    query = (
        select(*columns)
        .select_from(Response)
        .join(Survey, Survey.id == Response.survey_id)
        # Outer: erased (/forgetme) and anonymous answers have no respondent, yet count.
        .outerjoin(Respondent, Respondent.id == Response.respondent_id)
    )
    # (scored_at, public_id, id) is a total order, so two exports of the same period list
    # the same rows in the same order. Anonymous answers (times at the day, a random
    # public_id) are listed in the order of their public ids: their row ids would say in
    # which order they came. ix_responses_survey_scored serves one survey's range;
    # on PostgreSQL ix_responses_scored_id streams several surveys without a sort.
    where = _scored_between(survey_ids, start, end)
    return query.where(*where).order_by(
        Response.scored_at, Response.public_id.asc().nulls_last(), Response.id
    )


def responses_query(
    survey_ids: Sequence[int], start: datetime, end: datetime, extra: Sequence[str] = ()
) -> Executable:
    """One row per answer scored in [start, end), keyed by RESPONSE_FIELDS and then the
    `extra` attribute keys (`column_source`)."""
    columns = []
    for key in (*RESPONSE_FIELDS, *extra):
        column = column_source(key)
        if key == "id":
            # The row id of an anonymous answer is not read at all; its public id follows.
            columns.append(case((Response.public_id.is_(None), Response.id)).label(key))
        elif key in _TIMESTAMPS:
            # Plain DateTime: naive UTC as stored. The UTCDateTime decorator's per-value
            # tz attachment was a third of the streaming cost, and exports print UTC anyway.
            columns.append(type_coerce(column, DateTime()).label(key))
        else:
            columns.append(column.label(key))
    columns.append(Response.public_id.label("public_id"))
    return answers_query(columns, survey_ids, start, end)


def _response_dict(row: Sequence[Any], keys: Sequence[str]) -> dict[str, Any]:
    """A streamed row keyed by `keys`; an anonymous answer's id is its public id."""
    values = dict(zip(keys, row[:-1], strict=True))
    if row[-1] is not None:
        values["id"] = row[-1]
    return values


async def attribute_keys(
    source: SessionSource, survey_ids: Sequence[int], start: datetime, end: datetime
) -> list[str]:
    """The custom attribute keys of the answers scored in [start, end), sorted (the order
    id has a column of its own): the export gives each one a column."""
    if not survey_ids:
        return []
    where = (*_scored_between(survey_ids, start, end), Response.attributes.is_not(None))
    async with source.new_session() as session, session.begin():
        dialect = (await session.connection()).dialect.name
        if dialect == "sqlite":
            each = func.json_each(Response.attributes).table_valued("key").alias("each_key")
            query = (
                select(each.c.key)
                .select_from(Response)
                .join(each, true())
                .where(*where)
                .distinct()
            )
        else:
            query = select(func.json_object_keys(Response.attributes)).where(*where).distinct()
        keys = (await session.scalars(query)).all()
    # Only keys the rules allow (storage/attributes.py) become column titles.
    return sorted(key for key in keys if key != ORDER_ID and is_custom_key(key))


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
    extra: Sequence[str] = (),
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Like `stream_responses`, one list per cursor fetch (the fast path for exports);
    `extra` attribute keys (`column_source`) are read too."""
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if not survey_ids:
        return
    keys = (*RESPONSE_FIELDS, *extra)
    query = responses_query(survey_ids, start, end, extra).execution_options(yield_per=batch)
    async with source.new_session() as session, session.begin():
        result = await session.stream(query)
        try:
            # Plain tuples zipped into dicts: SQLAlchemy's RowMapping costs far more per row.
            async for partition in result.partitions():
                yield [_response_dict(row, keys) for row in partition]
        finally:
            await result.close()
