"""`/export`: every answer of a survey and period as an XLSX workbook (default) or CSV file.

The handler only parses the arguments and says "Preparing…"; the file is written by a
deferred job after the handler's transaction has committed, so a large export never holds
a write lock. The job reads the figures through a snapshot and streams the answers through
its own read session (storage/streams.py) into a temporary file, in constant memory. For
CSV the database formats every cell (`csv_query`) and the driver's rows go straight to the
csv module; XLSX needs typed values and reads dicts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
import tempfile
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from handlers.context import UpdateContext
from handlers.events import Command, IncomingMessage
from handlers.port import Deferred, Outbox, Reader
from handlers.stats import report_args
from handlers.texts import TextsLike
from nps.anonymity import DEFAULT_MIN_GROUP, anonymous_scope, hidden_rows, too_few
from nps.exports import (
    FORMULA_PREFIXES,
    TELEGRAM_UPLOAD_LIMIT,
    Batches,
    Column,
    ColumnKind,
    SummaryTable,
    package_for_upload,
    write_csv,
    write_csv_rows,
    write_xlsx,
)
from nps.nps_math import classify
from nps.nps_report import Figures, build_report, build_segments, number, scope_title
from nps.scope import SEGMENTS, Scope
from storage.store import Store
from storage.streams import (
    AnswersQuery,
    SessionSource,
    count_responses,
    csv_answers_query,
    open_rows,
    stream_response_batches,
)

log = logging.getLogger(__name__)

# XLSX by default: it carries the Summary sheet and opens correctly in every Excel locale
# (a comma-separated file splits into columns only where "," is the list separator).
DEFAULT_FORMAT = "xlsx"
_FORMAT_WORDS = {"xlsx": "xlsx", "excel": "xlsx", "csv": "csv"}
# Formats people ask for that we do not produce: answered with the choice we offer,
# rather than "there is no survey 'pdf'".
_OTHER_FORMATS = frozenset(
    {"xls", "xlsm", "ods", "pdf", "json", "tsv", "txt", "html", "doc", "docx", "zip"}
)
# Telegram captions hold 1024 characters; a long survey name must not push the rest out.
_TITLE_LIMIT = 300

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
    ("language", "text"),
    ("source", "text"),
    ("agent", "text"),
    ("campaign", "text"),
    ("channel", "text"),
    ("start_payload", "text"),
    ("respondent_id", "int"),
    ("username", "text"),
    ("first_name", "text"),
    ("step", "text"),
)


@runtime_checkable
class ExportSource(Reader, SessionSource, Protocol):
    """A database that offers snapshots (figures), bare sessions (streaming) and its zone."""

    tz: tzinfo  # reporting days are local days in this zone (TIMEZONE)


def export_columns(texts: TextsLike) -> list[Column]:
    """The Responses columns with titles in the reader's language (times say UTC)."""
    return [Column(key, texts.plain(f"export_col_{key}"), kind) for key, kind in RESPONSE_COLUMNS]


def export_filename(scope: Scope, fmt: str) -> str:
    """`nps-delivery-2026-10-23..2026-11-22.xlsx`, or `nps-all-…` for every survey."""
    if scope.all_surveys and len(scope.surveys) != 1:
        name = "all"
    else:
        name = "-".join(s.slug for s in scope.surveys)
    # Slugs are deep-link safe already; this only guards against hand-made ones.
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", name)[:60] or "survey"
    return f"nps-{name}-{scope.period.key}.{fmt}"


def _rounded(value: float | None, places: int = 1) -> float | None:
    """A figure as a number for the spreadsheet (None stays empty).

    One decimal: the chat shows whole points, but a sheet used for further sums should not
    lose that much, nor show float noise such as 33.333333333.
    """
    return None if value is None else round(value, places)


