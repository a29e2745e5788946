"""`/export` as an owner sees it: the file, read back as Excel and a CSV reader would."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from openpyxl.utils.escape import unescape
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import insert

from bot.emulator import BotApiEmulator
from bot.emulator.actors import EmulatedUser
from bot.emulator.models import ChatMessage
from bot.i18n import Catalogs
from handlers.export import export_job
from handlers.export_file import RESPONSE_COLUMNS
from handlers.export_summary import ExportSource
from handlers.port import Outbox, SendDocument
from nps.periods import Period
from nps.scope import Scope
from storage.db import Database
from storage.models import Response, utcnow
from storage.streams import RESPONSE_FIELDS, stream_responses
from tests.admin_helpers import grant, make_survey, seed_answers, seed_invitations
from tests.conftest import BACKENDS
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.handlers.test_admin_nps import NOT_PERMITTED, reference_nps
from tests.scenario import OWNER_ID

DANGEROUS = ['=HYPERLINK("http://x","y")', "+1", "-1", "@SUM(A1)", "\t=1+1", "\r=1+1"]
TITLES = [
    "ID",
    "Survey",
    "Survey name",
    "Asked (UTC)",
    "Scored (UTC)",
    "Completed (UTC)",
    "Score",
    "Group",
    "Why",
    "Improve",
    "Themes",
    "Language",
    "Source",
    "Agent",
    "Campaign",
    "Order ID",
    "Channel",  # the messenger
    "Entry",  # the door (responses.channel)
    "Start payload",
    "Respondent ID",
    "Username",
    "First name",
    "Step",
    "Survey kind",
]
DOCUMENT_WAIT = 30.0  # seconds: a deadline for the deferred job, not a pause


def default_period_key() -> str:
    """The file-name key of the default period: the 30 UTC days ending today."""
    today = utcnow().date()
    return f"{(today - timedelta(days=29)).isoformat()}..{today.isoformat()}"


async def export(api: BotApiEmulator, user: EmulatedUser, arguments: str = "") -> ChatMessage:
    """Sends /export, checks "Preparing…" comes first, and returns the file message."""
    before = len(user.bot_messages)
    user.send(f"/export {arguments}".strip())
    await api.wait_until(
        lambda: any(m.document for m in user.bot_messages[before:]), timeout=DOCUMENT_WAIT
    )
    replies = user.bot_messages[before:]
    assert replies[0].document is None and replies[0].text.startswith("⏳"), replies[0].text
    assert replies[1].document is not None and len(replies) == 2
    return replies[1]


def workbook(message: ChatMessage) -> openpyxl.Workbook:
    """The xlsx the user received, opened as Excel would (formulas not evaluated)."""
    assert message.document is not None
    return openpyxl.load_workbook(io.BytesIO(message.document.data))


def excel_text(value: Any) -> Any:
    """A cell's text as Excel shows it: openpyxl leaves `_x000D_` escapes of inline strings."""
    return unescape(value) if isinstance(value, str) else value


def csv_rows(message: ChatMessage) -> list[list[str]]:
    """The CSV the user received, decoded as Excel does (UTF-8 with a BOM)."""
    assert message.document is not None
    data = message.document.data
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def summary_values(sheet: Worksheet) -> dict[str, Any]:
    """Label → value of the two-column rows at the top of the Summary sheet."""
    values: dict[str, Any] = {}
    for label, value, *_ in sheet.iter_rows(values_only=True):
        if isinstance(label, str) and label not in values:
            values[label] = value
    return values


