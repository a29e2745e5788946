"""The recipient queue of a running broadcast, worked through by the sending workers.

Recipient rows move pending → queued (claimed by a worker) → sending (committed just
before the Telegram call) → sent | unreachable | failed, or skipped / cancelled, or
uncertain (a worker died during the call). Claims use `FOR UPDATE SKIP LOCKED` on
PostgreSQL, so replicas never claim the same row; SQLite has a single writer.
bot/broadcast/worker.py explains the delivery guarantees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import Broadcast, BroadcastRecipient, RecipientStatus
from storage.models import OPEN_STEPS, Respondent, Response, Step
from storage.repos.audience import (
    ELIGIBLE,
    AudienceRepo,
    Fatigue,
    chunks,
    standing_columns,
    standing_from,
    standing_of,
)
from storage.repos.stats import StatsRepo, segments_of
from storage.repos.whatsapp import channel_of_chat
from storage.tables import table_of

BR = table_of(BroadcastRecipient)
A = table_of(Response)
R = table_of(Respondent)

# Picks the catalog language from (chosen or imported language, Telegram's language).
LanguageResolver = Callable[[str | None, str | None], str]

# What an opened question is counted by in the invitation histograms (segments_of).
_COUNTED = ("survey_id", "asked_at", "agent", "source", "language", "campaign", "messenger")


@dataclass(frozen=True)
class Claimed:
    """A recipient claimed for sending, with the response its buttons will carry."""

    recipient_id: int
    respondent_id: int
    chat_id: int
    response_id: int
    language: str
    first_name: str | None


@dataclass(frozen=True)
class Outcome:
    """What became of one claimed recipient (or reminder)."""

    row_id: int  # the recipient id, or the response id of a reminder
    status: RecipientStatus  # SENT, UNREACHABLE, FAILED, CANCELLED, or PENDING (released)
    at: datetime
    message_id: int | None = None
    detail: str | None = None


class RecipientQueue:
    """Claims, marks and records broadcast recipients; never commits (the caller does)."""

    def __init__(self, session: AsyncSession, dialect: str, stats: StatsRepo) -> None:
        self._session = session
        self._dialect = dialect
        self._stats = stats
        self._audience = AudienceRepo(session)

    async def claim(
        self,
        broadcast: Broadcast,
        *,
        worker: str,
        limit: int,
        now: datetime,
        fatigue: Fatigue,
        resolve: LanguageResolver,
    ) -> tuple[list[Claimed], int]:
        """Claims up to `limit` pending recipients; returns them and how many were skipped.

        Each claimed recipient gets its survey response now (its id goes into the score
        buttons) at step "closed", so it stays invisible to the conversation until the
        message is confirmed sent. People who are no longer eligible (/stop, blocked,
        surveyed meanwhile) are marked skipped instead.
        """
        pending = (
            BR.c.broadcast_id == broadcast.id,
            BR.c.status == RecipientStatus.PENDING,
        )
        if self._dialect == "postgresql":
            # Rows another replica holds are skipped, not waited for; then the people are
            # locked, so a second broadcast cannot survey one of them at the same moment,
            # and only then is their standing read.
            rows = (
                await self._session.execute(
                    select(BR.c.id, BR.c.respondent_id, BR.c.chat_id)
                    .where(*pending)
                    .order_by(BR.c.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return [], 0
            respondent_ids = [row.respondent_id for row in rows]
            await self._audience.lock_respondents(respondent_ids)
            standing = await self._audience.eligibility(
                respondent_ids, broadcast.survey_id, fatigue, now
            )
            claims = [(row, standing.get(row.respondent_id)) for row in rows]
        else:
            # SQLite: this transaction already holds the only write lock, so one query
            # reads the rows and their people's standing together.
            columns = standing_columns(broadcast.survey_id, fatigue, now)
            rows = (
                await self._session.execute(
                    select(BR.c.id, BR.c.respondent_id, BR.c.chat_id, *columns)
                    .select_from(standing_from(BR, BR.c.respondent_id))
                    .where(*pending)
                    .order_by(BR.c.id)
                    .limit(limit)
                )
            ).all()
            if not rows:
                return [], 0
            claims = [(row, standing_of(row)) for row in rows]
        responses: list[tuple[Any, Response]] = []
        skipped: list[dict[str, Any]] = []
        names: dict[int, str | None] = {}
        for row, info in claims:
            if info is None or info.reason != ELIGIBLE:
                reason = info.reason if info is not None else "forgotten"
                skipped.append({"rid": row.id, "why": reason})
                continue
            response = Response(
                survey_id=broadcast.survey_id,
                respondent_id=row.respondent_id,
                chat_id=row.chat_id,
                # Not yet delivered: no open step, so a message typed meanwhile goes to the
                # conversation the person actually sees.
                step=Step.CLOSED,
                language=resolve(info.language, info.telegram_language),
                source=info.source,
                agent=info.agent,
                channel="broadcast",
                messenger=channel_of_chat(row.chat_id),  # Telegram or WhatsApp
                payload_unknown=False,
                asked_at=now,
            )
            responses.append((row, response))
            names[row.id] = info.first_name
        self._session.add_all([response for _, response in responses])
        await self._session.flush()
        if responses:
            await self._session.execute(
                update(BR)
                .where(BR.c.id == bindparam("rid"))
                .values(
                    status=RecipientStatus.QUEUED,
                    worker=worker,
                    response_id=bindparam("resp"),
                ),
                [{"rid": row.id, "resp": response.id} for row, response in responses],
            )
        if skipped:
            await self._session.execute(
                update(BR)
                .where(BR.c.id == bindparam("rid"))
                .values(status=RecipientStatus.SKIPPED, detail=bindparam("why")),
                skipped,
            )
        claimed = [
            Claimed(
                recipient_id=row.id,
                respondent_id=row.respondent_id,
                chat_id=row.chat_id,
                response_id=response.id,
                language=response.language,
                first_name=names[row.id],
            )
            for row, response in responses
        ]
        return claimed, len(skipped)

    async def mark_sending(
        self, recipient_ids: Sequence[int], worker: str, now: datetime
    ) -> set[int]:
        """Commits "sending" just before the calls; returns the ids this worker still holds.

        This is the write that makes a crash safe: a row is "sending" before any byte of
        its message can reach Telegram, so a row found "queued" after a crash was never
        sent and can be sent again, and a row found "sending" is never sent again.
        """
        result = await self._session.execute(
            update(BR)
            .where(
                BR.c.id.in_(recipient_ids),
                BR.c.status == RecipientStatus.QUEUED,
                BR.c.worker == worker,
            )
            .values(status=RecipientStatus.SENDING, attempt_at=now, attempts=BR.c.attempts + 1)
            .returning(BR.c.id)
        )
        return set(result.scalars().all())

    async def record(self, outcomes: Sequence[Outcome], worker: str) -> None:
        """Stores what the Telegram calls did, with each sent person's response opened."""
        if not outcomes:
            return
        ids = [o.row_id for o in outcomes]
        # Only rows this worker still holds: if another one took it for dead meanwhile (the
        # row is "uncertain" or pending again), the bookkeeping was done there.
        rows = (
            await self._session.execute(
                select(BR.c.id, BR.c.respondent_id, BR.c.response_id).where(
                    BR.c.id.in_(ids),
                    BR.c.status.in_([RecipientStatus.QUEUED, RecipientStatus.SENDING]),
                    BR.c.worker == worker,
                )
            )
        ).all()
        by_id = {row.id: row for row in rows}
        outcomes = [o for o in outcomes if o.row_id in by_id]
        if not outcomes:
            return
        sent = [o for o in outcomes if o.status == RecipientStatus.SENT]
        await self.open_responses(
            [(by_id[o.row_id].respondent_id, by_id[o.row_id].response_id, o) for o in sent]
        )
        dropped = [
            by_id[o.row_id].response_id
            for o in outcomes
            if o.status != RecipientStatus.SENT and by_id[o.row_id].response_id is not None
        ]
        if dropped:
            # The message never reached anyone: the response it was going to carry goes.
            await self._session.execute(delete(A).where(A.c.id.in_(dropped)))
        unreachable = [
            by_id[o.row_id].respondent_id
            for o in outcomes
            if o.status == RecipientStatus.UNREACHABLE
        ]
        if unreachable:
            await self._session.execute(
                update(R).where(R.c.id.in_(unreachable)).values(unreachable=True)
            )
        params = [
            {
                "rid": o.row_id,
                "st": o.status.value,
                "sat": o.at if o.status == RecipientStatus.SENT else None,
                "mid": o.message_id,
                "det": o.detail[:200] if o.detail else None,
                # Only a sent message keeps its response; the others' were deleted above.
                "keep": by_id[o.row_id].response_id if o.status == RecipientStatus.SENT else None,
                # A row given back (pending) belongs to no worker any more.
                "wrk": None if o.status == RecipientStatus.PENDING else worker,
            }
            for o in outcomes
        ]
        await self._session.execute(
            update(BR)
            .where(BR.c.id == bindparam("rid"))
            .values(
                status=bindparam("st"),
                sent_at=bindparam("sat"),
                message_id=bindparam("mid"),
                detail=bindparam("det"),
                response_id=bindparam("keep"),
                worker=bindparam("wrk"),
            ),
            params,
        )

    async def open_responses(self, sent: Sequence[tuple[int, int, Outcome]]) -> None:
        """Makes delivered questions answerable and counts them as invitations: each is
        (respondent id, response id, the outcome with the time sent and the message id).
        The invitations of the trigger API use it too (storage/repos/invitations.py)."""
        if not sent:
            return
        new_ids = [response_id for _, response_id, _ in sent]
        # The new question supersedes whatever the person had not finished.
        await self._session.execute(
            update(A)
            .where(
                A.c.respondent_id.in_([respondent for respondent, _, _ in sent]),
                A.c.step.in_(OPEN_STEPS),
                A.c.id.not_in(new_ids),
            )
            .values(step=Step.CLOSED)
        )
        await self._session.execute(
            update(A)
            .where(A.c.id == bindparam("aid"))
            .values(
                step=Step.SCORE,
                asked_at=bindparam("at"),
                prompt_message_id=bindparam("mid"),
            ),
            [
                {"aid": response_id, "at": outcome.at, "mid": outcome.message_id}
                for _, response_id, outcome in sent
            ],
        )
        await self._count_invited(new_ids)

    async def _count_invited(self, response_ids: Sequence[int]) -> None:
        """Adds the responses to the invitation counters (written at the commit)."""
        counter: Counter[tuple[int, Any, str, str]] = Counter()
        for chunk in chunks(response_ids):
            columns = [A.c[name] for name in _COUNTED]
            rows = await self._session.execute(select(*columns).where(A.c.id.in_(chunk)))
            for survey_id, asked_at, agent, source, language, campaign, messenger in rows:
                day = self._stats.local_day(_aware(asked_at))
                segments = segments_of(agent, source, language, campaign, messenger)
                for dimension, value in segments:
                    counter[(survey_id, day, dimension, value[:64])] += 1
        self._stats.add_invited(counter)

    async def recover_stale(self, live_workers: Iterable[str], now: datetime) -> int:
        """Takes over the rows of workers whose heartbeat stopped (killed, powered off).

        "queued" rows were never handed to Telegram: they become pending again and are sent
        by whoever claims them next. "sending" rows may have been delivered: they become
        uncertain and are never re-sent (at most once). Their responses are opened — the
        question may be on the person's screen, so an answer must work — and counted as
        invitations; the reminder repeats the question to whoever does not answer.
        Returns how many rows became uncertain.
        """
        live = list(live_workers)
        query = select(
            BR.c.id, BR.c.status, BR.c.respondent_id, BR.c.response_id, BR.c.attempt_at
        ).where(BR.c.status.in_([RecipientStatus.QUEUED, RecipientStatus.SENDING]))
        if live:
            query = query.where(BR.c.worker.not_in(live))
        if self._dialect == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = (await self._session.execute(query)).all()
        if not rows:
            return 0
        queued = [row for row in rows if row.status == RecipientStatus.QUEUED]
        doubtful = [row for row in rows if row.status == RecipientStatus.SENDING]
        if queued:
            dropped = [row.response_id for row in queued if row.response_id is not None]
            if dropped:
                await self._session.execute(delete(A).where(A.c.id.in_(dropped)))
            await self._session.execute(
                update(BR)
                .where(BR.c.id.in_([row.id for row in queued]))
                .values(status=RecipientStatus.PENDING, worker=None, response_id=None)
            )
        if doubtful:
            await self._session.execute(
                update(BR)
                .where(BR.c.id.in_([row.id for row in doubtful]))
                .values(status=RecipientStatus.UNCERTAIN, detail="worker stopped during the call")
            )
            await self.open_responses(
                [
                    (
                        row.respondent_id,
                        row.response_id,
                        Outcome(row.id, RecipientStatus.SENT, _aware(row.attempt_at or now)),
                    )
                    for row in doubtful
                    if row.response_id is not None
                ]
            )
        return len(doubtful)

    async def of(self, broadcast_id: int) -> list[BroadcastRecipient]:
        """Every recipient of a broadcast (tests and audits)."""
        rows = await self._session.scalars(
            select(BroadcastRecipient)
            .where(BroadcastRecipient.broadcast_id == broadcast_id)
            .order_by(BroadcastRecipient.id)
        )
        return list(rows.all())


def _aware(moment: datetime) -> datetime:
    """Makes a timestamp aware UTC (values read back through the models already are)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