def _figures_row(label: str, figures: Figures, texts: TextsLike) -> list[str | int | float | None]:
    """One line of a per-segment table: answers, NPS, margin, groups, average, rate."""
    s = figures.summary
    note = texts.plain("too_few") if s.n and s.too_small else None
    return [
        label,
        s.n,
        _rounded(s.nps),
        _rounded(s.margin),
        s.promoters,
        s.passives,
        s.detractors,
        _rounded(s.average, 2),
        figures.invited,
        _rounded(figures.response_rate),
        note,
    ]


def _hidden_row(label: str, texts: TextsLike, min_group: int) -> list[str | int | float | None]:
    """A segment line withheld to keep eNPS answers anonymous: its name and why."""
    note = texts.plain("enps_rows_hidden", mark="", min=min_group).strip()
    return [label, None, None, None, None, None, None, None, None, None, note]


async def withheld(source: ExportSource, scope: Scope, min_group: int) -> bool:
    """True when the scope is eNPS with fewer than `min_group` answers: nothing is exported."""
    if not anonymous_scope(scope):
        return False
    start, end = scope.period.bounds(source.tz)
    return too_few(await count_responses(source, scope.survey_ids, start, end), True, min_group)


async def summary_tables(
    source: ExportSource,
    scope: Scope,
    texts: TextsLike,
    exported_at: datetime,
    *,
    min_group: int = DEFAULT_MIN_GROUP,
) -> list[SummaryTable]:
    """The /nps figures and the tables per agent, source, language and survey (numbers).

    For eNPS, the anonymity threshold holds as in the chat: no figure of fewer than
    `min_group` answers, no segment line that would give one away.
    """
    async with source.snapshot() as store:
        report = await build_report(store, scope)
        segments = {seg: await build_segments(store, scope, seg) for seg in SEGMENTS}
    t = texts.plain
    s = report.current.summary
    before = report.before.summary
    delta = report.change.delta
    anonymous = anonymous_scope(scope)
    if too_few(s.n, anonymous, min_group):
        rows: list[list[str | int | float | None]] = [
            [t("export_row_warning"), t("enps_hidden", min=min_group)],
            [t("export_row_period"), scope.period.key],
            [t("export_row_timezone"), str(source.tz)],
            [t("export_row_exported"), exported_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")],
        ]
        header = [t("export_col_figure"), t("export_col_value")]
        return [SummaryTable(t("export_table_score"), header, rows)]
    if too_few(before.n, anonymous, min_group):
        before, delta = Figures.of(None).summary, None
    figures: list[list[str | int | float | None]] = [
        [t("export_row_nps"), _rounded(s.nps)],
        [t("export_row_margin"), _rounded(s.margin)],
        [t("export_row_low"), _rounded(s.low)],
        [t("export_row_high"), _rounded(s.high)],
        [t("export_row_answers"), s.n],
        [t("export_row_average"), _rounded(s.average, 2)],
        [t("export_row_invited"), report.current.invited],
        [t("export_row_rate"), _rounded(report.current.response_rate)],
        [t("export_row_previous", range=report.previous_period.key), _rounded(before.nps)],
        [t("export_row_change"), _rounded(delta)],
        [t("export_row_period"), scope.period.key],
        [t("export_row_timezone"), str(source.tz)],
        [t("export_row_exported"), exported_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")],
    ]
    if s.n and s.too_small:
        figures.append([t("export_row_warning"), t("too_few")])
    tables = [
        SummaryTable(
            t("export_table_score"), [t("export_col_figure"), t("export_col_value")], figures
        ),
        SummaryTable(
            t("export_table_groups"),
            [t("export_col_group"), t("export_col_count"), t("export_col_share")],
            [
                [t("export_group_promoters"), s.promoters, _rounded(s.promoter_pct)],
                [t("export_group_passives"), s.passives, _rounded(s.passive_pct)],
                [t("export_group_detractors"), s.detractors, _rounded(s.detractor_pct)],
            ],
        ),
    ]
    header = [
        t("export_col_count"),
        t("export_col_nps"),
        t("export_col_margin"),
        t("export_col_promoters"),
        t("export_col_passives"),
        t("export_col_detractors"),
        t("export_col_average"),
        t("export_col_invited"),
        t("export_col_rate"),
        t("export_col_note"),
    ]
    for segment, lines in segments.items():
        hidden = hidden_rows([fig.summary.n for _, fig in lines], anonymous, min_group)
        tables.append(
            SummaryTable(
                t("nps_by_title", segment=t(f"segment_{segment}")),
                [t(f"segment_{segment}").capitalize(), *header],
                [
                    _hidden_row(value or t("segment_none"), texts, min_group)
                    if index in hidden
                    else _figures_row(value or t("segment_none"), fig, texts)
                    for index, (value, fig) in enumerate(lines)
                ],
            )
        )
    return tables


def export_rows(source: SessionSource, scope: Scope, tz: tzinfo) -> Batches:
    """The answers to export, streamed from the database a cursor fetch at a time."""
    return Batches(_export_batches(source, scope, tz))


# Looked up per row: cheaper than classify() on hundreds of thousands of rows.
GROUP_OF_SCORE = {score: classify(score).value for score in range(11)}


async def _export_batches(
    source: SessionSource, scope: Scope, tz: tzinfo
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """The answers scored in the scope's local days, each with its NPS group, per fetch."""
    start, end = scope.period.bounds(tz)
    batches = stream_response_batches(source, scope.survey_ids, start, end)
    async with aclosing(batches) as fetches:
        async for rows in fetches:
            for row in rows:
                score = row["score"]
                row["group"] = None if score is None else GROUP_OF_SCORE[score]
            yield rows


def csv_query(scope: Scope, tz: tzinfo) -> AnswersQuery:
    """The answers to export as CSV cells, in RESPONSE_COLUMNS order (storage builds the SQL;
    text cells are neutralised like exports.neutralize, illegal characters by the writer)."""
    start, end = scope.period.bounds(tz)
    return csv_answers_query(
        RESPONSE_COLUMNS,
        scope.survey_ids,
        start,
        end,
        group_of_score=GROUP_OF_SCORE,
        formula_prefixes=FORMULA_PREFIXES,
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
    columns = export_columns(texts)
    hide = await withheld(source, scope, min_group)
    if fmt == "csv":
        if hide:
            return await write_csv([], columns, out, progress=progress)
        rows = open_rows(source, csv_query(scope, source.tz))
        titles = [column.title for column in columns]
        return await write_csv_rows(rows, titles, out, progress=progress)
    # The figures first: the workbook is written strictly in order, Summary before Responses.
    tables = await summary_tables(source, scope, texts, exported_at, min_group=min_group)
    rows = [] if hide else export_rows(source, scope, source.tz)
    title = texts.plain("nps_title", title=scope_title(scope, texts))
    return await write_xlsx(rows, columns, out, summary=tables, title=title, progress=progress)


def _export_folder() -> Path:
    """A private (0700) folder for export files, reused by every export of this user.

    The pipeline deletes the files we register with `remove_after`, but not folders, so
    exports share one folder instead of leaving an empty one each. Exports hold personal
    data: if the folder is not a private directory of ours, a fresh one is made instead.
    """
    uid = os.getuid() if hasattr(os, "getuid") else 0
    folder = Path(tempfile.gettempdir()) / f"npsbot-exports-{uid}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    private = stat.S_ISDIR(info.st_mode) and not info.st_mode & 0o077
    if not private or (hasattr(os, "getuid") and info.st_uid != uid):
        return Path(tempfile.mkdtemp(prefix="npsbot-exports-"))
    return folder


@dataclass
class PreparingNote:
    """The id of the "⏳ Preparing…" message, learnt when it was sent (live path only)."""

    message_id: int | None = None

    async def remember(self, store: Store, message_id: int) -> None:
        """The note's after-send job (it runs before the deferred export)."""
        self.message_id = message_id


def export_job(
    chat_id: int,
    scope: Scope,
    fmt: str,
    texts: TextsLike,
    now: datetime,
    *,
    upload_limit: int = TELEGRAM_UPLOAD_LIMIT,
    min_group: int = DEFAULT_MIN_GROUP,
    preparing: PreparingNote | None = None,
) -> Deferred:
    """The deferred work of one /export: write, package for Telegram, queue the file(s),
    then delete the "Preparing…" note (`preparing`): the file replaces it."""
    # Worked out now, while the handler's session is open: the job runs after it closed.
    filename = export_filename(scope, fmt)
    title = texts.plain("nps_title", title=scope_title(scope, texts))[:_TITLE_LIMIT]

    async def run(reader: Reader, out: Outbox) -> None:
        """Writes the file and sends it (zipped or in parts above 50 MB); the note goes."""
        await write_and_send(reader, out)
        if preparing is not None and preparing.message_id is not None:
            out.delete(chat_id, preparing.message_id)

    async def write_and_send(reader: Reader, out: Outbox) -> None:
        if not isinstance(reader, ExportSource):
            raise TypeError(f"exports need a database with streaming sessions, got {reader!r}")
        try:
            folder = _export_folder()
            handle, name = tempfile.mkstemp(prefix="export-", suffix=f".{fmt}", dir=folder)
            os.close(handle)
            path = Path(name)
            # Removed after the upload, or at once when anything fails (the zip may not exist).
            out.remove_after(path)
            out.remove_after(path.with_name(path.name + ".zip"))
            count = await write_export(
                reader, scope, fmt, texts, path, exported_at=now, min_group=min_group
            )
            hidden = not count and await withheld(reader, scope, min_group)
            # Zipping a large file is blocking work: keep the event loop free for others.
            parts = await asyncio.to_thread(package_for_upload, path, upload_limit)
        except Exception:
            log.exception("export for chat %s failed", chat_id)
            out.send(chat_id, texts("export_failed"))
            return
        if count:
            caption = texts("export_caption", title=title, answers=number(count))
        else:
            caption = texts("export_caption_empty", title=title)
        if hidden:
            caption += "\n" + texts("enps_hidden", min=min_group)
        for index, part in enumerate(parts, 1):
            out.remove_after(part)
            note = ""
            if len(parts) > 1:
                note = "\n" + texts("export_caption_part", part=index, parts=len(parts))
            elif part != path:
                note = "\n" + texts("export_caption_zip")
            # The part's name on disk is unique; the user sees ours plus ".zip" / ".zip.001".
            shown = filename + part.name[len(path.name) :]
            out.document(chat_id, shown, part, caption + note)

    return run


async def on_export(event: IncomingMessage, command: Command, ctx: UpdateContext) -> None:
    """Sends every answer of a survey and period as an XLSX (default) or CSV file."""
    for token in command.args.lower().split():
        if token.lstrip(".") in _OTHER_FORMATS:
            ctx.out.send(event.chat_id, ctx.texts("export_bad_format", text=token))
            return
    args = await report_args(event, command, ctx, options={"format": tuple(_FORMAT_WORDS)})
    if args is None:
        return
    fmt = _FORMAT_WORDS[args.options.get("format", DEFAULT_FORMAT)]
    title = scope_title(args.scope, ctx.texts)[:_TITLE_LIMIT]
    # Said at once: a big export takes a while, and silence looks like a broken bot. The
    # note is deleted once the file (or the failure) is there.
    preparing = PreparingNote()
    ctx.out.send(
        event.chat_id,
        ctx.texts("export_preparing", format=fmt.upper(), title=title),
        after=preparing.remember,
    )
    minimum = ctx.config.enps_min_group
    ctx.out.defer(
        export_job(
            event.chat_id,
            args.scope,
            fmt,
            ctx.texts,
            ctx.now,
            min_group=minimum,
            preparing=preparing,
        )
    )
