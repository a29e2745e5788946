"""The answers of an export: the Responses columns, the rows streamed from the database
(with each score's NPS group) or, for CSV, cells the database formats itself, and
`write_export`, which writes the whole file (handlers/export.py sends it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from handlers.export_summary import ExportSource, summary_tables, withheld
from handlers.export_themes import themes_table
from handlers.report_kinds import scope_kind
from handlers.texts import TextsLike
from nps.anonymity import DEFAULT_MIN_GROUP
from nps.exports import (
    FORMULA_PREFIXES,
    Batches,
    Column,
    ColumnKind,
    write_csv,
    write_csv_rows,
    write_xlsx,
)
from nps.nps_math import classify
from nps.nps_report import scope_title
from nps.scale_groups import GROUPS_BY_KIND, group_of_answer
from nps.scope import Scope
from storage.csv_cells import AnswersQuery, csv_answers_query
from storage.raw_rows import open_rows
from storage.streams import (
    ALL_ATTRIBUTES,
    ATTRIBUTE_PREFIX,
    MAX_ATTRIBUTE_COLUMNS,
    SessionSource,
    attribute_keys,
    stream_response_batches,
)

#: Response columns in file order: (row key, value kind). Titles come from the catalog.
RESPONSE_COLUMNS: tuple[tuple[str, ColumnKind], ...] = (
    ("id", "int"),
    ("survey_slug", "text"),
    ("survey_name", "text"),
    ("asked_at", "datetime"),
    ("scored_at", "datetime"),
    ("completed_at", "datetime"),
    ("score", "int"),
    ("group", "text"),
    ("why", "text"),
    ("improve", "text"),
    ("themes", "text"),  # theme keys its comments mention (handlers/themes.py)
    ("language", "text"),
    ("source", "text"),
    ("agent", "text"),
    ("campaign", "text"),
    ("order_id", "text"),
    # "Channel": the messenger; "Entry": the door (responses.channel). Machine values
    # (telegram, whatsapp, web; start, broadcast, invitation), never translated.
    ("messenger", "text"),
    ("channel", "text"),
    ("start_payload", "text"),
    ("respondent_id", "int"),
    ("username", "text"),
    ("first_name", "text"),
    ("step", "text"),
    # nps, enps, csat, ces: the scale of "Score" and the names in "Group".
    ("survey_kind", "text"),
)


def attribute_columns(keys: Sequence[str]) -> tuple[str, ...]:
    """The export keys of the custom attributes found in the answers: a column per key,
    titled by the key (what a spreadsheet filters and pivots on); past
    MAX_ATTRIBUTE_COLUMNS keys, one more column holds every attribute as JSON text."""
    own = tuple(ATTRIBUTE_PREFIX + key for key in keys[:MAX_ATTRIBUTE_COLUMNS])
    return own if len(keys) <= MAX_ATTRIBUTE_COLUMNS else (*own, ALL_ATTRIBUTES)


def export_columns(texts: TextsLike, attributes: Sequence[str] = ()) -> list[Column]:
    """The Responses columns with titles in the reader's language (times say UTC), then
    the `attribute_columns`."""
    columns = [
        Column(key, texts.plain(f"export_col_{key}"), kind) for key, kind in RESPONSE_COLUMNS
    ]
    for key in attributes:
        custom = key.removeprefix(ATTRIBUTE_PREFIX)
        title = custom if custom != key else texts.plain(f"export_col_{key}")
        columns.append(Column(key, title, "text"))
    return columns


def export_rows(
    source: SessionSource, scope: Scope, tz: tzinfo, attributes: Sequence[str] = ()
) -> Batches:
    """The answers to export, streamed from the database a cursor fetch at a time."""
    return Batches(_export_batches(source, scope, tz, attributes))


async def export_attributes(source: SessionSource, scope: Scope, tz: tzinfo) -> tuple[str, ...]:
    """The `attribute_columns` of the answers in the scope's local days."""
    start, end = scope.period.bounds(tz)
    return attribute_columns(await attribute_keys(source, scope.survey_ids, start, end))


# Looked up per row: cheaper than classify() on hundreds of thousands of rows. NPS's
# groups; a CSAT or CES answer gets its kind's (nps/scale_groups.py).
GROUP_OF_SCORE = {score: classify(score).value for score in range(11)}
# The xlsx sheet of the themes of comments (issue 15), between Summary and Responses.
THEMES_SHEET = "Themes"


async def _export_batches(
    source: SessionSource, scope: Scope, tz: tzinfo, attributes: Sequence[str]
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """The answers scored in the scope's local days, each with its NPS group, per fetch."""
    start, end = scope.period.bounds(tz)
    batches = stream_response_batches(source, scope.survey_ids, start, end, extra=attributes)
    async with aclosing(batches) as fetches:
        async for rows in fetches:
            for row in rows:
                row["group"] = group_of_answer(row["survey_kind"], row["score"])
            yield rows


def csv_query(scope: Scope, tz: tzinfo, attributes: Sequence[str] = ()) -> AnswersQuery:
    """The answers to export as CSV cells, in RESPONSE_COLUMNS order and then the
    `attribute_columns` (storage builds the SQL; text cells, attribute values included,
    are neutralised like exports.neutralize, illegal characters by the writer)."""
    start, end = scope.period.bounds(tz)
    return csv_answers_query(
        (*RESPONSE_COLUMNS, *((key, "text") for key in attributes)),
        scope.survey_ids,
        start,
        end,
        group_of_score=GROUP_OF_SCORE,
        formula_prefixes=FORMULA_PREFIXES,
        group_by_kind=GROUPS_BY_KIND,
    )


async def write_export(
    source: ExportSource,
    scope: Scope,
    fmt: str,
    texts: TextsLike,
    out: Path,
    *,
    exported_at: datetime,
    progress: Callable[[int], None] | None = None,
    min_group: int = DEFAULT_MIN_GROUP,
) -> int:
    """Writes the export file and returns the number of answers in it.

    An eNPS scope of fewer than `min_group` answers gets the header (and the Summary's
    reason) but no answer: they could be told apart.
    """
    hide = await withheld(source, scope, min_group)
    try:
        # eNPS answers carry no attributes (storage/repos/response_start.py): no columns.
        attributes = () if hide else await export_attributes(source, scope, source.tz)
    except BaseException:
        # As the writers do: no partial file is left behind.
        await asyncio.to_thread(out.unlink, missing_ok=True)
        raise
    columns = export_columns(texts, attributes)
    if fmt == "csv":
        if hide:
            return await write_csv([], columns, out, progress=progress)
        cells = open_rows(source, csv_query(scope, source.tz, attributes))
        titles = [column.title for column in columns]
        return await write_csv_rows(cells, titles, out, progress=progress)
    # The figures first: the workbook is written strictly in order, Summary before Responses.
    tables = await summary_tables(source, scope, texts, exported_at, min_group=min_group)
    # Themes on a sheet of their own, between the Summary and the Responses.
    themes = await themes_table(source, scope, texts, exported_at, min_group=min_group)
    sheets = [(THEMES_SHEET, [themes])] if themes is not None else []
    rows: Batches | list[dict[str, Any]] = (
        [] if hide else export_rows(source, scope, source.tz, attributes)
    )
    title = texts.plain(f"{scope_kind(scope)}_title", title=scope_title(scope, texts))
    return await write_xlsx(
        rows, columns, out, summary=tables, title=title, progress=progress, sheets=sheets
    )
