"""Tests for the CSV/XLSX exports, read back with real readers, and upload packaging."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import tempfile
import threading
import tracemalloc
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xlsxwriter.exceptions import InvalidWorksheetName

from nps.exports import (
    Column,
    SummaryTable,
    _clean_text,
    neutralize,
    package_for_upload,
    write_csv,
    write_csv_rows,
    write_xlsx,
)

COLUMNS = [
    Column("id", "ID", "int"),
    Column("answered_at", "Answered (UTC)", "datetime"),
    Column("day", "Day", "date"),
    Column("score", "Score", "int"),
    Column("avg", "Average", "float"),
    Column("comment", "Комментарий", "text"),
]

DANGEROUS = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']

MSK = timezone(timedelta(hours=3))


def sample_rows() -> list[dict[str, Any]]:
    """Return rows covering each kind, Cyrillic, a long text and missing values."""
    return [
        {
            "id": 1,
            "answered_at": datetime(2026, 11, 22, 14, 3, 5, tzinfo=MSK),
            "day": date(2026, 11, 22),
            "score": 6,
            "avg": 8.5,
            "comment": "Курьер опоздал дважды",
        },
        {
            "id": 2,
            "answered_at": datetime(2026, 11, 22, 11, 0, 0),  # naive: already UTC
            "day": date(2026, 11, 23),
            "score": 10,
            "avg": Decimal("7.25"),
            "comment": "ж" * 4096,
        },
        {"id": 3, "answered_at": None, "day": None, "score": None, "avg": float("nan")},
    ]


async def agen(rows: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
    """Yield rows asynchronously, as a database stream would."""
    for row in rows:
        yield row


def files_in(folder: Path) -> list[str]:
    """List a folder's entries (outputs and any leftover temp files)."""
    return sorted(p.name for p in folder.iterdir())


def excel_text(value: str) -> str:
    """Decode OOXML _xHHHH_ escapes (used for "\\r") as Excel does; openpyxl keeps them."""
    return re.sub(r"_x([0-9A-F]{4})_", lambda m: chr(int(m[1], 16)), value)


