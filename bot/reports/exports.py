"""Streaming, spreadsheet-safe CSV and XLSX exports, and packaging them for Telegram upload.

Rows arrive as an (async) iterable of dicts straight from the database and are written in
fixed-size batches, so memory stays constant whatever the row count. Every text cell is
cleaned of characters XML forbids. CSV text is neutralised against formula injection (OWASP
"CSV injection"): a survey answer such as ``=HYPERLINK(...)`` must never run in the owner's
Excel. XLSX text goes into typed string cells, which are never evaluated, so it is kept
exactly as typed ("-", "+1 faster", "@everything"), with no apostrophe.

`write_csv_rows` is the fast CSV path for a database cursor whose cells the query already
formatted (text neutralised, datetimes as text): one worker thread fetches and writes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
import tempfile
import threading
import zipfile
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from numbers import Real
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

__all__ = [
    "EXCEL_MAX_ROWS",
    "FORMULA_PREFIXES",
    "TELEGRAM_UPLOAD_LIMIT",
    "BatchCursor",
    "Column",
    "ColumnKind",
    "Rows",
    "SummaryTable",
    "neutralize",
    "package_for_upload",
    "write_csv",
    "write_csv_rows",
    "write_xlsx",
]

ColumnKind = Literal["text", "int", "float", "datetime", "date"]
Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Batches:
    """Rows that arrive already grouped, as a database cursor fetches them.

    Passing whole fetches saves an async-generator hop per row, which dominated the
    export's CPU time (a third of it at 100 000 rows).
    """

    source: AsyncIterable[Sequence[Row]]


Rows = AsyncIterable[Row] | Iterable[Row] | Batches
Progress = Callable[[int], None]

#: Rows per worksheet in Excel 2007+, header row included.
EXCEL_MAX_ROWS = 1_048_576
#: Largest file a bot may send through the Telegram Bot API.
TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024

# Rows handed to the writer thread at a time: large enough that the thread hop is noise,
# small enough that one batch is a few hundred kilobytes at most.
_BATCH_ROWS = 1000
# Excel's cell limit is 32,767 UTF-16 code units; longer text would be cut by xlsxwriter
# without a trace, so we cut it ourselves and leave a visible marker.
_XLSX_MAX_CELL_UNITS = 32_767
_TRUNCATION_MARK = "…"
# Excel keeps 15 significant digits; larger integers would be silently rounded.
_XLSX_MAX_EXACT_INT = 10**15
_COPY_CHUNK = 1024 * 1024

# OWASP CSV-injection list: cells starting with these are taken as formulas (or DDE) by Excel
# and LibreOffice; tab and CR are included because some importers strip them first.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters XML 1.0 forbids (C0 controls except tab/LF/CR, U+FFFE/U+FFFF) and lone surrogates,
# which cannot be encoded as UTF-8 at all.
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACEMENT = "\ufffd"

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Column:
    """One exported column: the row-dict key, the header title and the value kind."""

    key: str
    title: str
    kind: ColumnKind = "text"


@dataclass(frozen=True, slots=True)
class SummaryTable:
    """A small titled table for the Summary sheet (e.g. NPS by agent)."""

    title: str
    header: list[str]
    rows: list[list[str | int | float | None]] = field(default_factory=list)


# --------------------------------------------------------------------------- cell values


def neutralize(value: str) -> str:
    """Prefix an apostrophe to text that a spreadsheet would evaluate as a formula."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _clean_text(value: object) -> str:
    """Return a value as safe text: XML-illegal characters replaced, then neutralised."""
    if value.__class__ is str and value.isprintable():  # type: ignore[union-attr]
        # Fast path (most cells): printable text has no control characters, no lone
        # surrogates and no U+FFFE/U+FFFF, so only the formula prefix needs checking.
        return "'" + value if value.startswith(FORMULA_PREFIXES) else value  # type: ignore[union-attr,return-value,operator]
    text = value if isinstance(value, str) else str(value)
    # Replace rather than strip: stripping could expose a formula prefix ("\x00=1" -> "=1")
    # and would hide that something was there. Cleaning first means neutralize sees the
    # final first character.
    return neutralize(_ILLEGAL_CHARS.sub(_REPLACEMENT, text))


