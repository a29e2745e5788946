"""Streaming CSV exports for Excel: from row dicts (`write_csv`) or ready cells (`write_csv_rows`).

`write_csv_rows` is the fast path for a database cursor whose cells the query already
formatted (text neutralised, datetimes as text): one worker thread fetches and writes.
"""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from nps.export_stream import Progress, Rows, _drive, _in_thread
from nps.export_text import (
    _ILLEGAL_CHARS,
    _REPLACEMENT,
    Column,
    ColumnKind,
    Row,
    _as_number,
    _as_utc_naive,
    neutralize,
)

__all__ = ["BatchCursor", "write_csv", "write_csv_rows"]


def _csv_converter(kind: ColumnKind) -> Callable[[object], object]:
    """Return the function turning one value of a column kind into a CSV cell."""

    def text(value: object) -> str:
        if value is None:
            return ""
        # XML-illegal characters are replaced later, per batch (_CsvSink).
        return neutralize(value if value.__class__ is str else str(value))

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
    """Rows fetched by blocking calls from one worker thread (storage.raw_rows.open_rows)."""

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