def read_csv(path: Path) -> list[list[str]]:
    """Read a CSV back the way a spreadsheet import would."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


# --------------------------------------------------------------------------- neutralize


@pytest.mark.parametrize("value", DANGEROUS)
def test_neutralize_prefixes_dangerous_text(value: str) -> None:
    assert neutralize(value) == "'" + value


@pytest.mark.parametrize("value", ["", "hello", "1-2", "a=b", "'quoted", "Привет", " =1"])
def test_neutralize_leaves_safe_text_alone(value: str) -> None:
    assert neutralize(value) == value


@given(st.text())
def test_neutralize_output_never_starts_a_formula(value: str) -> None:
    result = neutralize(value)
    assert result in (value, "'" + value)
    assert not result.startswith(("=", "+", "-", "@", "\t", "\r"))


# --------------------------------------------------------------------------- CSV


async def test_csv_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "export.csv"
    assert await write_csv(agen(sample_rows()), COLUMNS, out) == 3

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM, so Excel reads UTF-8
    assert raw.count(b"\r\n") == 4 and b"\n" not in raw.replace(b"\r\n", b"")

    header, first, second, third = read_csv(out)
    assert header == ["ID", "Answered (UTC)", "Day", "Score", "Average", "Комментарий"]
    # 14:03:05 in Moscow (+03:00) is 11:03:05 UTC.
    assert first == ["1", "2026-11-22 11:03:05", "2026-11-22", "6", "8.5", "Курьер опоздал дважды"]
    assert second[:5] == ["2", "2026-11-22 11:00:00", "2026-11-23", "10", "7.25"]
    assert second[5] == "ж" * 4096
    assert third == ["3", "", "", "", "", ""]


async def test_csv_neutralizes_every_dangerous_prefix(tmp_path: Path) -> None:
    out = tmp_path / "evil.csv"
    rows = [{"id": i, "comment": value} for i, value in enumerate(DANGEROUS)]
    await write_csv(rows, [Column("id", "ID", "int"), Column("comment", "Comment")], out)
    values = [row[1] for row in read_csv(out)[1:]]
    assert values == ["'" + value for value in DANGEROUS]


async def test_csv_numbers_stay_numbers_and_control_chars_are_replaced(tmp_path: Path) -> None:
    out = tmp_path / "mixed.csv"
    rows = [{"n": -1, "t": "\x00=1", "u": "ok\x07"}]
    columns = [Column("n", "N", "int"), Column("t", "T"), Column("u", "U")]
    await write_csv(rows, columns, out)
    # A negative number in a numeric column is data, not a formula; NUL never reaches the file.
    assert read_csv(out)[1] == ["-1", "\ufffd=1", "ok\ufffd"]


async def test_csv_accepts_a_plain_iterable_and_reports_progress(tmp_path: Path) -> None:
    out = tmp_path / "plain.csv"
    seen: list[int] = []
    rows = ({"id": i} for i in range(2500))
    count = await write_csv(rows, [Column("id", "ID", "int")], out, progress=seen.append)
    assert count == 2500
    assert seen == [1000, 2000, 2500]
    assert len(read_csv(out)) == 2501


async def test_csv_streams_200k_rows_from_an_async_generator(tmp_path: Path) -> None:
    async def rows() -> AsyncIterator[dict[str, Any]]:
        for i in range(200_000):
            yield {"id": i, "score": i % 11, "comment": "ok"}

    out = tmp_path / "big.csv"
    columns = [Column("id", "ID", "int"), Column("score", "Score", "int"), Column("comment", "C")]
    assert await write_csv(rows(), columns, out) == 200_000
    with out.open(encoding="utf-8-sig", newline="") as fh:
        assert sum(1 for _ in csv.reader(fh)) == 200_001


async def _peak_bytes(write: Any, count: int, path: Path) -> int:
    """Return the peak traced Python allocation while exporting ``count`` generated rows."""

    async def rows() -> AsyncIterator[dict[str, Any]]:
        for i in range(count):
            yield {"id": i, "score": i % 11, "comment": f"comment number {i}"}

    columns = [Column("id", "ID", "int"), Column("score", "Score", "int"), Column("comment", "C")]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        assert await write(rows(), columns, path) == count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.no_cover  # a memory measurement: tracing adds CPU and nothing to learn
async def test_csv_memory_does_not_grow_with_row_count(tmp_path: Path) -> None:
    await _peak_bytes(write_csv, 2000, tmp_path / "warmup.csv")  # executor threads etc.
    small = await _peak_bytes(write_csv, 10_000, tmp_path / "small.csv")
    large = await _peak_bytes(write_csv, 100_000, tmp_path / "large.csv")
    # Ten times the rows, not ten times the peak: rows are never accumulated. Holding all
    # 100k rows would cost about 40 MB; allocator and GC timing make the peak vary ~2x.
    assert large < small * 4 and large < 8 * 1024 * 1024, (small, large)


@pytest.mark.no_cover  # a memory measurement: tracing adds CPU and nothing to learn
async def test_xlsx_memory_does_not_grow_with_row_count(tmp_path: Path) -> None:
    await _peak_bytes(write_xlsx, 1000, tmp_path / "warmup.xlsx")
    small = await _peak_bytes(write_xlsx, 3000, tmp_path / "small.xlsx")
    large = await _peak_bytes(write_xlsx, 30_000, tmp_path / "large.xlsx")
    assert large < small * 4 and large < 8 * 1024 * 1024, (small, large)


async def test_failed_export_leaves_no_partial_file(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[dict[str, Any]]:
        for i in range(1500):
            yield {"id": i}
        raise ConnectionError("database went away")

    for writer, name in ((write_csv, "broken.csv"), (write_xlsx, "broken.xlsx")):
        with pytest.raises(ConnectionError):
            await writer(broken(), [Column("id", "ID", "int")], tmp_path / name)
    assert files_in(tmp_path) == []  # no outputs, no constant_memory temp files


async def test_source_is_closed_when_the_export_stops_early(tmp_path: Path) -> None:
    closed = False

    async def source() -> AsyncIterator[dict[str, Any]]:
        nonlocal closed
        try:
            for i in range(5000):
                yield {"id": i}
        finally:
            closed = True  # a DB cursor would be released here

    def progress(done: int) -> None:
        raise RuntimeError("the chat was deleted")

    with pytest.raises(RuntimeError):
        await write_csv(
            source(), [Column("id", "ID", "int")], tmp_path / "a.csv", progress=progress
        )
    assert closed
    assert files_in(tmp_path) == []


async def test_invalid_sheet_name_leaves_no_temp_files(tmp_path: Path) -> None:
    with pytest.raises(InvalidWorksheetName):
        await write_xlsx([], [Column("id", "ID")], tmp_path / "a.xlsx", responses_sheet="a/b")
    assert files_in(tmp_path) == []


async def test_cancelled_export_leaves_no_partial_file(tmp_path: Path) -> None:
    stalled = asyncio.Event()

    async def slow() -> AsyncIterator[dict[str, Any]]:
        for i in range(1200):
            yield {"id": i}
        stalled.set()
        await asyncio.Event().wait()  # the database never answers again
        yield {"id": -1}

    task = asyncio.create_task(
        write_xlsx(slow(), [Column("id", "ID", "int")], tmp_path / "x.xlsx")
    )
    await stalled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_in(tmp_path) == []


# --------------------------------------------------------------------------- CSV of ready cells


class FakeCursor:
    """Batches handed out by blocking fetches, as storage.raw_rows.open_rows does."""

    def __init__(self, batches: list[list[tuple[Any, ...]]], *, hold_at: int = 0) -> None:
        self.batches = list(batches)
        self.hold_at = hold_at  # this fetch (1-based) waits until interrupted
        self.fetches = 0
        self.threads: set[int] = set()
        self.holding = threading.Event()
        self.interrupted = threading.Event()

    def fetch(self) -> list[tuple[Any, ...]]:
        self.fetches += 1
        self.threads.add(threading.get_ident())
        if self.fetches == self.hold_at:
            self.holding.set()
            self.interrupted.wait()
        return self.batches.pop(0) if self.batches else []

    def interrupt(self) -> None:
        self.interrupted.set()


@asynccontextmanager
async def opened(cursor: Any, log: list[str]) -> AsyncIterator[Any]:
    """The cursor inside an async context manager that records being opened and closed."""
    log.append("opened")
    try:
        yield cursor
    finally:
        log.append("closed")


def _csv_cell_text(value: str, fast: bool) -> str:
    """One text cell written by either CSV path and read back."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "a.csv"
        if fast:  # the database sends it neutralised, as handlers.export_file's query does
            rows = opened(FakeCursor([[(neutralize(value),)]]), [])
            asyncio.run(write_csv_rows(rows, ["T"], out))
        else:
            asyncio.run(write_csv([{"t": value}], [Column("t", "T")], out))
        [_, [cell]] = read_csv(out)
        return cell


