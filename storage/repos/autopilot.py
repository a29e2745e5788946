"""Relationship surveys on autopilot: the schedules, who is due, and each day's run.

A run — one per schedule and local day, claimed with a conditional update of
`autopilots.last_run_on` — enrols that day's share of the people due as the pending
recipients of a broadcast, in the same transaction. The broadcast workers send it
(bot/broadcast/worker.py): the shared rate limiter, Telegram's rules and the recipient
queue's guarantees (claimed once, never sent twice, resumed after a restart) are the
broadcasts' own. Such a broadcast has no progress message and no summary.

**Due**: a customer of the schedule's segment who may be surveyed now (reachable,
subscribed, outside SURVEY_COOLDOWN_DAYS and ANY_SURVEY_COOLDOWN_DAYS), was not asked this
survey since the cutoff (one interval ago; never asked is due), is not waiting in an open
broadcast, and was not enrolled by this schedule since the cutoff (a message that failed
is not retried every morning: once per interval). The longest-waiting go first: never
asked, then the oldest last invitation of this survey.

**Spread**: a day takes ceil(audience / weekday mornings in one interval), the audience
being every reachable, subscribed customer of the segment. In the steady state each
person then comes round once per interval; a schedule switched on for a large base
surveys it over the first interval instead of all on the first morning. Never more than
`cap` (what the rest of the morning holds at BROADCAST_RATE).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.autopilot_models import Autopilot, AutopilotRun
from storage.broadcast_models import (
    OPEN_RECIPIENT_STATES,
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
)
from storage.models import Response
from storage.repos.audience import (
    ELIGIBLE,
    Fatigue,
    R,
    Segment,
    T,
    audience_from,
    customer_expr,
    exclusion_expr,
    segment_filter,
    surveyed_since,
)
from storage.repos.broadcasts import BroadcastRepo
from storage.tables import rows_changed, table_of

AP = table_of(Autopilot)
RUN = table_of(AutopilotRun)
BR = table_of(BroadcastRecipient)
B = table_of(Broadcast)
A = table_of(Response)
# Recipient rows that never reached Telegram: their people may be enrolled again.
NOT_ATTEMPTED = (RecipientStatus.SKIPPED, RecipientStatus.CANCELLED)


@dataclass(frozen=True)
class Schedule:
    """One survey's autopilot, as everything outside storage reads it."""

    id: int
    survey_id: int
    every: int
    unit: str  # "days" or "months"
    segment: str  # normalised segment text, "" = everyone
    active: bool
    created_by: int
    last_run_on: date | None


@dataclass(frozen=True)
class LastRun:
    """A schedule's latest run and what became of its messages so far."""

    day: date
    due: int
    enrolled: int
    sent: int  # delivered (sent, or uncertain after a crash)
    remaining: int  # still to be sent


@dataclass(frozen=True)
class DueCount:
    """The segment's reachable customers, and how many of them are due now."""

    audience: int
    due: int


@dataclass(frozen=True)
class Run:
    """What one day's run did."""

    autopilot_id: int
    day: date
    due: int
    enrolled: int
    broadcast_id: int | None


def daily_quota(audience: int, workdays: int, cap: int) -> int:
    """How many people one morning takes: the audience spread over the weekday mornings
    of one interval (at least one person a day while anyone is due), at most `cap`."""
    if audience <= 0 or cap <= 0:
        return 0
    return min(cap, max(1, math.ceil(audience / max(1, workdays))))


def _schedule(row: Any) -> Schedule:
    return Schedule(
        row.id,
        row.survey_id,
        row.every,
        row.unit,
        row.segment,
        bool(row.active),
        row.created_by,
        row.last_run_on,
    )


_SCHEDULE_COLUMNS = (
    AP.c.id,
    AP.c.survey_id,
    AP.c.every,
    AP.c.unit,
    AP.c.segment,
    AP.c.active,
    AP.c.created_by,
    AP.c.last_run_on,
)


def _reachable() -> ColumnElement[bool]:
    return and_(R.c.unreachable.is_(False), R.c.subscribed.is_(True))


