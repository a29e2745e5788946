"""The demo's "Simulate traffic": a back-dated history every report counts as answers given
through the bot, and live detractors whose alerts reach the owner through the running bot."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.demo.people import CUSTOMERS, IMPROVE, OWNER, WHY
from bot.demo.traffic import AGENT_TILT, simulate_traffic, write_history
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from nps.nps_math import classify
from nps.nps_report import build_report, build_segments
from nps.scope import Scope, parse_report_args
from storage.case_models import DetractorCase
from storage.db import Database
from storage.models import SCORE_COLUMNS, Address, Response, ScoreCount
from tests.conftest import BACKENDS, fresh_database
from tests.e2e.conftest import TOKEN, RunningBot, make_settings

TZ = "Europe/Chisinau"
GREAT, POOR = (
    max(AGENT_TILT, key=AGENT_TILT.__getitem__),
    min(AGENT_TILT, key=AGENT_TILT.__getitem__),
)
FIRST_SIMULATED_ID = 5_000_000_000  # simulated customers' Telegram ids start here


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """The emulator the bot runs against (as `npsbot demo` has it)."""
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as e:
        yield e


@pytest.fixture
async def bot_on_sqlite(
    api: BotApiEmulator, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[tuple[Database, Settings]]:
    """The bot running on a real SQLite file against the emulator, as `npsbot demo` runs it."""
    async with fresh_database("sqlite", tmp_path, sqlite_template, pg_template) as url:
        settings = make_settings(api, url, admin_ids=[OWNER.id], timezone=TZ)
        bot = RunningBot(settings, api)
        await bot.start()
        db = Database(url, tz=settings.tz)
        try:
            yield db, settings
        finally:
            await bot.stop()
            await db.dispose()


async def _responses(db: Database) -> list[Response]:
    async with db.snapshot() as store:
        session = store.responses._session
        return list((await session.scalars(select(Response).order_by(Response.id))).all())


async def _cases(db: Database) -> Counter[str]:
    async with db.snapshot() as store:
        session = store.responses._session
        return Counter((await session.scalars(select(DetractorCase.status))).all())


async def _histograms(db: Database) -> dict[tuple[Any, ...], tuple[int, ...]]:
    """Every score_counts row with a non-zero counter."""
    async with db.snapshot() as store:
        session = store.responses._session
        rows = (await session.scalars(select(ScoreCount))).all()
    found = {}
    for row in rows:
        counts = (row.invited, *(getattr(row, c) for c in SCORE_COLUMNS))
        if any(counts):
            found[(row.survey_id, row.day, row.dimension, row.value)] = counts
    return found


def _expected_histograms(rows: list[Response], settings: Settings) -> dict[Any, tuple[int, ...]]:
    """The histograms the survey path keeps, recounted from the responses: a question is
    an invitation on its local day (a team member's only once answered), a score counts on
    its local day, a replaced answer nowhere."""
    counts: dict[tuple[Any, ...], list[int]] = {}

    def bump(row: Response, moment: datetime, column: int) -> None:
        day = moment.astimezone(settings.tz).date()
        for dimension, value in (
            ("all", ""),
            ("agent", row.agent or ""),
            ("source", row.source or ""),
            ("language", row.language),
            ("campaign", row.campaign or ""),
            ("channel", row.messenger),  # the messaging channel (issue 12)
        ):
            counts.setdefault((row.survey_id, day, dimension, value), [0] * 12)[column] += 1

    for row in rows:
        if row.superseded_by is not None:
            continue
        if not row.invite_pending or row.score is not None:
            bump(row, row.asked_at, 0)
        if row.score is not None and row.scored_at is not None:
            bump(row, row.scored_at, 1 + row.score)
    return {key: tuple(values) for key, values in counts.items()}


def _counted(rows: list[Response]) -> list[Response]:
    return [r for r in rows if r.score is not None and r.superseded_by is None]


def _nps(scores: list[int]) -> float:
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return 100 * (promoters - detractors) / len(scores)


async def _scope_90d(db: Database, settings: Settings) -> Scope:
    today = datetime.now(settings.tz).date()
    async with db.snapshot() as store:
        surveys = await store.surveys.all()
    return parse_report_args("90d", surveys, today=today, command="nps").scope


async def test_simulated_traffic_fills_the_owners_views(
    bot_on_sqlite: tuple[Database, Settings], api: BotApiEmulator
) -> None:
    db, settings = bot_on_sqlite
    summary = await simulate_traffic(db, api, owner_id=OWNER.id, settings=settings)

    assert (summary.history_answers, summary.live_detractors, summary.answers) == (300, 3, 303)
    assert summary.history_seconds < 2.0, f"300 answers took {summary.history_seconds:.2f}s"
    rows = await _responses(db)
    counted = _counted(rows)
    assert len(counted) == 303
    history = [r for r in counted if r.chat_id is not None and r.chat_id >= FIRST_SIMULATED_ID]
    assert len(history) == 300
    live = [r for r in counted if r.chat_id in {c.id for c in CUSTOMERS}]
    assert len(live) == 3 and all(r.score is not None and r.score <= 6 for r in live)

    # /nps for 90 days counts every answer, with the NPS of the rows themselves.
    scope = await _scope_90d(db, settings)
    async with db.snapshot() as store:
        report = await build_report(store, scope)
        by_agent = dict(await build_segments(store, scope, "agent"))
    figures = report.current.summary
    assert figures.n == 303
    assert figures.nps == pytest.approx(_nps([r.score for r in counted if r.score is not None]))
    # Unanswered questions are invitations: the response rate is believable, not 100 %.
    assert report.current.invited > figures.n
    assert 70 < (report.current.response_rate or 0) < 100
    # The histograms are exactly those the survey path would have kept for these rows.
    assert await _histograms(db) == _expected_histograms(rows, settings)

    # Spread over the last 90 local days, none in the future.
    now = datetime.now(UTC)
    first_day = now.astimezone(settings.tz).date() - timedelta(days=89)
    local_days = {r.scored_at.astimezone(settings.tz).date() for r in history if r.scored_at}
    assert len(local_days) >= 80 and min(local_days) >= first_day
    for r in rows:  # each step after the one before, none in the future
        moments = [r.asked_at, r.scored_at, r.why_at, r.improve_at]
        shown = [m for m in moments if m is not None]
        assert shown == sorted(shown) and shown[-1] <= now, r.id
        assert r.completed_at == r.improve_at

    # The great agent's customers are far happier than the poor one's.
    great, poor = by_agent[GREAT].summary.nps, by_agent[POOR].summary.nps
    assert great is not None and poor is not None and great > poor + 40, (great, poor)
    for agent in AGENT_TILT:
        mine = [r.score for r in counted if r.agent == agent and r.score is not None]
        assert by_agent[agent].summary.nps == pytest.approx(_nps(mine))

    # Comments in all four languages, each in the language of its answer and group.
    commented: Counter[str] = Counter()
    for r in history:
        assert r.score is not None
        group = classify(r.score).value
        if r.why is not None:
            assert r.why in WHY[r.language][group], (r.language, group, r.why)
            commented[r.language] += 1
        if r.improve is not None:
            assert r.improve in IMPROVE[r.language][group], (r.language, group, r.improve)
    assert set(commented) == {"en", "ru", "ro", "pl"}, commented

    # Every history detractor has a case, most resolved by the owner, a few open; the
    # live ones are open.
    cases = await _cases(db)
    detractors = sum(1 for r in counted if r.score is not None and r.score <= 6)
    assert cases["open"] + cases["resolved"] == detractors
    assert cases["open"] == summary.open_cases + 3 and cases["resolved"] == summary.resolved_cases
    assert 0 < summary.open_cases < summary.resolved_cases
    scored_at = {r.id: r.scored_at for r in history}
    async with db.snapshot() as store:
        session = store.responses._session
        history_cases = [
            c
            for c in (await session.scalars(select(DetractorCase))).all()
            if c.response_id in scored_at
        ]
        start, end = scope.period.bounds(settings.tz)
        in_report = await store.cases.counts(scope.survey_ids, start, end)
    assert in_report == {"open": cases["open"], "resolved": cases["resolved"]}
    for case in history_cases:  # opened with the score, resolved by the owner later
        assert case.opened_at == scored_at[case.response_id]
        if case.status == "resolved":
            assert case.resolved_by == OWNER.id
            assert case.resolved_at is not None and case.opened_at < case.resolved_at <= now

    # The owner pressed Start and got a real alert per live detractor, with both buttons.
    owner = api.users[OWNER.id]
    alerts = [m for m in owner.bot_messages if m.button("✅ Resolved") is not None]
    assert len(alerts) == 3, owner.transcript()
    assert all(m.button("✉️ Reply") is not None for m in alerts)
    for r in live:
        assert r.why is not None and any(r.why in m.text for m in alerts), owner.transcript()


async def test_a_second_press_adds_more(
    bot_on_sqlite: tuple[Database, Settings], api: BotApiEmulator
) -> None:
    db, settings = bot_on_sqlite
    first = await simulate_traffic(db, api, owner_id=OWNER.id, settings=settings)
    second = await simulate_traffic(
        db, api, owner_id=OWNER.id, settings=settings, answers=120, live_detractors=2
    )
    assert (first.answers, second.answers, second.live_detractors) == (303, 122, 2)
    rows = await _responses(db)
    counted = _counted(rows)
    history = [r for r in counted if r.chat_id is not None and r.chat_id >= FIRST_SIMULATED_ID]
    assert len(history) == 420
    # New people each time (one Telegram address each), and no history answer replaced.
    async with db.snapshot() as store:
        session = store.responses._session
        addresses = (await session.scalars(select(Address.address))).all()
    simulated = {int(a) for a in addresses if int(a) >= FIRST_SIMULATED_ID}
    assert second.people > 0 and len(simulated) == first.people + second.people
    assert not [r for r in rows if r.superseded_by is not None and r.chat_id in simulated]
    # A demo customer who answers again through the same link replaces their answer.
    live = [r for r in counted if r.chat_id in {c.id for c in CUSTOMERS}]
    assert len(live) == len({r.chat_id for r in live}) <= 5
    assert await _histograms(db) == _expected_histograms(rows, settings)
    scope = await _scope_90d(db, settings)
    async with db.snapshot() as store:
        report = await build_report(store, scope)
    assert report.current.summary.n == len(counted)
    # The owner pressed Start once, on the first press; both presses' alerts reached them.
    owner = api.users[OWNER.id]
    assert [m.text for m in owner.messages if not m.from_bot] == ["/start"]
    assert len([m for m in owner.bot_messages if m.text.startswith("🔴 Detractor")]) == 5


@pytest.mark.parametrize("backend", BACKENDS)
async def test_history_writer_on_each_database(
    backend: str, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> None:
    """The writer alone, on SQLite and PostgreSQL (skipped when PostgreSQL is not
    configured; CI requires it): the same history from the same seed and moment."""
    async with fresh_database(backend, tmp_path, sqlite_template, pg_template) as url:
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None, bot_token=TOKEN, database_url=url, timezone=TZ, admin_ids=[OWNER.id]
        )
        db = Database(url, tz=settings.tz)
        now = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)  # the day after the clocks went forward
        try:
            first = await write_history(db, owner_id=OWNER.id, settings=settings, now=now)
            second = await write_history(db, owner_id=OWNER.id, settings=settings, now=now)
            rows = await _responses(db)
            histograms = await _histograms(db)
            cases = await _cases(db)
        finally:
            await db.dispose()
    # 0.2–0.7 s on SQLite and 0.8–2.5 s on PostgreSQL on a shared two-core machine.
    limit = 2.0 if backend == "sqlite" else 5.0
    assert first.history_seconds < limit and second.history_seconds < limit
    counted = _counted(rows)
    assert len(counted) == first.answers + second.answers == 600
    assert len(rows) == first.invitations + second.invitations
    assert histograms == _expected_histograms(rows, settings)
    assert cases["open"] == first.open_cases + second.open_cases
    assert cases["resolved"] == first.resolved_cases + second.resolved_cases
    assert all(r.scored_at is None or r.scored_at <= now for r in rows)
    days = {r.scored_at.astimezone(settings.tz).date() for r in counted if r.scored_at}
    assert min(days) >= date(2026, 3, 30) - timedelta(days=89) and len(days) >= 80
    # Same seed, same moment: the second press draws other people, not the same answers.
    assert first.people and second.people
    scored = [(r.scored_at, r.score) for r in counted]
    assert len(set(scored)) == len(scored)