@pytest.mark.parametrize("fast", [True, False], ids=["ready cells", "converted"])
@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("\x00=1", "\ufffd=1"),
        ("=\x01", "'=\ufffd"),
        ("\t\x0b", "'\t\ufffd"),
        ("a\ud800", "a\ufffd"),
    ],
)
def test_csv_cleans_after_neutralising_as_each_cell_was_before(
    value: str, cell: str, fast: bool
) -> None:
    assert _clean_text(value) == cell  # the per-cell function both CSV paths used to call
    assert _csv_cell_text(value, fast) == cell


@settings(max_examples=60, deadline=None)
@given(st.text(st.characters(blacklist_categories=()), max_size=12))
def test_csv_cells_match_the_per_cell_cleaning_on_any_text(value: str) -> None:
    assert _csv_cell_text(value, fast=True) == _clean_text(value)
    assert _csv_cell_text(value, fast=False) == _clean_text(value)


async def test_csv_rows_are_written_as_given_by_one_thread(tmp_path: Path) -> None:
    batches = [
        [(1, "'=HYPERLINK(1)", "2026-11-22 11:03:05", None), (2, "a,b", "", 10)],
        [(3, 'say "hi"', "two\nlines", -1), (4, "Курьер\r\nопоздал", "bell\x07", None)],
    ]
    cursor, log, seen = FakeCursor(batches), [], []
    out = tmp_path / "a.csv"
    titles = ["ID", "=Title", "Bad\x01title", "Score"]
    count = await write_csv_rows(opened(cursor, log), titles, out, progress=seen.append)

    assert count == 4 and seen == [2, 4] and log == ["opened", "closed"]
    assert cursor.fetches == 3 and len(cursor.threads) == 1
    assert threading.get_ident() not in cursor.threads  # the loop never waited on the cursor
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.endswith(b"\r\n")
    assert read_csv(out) == [
        ["ID", "'=Title", "Bad\ufffdtitle", "Score"],
        ["1", "'=HYPERLINK(1)", "2026-11-22 11:03:05", ""],
        ["2", "a,b", "", "10"],
        ["3", 'say "hi"', "two\nlines", "-1"],
        ["4", "Курьер\r\nопоздал", "bell\ufffd", ""],
    ]


