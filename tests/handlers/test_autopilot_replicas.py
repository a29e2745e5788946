"""Autopilot across replicas: three applications on one PostgreSQL database, each with its
own pool and its own job, all finding the same weekday morning due at once. One of them
claims the day (a conditional UPDATE of `last_run_on`), its broadcast is sent once, and
the next morning is claimed once again.

The applications share this process because only a moved clock reaches the job's window
(weekday mornings) at any hour; tests/replicas runs separate processes behind nginx for
the jobs whose time a real clock reaches (digest, reminders, invitations, events).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.emulator import BotApiEmulator, EmulatedUser
from storage.autopilot_models import AutopilotRun
from storage.broadcast_models import Broadcast
from storage.db import Database
from storage.models import utcnow
from storage.repos.autopilot import AutopilotRepo, Run
from tests.broadcast_helpers import seed_audience
from tests.handlers.autopilot_clock import SATURDAY, WEDNESDAY, ZONE, Clock, moved_clock, until
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, QUESTION

REPLICAS = 3


@pytest.fixture
def claims(monkeypatch: pytest.MonkeyPatch) -> list[date]:
    """Each day's claim held until all three replicas' jobs have found the day due, so they
    claim it at the same moment (the race a real clock makes only sometimes); the days of
    the claims made are listed."""
    barrier = asyncio.Barrier(REPLICAS)
    claim = AutopilotRepo.run
    made: list[date] = []

    async def together(self: AutopilotRepo, *args: Any, day: date, **kwargs: Any) -> Run | None:
        await asyncio.wait_for(barrier.wait(), timeout=20)
        made.append(day)
        return await claim(self, *args, day=day, **kwargs)

    monkeypatch.setattr(AutopilotRepo, "run", together)
    return made


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, claims: list[date]) -> Clock:
    """Every application's clock on a Saturday morning until the test moves it."""
    return moved_clock(monkeypatch, SATURDAY)


@pytest.fixture
async def replicas(
    api: BotApiEmulator, db_url: str, clock: Clock
) -> AsyncIterator[list[HandlerBot]]:
    """Three npsbot applications on the same PostgreSQL database, started together."""
    bots = [broadcast_bot(api, db_url, timezone=ZONE) for _ in range(REPLICAS)]
    for running in bots[1:]:
        running.polls = False  # one application takes the (few) updates
    for running in bots:
        await running.start()
    yield bots
    for running in bots:
        await running.stop()


async def _schedule(db: Database, every_days: int) -> None:
    """The default survey's autopilot on, as `/autopilot nps every N days` saves it."""
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        await store.autopilot.save(
            survey_id=survey.id,
            every=every_days,
            unit="days",
            segment="",
            by=OWNER_ID,
            now=utcnow(),
        )


async def _counts(db: Database) -> tuple[int, int]:
    """(autopilot runs, broadcasts) in the database."""
    async with db.snapshot() as store:
        session = store.responses._session
        runs = await session.scalar(select(func.count()).select_from(AutopilotRun))
        broadcasts = await session.scalar(select(func.count()).select_from(Broadcast))
        return int(runs or 0), int(broadcasts or 0)


def _questions(users: list[EmulatedUser]) -> list[int]:
    """How many survey questions each user got."""
    return [len([m for m in u.bot_messages if QUESTION in m.text]) for u in users]


async def _passes_of_every_replica(clock: Clock, bots: list[HandlerBot]) -> None:
    """Until each application's job has looked at least twice at the current clock."""
    apps = {id(running.app) for running in bots}

    def looked() -> bool:
        seen = [moment for moment, _ in clock.passes if moment == clock.now]
        return len(seen) >= 2 * len(apps)

    await until(looked, within=20)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_three_replicas_run_each_morning_once(
    api: BotApiEmulator,
    replicas: list[HandlerBot],
    check_db: Database,
    clock: Clock,
    claims: list[date],
    caplog: pytest.LogCaptureFixture,
) -> None:
    users = await seed_audience(check_db, api, range(501, 521))
    # Twenty people, every 7 days over five weekday mornings: four a morning.
    await _schedule(check_db, every_days=7)
    await _passes_of_every_replica(clock, replicas)  # Saturday: nobody
    assert await _counts(check_db) == (0, 0)

    clock.now = WEDNESDAY
    await until(lambda: sum(_questions(users)) == 4, within=20)
    await _passes_of_every_replica(clock, replicas)
    for running in replicas:
        await running.idle()
    won = [runs for moment, runs in clock.passes if moment == WEDNESDAY and runs]
    assert len(won) == 1, won  # one of the three simultaneous claims won the day
    assert await _counts(check_db) == (1, 1)
    assert sum(_questions(users)) == 4 and max(_questions(users)) == 1

    clock.now = WEDNESDAY + timedelta(days=1)
    await until(lambda: sum(_questions(users)) == 8, within=20)
    await _passes_of_every_replica(clock, replicas)
    for running in replicas:
        await running.idle()
    assert await _counts(check_db) == (2, 2)
    assert max(_questions(users)) == 1  # nobody twice, whichever replica sent
    wednesday = WEDNESDAY.date()
    assert claims == [wednesday] * REPLICAS + [wednesday + timedelta(days=1)] * REPLICAS
    # The losers' claims changed no row; none failed on the runs' unique day (the last guard).
    assert not [r for r in caplog.records if "autopilot pass failed" in r.getMessage()]
