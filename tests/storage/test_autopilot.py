"""Autopilot storage on SQLite and PostgreSQL: who is due, how a day's share is spread,
each person claimed once per interval, one run a day, turning a schedule off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from storage.broadcast_models import Broadcast, BroadcastRecipient, RecipientStatus
from storage.db import Database
from storage.repos.audience import Fatigue, Segment
from storage.repos.autopilot import Run, Schedule, daily_quota
from storage.repos.response_start import AnswerContext

# A Wednesday, 10:00 in Chisinau; the job passes the local day and the cutoff it computed.
NOW = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
INTERVAL = timedelta(days=90)
FATIGUE = Fatigue(90, 7)
OWNER = 900


async def _people(db: Database, telegram_ids: list[int], **columns: Any) -> list[int]:
    """People who pressed Start; their internal ids."""
    rows = [
        {
            "telegram_id": uid,
            "first_name": f"User{uid}",
            "telegram_language": "en",
            "subscribed": True,
            "unreachable": False,
            "started_at": NOW - timedelta(days=400),
            "last_seen_at": NOW - timedelta(days=400),
            **columns,
        }
        for uid in telegram_ids
    ]
    async with db.transaction() as store:
        return await store.respondents.add_people(rows)


async def _asked(db: Database, person: int, slug: str, at: datetime) -> None:
    """A question of the survey asked at `at` (answered or not, it is an invitation)."""
    async with db.transaction() as store:
        survey = await store.surveys.by_slug(slug)
        assert survey is not None
        await store.responses.start(
            survey_id=survey.id,
            respondent_id=person,
            chat_id=person,
            language="en",
            context=AnswerContext(),
            asked_at=at,
        )


async def _schedule(db: Database, segment: str = "", slug: str = "nps") -> Schedule:
    async with db.transaction() as store:
        survey = await store.surveys.by_slug(slug) or await store.surveys.ensure_default()
        await store.autopilot.save(
            survey_id=survey.id, every=90, unit="days", segment=segment, by=OWNER, now=NOW
        )
        schedule = await store.autopilot.of_survey(survey.id)
    assert schedule is not None
    return schedule


async def _run(
    db: Database,
    schedule: Schedule,
    days_later: int = 0,
    *,
    workdays: int = 1,
    cap: int = 1000,
    segment: Segment | None = None,
) -> Run | None:
    now = NOW + timedelta(days=days_later)
    async with db.transaction() as store:
        return await store.autopilot.run(
            schedule,
            segment or Segment(),
            day=now.date(),
            now=now,
            cutoff=now - INTERVAL,
            fatigue=FATIGUE,
            workdays=workdays,
            cap=cap,
            language="en",
            owners={OWNER},
        )


async def _enrolled(db: Database, run: Run | None) -> list[int]:
    """The people a run enrolled (recipients of its broadcast)."""
    assert run is not None and run.broadcast_id is not None
    async with db.snapshot() as store:
        return sorted(r.respondent_id for r in await store.recipients.of(run.broadcast_id))


async def _set_status(db: Database, run: Run | None, status: RecipientStatus) -> None:
    assert run is not None
    async with db.transaction() as store:
        await store.responses._session.execute(
            update(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == run.broadcast_id)
            .values(status=status)
        )


async def test_the_longest_waiting_go_first_and_each_is_claimed_once_per_interval(
    db: Database,
) -> None:
    async with db.transaction() as store:
        await store.surveys.ensure_default()
        await store.surveys.add(slug="delivery", name="Delivery")
    long_ago, recent, never, other_survey = await _people(db, [8001, 8002, 8003, 8004])
    [stopped] = await _people(db, [8005], subscribed=False)
    [blocked] = await _people(db, [8006], unreachable=True)
    [owner] = await _people(db, [OWNER])
    await _asked(db, long_ago, "nps", NOW - timedelta(days=100))
    await _asked(db, recent, "nps", NOW - timedelta(days=20))
    await _asked(db, other_survey, "delivery", NOW - timedelta(days=3))  # ANY_SURVEY: 7 days
    for person in (stopped, blocked, owner):
        await _asked(db, person, "nps", NOW - timedelta(days=200))
    schedule = await _schedule(db)
    async with db.snapshot() as store:
        counts = await store.autopilot.count_due(
            schedule.survey_id,
            Segment(),
            cutoff=NOW - INTERVAL,
            fatigue=FATIGUE,
            now=NOW,
            owners={OWNER},
            autopilot_id=schedule.id,
        )
    # Reachable customers: not the stopped, the blocked or the owner (the team).
    assert (counts.audience, counts.due) == (4, 2)

    # Four people over four mornings: one a day, never asked first.
    first = await _run(db, schedule, workdays=4)
    assert first is not None and (first.due, first.enrolled) == (2, 1)
    assert await _enrolled(db, first) == [never]
    async with db.snapshot() as store:
        broadcast = await store.broadcasts.get(first.broadcast_id or 0)
        assert await store.autopilot.is_run(first.broadcast_id or 0)
    assert broadcast is not None
    assert (broadcast.status, broadcast.total, broadcast.progress_message_id) == (
        "running",
        1,
        None,
    )
    # One run a day, whoever asks again (a restart, another replica).
    assert await _run(db, schedule, workdays=4) is None
    assert await _run(db, schedule, workdays=4, cap=0) is None

    # The next morning: `never` still waits in the queue, so the oldest invitation goes.
    second = await _run(db, schedule, 1, workdays=4)
    assert second is not None and second.due == 1
    assert await _enrolled(db, second) == [long_ago]
    # A message that failed is not tried again every morning: once per interval.
    await _set_status(db, first, RecipientStatus.FAILED)
    await _set_status(db, second, RecipientStatus.SENT)
    third = await _run(db, schedule, 2, workdays=4)
    assert third == Run(schedule.id, (NOW + timedelta(days=2)).date(), 0, 0, None)
    async with db.snapshot() as store:
        last = (await store.autopilot.last_runs([schedule.id]))[schedule.id]
    assert (last.day, last.due, last.enrolled, last.sent) == (third.day, 0, 0, 0)
    # One interval after the failed run, `never` is due again.
    later = await _run(db, schedule, 91, workdays=4)
    assert never in await _enrolled(db, later)


async def test_a_day_takes_the_audience_spread_over_the_interval_within_the_cap(
    db: Database,
) -> None:
    assert daily_quota(10, 4, 100) == 3
    assert daily_quota(10, 4, 2) == 2
    assert daily_quota(3, 65, 100) == 1  # at least one a day while anyone is due
    assert daily_quota(10, 0, 100) == 10
    assert daily_quota(0, 4, 100) == daily_quota(10, 4, 0) == 0
    people = await _people(db, list(range(8101, 8111)))
    schedule = await _schedule(db)
    first = await _run(db, schedule, workdays=4)
    assert first is not None and (first.due, first.enrolled) == (10, 3)
    assert await _enrolled(db, first) == people[:3]  # never asked: the oldest ids first
    second = await _run(db, schedule, 1, workdays=4, cap=2)  # the morning is nearly over
    assert second is not None and (second.due, second.enrolled) == (7, 2)
    assert await _enrolled(db, second) == people[3:5]
    async with db.snapshot() as store:
        last = (await store.autopilot.last_runs([schedule.id]))[schedule.id]
    assert (last.day, last.enrolled, last.sent, last.remaining) == (second.day, 2, 0, 2)


async def test_a_segment_narrows_and_turning_off_cancels_what_was_not_sent(db: Database) -> None:
    [russian] = await _people(db, [8201], telegram_language="ru")
    await _people(db, [8202])
    schedule = await _schedule(db, segment="lang:ru")
    run = await _run(db, schedule, segment=Segment(language="ru"))
    assert await _enrolled(db, run) == [russian]
    async with db.transaction() as store:
        assert await store.autopilot.turn_off(schedule.survey_id, OWNER)
        assert not await store.autopilot.turn_off(schedule.survey_id, OWNER)  # already off
        assert await store.autopilot.active() == []
    async with db.snapshot() as store:
        assert run is not None and run.broadcast_id is not None
        broadcast = await store.broadcasts.get(run.broadcast_id)
        statuses = {r.status for r in await store.recipients.of(run.broadcast_id)}
    assert broadcast is not None and broadcast.status == "cancelled"
    assert statuses == {"cancelled"}
    assert await _run(db, schedule, 1) is None  # off: no run
    # On again (the same row, changed): a cancelled message was never sent, so she is due.
    async with db.transaction() as store:
        assert not await store.autopilot.save(
            survey_id=schedule.survey_id,
            every=3,
            unit="months",
            segment="lang:ru",
            by=OWNER + 1,
            now=NOW,
        )
        [again] = await store.autopilot.active()
    assert (again.id, again.every, again.unit, again.created_by) == (
        schedule.id,
        3,
        "months",
        OWNER + 1,
    )
    assert again.last_run_on == NOW.date()  # today's run stays done
    assert await _enrolled(db, await _run(db, again, 1, segment=Segment(language="ru"))) == [
        russian
    ]


async def test_a_plain_broadcast_is_not_an_autopilot_run(db: Database) -> None:
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        draft = await store.broadcasts.create_draft(
            survey_id=survey.id,
            segment="",
            created_by=OWNER,
            chat_id=OWNER,
            language="en",
            now=NOW,
        )
        assert not await store.autopilot.is_run(draft.id)
        assert await store.autopilot.last_runs([]) == {}
        rows = (await store.responses._session.scalars(select(Broadcast))).all()
    assert len(rows) == 1