async def test_csv_rows_failure_removes_the_file_and_closes_the_cursor(tmp_path: Path) -> None:
    class Broken(FakeCursor):
        def fetch(self) -> list[tuple[Any, ...]]:
            if self.fetches:
                raise ConnectionError("database went away")
            return super().fetch()

    log: list[str] = []
    with pytest.raises(ConnectionError):
        rows = opened(Broken([[(1,)], [(2,)]]), log)
        await write_csv_rows(rows, ["ID"], tmp_path / "a.csv")
    assert log == ["opened", "closed"] and files_in(tmp_path) == []


async def test_csv_rows_failing_progress_fails_the_export(tmp_path: Path) -> None:
    def progress(done: int) -> None:
        raise RuntimeError("the chat was deleted")

    log: list[str] = []
    with pytest.raises(RuntimeError, match="chat"):
        rows = opened(FakeCursor([[(1,)], [(2,)], [(3,)]]), log)
        await write_csv_rows(rows, ["ID"], tmp_path / "a.csv", progress=progress)
    assert log == ["opened", "closed"] and files_in(tmp_path) == []


async def test_cancelled_csv_rows_interrupt_the_cursor_and_leave_no_file(
    tmp_path: Path,
) -> None:
    cursor, log = FakeCursor([[(1,)], [(2,)], [(3,)]], hold_at=2), []
    task = asyncio.create_task(write_csv_rows(opened(cursor, log), ["ID"], tmp_path / "a.csv"))
    await asyncio.to_thread(cursor.holding.wait)  # the worker thread is stuck in a fetch
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cursor.interrupted.is_set() and cursor.fetches == 2
    assert log == ["opened", "closed"] and files_in(tmp_path) == []


async def test_csv_rows_need_columns(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="column"):
        await write_csv_rows(opened(FakeCursor([]), []), [], tmp_path / "a.csv")
    assert files_in(tmp_path) == []


# --------------------------------------------------------------------------- XLSX


