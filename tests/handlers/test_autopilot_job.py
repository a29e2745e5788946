"""The autopilot job with a moved clock: weekday mornings only, the fatigue rules, spread
over the days, and nobody surveyed twice across a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.emulator import BotApiEmulator, EmulatedUser
from storage.autopilot_models import AutopilotRun
from storage.broadcast_models import Broadcast
from storage.db import Database
from tests.admin_helpers import make_survey, seed_answers
from tests.broadcast_helpers import admin, reply_to, seed_audience
from tests.conftest import BACKENDS
from tests.handlers.autopilot_clock import (
    SATURDAY,
    WEDNESDAY,
    WEDNESDAY_EVENING,
    ZONE,
    Clock,
    moved_clock,
    until,
)
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.scenario import responses_of, wait_for

QUESTION = "How likely are you to recommend Acme"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """BotApp.clock moved to the test's moment; the job looks every 50 ms and is watched."""
    return moved_clock(monkeypatch, SATURDAY)


@pytest.fixture
async def pilot(api: BotApiEmulator, db_url: str, clock: Clock) -> AsyncIterator[HandlerBot]:
    """npsbot in Chisinau's time zone, sending fast."""
    running = broadcast_bot(api, db_url, timezone=ZONE)
    await running.start()
    yield running
    await running.stop()


async def _switch_on(owner: EmulatedUser, command: str) -> None:
    await reply_to(owner, command, "Autopilot on")


async def _count(db: Database, model: type[AutopilotRun] | type[Broadcast]) -> int:
    async with db.snapshot() as store:
        count = await store.responses._session.scalar(select(func.count()).select_from(model))
        return int(count or 0)


async def _all_finished(db: Database) -> bool:
    async with db.snapshot() as store:
        session = store.responses._session
        open_ = await session.scalar(
            select(func.count()).select_from(Broadcast).where(Broadcast.finished_at.is_(None))
        )
        return not open_


async def wait_finished(db: Database) -> None:
    """Until every broadcast (each run's) has been worked through."""
    await wait_for(lambda: _all_finished(db), "broadcasts finished", within=10)


def delivered(users: list[EmulatedUser]) -> list[int]:
    """How many survey questions each user got (replies to their commands aside)."""
    return [
        len([m for m in user.bot_messages if any(QUESTION in t for t in [m.text, *m.history])])
        for user in users
    ]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_it_sends_on_a_weekday_morning_never_on_a_weekend_or_an_evening(
    api: BotApiEmulator, pilot: HandlerBot, check_db: Database, clock: Clock
) -> None:
    users = await seed_audience(check_db, api, [101, 102])
    owner = admin(api)
    await _switch_on(owner, "/autopilot nps every 1 days")
    assert await clock.next_pass() == []  # Saturday, 10:00
    clock.now = WEDNESDAY_EVENING
    assert await clock.next_pass() == []
    assert await _count(check_db, AutopilotRun) == await _count(check_db, Broadcast) == 0
    assert delivered(users) == [0, 0]

    clock.now = WEDNESDAY
    question = await users[0].wait_for_message(lambda m: QUESTION in m.text)
    assert question.text.startswith("Hi User101! One quick question about Acme")
    await users[1].wait_for_message(lambda m: QUESTION in m.text)
    await wait_finished(check_db)
    await pilot.idle()
    assert delivered(users) == [1, 1]
    # No progress message and no summary for the owner: /autopilot shows the figures.
    assert not [m for m in owner.bot_messages if "finished" in m.text]
    listed = await reply_to(owner, "/autopilot", "Autopilot ·")
    assert "last run 2026-12-09: 2 sent, 2 due" in listed.text
    # A real broadcast question: the answer flows through the conversation.
    users[0].press(question, "9")
    await users[0].wait_for_message(lambda m: "like most" in m.text)
    [response] = await responses_of(check_db, 101)
    assert (response.channel, response.score, response.asked_at) == ("broadcast", 9, WEDNESDAY)


async def test_the_fatigue_rules_stop_and_blocking_are_obeyed(
    api: BotApiEmulator, pilot: HandlerBot, check_db: Database, clock: Clock
) -> None:
    [fresh] = await seed_audience(check_db, api, [201])
    await make_survey(check_db, "delivery", "Delivery")
    # Another survey 3 days ago (ANY_SURVEY_COOLDOWN_DAYS 7); this one 30 days ago
    # (SURVEY_COOLDOWN_DAYS 90, though the interval is one day); this one long ago, but
    # that person sent /stop since.
    three_days_ago = WEDNESDAY - timedelta(days=3)
    await seed_answers(check_db, [8], first_user=202, survey_slug="delivery", at=three_days_ago)
    await seed_answers(check_db, [9], first_user=203, at=WEDNESDAY - timedelta(days=30))
    await seed_answers(check_db, [3], first_user=204, at=WEDNESDAY - timedelta(days=200))
    answered = [api.user(uid) for uid in (202, 203, 204)]
    for user in answered:
        user.started = True
    await reply_to(answered[2], "/stop", "not receive any more surveys")
    blocked = await seed_audience(check_db, api, [205], unreachable=True)
    owner = admin(api)
    await _switch_on(owner, "/autopilot nps every 1 days")
    clock.now = WEDNESDAY
    await fresh.wait_for_message(lambda m: QUESTION in m.text)
    await wait_finished(check_db)
    await pilot.idle()
    assert delivered([fresh, *answered, *blocked, owner]) == [1, 0, 0, 0, 0, 0]
    async with check_db.snapshot() as store:
        [run] = (await store.responses._session.scalars(select(AutopilotRun))).all()
    assert (run.due, run.enrolled) == (1, 1)


async def test_a_day_takes_its_share_and_a_restart_sends_nobody_twice(
    api: BotApiEmulator, pilot: HandlerBot, check_db: Database, clock: Clock
) -> None:
    users = await seed_audience(check_db, api, [301, 302, 303])
    owner = admin(api)
    # Three people over the five weekday mornings of a week: one a morning.
    await _switch_on(owner, "/autopilot nps every 7 days")
    clock.now = WEDNESDAY
    await until(lambda: sum(delivered(users)) == 1)
    await wait_finished(check_db)
    first = [user for user, got in zip(users, delivered(users), strict=True) if got]
    await pilot.restart()
    assert await clock.next_pass() == []  # today's run is done
    await pilot.idle()
    assert sum(delivered(users)) == 1
    assert await _count(check_db, AutopilotRun) == 1

    clock.now = WEDNESDAY + timedelta(days=1)  # Thursday morning: the next one
    await until(lambda: sum(delivered(users)) == 2)
    await wait_finished(check_db)
    await pilot.idle()
    assert max(delivered(users)) == 1
    assert delivered(first) == [1]
    assert await _count(check_db, AutopilotRun) == 2


async def test_a_crash_right_after_the_run_resumes_it_without_a_second_message(
    api: BotApiEmulator, pilot: HandlerBot, check_db: Database, clock: Clock
) -> None:
    users = await seed_audience(check_db, api, range(401, 411))
    owner = admin(api)
    await _switch_on(owner, "/autopilot nps every 1 days")
    clock.now = WEDNESDAY
    await until(lambda: any(runs for _, runs in clock.passes))
    await pilot.crash()  # the run is committed; its broadcast may be partly sent
    await pilot.start()
    assert await clock.next_pass() == []
    await until(lambda: sum(delivered(users)) == len(users))
    await wait_finished(check_db)
    await pilot.idle()
    assert delivered(users) == [1] * len(users)
    assert await _count(check_db, AutopilotRun) == 1
