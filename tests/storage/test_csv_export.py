"""The CSV export's fast path on both backends: cells formatted by the database, raw rows."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from bot.i18n import Catalogs
from handlers.export_file import (
    RESPONSE_COLUMNS,
    csv_query,
    export_attributes,
    export_columns,
    export_rows,
    write_export,
)
from nps.exports import BatchCursor, write_csv, write_csv_rows
from nps.periods import Period
from nps.scope import Scope
from storage.db import Database
from storage.models import Respondent, Response, Survey
from storage.raw_rows import open_rows

NOVEMBER = Period(date(2026, 11, 1), date(2026, 11, 30))
START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)
# Written independently of the code under test: XML 1.0's forbidden characters.
ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
GROUPS = ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
TEXTS = [
    "plain",
    "Курьер опоздал, а поддержка не ответила",
    'He said "fast"',
    "two\nlines",
    "windows\r\nlines",
    " =leading space is safe",
    '=HYPERLINK("http://x","y")',
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "=\x01",  # neutralised, then the control character replaced
    "\x01=1",  # replaced, and U+FFFD is no formula prefix
    "bell\x07 and \x1f unit separator",
    "emoji 🙂 and \ufffe",
    "",
]
# Invitation attributes (order id and custom ones), formula-like ones among them.
ORDER_IDS = ["A-17", '=HYPERLINK("http://x","y")', "-5", "Заказ №5", "@x"]


def _attributes(i: int) -> dict[str, str] | None:
    """Some answers carry an order id and custom attributes, others only one or none."""
    if i % 5 == 1:
        return {
            "order_id": ORDER_IDS[i // 5 % len(ORDER_IDS)],
            "region": "=south" if i % 2 else "north",
        }
    if i % 10 == 3:
        return {"tier": "@gold", "zone-2": "+7"}
    return None


def _texts(db: Database) -> list[str]:
    """The tricky texts this backend can store (PostgreSQL text cannot hold NUL)."""
    if db.dialect == "sqlite":
        return [*TEXTS, "\x00=1", "=\x00after"]
    return TEXTS


async def _seed(db: Database) -> tuple[Scope, list[dict[str, Any]]]:
    """Answers in and out of November in two surveys (plus one out of scope).

    Returns the scope and the rows the export should hold, as the test expects them, in
    (scored_at, id) order.
    """
    texts = _texts(db)
    async with db.transaction() as store:
        session = store.responses._session
        surveys = []
        for slug, name in (("nps", "=Main, survey"), ("delivery", "Доставка"), ("other", "X")):
            survey = Survey(slug=slug, name=name, texts={})
            session.add(survey)
            surveys.append(survey)
        session.add_all(
            [
                Respondent(id=1, first_name="@Anna", username="anna"),
                Respondent(id=2, first_name='Иван, "Ваня"', username=None),
            ]
        )
        await session.flush()
        base = datetime(2026, 11, 10, 8, 30, 15, 999_999)
        rows: list[dict[str, Any]] = []
        for i in range(60):
            survey = surveys[i % 3]
            score = i % 11
            scored = base + timedelta(minutes=37 * i, microseconds=i)
            if i == 3:
                scored = START.replace(tzinfo=None)  # the first instant is in
            if i == 4:
                scored = END.replace(tzinfo=None) - timedelta(microseconds=1)  # the last too
            if i in (6, 7):
                scored = base  # a tie: ordered by id
            text = texts[i % len(texts)]
            rows.append(
                {
                    "survey_id": survey.id,
                    "respondent_id": (1, 2, None)[i % 3] if i % 4 else None,
                    "chat_id": i,
                    "step": "done" if i % 2 else "why",
                    "language": ("ru", "en", "=x", "ro")[i % 4],
                    "score": score,
                    "why": text,
                    "improve": None if i % 5 == 0 else texts[(i + 3) % len(texts)],
                    "source": "-call" if i % 7 == 0 else None,
                    "agent": f"agent {i % 4}",
                    "campaign": "+promo" if i % 9 == 0 else None,
                    "attributes": _attributes(i),
                    "start_payload": "nps__s-call" if i % 6 == 0 else None,
                    "channel": "start",
                    "messenger": ("telegram", "whatsapp", "web")[i % 3],
                    "asked_at": scored - timedelta(seconds=42),
                    "scored_at": scored,
                    "completed_at": scored + timedelta(seconds=20) if i % 2 else None,
                }
            )
        outside = [
            # Before, at the end bound, unanswered, and in the survey out of scope.
            {**rows[0], "scored_at": START.replace(tzinfo=None) - timedelta(microseconds=1)},
            {**rows[1], "scored_at": END.replace(tzinfo=None)},
            {**rows[2], "score": None, "scored_at": None, "step": "score"},
        ]
        result = await session.execute(
            insert(Response).returning(Response.id, sort_by_parameter_order=True),
            [*rows, *outside],
        )
        ids = list(result.scalars())
    names = {s.id: (s.slug, s.name) for s in surveys}
    people = {1: ("anna", "@Anna"), 2: (None, 'Иван, "Ваня"')}
    expected = []
    for row, response_id in zip(rows, ids, strict=False):
        if row["survey_id"] == surveys[2].id:
            continue
        slug, name = names[row["survey_id"]]
        username, first_name = people.get(row["respondent_id"], (None, None))
        expected.append(
            {
                **row,
                "id": response_id,
                "survey_slug": slug,
                "survey_name": name,
                "survey_kind": "nps",
                "group": GROUPS[row["score"]],
                "username": username,
                "first_name": first_name,
                # As the export shows them: the order id, then one column per custom key.
                "order_id": (row["attributes"] or {}).get("order_id"),
                **{
                    f"attr.{key}": value
                    for key, value in (row["attributes"] or {}).items()
                    if key != "order_id"
                },
            }
        )
    expected.sort(key=lambda r: (r["scored_at"], r["id"]))
    scope = Scope(tuple(surveys[:2]), NOVEMBER, all_surveys=False, default_period=False)
    return scope, expected


def _expected_cell(value: Any, kind: str) -> str:
    """A cell as the CSV must show it, worked out without the code under test."""
    if value is None:
        return ""
    if kind == "datetime":
        return value.strftime("%Y-%m-%d %H:%M:%S")  # cut, not rounded
    if kind == "int":
        return str(value)
    text = ILLEGAL.sub("\ufffd", value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _columns(expected: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """RESPONSE_COLUMNS, then a text column per custom attribute key in the rows, sorted."""
    keys = sorted({key for row in expected for key in row if key.startswith("attr.")})
    return [*RESPONSE_COLUMNS, *((key, "text") for key in keys)]


def _read(path: Path) -> list[list[str]]:
    """The file as a spreadsheet import reads it."""
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def test_the_file_holds_every_answer_of_the_period_formatted_by_the_database(
    db: Database, tmp_path: Path
) -> None:
    scope, expected = await _seed(db)
    texts = Catalogs().texts("en")
    out = tmp_path / "fast.csv"
    count = await write_export(db, scope, "csv", texts, out, exported_at=datetime.now(UTC))

    header, *rows = _read(out)
    assert count == len(rows) == len(expected) == 40
    columns = _columns(expected)
    assert [key for key, _ in columns][-3:] == ["attr.region", "attr.tier", "attr.zone-2"]
    attributes = await export_attributes(db, scope, db.tz)
    assert header == [column.title for column in export_columns(texts, attributes)]
    assert header[-5:] == ["Step", "Survey kind", "region", "tier", "zone-2"]
    assert rows == [
        [_expected_cell(row.get(key), kind) for key, kind in columns] for row in expected
    ]
    raw = out.read_bytes()
    # CRLF after each record; bare LF only inside quoted cells.
    assert raw.endswith(b"\r\n") and raw.count(b"\r\n") >= len(rows) + 1


async def test_the_file_is_byte_for_byte_the_generic_writers(db: Database, tmp_path: Path) -> None:
    scope, _ = await _seed(db)
    texts = Catalogs().texts("en")
    fast, generic = tmp_path / "fast.csv", tmp_path / "generic.csv"
    await write_export(db, scope, "csv", texts, fast, exported_at=datetime.now(UTC))
    # The per-cell Python path the XLSX export still streams through.
    attributes = await export_attributes(db, scope, db.tz)
    assert attributes  # the custom attributes' columns are compared too
    await write_csv(
        export_rows(db, scope, db.tz, attributes), export_columns(texts, attributes), generic
    )
    assert fast.read_bytes() == generic.read_bytes()


async def test_formulas_are_inert_and_illegal_characters_replaced(
    db: Database, tmp_path: Path
) -> None:
    scope, _ = await _seed(db)
    out = tmp_path / "a.csv"
    await write_export(db, scope, "csv", Catalogs().texts("en"), out, exported_at=START)
    header, *rows = _read(out)
    why = {row[header.index("Why")] for row in rows}
    assert {"'=\ufffd", "\ufffd=1", "'\t=1+1", "'\r=1+1", "'+1", "'-1", "'@SUM(A1)"} <= why
    assert "windows\r\nlines" in why and "two\nlines" in why and 'He said "fast"' in why
    if db.dialect == "sqlite":
        assert {"\ufffd=1", "'=\ufffdafter"} <= why
    survey_names = {row[header.index("Survey name")] for row in rows}
    assert survey_names == {"'=Main, survey", "Доставка"}
    assert {row[header.index("Language")] for row in rows} == {"ru", "en", "'=x", "ro"}
    # Attribute values are neutralised like every other text.
    order_ids = {row[header.index("Order ID")] for row in rows}
    assert {"A-17", '\'=HYPERLINK("http://x","y")', "'-5", "Заказ №5", "'@x"} <= order_ids
    assert {row[header.index("region")] for row in rows} == {"", "north", "'=south"}
    assert {row[header.index("tier")] for row in rows} == {"", "'@gold"}
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
            assert not ILLEGAL.search(cell)


async def test_progress_counts_every_batch(db: Database, tmp_path: Path) -> None:
    scope, expected = await _seed(db)
    seen: list[int] = []
    rows = open_rows(db, csv_query(scope, db.tz), batch=7)
    count = await write_csv_rows(rows, ["a"] * 20, tmp_path / "a.csv", progress=seen.append)
    assert count == len(expected) == 40
    assert seen == [*range(7, 40, 7), 40]


class _Gated:
    """A cursor whose second fetch waits until the export is interrupted (no timing)."""

    def __init__(self, cursor: BatchCursor) -> None:
        self._cursor = cursor
        self._fetches = 0
        self.holding = threading.Event()
        self.interrupted = threading.Event()

    def fetch(self) -> Sequence[Sequence[Any]]:
        self._fetches += 1
        if self._fetches == 2:
            self.holding.set()
            self.interrupted.wait()
        return self._cursor.fetch()

    def interrupt(self) -> None:
        self.interrupted.set()
        self._cursor.interrupt()


@asynccontextmanager
async def _gated(
    rows: AbstractAsyncContextManager[BatchCursor], opened: asyncio.Future[_Gated]
) -> AsyncIterator[_Gated]:
    async with rows as cursor:
        gated = _Gated(cursor)
        opened.set_result(gated)
        yield gated


async def test_a_cancelled_export_leaves_no_file_and_the_database_works(
    db: Database, tmp_path: Path
) -> None:
    scope, expected = await _seed(db)
    out = tmp_path / "a.csv"
    seen: list[int] = []
    opened: asyncio.Future[_Gated] = asyncio.get_running_loop().create_future()
    rows = _gated(open_rows(db, csv_query(scope, db.tz), batch=5), opened)
    task = asyncio.create_task(write_csv_rows(rows, ["a"] * 20, out, progress=seen.append))
    await asyncio.to_thread((await opened).holding.wait)  # stuck in the second fetch
    task.cancel()  # mid-statement: the driver is interrupted
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [5]
    assert not out.exists()
    # The statement was stopped mid-way and the connection is fit for the next export.
    count = await write_export(db, scope, "csv", Catalogs().texts("en"), out, exported_at=START)
    assert count == len(expected)


async def test_an_empty_scope_writes_the_header_only(db: Database, tmp_path: Path) -> None:
    await _seed(db)
    out = tmp_path / "a.csv"
    empty = Scope((), NOVEMBER, all_surveys=True, default_period=False)
    count = await write_export(db, empty, "csv", Catalogs().texts("en"), out, exported_at=START)
    assert count == 0
    assert len(_read(out)) == 1


async def test_a_private_in_memory_sqlite_database_is_refused(tmp_path: Path) -> None:
    db = Database("sqlite+aiosqlite:///:memory:")
    try:
        scope = Scope((), NOVEMBER, all_surveys=True, default_period=False)
        with pytest.raises(ValueError, match="SQLite file"):
            await write_csv_rows(open_rows(db, csv_query(scope, db.tz)), ["a"], tmp_path / "a")
        assert not (tmp_path / "a").exists()
    finally:
        await db.dispose()