async def test_xlsx_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "export.xlsx"
    summary = [
        SummaryTable("NPS", ["answers", "NPS", "±"], [[412, 32, 9.1]]),
        SummaryTable(
            "By agent", ["agent", "answers", "NPS"], [["olga", 120, 41], ["=cmd", 12, None]]
        ),
    ]
    count = await write_xlsx(agen(sample_rows()), COLUMNS, out, summary=summary, title="Доставка")
    assert count == 3

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Responses"]

    ws = wb["Responses"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:F4"
    assert [c.value for c in ws[1]] == [c.title for c in COLUMNS]
    assert all(c.font.b for c in ws[1])

    first = [c.value for c in ws[2]]
    assert first[0] == 1 and type(first[0]) is int
    assert first[1] == datetime(2026, 11, 22, 11, 3, 5)  # converted to UTC
    assert isinstance(first[2], datetime) and first[2].date() == date(2026, 11, 22)
    assert first[3] == 6 and type(first[3]) is int
    assert first[4] == 8.5
    assert first[5] == "Курьер опоздал дважды"
    assert ws["B2"].number_format == "yyyy-mm-dd hh:mm:ss"

    second = [c.value for c in ws[3]]
    assert second[4] == 7.25
    assert second[5] == "ж" * 4096

    assert [c.value for c in ws[4]] == [3, None, None, None, None, None]  # NaN → empty

    # Columns get widths by kind: ids narrow, comments wide but capped.
    assert ws.column_dimensions["A"].width < ws.column_dimensions["F"].width <= 61

    summary_ws = wb["Summary"]
    values = [
        [v for v in (c.value for c in row) if v is not None] for row in summary_ws.iter_rows()
    ]
    assert [row for row in values if row] == [
        ["Доставка"],
        ["NPS"],
        ["answers", "NPS", "±"],
        [412, 32, 9.1],
        ["By agent"],
        ["agent", "answers", "NPS"],
        ["olga", 120, 41],
        ["=cmd", 12],  # a string cell is never evaluated: kept as typed
    ]
    assert summary_ws["A3"].font.b


async def test_xlsx_keeps_dangerous_text_as_typed_in_string_cells(tmp_path: Path) -> None:
    out = tmp_path / "evil.xlsx"
    rows = [{"id": i, "comment": value} for i, value in enumerate(DANGEROUS)]
    await write_xlsx(rows, [Column("id", "ID", "int"), Column("comment", "Comment")], out)
    ws = openpyxl.load_workbook(out)["Responses"]
    cells = [row[1] for row in ws.iter_rows(min_row=2)]
    assert len(cells) == len(DANGEROUS)
    for cell in cells:
        assert cell.data_type == "s"  # a string cell, never a formula
    assert [excel_text(c.value) for c in cells] == DANGEROUS


async def test_xlsx_survives_xml_illegal_control_characters(tmp_path: Path) -> None:
    out = tmp_path / "ctrl.xlsx"
    rows = [{"t": "a\x00b\x01c\x08d\x0be\x1ff\ufffeg"}, {"t": "\x00=1"}]
    await write_xlsx(rows, [Column("t", "T")], out)
    ws = openpyxl.load_workbook(out)["Responses"]
    assert ws["A2"].value == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf\ufffdg"
    assert ws["A3"].value == "\ufffd=1"


async def test_xlsx_cuts_text_beyond_the_excel_cell_limit_visibly(tmp_path: Path) -> None:
    out = tmp_path / "long.xlsx"
    await write_xlsx([{"t": "x" * 40_000}], [Column("t", "T")], out)
    value = openpyxl.load_workbook(out)["Responses"]["A2"].value
    assert len(value) == 32_767 and value.endswith("…")


async def test_xlsx_continues_on_numbered_sheets_past_the_row_limit(tmp_path: Path) -> None:
    out = tmp_path / "overflow.xlsx"
    seen: list[int] = []
    rows = agen([{"id": i, "comment": f"row {i}"} for i in range(10)])
    columns = [Column("id", "ID", "int"), Column("comment", "Comment")]
    count = await write_xlsx(rows, columns, out, max_rows_per_sheet=5, progress=seen.append)
    assert count == 10 and seen == [10]

    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Responses", "Responses (2)", "Responses (3)"]
    ids: list[int] = []
    for name, expected_rows in (("Responses", 4), ("Responses (2)", 4), ("Responses (3)", 2)):
        ws = wb[name]
        assert ws.max_row == expected_rows + 1
        assert ws.freeze_panes == "A2"
        assert [c.value for c in ws[1]] == ["ID", "Comment"]
        ids += [row[0].value for row in ws.iter_rows(min_row=2)]
    assert ids == list(range(10))  # every row, in order, none dropped


async def test_xlsx_with_no_rows_has_both_sheets(tmp_path: Path) -> None:
    out = tmp_path / "empty.xlsx"
    assert await write_xlsx(agen([]), [Column("id", "ID", "int")], out) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Responses"]
    assert [c.value for c in wb["Responses"][1]] == ["ID"]


async def test_exports_reject_empty_column_lists(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        await write_csv([], [], tmp_path / "a.csv")
    with pytest.raises(ValueError):
        await write_xlsx([], [], tmp_path / "a.xlsx")


# --------------------------------------------------------------------------- packaging


def test_package_small_file_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_bytes(b"a,b\r\n" * 10)
    assert package_for_upload(path, limit_bytes=1000) == [path]
    assert path.read_bytes() == b"a,b\r\n" * 10
    assert list(tmp_path.iterdir()) == [path]


def test_package_compressible_file_is_zipped_under_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    data = b"1,2026-11-22 11:03:05,10,great service\r\n" * 5000
    path.write_bytes(data)
    (archive,) = package_for_upload(path, limit_bytes=10_000)
    assert archive.name == "big.csv.zip"
    assert archive.stat().st_size <= 10_000
    with zipfile.ZipFile(archive) as zf:
        assert zf.namelist() == ["big.csv"]
        assert zf.infolist()[0].compress_type == zipfile.ZIP_DEFLATED
        assert zf.read("big.csv") == data


def test_package_incompressible_file_is_split_into_parts(tmp_path: Path) -> None:
    path = tmp_path / "noise.xlsx"
    data = os.urandom(50_000)
    path.write_bytes(data)
    parts = package_for_upload(path, limit_bytes=8_000)

    assert [p.name for p in parts] == [f"noise.xlsx.zip.{i:03d}" for i in range(1, len(parts) + 1)]
    assert len(parts) >= 7
    assert all(0 < p.stat().st_size <= 8_000 for p in parts)
    assert not (tmp_path / "noise.xlsx.zip").exists()  # only the parts remain

    # `cat noise.xlsx.zip.0* > noise.xlsx.zip` gives back a valid zip of the original file.
    joined = tmp_path / "joined.zip"
    joined.write_bytes(b"".join(p.read_bytes() for p in parts))
    with zipfile.ZipFile(joined) as zf:
        assert zf.testzip() is None
        assert zf.read("noise.xlsx") == data
    assert path.read_bytes() == data  # the original is never modified