def summary_table(sheet: Worksheet, title: str) -> list[tuple[Any, ...]]:
    """The header and rows of a titled table on the Summary sheet (up to the blank line)."""
    rows = list(sheet.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if row[0] == title) + 1
    width = sum(cell is not None for cell in rows[start])
    table = []
    for row in rows[start:]:
        if row[0] is None:
            break
        table.append(tuple(row[:width]))
    return table


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_xlsx_has_a_summary_with_the_nps_figures_and_typed_responses(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    olga = [10] * 6 + [9] * 2 + [7] * 3 + [2] * 2
    ivan = [10, 8, 6, 5]
    await seed_answers(check_db, olga, agent="olga", source="call", language="ru", why="Быстро")
    await seed_answers(check_db, ivan, agent="ivan", source="web", first_user=11_000)
    await seed_invitations(check_db, 3)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    message = await export(api, owner)
    assert message.document is not None
    assert message.document.name == f"nps-nps-{default_period_key()}.xlsx"
    assert "NPS · Main survey · last 30 days" in message.text
    assert "17 answers scored in this period. Times are in UTC." in message.text
    book = workbook(message)
    assert book.sheetnames == ["Summary", "Responses"]

    responses = book["Responses"]
    assert responses.freeze_panes == "A2"
    rows = list(responses.iter_rows(values_only=True))
    assert list(rows[0]) == TITLES
    assert len(rows) == 1 + len(olga) + len(ivan)
    data = [dict(zip(TITLES, row, strict=True)) for row in rows[1:]]
    assert sorted(r["Score"] for r in data) == sorted(olga + ivan)
    assert all(type(r["Score"]) is int and type(r["ID"]) is int for r in data)
    assert all(isinstance(r["Scored (UTC)"], datetime) for r in data)
    # Olga's respondents answered both follow-ups; Ivan's stopped after the score.
    assert all(isinstance(r["Completed (UTC)"], datetime) for r in data if r["Agent"] == "olga")
    assert all(r["Completed (UTC)"] is None for r in data if r["Agent"] == "ivan")
    now = datetime.now(UTC).replace(tzinfo=None)
    assert all(abs(r["Scored (UTC)"] - now) < timedelta(minutes=5) for r in data)  # UTC, not local
    groups = {r["Score"]: r["Group"] for r in data}
    assert groups == {10: "promoter", 9: "promoter", 8: "passive", 7: "passive"} | {
        6: "detractor",
        5: "detractor",
        2: "detractor",
    }
    by_agent = {r["Agent"] for r in data}
    assert by_agent == {"olga", "ivan"}
    russian = [r for r in data if r["Language"] == "ru"]
    assert len(russian) == len(olga) and all(r["Why"] == "Быстро" for r in russian)
    assert {r["Survey"] for r in data} == {"nps"}
    assert {(r["Agent"], r["Step"]) for r in data} == {("olga", "done"), ("ivan", "why")}
    assert {r["Source"] for r in data} == {"call", "web"}
    assert {(r["Channel"], r["Entry"]) for r in data} == {("telegram", "start")}
    # The respondent ID is the person's (internal) id; the name is theirs.
    async with check_db.snapshot() as store:
        for r in data:
            person = await store.respondents.get(r["Respondent ID"])
            assert person is not None and person.first_name == r["First name"]
            assert person.telegram_id != person.id
    # No cell on any sheet is a formula.
    assert not [c for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]

    summary = book["Summary"]
    figures = summary_values(summary)
    scores = olga + ivan
    promoters, passives, detractors, _, average = reference_nps(scores)
    exact_nps = 100 * (promoters - detractors) / len(scores)
    assert summary["A1"].value.startswith("NPS · Main survey · last 30 days")
    assert figures["NPS"] == pytest.approx(exact_nps, abs=0.05)
    assert isinstance(figures["NPS"], int | float) and isinstance(figures["Answers"], int)
    assert figures["Answers"] == len(scores) and figures["Invited"] == len(scores) + 3
    assert figures["Average score (0–10)"] == pytest.approx(average, abs=0.005)
    assert figures["Response rate, %"] == pytest.approx(100 * 17 / 20, abs=0.05)
    margin = figures["Margin of error (±, 95%)"]
    assert 0 < margin < 60 and figures["95% interval: from"] < exact_nps
    assert figures["95% interval: to"] > exact_nps
    assert figures["Period (local days)"] == default_period_key()
    assert figures["Time zone of the days"] == "UTC"
    assert figures["Warning"] == "too few answers"
    groups_table = summary_table(summary, "Groups")
    assert groups_table[1:] == [
        ("Promoters (9–10)", promoters, pytest.approx(100 * promoters / 17, abs=0.05)),
        ("Passives (7–8)", passives, pytest.approx(100 * passives / 17, abs=0.05)),
        ("Detractors (0–6)", detractors, pytest.approx(100 * detractors / 17, abs=0.05)),
    ]
    agents = {row[0]: row for row in summary_table(summary, "NPS by agent")[1:]}
    olga_p, _, olga_d, _, _ = reference_nps(olga)
    assert agents["olga"][1:3] == (
        len(olga),
        pytest.approx(100 * (olga_p - olga_d) / 13, abs=0.05),
    )
    assert agents["ivan"][1:3] == (4, -25)  # one promoter, one passive, two detractors
    assert agents["olga"][4:7] == (olga_p, 3, olga_d)
    languages = {row[0]: row[1] for row in summary_table(summary, "NPS by language")[1:]}
    assert languages == {"ru": 13, "en": 4}
    sources = {row[0]: row[1] for row in summary_table(summary, "NPS by source")[1:]}
    assert sources["call"] == 13 and sources["web"] == 4
    assert summary_table(summary, "NPS by survey")[1][:2] == ("Main survey", 17)


async def test_csv_keeps_cyrillic_and_every_context_column(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Доставка")
    await seed_answers(
        check_db,
        [3, 10],
        survey_slug="delivery",
        agent="ольга",
        language="ru",
        why="Курьер опоздал дважды",
        improve="Привозите вовремя,\nи с трекингом",
    )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="ru")
    message = await export(api, owner, "csv delivery")
    assert message.document is not None
    assert message.document.name == f"nps-delivery-{default_period_key()}.csv"
    assert "Ответов за период: 2" in message.text
    header, *rows = csv_rows(message)
    assert header[:4] == ["ID", "Опрос", "Название опроса", "Вопрос задан (UTC)"]
    assert len(header) == len(RESPONSE_COLUMNS) == len(RESPONSE_FIELDS) + 1
    assert len(rows) == 2
    detractor = dict(zip([key for key, _ in RESPONSE_COLUMNS], rows[0], strict=True))
    assert detractor["survey_slug"] == "delivery" and detractor["survey_name"] == "Доставка"
    assert (detractor["score"], detractor["group"]) == ("3", "detractor")
    assert detractor["why"] == "Курьер опоздал дважды"
    assert detractor["improve"] == "Привозите вовремя,\nи с трекингом"
    assert (detractor["agent"], detractor["language"]) == ("ольга", "ru")
    assert (detractor["channel"], detractor["step"]) == ("start", "done")
    assert detractor["messenger"] == "telegram"
    assert header[16:18] == ["Канал", "Точка входа"]
    scored = datetime.strptime(detractor["scored_at"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert abs(scored - datetime.now(UTC)) < timedelta(minutes=5)
    promoter = dict(zip([key for key, _ in RESPONSE_COLUMNS], rows[1], strict=True))
    assert (promoter["score"], promoter["group"]) == ("10", "promoter")


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_formulas_in_answers_come_back_as_inert_text(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database, fmt: str
) -> None:
    for offset, attack in enumerate(DANGEROUS):
        await seed_answers(
            check_db, [5], why=attack, improve=attack, agent=attack, first_user=20_000 + offset
        )
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    message = await export(api, owner, fmt)
    if fmt == "csv":
        header, *rows = csv_rows(message)
        cells = [dict(zip(header, row, strict=True)) for row in rows]
    else:
        book = workbook(message)
        responses = list(book["Responses"].iter_rows())
        header = [c.value for c in responses[0]]
        cells = [
            {h: excel_text(c.value) for h, c in zip(header, row, strict=True)}
            for row in responses[1:]
        ]
        formulas = [c for ws in book for row in ws.iter_rows() for c in row if c.data_type == "f"]
        assert formulas == []
        kinds = {c.data_type for row in responses[1:] for c in row if c.value in DANGEROUS}
        assert kinds == {"s"}  # string cells: Excel never runs them, so kept exactly as typed
        # The agent names reach the Summary's table by agent as text too.
        agents = [excel_text(r[0]) for r in summary_table(book["Summary"], "NPS by agent")[1:]]
        assert sorted(agents) == sorted(DANGEROUS)
    # CSV has no cell types: text a spreadsheet would evaluate is prefixed with '.
    expected = DANGEROUS if fmt == "xlsx" else ["'" + attack for attack in DANGEROUS]
    assert sorted(row["Why"] for row in cells) == sorted(expected)
    for row in cells:
        assert row["Why"] == row["Improve"] == row["Agent"]


async def test_only_answers_scored_in_the_period_and_survey_are_exported(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    now = utcnow()
    await make_survey(check_db, "delivery", "Delivery")
    recent = await seed_answers(check_db, [9, 4], survey_slug="delivery", first_user=30_000)
    old = await seed_answers(
        check_db, [1], survey_slug="delivery", first_user=31_000, at=now - timedelta(days=40)
    )
    other = await seed_answers(check_db, [10], first_user=32_000)
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")

    ids = [int(row[0]) for row in csv_rows(await export(api, owner, "csv delivery"))[1:]]
    assert ids == recent  # oldest first; the 40-day-old and the other survey's are left out

    every = [int(row[0]) for row in csv_rows(await export(api, owner, "csv all"))[1:]]
    assert sorted(every) == sorted(recent + old + other)

    month = (now - timedelta(days=40)).strftime("%Y-%m")
    ids = [int(r[0]) for r in csv_rows(await export(api, owner, f"csv delivery {month}"))[1:]]
    assert ids == old

    message = await export(api, owner, "xlsx delivery today")
    figures = summary_values(workbook(message)["Summary"])
    assert figures["Answers"] == 2 and figures["NPS"] == 0  # one promoter, one detractor
    assert message.document is not None
    assert f"{now.date()}..{now.date()}" in (message.document.name or "")


async def test_days_are_local_days_in_the_configured_time_zone(
    api: BotApiEmulator, db_url: str
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")  # UTC+9, no daylight saving
    midnight_utc = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)
    late = midnight_utc - timedelta(minutes=30)  # yesterday 23:30 UTC = today 08:30 Tokyo
    early = late - timedelta(hours=10)  # yesterday 13:30 UTC = yesterday 22:30 Tokyo
    # Both on the same UTC day, on two different Tokyo days.
    assert (
        late.date() == early.date()
        and late.astimezone(tokyo).date() != early.astimezone(tokyo).date()
    )
    # Seeded through a Tokyo database so the day histograms (the Summary) count Tokyo days.
    tokyo_db = Database(db_url, tz=tokyo)
    try:
        late_ids = await seed_answers(tokyo_db, [10], at=late, first_user=33_000)
        early_ids = await seed_answers(tokyo_db, [0], at=early, first_user=34_000)
    finally:
        await tokyo_db.dispose()
    running = HandlerBot(make_settings(api, db_url, timezone="Asia/Tokyo"), api)
    await running.start()
    try:
        owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
        day = late.astimezone(tokyo).date().isoformat()
        message = await export(api, owner, f"csv {day}")
        assert [int(row[0]) for row in csv_rows(message)[1:]] == late_ids
        day = early.astimezone(tokyo).date().isoformat()
        message = await export(api, owner, f"xlsx {day}")
        book = workbook(message)
        assert [row[0] for row in book["Responses"].iter_rows(min_row=2, values_only=True)] == (
            early_ids
        )
        figures = summary_values(book["Summary"])
        assert figures["Time zone of the days"] == "Asia/Tokyo"
        assert figures["Answers"] == 1 and figures["NPS"] == -100
    finally:
        await running.stop()


async def test_an_empty_period_gives_a_file_with_the_titles_and_says_so(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10], at=utcnow() - timedelta(days=60))
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    message = await export(api, owner)
    assert "No answers in this period: the file has the column titles only." in message.text
    book = workbook(message)
    assert [list(row) for row in book["Responses"].iter_rows(values_only=True)] == [TITLES]
    figures = summary_values(book["Summary"])
    assert figures["Answers"] == 0 and figures["NPS"] is None
    header, *rows = csv_rows(await export(api, owner, "csv"))
    assert header == TITLES and rows == []


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ("pdf", 'I can export xlsx or csv, not "pdf". Example: /export csv 30d.'),
        ("nosuch", 'There is no survey "nosuch". Known surveys: nps. Example: /export'),
        ("csv 2026-13", 'I don\'t understand the period "2026-13"'),
        ("xlsx nps 30d extra", "Example: /export delivery 30d."),
    ],
)
async def test_bad_arguments_get_one_line_with_an_example_and_no_file(
    api: BotApiEmulator, bot: HandlerBot, arguments: str, expected: str
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send(f"/export {arguments}")
    reply = await owner.wait_for_message()
    await bot.idle()
    assert expected in reply.text and "\n" not in reply.text
    assert [m.document for m in owner.bot_messages] == [None]


async def test_a_viewer_may_export_and_an_outsider_may_not(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    await seed_answers(check_db, [10, 3], why="private comment")
    await grant(check_db, 7_001, "viewer")
    viewer = api.user(7_001, first_name="Vera", language_code="en")
    message = await export(api, viewer, "csv")
    assert len(csv_rows(message)) == 3
    viewer.send("/help")
    await viewer.wait_for_message(lambda m: "/export [xlsx|csv] [survey] [period]" in m.text)
    outsider = api.user(7_002, first_name="Eve", language_code="en")
    outsider.send("/export csv")
    await outsider.wait_for_message(lambda m: m.text == NOT_PERMITTED)
    await bot.idle()
    assert [m.text for m in outsider.bot_messages] == [NOT_PERMITTED]
    assert not any(m.document for m in outsider.bot_messages)
    outsider.send("/help")
    await outsider.wait_for_message(lambda m: "/start" in m.text)
    assert not any("/export" in m.text for m in outsider.bot_messages)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_a_file_above_the_upload_limit_is_sent_as_zip_parts(
    check_db: Database, tmp_path: Path
) -> None:
    await seed_answers(check_db, list(range(11)) * 10, why="Довольно длинный комментарий " * 8)
    async with check_db.snapshot() as store:
        surveys = tuple(await store.surveys.all())
    today = utcnow().date()
    scope = Scope(surveys, Period(today, today), all_surveys=True, default_period=False)
    texts = Catalogs().texts("en")
    assert isinstance(check_db, ExportSource)
    out = Outbox()
    job = export_job(42, scope, "xlsx", texts, utcnow(), upload_limit=4 * 1024)
    await job(check_db, out)
    documents = [a for a in out.actions if isinstance(a, SendDocument)]
    assert len(documents) > 1
    name = f"nps-nps-{today}..{today}.xlsx"
    assert [d.filename for d in documents] == [
        f"{name}.zip.{i:03d}" for i in range(1, len(documents) + 1)
    ]
    assert all(d.caption_html and "110 answers" in d.caption_html for d in documents)
    assert f"Part 2 of {len(documents)}" in (documents[1].caption_html or "")
    joined = _join_parts(documents, limit=4 * 1024)
    with zipfile.ZipFile(io.BytesIO(joined)) as archive:
        [inner] = archive.namelist()
        book = openpyxl.load_workbook(io.BytesIO(archive.read(inner)))
    assert book["Responses"].max_row == 1 + 110
    # Everything the job wrote is handed to the pipeline to delete after the upload.
    assert {d.data for d in documents} <= set(out.temporary)
    _remove(out.temporary)


class _BrokenStream:
    """A database whose streaming session fails, as a dropped connection would."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.tz = db.tz

    def snapshot(self) -> Any:
        """The real snapshots: the figures still work."""
        return self._db.snapshot()

    def new_session(self) -> Any:
        """Fails like a lost connection."""
        raise ConnectionResetError("connection lost")


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_a_failed_export_says_so_and_leaves_no_file_behind(check_db: Database) -> None:
    await seed_answers(check_db, [10, 3])
    async with check_db.snapshot() as store:
        surveys = tuple(await store.surveys.all())
    today = utcnow().date()
    scope = Scope(surveys, Period(today, today), all_surveys=True, default_period=False)
    for fmt in ("xlsx", "csv"):
        out = Outbox()
        await export_job(42, scope, fmt, Catalogs().texts("en"), utcnow())(
            _BrokenStream(check_db), out
        )
        assert [type(a).__name__ for a in out.actions] == ["SendText"]
        assert "the export failed" in out.actions[0].html  # type: ignore[union-attr]
        # The partial file was already removed; the rest is left to the pipeline's clean-up.
        assert out.temporary and not _existing(out.temporary)
        _remove(out.temporary)


def _existing(paths: list[Path]) -> list[Path]:
    """Those of the paths that exist."""
    return [path for path in paths if path.exists()]


def _join_parts(documents: list[SendDocument], *, limit: int) -> bytes:
    """The parts' bytes joined in order (as `cat name.zip.0*` does), each within the limit."""
    paths = [Path(d.data) for d in documents]  # type: ignore[arg-type]
    assert all(path.stat().st_size <= limit for path in paths)
    return b"".join(path.read_bytes() for path in paths)


def _remove(paths: list[Path]) -> None:
    """Deletes what the pipeline would delete after sending."""
    for path in paths:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- streaming


async def _bulk_answers(db: Database, slug: str, count: int) -> int:
    """Inserts `count` scored answers for a new survey in one statement; returns its id."""
    survey_id = await make_survey(db, slug, slug.title())
    now = utcnow()
    rows = [
        {
            "survey_id": survey_id,
            "respondent_id": None,
            "step": "done",
            "language": "ru",
            "score": i % 11,
            "why": f"Комментарий номер {i}: " + "курьер опоздал, " * 6,
            "improve": "Привозите вовремя " * 4,
            "agent": f"agent-{i % 7}",
            "channel": "start",
            "asked_at": now,
            "scored_at": now - timedelta(seconds=i),
        }
        for i in range(count)
    ]
    async with db.transaction() as store:
        session = store.responses._session
        await session.execute(insert(Response), rows)
    return survey_id


async def _streamed_peak(db: Database, survey_id: int, expected: int) -> int:
    """Peak traced memory while every row of a survey is streamed (and dropped)."""
    start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        seen = 0
        async for row in stream_responses(db, [survey_id], start, end, batch=200):
            assert set(row) == set(RESPONSE_FIELDS)
            seen += 1
        assert seen == expected
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def _materialised_peak(db: Database, survey_id: int) -> int:
    """Peak traced memory when the same rows are fetched into a list (what streaming avoids)."""
    start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        rows = [row async for row in _collect(db, survey_id, start, end)]
        assert rows
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def _collect(
    db: Database, survey_id: int, start: datetime, end: datetime
) -> AsyncIterator[dict[str, Any]]:
    from storage.streams import responses_query

    async with db.snapshot() as store:
        result = await store.responses._session.execute(responses_query([survey_id], start, end))
        for row in result.mappings().all():
            yield dict(row)


@pytest.mark.no_cover  # a memory measurement: tracing adds CPU and nothing to learn
@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_streaming_memory_does_not_grow_with_the_number_of_answers(
    check_db: Database,
) -> None:
    small = await _bulk_answers(check_db, "small", 2_000)
    large = await _bulk_answers(check_db, "large", 20_000)
    await _streamed_peak(check_db, small, 2_000)  # warm-up: statement cache, pool, threads
    small_peak = await _streamed_peak(check_db, small, 2_000)
    large_peak = await _streamed_peak(check_db, large, 20_000)
    eager_peak = await _materialised_peak(check_db, large)
    # Ten times the rows, about the same peak; holding them all costs many times more.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)
    assert 4 * large_peak < eager_peak, (large_peak, eager_peak)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)  # SQL that differs on PostgreSQL
async def test_the_stream_reads_its_own_session_and_orders_rows(check_db: Database) -> None:
    survey_id = await _bulk_answers(check_db, "ordered", 450)
    start, end = utcnow() - timedelta(days=1), utcnow() + timedelta(minutes=1)
    stream = stream_responses(check_db, [survey_id], start, end, batch=100)
    scored = [row["scored_at"] async for row in stream]
    assert len(scored) == 450 and scored == sorted(scored)
    assert all(s.tzinfo is not None for s in scored)  # aware UTC, as the writers expect
    nothing = [row async for row in stream_responses(check_db, [], start, end)]
    assert nothing == []
    with pytest.raises(ValueError, match="batch"):
        await anext(stream_responses(check_db, [survey_id], start, end, batch=0))
