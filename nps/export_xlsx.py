"""Streaming XLSX exports: a Summary sheet, then typed Responses sheets in constant memory.

xlsxwriter is imported when a workbook is written, not with this module: the bot starts
without it (see bench/footprint.py).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from nps.export_stream import Progress, Rows, _drive
from nps.export_text import (
    Column,
    Row,
    SummaryTable,
    _as_number,
    _as_utc_naive,
    _fit_xlsx_cell,
    _xlsx_text,
)

if TYPE_CHECKING:
    from xlsxwriter.worksheet import Worksheet

__all__ = ["EXCEL_MAX_ROWS", "write_xlsx"]

#: Rows per worksheet in Excel 2007+, header row included.
EXCEL_MAX_ROWS = 1_048_576

# Excel keeps 15 significant digits; larger integers would be silently rounded.
_XLSX_MAX_EXACT_INT = 10**15


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
        sheets: Sequence[tuple[str, Sequence[SummaryTable]]] = (),
    ) -> None:
        # Imported here, not with the module: only exports need it (bench/footprint.py).
        import xlsxwriter

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
            for name, tables in sheets:  # e.g. Themes: small tables, before the answers
                self._write_summary(tables, "", name)
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
    sheets: Sequence[tuple[str, Sequence[SummaryTable]]] = (),
) -> int:
    """Stream rows to an XLSX workbook (Summary + Responses sheets); return data rows written.

    ``sheets`` are further (name, tables) sheets written like the Summary, between it and
    the Responses.

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
        out, columns, summary, title, max_rows_per_sheet, summary_sheet, responses_sheet, sheets
    )
    return await _drive(rows, sink, progress)