def _xlsx_text(value: object) -> str:
    """Return a value as xlsx cell text: XML-illegal characters replaced, nothing prefixed.

    An xlsx string cell is never evaluated (we write it with write_string, and
    strings_to_formulas is off), so "=1+1", "-", "+1 faster" and "@everything" are kept
    exactly as typed; an apostrophe would only corrupt them. CSV has no cell types, so
    `_clean_text` keeps neutralising there.
    """
    if value.__class__ is str and value.isprintable():  # type: ignore[union-attr]
        return value  # type: ignore[return-value]
    text = value if isinstance(value, str) else str(value)
    return _ILLEGAL_CHARS.sub(_REPLACEMENT, text)


def _fit_xlsx_cell(text: str) -> str:
    """Cut text to Excel's per-cell limit, marking the cut, so nothing is lost silently."""
    # A str can only exceed the UTF-16 limit if it is longer than half of it.
    if len(text) <= _XLSX_MAX_CELL_UNITS // 2:
        return text
    encoded = text.encode("utf-16-le")
    if len(encoded) // 2 <= _XLSX_MAX_CELL_UNITS:
        return text
    keep = (_XLSX_MAX_CELL_UNITS - len(_TRUNCATION_MARK)) * 2
    return encoded[:keep].decode("utf-16-le", errors="ignore") + _TRUNCATION_MARK