def _due(
    survey_id: int, autopilot_id: int | None, cutoff: datetime, fatigue: Fatigue, now: datetime
) -> ColumnElement[bool]:
    """True for a respondent (R) this survey's schedule is due to ask now."""
    waiting = select(BR.c.respondent_id).where(BR.c.status.in_(OPEN_RECIPIENT_STATES))
    terms: list[ColumnElement[bool]] = [
        exclusion_expr(survey_id, fatigue, now) == ELIGIBLE,
        ~surveyed_since(R.c.id, cutoff, survey_id),
        R.c.id.not_in(waiting),
    ]
    if autopilot_id is not None:
        enrolled = (
            select(BR.c.respondent_id)
            .join(RUN, RUN.c.broadcast_id == BR.c.broadcast_id)
            .where(
                RUN.c.autopilot_id == autopilot_id,
                RUN.c.created_at >= cutoff,
                BR.c.status.not_in(NOT_ATTEMPTED),
            )
        )
        terms.append(R.c.id.not_in(enrolled))
    return and_(*terms)


class AutopilotRepo:
    """Saves schedules, counts who is due, runs a day; never commits (the caller does)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._broadcasts = BroadcastRepo(session)

    # --- the admin's side ---------------------------------------------------------------

    async def save(
        self, *, survey_id: int, every: int, unit: str, segment: str, by: int, now: datetime
    ) -> bool:
        """Switches a survey's autopilot on, or changes it; True when it is new.

        A changed schedule keeps its last run day: it never runs twice in one day.
        """
        values = {
            "every": every,
            "unit": unit,
            "segment": segment,
            "active": True,
            "created_by": by,
            "updated_at": now,
        }
        result = await self._session.execute(
            update(AP).where(AP.c.survey_id == survey_id).values(**values)
        )
        if rows_changed(result):
            return False
        await self._session.execute(
            insert(AP).values(survey_id=survey_id, created_at=now, last_run_on=None, **values)
        )
        return True

    async def turn_off(self, survey_id: int, by: int) -> bool:
        """Stops a survey's autopilot and cancels what its runs have not sent yet; False
        when it was not on."""
        result = await self._session.execute(
            update(AP)
            .where(AP.c.survey_id == survey_id, AP.c.active.is_(True))
            .values(active=False)
        )
        if not rows_changed(result):
            return False
        running = await self._session.scalars(
            select(RUN.c.broadcast_id)
            .join(AP, AP.c.id == RUN.c.autopilot_id)
            .join(B, B.c.id == RUN.c.broadcast_id)
            .where(AP.c.survey_id == survey_id, B.c.status == BroadcastStatus.RUNNING)
        )
        for broadcast_id in running.all():
            await self._broadcasts.cancel(broadcast_id, by)
        return True

    async def of_survey(self, survey_id: int) -> Schedule | None:
        """The survey's schedule (on or off), if it ever had one."""
        row = (
            await self._session.execute(
                select(*_SCHEDULE_COLUMNS).where(AP.c.survey_id == survey_id)
            )
        ).first()
        return _schedule(row) if row is not None else None

    async def active(self) -> list[Schedule]:
        """Every schedule that is on, oldest first."""
        rows = await self._session.execute(
            select(*_SCHEDULE_COLUMNS).where(AP.c.active.is_(True)).order_by(AP.c.id)
        )
        return [_schedule(row) for row in rows]

    async def last_runs(self, autopilot_ids: Sequence[int]) -> dict[int, LastRun]:
        """Each schedule's latest run with its broadcast's figures so far."""
        if not autopilot_ids:
            return {}
        latest = (
            select(RUN.c.autopilot_id, func.max(RUN.c.day).label("day"))
            .where(RUN.c.autopilot_id.in_(autopilot_ids))
            .group_by(RUN.c.autopilot_id)
            .subquery()
        )
        rows = await self._session.execute(
            select(
                RUN.c.autopilot_id, RUN.c.day, RUN.c.due, RUN.c.enrolled, RUN.c.broadcast_id
            ).join(
                latest,
                and_(latest.c.autopilot_id == RUN.c.autopilot_id, latest.c.day == RUN.c.day),
            )
        )
        found: dict[int, LastRun] = {}
        for row in rows.all():
            sent = remaining = 0
            if row.broadcast_id is not None:
                tally = await self._broadcasts.tally(row.broadcast_id)
                sent, remaining = tally.delivered, tally.remaining
            found[row.autopilot_id] = LastRun(row.day, row.due, row.enrolled, sent, remaining)
        return found

    # --- the job's side -----------------------------------------------------------------

    async def count_due(
        self,
        survey_id: int,
        segment: Segment,
        *,
        cutoff: datetime,
        fatigue: Fatigue,
        now: datetime,
        owners: Collection[int] = (),
        autopilot_id: int | None = None,
    ) -> DueCount:
        """The segment's reachable customers and how many of them are due."""
        due = _due(survey_id, autopilot_id, cutoff, fatigue, now)
        row = (
            await self._session.execute(
                select(func.count(), func.coalesce(func.sum(case((due, 1), else_=0)), 0))
                .select_from(audience_from())
                .where(segment_filter(segment), customer_expr(owners), _reachable())
            )
        ).one()
        return DueCount(int(row[0]), int(row[1]))

    async def run(
        self,
        schedule: Schedule,
        segment: Segment,
        *,
        day: date,
        now: datetime,
        cutoff: datetime,
        fatigue: Fatigue,
        workdays: int,
        cap: int,
        language: str,
        owners: Collection[int] = (),
    ) -> Run | None:
        """Runs a schedule for a local day: enrols the day's share of the people due as a
        running broadcast. None when the day was already run (here or by another replica)
        or the schedule is off."""
        claimed = await self._session.execute(
            update(AP)
            .where(
                AP.c.id == schedule.id,
                AP.c.active.is_(True),
                or_(AP.c.last_run_on.is_(None), AP.c.last_run_on < day),
            )
            .values(last_run_on=day)
        )
        if not rows_changed(claimed):
            return None
        counts = await self.count_due(
            schedule.survey_id,
            segment,
            cutoff=cutoff,
            fatigue=fatigue,
            now=now,
            owners=owners,
            autopilot_id=schedule.id,
        )
        quota = min(counts.due, daily_quota(counts.audience, workdays, cap))
        broadcast_id: int | None = None
        enrolled = 0
        if quota > 0:
            broadcast_id = await self._open_broadcast(schedule, now, language)
            enrolled = await self._enrol(
                broadcast_id, schedule, segment, quota, cutoff, fatigue, now, owners
            )
            await self._session.execute(
                update(B).where(B.c.id == broadcast_id).values(total=enrolled)
            )
        await self._session.execute(
            insert(RUN).values(
                autopilot_id=schedule.id,
                day=day,
                due=counts.due,
                enrolled=enrolled,
                broadcast_id=broadcast_id,
                created_at=now,
            )
        )
        return Run(schedule.id, day, counts.due, enrolled, broadcast_id)

    async def _open_broadcast(self, schedule: Schedule, now: datetime, language: str) -> int:
        """A running broadcast for the run, with no preview or progress message."""
        result = await self._session.execute(
            insert(B)
            .values(
                survey_id=schedule.survey_id,
                segment=schedule.segment,
                status=BroadcastStatus.RUNNING.value,
                created_by=schedule.created_by,
                admin_chat_id=schedule.created_by,
                progress_message_id=None,
                language=language,
                total=0,
                created_at=now,
                started_at=now,
            )
            .returning(B.c.id)
        )
        return int(result.scalar_one())

    async def _enrol(
        self,
        broadcast_id: int,
        schedule: Schedule,
        segment: Segment,
        quota: int,
        cutoff: datetime,
        fatigue: Fatigue,
        now: datetime,
        owners: Collection[int],
    ) -> int:
        """Adds the `quota` longest-waiting people due as pending recipients (one INSERT …
        SELECT); returns how many."""
        survey_id = schedule.survey_id
        last_asked = (
            select(func.max(A.c.asked_at))
            .where(A.c.respondent_id == R.c.id, A.c.survey_id == survey_id)
            .scalar_subquery()
        )
        source = (
            select(
                literal(broadcast_id),
                R.c.id,
                cast(T.c.chat, BigInteger),
                literal(RecipientStatus.PENDING.value),
                literal(0),
            )
            .select_from(audience_from())
            .where(
                segment_filter(segment),
                customer_expr(owners),
                _due(survey_id, schedule.id, cutoff, fatigue, now),
            )
            # Never asked first, then the oldest last invitation.
            .order_by(case((last_asked.is_(None), 0), else_=1), last_asked, R.c.id)
            .limit(quota)
        )
        result = await self._session.execute(
            insert(BR).from_select(
                ["broadcast_id", "respondent_id", "chat_id", "status", "attempts"], source
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def is_run(self, broadcast_id: int) -> bool:
        """True when the broadcast is an autopilot run (it has no admin message to edit)."""
        found = await self._session.scalar(
            select(RUN.c.id).where(RUN.c.broadcast_id == broadcast_id)
        )
        return found is not None
