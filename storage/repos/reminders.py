"""Reminders: one repeat of an unanswered broadcast question, claimed once, ever."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import BroadcastRecipient, RecipientStatus, SurveyReminder
from storage.invitation_models import Invitation
from storage.models import Respondent, Response, Step
from storage.repos import upsert_insert
from storage.repos.broadcast_recipients import LanguageResolver, Outcome
from storage.tables import rows_changed, table_of

BR = table_of(BroadcastRecipient)
A = table_of(Response)
R = table_of(Respondent)
SR = table_of(SurveyReminder)
INV = table_of(Invitation)


@dataclass(frozen=True)
class DueReminder:
    """An unanswered question whose reminder this worker claimed."""

    response_id: int
    survey_id: int
    respondent_id: int
    chat_id: int
    language: str
    first_name: str | None


class ReminderRepo:
    """Claims and records reminders; never commits (the caller does)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def claim(
        self,
        *,
        asked_before: datetime,
        asked_after: datetime,
        worker: str,
        now: datetime,
        limit: int,
        resolve: LanguageResolver,
    ) -> list[DueReminder]:
        """Claims unanswered questions due a reminder (one reminder per question, ever).

        Only questions still waiting for a score, to people who are subscribed and
        reachable; the claim inserts the reminder row, so a second worker or a restart
        never reminds twice.
        """
        query = (
            select(
                A.c.id,
                A.c.survey_id,
                A.c.respondent_id,
                A.c.chat_id,
                A.c.language,
                R.c.first_name,
                R.c.language_override,
            )
            .join(R, R.c.id == A.c.respondent_id)
            .where(*_due_reminder(asked_before, asked_after))
            .order_by(A.c.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            query = query.with_for_update(of=A, skip_locked=True)
        rows = (await self._session.execute(query)).all()
        if not rows:
            return []
        insert = upsert_insert(self._dialect)
        # Only the rows this insert wrote are ours. On PostgreSQL a replica whose SELECT
        # read before another's claim committed can still lock the same responses once it
        # has (the claim leaves them unchanged, so their lock is not re-checked): its
        # insert then meets the other's rows, writes nothing, and must not send.
        stmt = (
            insert(SR)
            .values(
                [
                    {
                        "response_id": row.id,
                        "status": RecipientStatus.SENDING.value,
                        "worker": worker,
                        "attempt_at": now,
                    }
                    for row in rows
                ]
            )
            .on_conflict_do_nothing(index_elements=["response_id"])
            .returning(SR.c.response_id)
        )
        ours = set((await self._session.scalars(stmt)).all())
        rows = [row for row in rows if row.id in ours]
        return [
            DueReminder(
                response_id=row.id,
                survey_id=row.survey_id,
                respondent_id=row.respondent_id,
                chat_id=row.chat_id,
                language=resolve(row.language_override or row.language, None),
                first_name=row.first_name,
            )
            for row in rows
        ]

    async def any_due(self, *, asked_before: datetime, asked_after: datetime) -> bool:
        """True when some question waits for its reminder (a cheap read before claiming)."""
        # The claim's own conditions: anything looser makes the job claim nothing, often.
        found = await self._session.scalar(
            select(A.c.id)
            .join(R, R.c.id == A.c.respondent_id)
            .where(*_due_reminder(asked_before, asked_after))
            .limit(1)
        )
        return found is not None

    async def question_messages(self, response_id: int) -> list[int]:
        """The messages that asked a response's question: the broadcast's or the
        invitation's, and its reminder."""
        sent = select(BR.c.message_id).where(BR.c.response_id == response_id)
        invited = select(INV.c.message_id).where(INV.c.response_id == response_id)
        reminded = select(SR.c.message_id).where(SR.c.response_id == response_id)
        rows = await self._session.execute(sent.union_all(invited, reminded))
        return [row[0] for row in rows if row[0] is not None]

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Stores what the reminder calls did; a sent reminder's buttons become the prompt."""
        released = [o.row_id for o in outcomes if o.status == RecipientStatus.PENDING]
        if released:
            # Never handed to Telegram (the worker was stopping): due again later.
            await self._session.execute(delete(SR).where(SR.c.response_id.in_(released)))
        outcomes = [o for o in outcomes if o.status != RecipientStatus.PENDING]
        if not outcomes:
            return
        await self._session.execute(
            update(SR)
            .where(SR.c.response_id == bindparam("rid"))
            .values(
                status=bindparam("st"),
                sent_at=bindparam("sat"),
                message_id=bindparam("mid"),
            ),
            [
                {
                    "rid": o.row_id,
                    "st": o.status.value,
                    "sat": o.at if o.status == RecipientStatus.SENT else None,
                    "mid": o.message_id,
                }
                for o in outcomes
            ],
        )
        prompts = [
            {"aid": o.row_id, "mid": o.message_id}
            for o in outcomes
            if o.status == RecipientStatus.SENT and o.message_id is not None
        ]
        if prompts:
            await self._session.execute(
                update(A)
                .where(A.c.id == bindparam("aid"), A.c.step == Step.SCORE)
                .values(prompt_message_id=bindparam("mid")),
                prompts,
            )
        unreachable = [o.row_id for o in outcomes if o.status == RecipientStatus.UNREACHABLE]
        if unreachable:
            await self._session.execute(
                update(R)
                .where(R.c.id.in_(select(A.c.respondent_id).where(A.c.id.in_(unreachable))))
                .values(unreachable=True)
            )

    async def recover_stale(self, live_workers: Iterable[str]) -> int:
        """Reminders a dead worker left "sending" are given up (at most one reminder)."""
        live = list(live_workers)
        stmt = update(SR).where(SR.c.status == RecipientStatus.SENDING)
        if live:
            stmt = stmt.where(SR.c.worker.not_in(live))
        result = await self._session.execute(stmt.values(status=RecipientStatus.UNCERTAIN))
        return rows_changed(result)


def _due_reminder(asked_before: datetime, asked_after: datetime) -> tuple[Any, ...]:
    """A question (responses joined to respondents) due its one reminder: unanswered,
    asked in the window, to someone subscribed and reachable, not reminded yet."""
    return (
        A.c.step == Step.SCORE,
        A.c.asked_at <= asked_before,
        A.c.asked_at > asked_after,
        A.c.chat_id.is_not(None),
        R.c.subscribed.is_(True),
        R.c.unreachable.is_(False),
        ~select(SR.c.response_id).where(SR.c.response_id == A.c.id).exists(),
    )