def _as_number(value: object) -> int | float | None:
    """Return a finite real number, or None when the value is not one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    # Decimal (SQL NUMERIC) is not registered as a numbers.Real, so name it explicitly.
    if isinstance(value, Real | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _as_utc_naive(value: datetime) -> datetime:
    """Convert to naive UTC; naive input is taken to be UTC already (storage keeps UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


# --------------------------------------------------------------------------- async plumbing


async def _aiter(rows: Rows) -> AsyncIterator[Row]:
    """Iterate an async or a plain iterable of rows uniformly, closing the source at the end."""
    try:
        if isinstance(rows, AsyncIterable):
            async for row in rows:
                yield row
        else:
            for row in rows:
                yield row
    finally:
        # Stopping early (error, cancellation) must release a database cursor promptly rather
        # than whenever the garbage collector finalises the generator.
        aclose = getattr(rows, "aclose", None)
        if aclose is not None:
            await aclose()
        else:
            close = getattr(rows, "close", None)
            if close is not None:
                close()


async def _in_thread(
    func: Callable[..., _T], *args: Any, on_cancel: Callable[[], None] | None = None
) -> _T:
    """Run blocking work off the event loop, never abandoning it half-way.

    When the caller is cancelled, ``on_cancel`` asks the work to stop early.
    """
    future = asyncio.get_running_loop().run_in_executor(None, func, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        if on_cancel is not None:
            on_cancel()
        # A thread cannot be killed: wait for it so cleanup never races the writer.
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # whatever stopping it raised is expected, not news
        raise


async def _batches(rows: Rows) -> AsyncIterator[Sequence[Row]]:
    """Groups rows into batches (or passes a cursor's own batches through)."""
    if isinstance(rows, Batches):
        async with aclosing(_aiter(rows.source)) as fetches:  # type: ignore[arg-type]
            async for fetched in fetches:
                if fetched:
                    yield fetched  # type: ignore[misc]
        return
    batch: list[Row] = []
    async with aclosing(_aiter(rows)) as stream:
        async for row in stream:
            batch.append(row)
            if len(batch) >= _BATCH_ROWS:
                yield batch
                batch = []
    if batch:
        yield batch


async def _drive(rows: Rows, sink: _CsvSink | _XlsxSink, progress: Progress | None) -> int:
    """Feed rows to a sink batch by batch; on any failure remove the partial output.

    The next batch is fetched while the previous one is written in a worker thread, so
    the database and the file are busy at the same time (writes stay in order).
    """
    total = 0  # rows handed to the writer
    writing: asyncio.Future[None] | None = None

    async def finish_write() -> None:
        nonlocal writing
        if writing is not None:
            await writing
            writing = None
            if progress is not None:
                progress(total)

    try:
        async with aclosing(_batches(rows)) as batches:
            async for batch in batches:
                await finish_write()
                writing = asyncio.ensure_future(_in_thread(sink.write_batch, batch))
                total += len(batch)
        await finish_write()
        await _in_thread(sink.close)
    except BaseException:
        # Includes cancellation: a half-written export must not be mistaken for a whole one.
        if writing is not None:
            await asyncio.wait([writing])  # never discard under a writer still running
        sink.discard()
        raise
    return total


# --------------------------------------------------------------------------- CSV


def _csv_converter(kind: ColumnKind) -> Callable[[object], object]:
    """Return the function turning one value of a column kind into a CSV cell."""

    def text(value: object) -> str:
        if value is None:
            return ""
        # XML-illegal characters are replaced later, per batch (_CsvSink).
        return neutralize(value if value.__class__ is str else str(value))  # type: ignore[arg-type]

    def number(value: object) -> object:
        if value is None or value.__class__ is int:
            return value
        num = _as_number(value)
        if num is None:
            # Not a number after all (or NaN/inf): keep the information, as safe text.
            return "" if isinstance(value, float | Decimal) else text(value)
        return num

    def stamp(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return _as_utc_naive(value).isoformat(" ", "seconds")
        if isinstance(value, date):
            return value.strftime("%Y-%m-%d 00:00:00")
        return text(value)

    def day(value: object) -> str:
        if isinstance(value, datetime):
            value = _as_utc_naive(value).date()
        if isinstance(value, date):
            return value.strftime("%Y-%m-%d")
        return text(value)

    return {"text": text, "int": number, "float": number, "datetime": stamp, "date": day}[kind]


class _CsvSink:
    """Synchronous CSV writer used from a worker thread; rows are sequences of cells.

    XML-illegal characters are replaced once per batch, in the CSV text, instead of cell by
    cell: they are neither formula prefixes nor CSV syntax, and U+FFFD is no prefix, so the
    file is the same as if each cell had been cleaned before it was neutralised.
    """

    def __init__(
        self,
        out: Path,
        titles: Sequence[str],
        cells: Callable[[Any], Sequence[object]] | None = None,
    ) -> None:
        self._out = out
        self._cells = cells  # turns one incoming row into its cells (None: it already is)
        # newline="" lets the csv module own line endings (CRLF, quoted embedded newlines).
        self._fh = out.open("w", encoding="utf-8-sig", newline="")
        self._write([[neutralize(title) for title in titles]])

    def write_batch(self, batch: Iterable[Any]) -> None:
        """Append a batch of rows."""
        self._write(batch if self._cells is None else map(self._cells, batch))

    def _write(self, rows: Iterable[Sequence[object]]) -> None:
        """Write cells (text, numbers, None for empty) as CSV text, cleaned in one pass."""
        # A fresh buffer each time: a rewound StringIO writes measurably slower.
        text = io.StringIO()
        csv.writer(text, lineterminator="\r\n").writerows(rows)
        self._fh.write(_ILLEGAL_CHARS.sub(_REPLACEMENT, text.getvalue()))

    def close(self) -> None:
        """Flush and close the file."""
        self._fh.close()

    def discard(self) -> None:
        """Close and delete the partial file."""
        self._fh.close()
        self._out.unlink(missing_ok=True)


def _cells_of(columns: Sequence[Column]) -> Callable[[Row], list[object]]:
    """Return the function turning a row mapping into its CSV cells, in column order."""
    pairs = [(column.key, _csv_converter(column.kind)) for column in columns]

    def cells(row: Row) -> list[object]:
        return [convert(row.get(key)) for key, convert in pairs]

    return cells


async def write_csv(
    rows: Rows,
    columns: Sequence[Column],
    out: Path,
    *,
    progress: Progress | None = None,
) -> int:
    """Stream rows to a CSV file for Excel and return the number of data rows written.

    Format choices, all for Excel (the tool owners open exports with):

    * UTF-8 **with a BOM**: without it Excel decodes UTF-8 as the ANSI code page and Cyrillic
      comes out as mojibake.
    * Comma delimiter and CRLF line endings (RFC 4180). Note that Excel in locales whose list
      separator is ";" (ru-RU among them) splits such a file only through Data > From Text;
      the XLSX export is the format to recommend there.
    * Datetimes as ``YYYY-MM-DD HH:MM:SS`` in **UTC**: Excel recognises this form as a date
      and time in every locale (ISO 8601 with a "T" or an offset stays plain text, and
      day/month orders are ambiguous), and spreadsheets have no time zones, so one fixed,
      stated zone is the only unambiguous choice. Aware values are converted; naive ones are
      taken to be UTC already. Say "(UTC)" in the column title.
    * Text cells are neutralised against formula injection; numbers are written as numbers.

    ``progress`` is called on the event loop after each batch with the running row count.
    The source iterator is closed when this returns or fails; on failure or cancellation
    the partial file is removed.
    """
    if not columns:
        raise ValueError("an export needs at least one column")
    # Created on the loop (opening a file is quick) so a cancellation cannot orphan it.
    sink = _CsvSink(out, [column.title for column in columns], _cells_of(columns))
    return await _drive(rows, sink, progress)


class BatchCursor(Protocol):
    """Rows fetched by blocking calls from one worker thread (storage.streams.open_rows)."""

    def fetch(self) -> Sequence[Sequence[Any]]:
        """The next batch of rows; empty once all were read."""
        ...

    def interrupt(self) -> None:
        """Stops a fetch in progress as soon as possible; called from the event loop."""
        ...


def _copy_rows(
    cursor: BatchCursor, sink: _CsvSink, stop: threading.Event, report: Progress
) -> int:
    """Fetch and write batches until the cursor is empty or `stop` is set; return the count."""
    total = 0
    while not stop.is_set():
        batch = cursor.fetch()
        if not batch or stop.is_set():  # a batch fetched after the stop is not written
            break
        sink.write_batch(batch)
        total += len(batch)
        report(total)
    return total


async def write_csv_rows(
    rows: AbstractAsyncContextManager[BatchCursor],
    titles: Sequence[str],
    out: Path,
    *,
    progress: Progress | None = None,
) -> int:
    """Stream a cursor's rows of ready cells to a CSV file; return the number of data rows.

    The file is the one `write_csv` writes, but the cells arrive as the export wants them:
    text already neutralised (see `neutralize`), datetimes already ``YYYY-MM-DD HH:MM:SS``
    text, numbers, None for empty; XML-illegal characters are still replaced here. ``rows``
    is entered after the file is created, and one worker thread then fetches and writes
    every batch (no event-loop hop per batch). ``progress`` is called on the event loop with
    the running row count; on failure or cancellation the partial file is removed.
    """
    if not titles:
        raise ValueError("an export needs at least one column")
    loop = asyncio.get_running_loop()
    stop = threading.Event()
    errors: list[Exception] = []

    def call_progress(total: int) -> None:
        try:
            progress(total)  # type: ignore[misc]
        except Exception as exc:  # fails the export, as it does in write_csv
            errors.append(exc)
            stop.set()

    def report(total: int) -> None:
        if progress is not None:
            # Runs before the thread's result arrives: the loop keeps callbacks in order.
            loop.call_soon_threadsafe(call_progress, total)

    # Created first, so that any failure below, the database's included, removes it.
    sink = _CsvSink(out, titles)
    try:
        async with rows as cursor:

            def interrupt() -> None:
                stop.set()
                cursor.interrupt()

            total = await _in_thread(_copy_rows, cursor, sink, stop, report, on_cancel=interrupt)
            if errors:
                raise errors[0]
        await _in_thread(sink.close)
    except BaseException:
        # Includes cancellation: a half-written export must not be mistaken for a whole one.
        sink.discard()
        raise
    return total


# --------------------------------------------------------------------------- XLSX


def _column_width(column: Column) -> float:
    """Return a starting column width (in characters) from the column's kind and title."""
    # +3 leaves room for the autofilter drop-down arrow next to the bold title.
    title = len(column.title) + 3
    base = {"int": 8, "float": 10, "datetime": 20, "date": 12, "text": 16}[column.kind]
    return max(base, title)


# Text columns grow to fit their longest value up to this width; longer texts (comments)
# stay on one line and are read in the cell or the formula bar rather than wrapping every row.
_MAX_TEXT_WIDTH = 60


class _XlsxSink:
    """Synchronous constant-memory XLSX writer used from a worker thread."""

    def __init__(
        self,
        out: Path,
        columns: Sequence[Column],
        summary: Sequence[SummaryTable],
        title: str,
        max_rows_per_sheet: int,
        summary_sheet: str,
        responses_sheet: str,
    ) -> None:
        self._out = out
        self._columns = list(columns)
        self._max_rows = max_rows_per_sheet
        self._responses_name = responses_sheet
        # constant_memory keeps one row in memory and spills the rest to temp files. Put them
        # beside the output rather than in /tmp, which may be a RAM-backed tmpfs.
        self._tmp = tempfile.TemporaryDirectory(prefix=".xlsx-", dir=out.parent)
        self._wb = xlsxwriter.Workbook(
            str(out),
            {
                "constant_memory": True,
                "tmpdir": self._tmp.name,
                # Defence in depth: we only use typed writers, but never let strings turn into
                # formulas, links or numbers behind our back.
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        if title:
            self._wb.set_properties({"title": _xlsx_text(title)})
        wb = self._wb
        self._bold = wb.add_format({"bold": True})
        self._header = wb.add_format({"bold": True, "bottom": 1, "bg_color": "#EDEDED"})
        self._heading = wb.add_format({"bold": True, "font_size": 14})
        self._datetime = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self._date = wb.add_format({"num_format": "yyyy-mm-dd"})

        self._sheets: list[Worksheet] = []
        self._sheet: Worksheet
        self._row = 0
        self._text_widths: list[int] = []
        try:
            # constant_memory writes each sheet's rows strictly in order, so the small Summary
            # is written completely first and the Responses sheets are streamed after it.
            self._write_summary(summary, title, summary_sheet)
            self._new_sheet()
        except BaseException:  # e.g. a sheet name Excel rejects: leave no temp files behind
            self.discard()
            raise

    # -- summary

    def _write_summary(self, tables: Sequence[SummaryTable], title: str, name: str) -> None:
        """Write the Summary sheet: an optional heading, then the tables one under another."""
        ws = self._wb.add_worksheet(name)
        widths: dict[int, int] = {}
        row = 0
        if title:
            ws.write_string(row, 0, _fit_xlsx_cell(_xlsx_text(title)), self._heading)
            row += 2
        for table in tables:
            ws.write_string(row, 0, _fit_xlsx_cell(_xlsx_text(table.title)), self._bold)
            row += 1
            for col, text in enumerate(table.header):
                cell = _fit_xlsx_cell(_xlsx_text(text))
                ws.write_string(row, col, cell, self._header)
                widths[col] = max(widths.get(col, 0), len(cell))
            row += 1
            for values in table.rows:
                for col, value in enumerate(values):
                    width = self._write_plain(ws, row, col, value)
                    widths[col] = max(widths.get(col, 0), width)
                row += 1
            row += 1  # a blank line between tables
        for col, width in widths.items():
            ws.set_column(col, col, min(max(width + 2, 10), 50))

    def _write_plain(self, ws: Worksheet, row: int, col: int, value: object) -> int:
        """Write a summary value with a typed writer and return its display length."""
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return 0
        number = None if isinstance(value, str) else _as_number(value)
        if number is not None and abs(number) < _XLSX_MAX_EXACT_INT:
            ws.write_number(row, col, number)
            return len(str(number))
        text = _fit_xlsx_cell(_xlsx_text(value))
        ws.write_string(row, col, text)
        return len(text)

    # -- responses

    def _new_sheet(self) -> None:
        """Start a Responses sheet (the 2nd and later ones are numbered) with its header."""
        number = len(self._sheets) + 1
        name = self._responses_name if number == 1 else f"{self._responses_name} ({number})"
        if self._sheets:
            self._finish_sheet()
        ws = self._wb.add_worksheet(name)
        self._sheets.append(ws)
        self._sheet = ws
        for col, column in enumerate(self._columns):
            ws.write_string(0, col, _xlsx_text(column.title), self._header)
        ws.freeze_panes(1, 0)
        self._row = 1
        self._text_widths = [0] * len(self._columns)

    def _finish_sheet(self) -> None:
        """Set the current sheet's autofilter and column widths (stored until close)."""
        ws = self._sheet
        ws.autofilter(0, 0, max(self._row - 1, 0), len(self._columns) - 1)
        for col, column in enumerate(self._columns):
            width = _column_width(column)
            if column.kind == "text":
                width = max(width, min(self._text_widths[col] + 2, _MAX_TEXT_WIDTH))
            ws.set_column(col, col, width)

    def write_batch(self, batch: list[Row]) -> None:
        """Append a batch of rows, moving on to a new sheet at the row limit."""
        for row in batch:
            if self._row >= self._max_rows:
                self._new_sheet()
            self._write_row(row)
            self._row += 1

    def _write_row(self, row: Row) -> None:
        """Write one row with a typed writer per cell; unexpected types fall back to text."""
        ws, r = self._sheet, self._row
        for col, column in enumerate(self._columns):
            value = row.get(column.key)
            if value is None:
                continue
            kind = column.kind
            if kind in ("int", "float"):
                number = _as_number(value)
                if number is not None and abs(number) < _XLSX_MAX_EXACT_INT:
                    ws.write_number(r, col, number)
                    continue
                if isinstance(value, float | Decimal):  # NaN / infinity: leave the cell empty
                    continue
                if number is not None:  # a huge id: exact as text, no formula risk
                    ws.write_string(r, col, str(number))
                    continue
            elif kind == "datetime" and isinstance(value, datetime):
                ws.write_datetime(r, col, _as_utc_naive(value), self._datetime)
                continue
            elif kind in ("datetime", "date") and isinstance(value, date):
                if isinstance(value, datetime):
                    value = _as_utc_naive(value).date()
                fmt = self._date if kind == "date" else self._datetime
                ws.write_datetime(r, col, value, fmt)
                continue
            text = _fit_xlsx_cell(_xlsx_text(value))
            if kind == "text" and len(text) > self._text_widths[col]:
                self._text_widths[col] = len(text)
            # write_string, never write(): the value is stored as a string, not parsed.
            ws.write_string(r, col, text)

    def close(self) -> None:
        """Finish the last sheet, assemble the workbook and remove the temp files."""
        self._finish_sheet()
        try:
            self._wb.close()
        finally:
            self._tmp.cleanup()

    def discard(self) -> None:
        """Drop the unfinished workbook: close its temp files and delete any output."""
        for ws in self._wb.worksheets():
            handle = getattr(ws, "row_data_fh", None)
            if handle is not None:
                handle.close()
        self._tmp.cleanup()
        self._out.unlink(missing_ok=True)


async def write_xlsx(
    rows: Rows,
    columns: Sequence[Column],
    out: Path,
    *,
    summary: Sequence[SummaryTable] = (),
    title: str = "",
    progress: Progress | None = None,
    max_rows_per_sheet: int = EXCEL_MAX_ROWS,
    summary_sheet: str = "Summary",
    responses_sheet: str = "Responses",
) -> int:
    """Stream rows to an XLSX workbook (Summary + Responses sheets); return data rows written.

    The Summary sheet holds ``title`` and the ``summary`` tables; the Responses sheet has a
    bold frozen header, an autofilter, typed cells (numbers, dates in UTC) and text cells
    written as strings and neutralised. Past ``max_rows_per_sheet`` rows (header included;
    Excel's limit by default) the data continues on "Responses (2)", "Responses (3)" and so
    on, each with its own header — rows are never dropped. ``progress`` is called after each
    batch with the running row count; on failure or cancellation the partial file is removed.
    """
    if not columns:
        raise ValueError("an export needs at least one column")
    if max_rows_per_sheet < 2:
        raise ValueError("a sheet needs room for the header and at least one row")
    # Created on the loop (the summary is small) so a cancellation cannot orphan temp files.
    sink = _XlsxSink(
        out, columns, summary, title, max_rows_per_sheet, summary_sheet, responses_sheet
    )
    return await _drive(rows, sink, progress)


# --------------------------------------------------------------------------- upload packaging


def package_for_upload(path: Path, limit_bytes: int = TELEGRAM_UPLOAD_LIMIT) -> list[Path]:
    """Return files to send for ``path``, each at most ``limit_bytes`` (Telegram's 50 MB cap).

    * Within the limit: ``[path]`` unchanged.
    * Otherwise the file is compressed to ``<name>.zip`` (deflate); if that fits: ``[zip]``.
    * Otherwise the zip is cut into byte-exact parts ``<name>.zip.001``, ``.002``, ... and the
      zip itself is removed. 7-Zip opens ``.zip.001`` directly and joins the parts; elsewhere
      ``cat name.zip.0* > name.zip`` (or ``copy /b`` on Windows) restores the zip.

    Nothing is ever truncated. Blocking file work: call it via ``asyncio.to_thread``.
    """
    if limit_bytes < 1:
        raise ValueError("limit_bytes must be positive")
    if path.stat().st_size <= limit_bytes:
        return [path]

    archive = path.with_name(path.name + ".zip")
    # ZipFile.write streams the file in chunks, so memory stays flat for any size.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.write(path, arcname=path.name)
    size = archive.stat().st_size
    if size <= limit_bytes:
        return [archive]

    count = -(-size // limit_bytes)
    digits = max(3, len(str(count)))
    parts: list[Path] = []
    try:
        with archive.open("rb") as src:
            for index in range(1, count + 1):
                part = archive.with_name(f"{archive.name}.{index:0{digits}d}")
                parts.append(part)
                with part.open("wb") as dst:
                    _copy_exactly(src, dst, min(limit_bytes, size - (index - 1) * limit_bytes))
    except BaseException:
        for part in parts:
            part.unlink(missing_ok=True)
        raise
    finally:
        archive.unlink(missing_ok=True)
    return parts


def _copy_exactly(src: Any, dst: Any, length: int) -> None:
    """Copy exactly ``length`` bytes from one binary file to another in bounded chunks."""
    remaining = length
    while remaining:
        chunk = src.read(min(_COPY_CHUNK, remaining))
        if not chunk:
            raise OSError("archive shrank while it was being split")
        dst.write(chunk)
        remaining -= len(chunk)
