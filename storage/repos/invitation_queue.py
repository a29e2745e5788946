"""The invitations' sending queue: claimed exactly once, sent, recorded, taken over.

A row moves scheduled → claimed (a sending process took it, with the survey response its
buttons will carry, kept at step "closed" so the conversation does not see it yet) →
sending (committed just before the Telegram call) → sent | unreachable | failed; the
rules are checked again at the claim, so it may end suppressed or unreachable instead.

The guarantees are the broadcasts' (bot/broadcast/worker.py): claims use `FOR UPDATE SKIP
LOCKED` on PostgreSQL and lock the people, so two processes never claim one row nor
survey one person twice; SQLite has a single writer. A process that dies leaves rows under
a worker whose heartbeat stops (storage/repos/sending_workers.py): "claimed" rows were
never handed to Telegram and are scheduled again; "sending" rows may have arrived and are
recorded sent with the reason "uncertain" — never sent twice. That takeover is
storage/repos/invitation_recovery.py; the sender is bot/invitations.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.admin_models import ANONYMOUS_KINDS
from storage.attributes import parse_attributes
from storage.broadcast_models import RecipientStatus
from storage.invitation_models import InvitationStatus
from storage.models import Channel, Response, Step
from storage.repos import invitation_recovery
from storage.repos.audience import ELIGIBLE, AudienceRepo, Eligibility, Fatigue, chunks
from storage.repos.broadcast_recipients import Outcome, RecipientQueue
from storage.repos.invitations import (
    ADDRESSES,
    ANONYMOUS_SURVEY,
    BLOCKED,
    INV,
    INVITATION_CHANNEL,
    NO_CHANNEL,
    NOT_STARTED,
    REASONS,
    SEND_FAILED,
    A,
    LanguageResolver,
    R,
    S,
)
from storage.repos.whatsapp import channel_of_chat
from storage.tables import rows_changed


@dataclass(frozen=True)
class ClaimedInvitation:
    """An invitation claimed for sending, with the response its buttons carry."""

    row_id: int
    public_id: str
    survey_id: int
    respondent_id: int
    chat_id: int
    response_id: int
    language: str
    first_name: str | None


@dataclass(frozen=True)
class Ended:
    """An invitation that was due but did not reach the person (`invitation.failed`)."""

    public_id: str
    survey: str  # the survey's slug
    respondent_id: int | None
    key_channel: str
    key_address: str
    status: InvitationStatus  # FAILED, UNREACHABLE or SUPPRESSED
    reason: str
    error: str | None
    attributes: dict[str, str]


def _ended(row: Any, status: InvitationStatus, reason: str, error: str | None = None) -> Ended:
    """From a row with the invitation's public id, key, attributes and survey slug."""
    return Ended(
        row.public_id,
        row.slug,
        row.respondent_id,
        row.key_channel,
        row.key_address,
        status,
        reason,
        error,
        dict(row.attributes or {}),
    )


class InvitationQueue:
    """Claims, marks and records due invitations; never commits (the caller does)."""

    def __init__(self, session: AsyncSession, dialect: str, recipients: RecipientQueue) -> None:
        self._session = session
        self._dialect = dialect
        self._recipients = recipients  # opens delivered questions, as for broadcasts
        self._audience = AudienceRepo(session)

    async def any_due(self, now: datetime) -> bool:
        """True when some scheduled invitation is due (a cheap read before claiming)."""
        found = await self._session.scalar(select(INV.c.id).where(*_due(now)).limit(1))
        return found is not None

    async def any_held(self) -> bool:
        """True when some invitation is claimed or being sent (by us or a dead process)."""
        found = await self._session.scalar(
            select(INV.c.id)
            .where(INV.c.status.in_([InvitationStatus.CLAIMED, InvitationStatus.SENDING]))
            .limit(1)
        )
        return found is not None

    async def defer_due(self, now: datetime, until: datetime) -> int:
        """Quiet hours: due invitations wait for the window's end (e.g. the bot was down
        when they fell due, and it is night now)."""
        result = await self._session.execute(update(INV).where(*_due(now)).values(send_at=until))
        return rows_changed(result)

    async def claim(
        self,
        *,
        now: datetime,
        worker: str,
        limit: int,
        fatigue: Fatigue,
        resolve: LanguageResolver,
    ) -> tuple[list[ClaimedInvitation], list[Ended]]:
        """Claims up to `limit` due invitations; returns them and those that ended instead.

        Each claimed one gets its survey response now (step "closed" until the message is
        confirmed sent). The rules are checked again: someone who stopped, blocked the bot
        or was surveyed meanwhile (another invitation of this very batch included) makes
        the row unreachable or suppressed instead.
        """
        query = (
            select(
                INV.c.id,
                INV.c.public_id,
                INV.c.survey_id,
                INV.c.respondent_id,
                INV.c.key_channel,
                INV.c.key_address,
                INV.c.attributes,
                INV.c.language,
                S.c.kind,
                S.c.slug,
            )
            .join(S, S.c.id == INV.c.survey_id)
            .where(*_due(now))
            .order_by(INV.c.send_at, INV.c.id)
            .limit(limit)
        )
        if self._dialect == "postgresql":
            # Rows another process holds are skipped, not waited for; then the people are
            # locked, so nobody else can survey them before this transaction commits.
            query = query.with_for_update(of=INV, skip_locked=True)
        rows = (await self._session.execute(query)).all()
        if not rows:
            return [], []
        people = sorted({row.respondent_id for row in rows if row.respondent_id is not None})
        if self._dialect == "postgresql":
            await self._audience.lock_respondents(people)
        standing: dict[tuple[int, int], Eligibility] = {}
        for survey_id in {row.survey_id for row in rows}:
            found = await self._audience.eligibility(people, survey_id, fatigue, now)
            standing.update({(survey_id, person): info for person, info in found.items()})
        chats = await self._chats(people)
        taken: dict[int, set[int]] = {}  # person → surveys claimed in this batch
        claims: list[tuple[Any, Eligibility, Response]] = []
        ended: list[Ended] = []
        for row in rows:
            person = row.respondent_id
            info = standing.get((row.survey_id, person)) if person is not None else None
            if row.kind in ANONYMOUS_KINDS:  # the survey became eNPS after it was asked for
                ended.append(_ended(row, InvitationStatus.FAILED, ANONYMOUS_SURVEY))
                continue
            if info is None or person not in chats:
                why = NOT_STARTED if row.key_channel == Channel.TELEGRAM else NO_CHANNEL
                ended.append(_ended(row, InvitationStatus.UNREACHABLE, why))
                continue
            reason = info.reason
            if reason == ELIGIBLE and person in taken:
                if fatigue.survey_days > 0 and row.survey_id in taken[person]:
                    reason = "same_survey"
                elif fatigue.any_days > 0:
                    reason = "any_survey"
            if reason != ELIGIBLE:
                status, why = REASONS[reason]
                ended.append(_ended(row, status, why))
                continue
            taken.setdefault(person, set()).add(row.survey_id)
            # Agent, source and campaign in their columns, the order id and the custom
            # ones in responses.attributes; without a tag of its own the person's is used,
            # as for a broadcast question.
            columns = parse_attributes(row.attributes).columns(anonymous=False)
            columns["agent"] = columns["agent"] or info.agent
            columns["source"] = columns["source"] or info.source
            response = Response(
                survey_id=row.survey_id,
                respondent_id=person,
                chat_id=chats[person],
                # Not yet delivered: no open step, so a message typed meanwhile goes to the
                # conversation the person actually sees.
                step=Step.CLOSED,
                # The CRM's choice first, then the person's (README "Invitations").
                language=row.language or resolve(info.language, info.telegram_language),
                channel=INVITATION_CHANNEL,
                messenger=channel_of_chat(chats[person]),  # the chat's: Telegram or WhatsApp
                payload_unknown=False,
                asked_at=now,
                **columns,
            )
            claims.append((row, info, response))
        self._session.add_all([response for _, _, response in claims])
        await self._session.flush()
        if claims:
            await self._session.execute(
                update(INV)
                .where(INV.c.id == bindparam("rid"))
                .values(
                    status=InvitationStatus.CLAIMED,
                    worker=worker,
                    response_id=bindparam("resp"),
                    channel=bindparam("chan"),
                    chat=bindparam("chat"),
                ),
                [
                    {"rid": row.id, "resp": response.id, "chat": str(response.chat_id)}
                    | {"chan": response.messenger}
                    for row, _, response in claims
                ],
            )
        if ended:
            await self._session.execute(
                update(INV)
                .where(INV.c.public_id == bindparam("pid"))
                .values(status=bindparam("st"), reason=bindparam("why")),
                [{"pid": e.public_id, "st": e.status.value, "why": e.reason} for e in ended],
            )
        claimed = [
            ClaimedInvitation(
                row_id=row.id,
                public_id=row.public_id,
                survey_id=row.survey_id,
                respondent_id=row.respondent_id,
                chat_id=chats[row.respondent_id],
                response_id=response.id,
                language=response.language,
                first_name=info.first_name,
            )
            for row, info, response in claims
        ]
        return claimed, ended

    async def _chats(self, people: Sequence[int]) -> dict[int, int]:
        """Each person's chat: their Telegram private chat, else their WhatsApp chat
        (storage/repos/whatsapp_outbound.py says why); people without one are left out."""
        found: dict[int, int] = {}
        for chunk in chunks(people):
            rows = await self._session.execute(
                select(ADDRESSES.c.respondent_id, ADDRESSES.c.chat)
                .where(
                    ADDRESSES.c.channel.in_([Channel.TELEGRAM.value, Channel.WHATSAPP.value]),
                    ADDRESSES.c.respondent_id.in_(chunk),
                    ADDRESSES.c.chat.is_not(None),
                )
                .order_by(ADDRESSES.c.channel.desc())  # whatsapp, then telegram: it wins
            )
            found.update({person: int(chat) for person, chat in rows})
        return found

    async def mark_sending(self, row_ids: Sequence[int], worker: str, now: datetime) -> set[int]:
        """Commits "sending" just before the calls; returns the rows this worker still holds
        (a row cancelled meanwhile is not among them, and is not sent)."""
        result = await self._session.execute(
            update(INV)
            .where(
                INV.c.id.in_(row_ids),
                INV.c.status == InvitationStatus.CLAIMED,
                INV.c.worker == worker,
            )
            .values(status=InvitationStatus.SENDING, attempt_at=now)
            .returning(INV.c.id)
        )
        return set(result.scalars().all())

    async def record(self, outcomes: Sequence[Outcome], worker: str) -> list[Ended]:
        """Stores what the Telegram calls did (Outcome.row_id is the invitation's row);
        returns the invitations that failed or found the person unreachable."""
        if not outcomes:
            return []
        rows = (
            await self._session.execute(
                select(
                    INV.c.id,
                    INV.c.public_id,
                    INV.c.respondent_id,
                    INV.c.response_id,
                    INV.c.key_channel,
                    INV.c.key_address,
                    INV.c.attributes,
                    S.c.slug,
                )
                .join(S, S.c.id == INV.c.survey_id)
                .where(
                    INV.c.id.in_([o.row_id for o in outcomes]),
                    INV.c.status.in_([InvitationStatus.CLAIMED, InvitationStatus.SENDING]),
                    INV.c.worker == worker,
                )
            )
        ).all()
        by_id = {row.id: row for row in rows}
        outcomes = [o for o in outcomes if o.row_id in by_id]
        sent = [o for o in outcomes if o.status == RecipientStatus.SENT]
        sent_ids = {o.row_id for o in sent}
        await self._recipients.open_responses(
            [(by_id[o.row_id].respondent_id, by_id[o.row_id].response_id, o) for o in sent]
        )
        dropped = [by_id[o.row_id].response_id for o in outcomes if o.row_id not in sent_ids]
        if dropped:
            # The message never reached anyone: the response it was going to carry goes.
            await self._session.execute(delete(A).where(A.c.id.in_(dropped)))
        blocked = [
            by_id[o.row_id].respondent_id
            for o in outcomes
            if o.status == RecipientStatus.UNREACHABLE
        ]
        if blocked:
            await self._session.execute(
                update(R).where(R.c.id.in_(blocked)).values(unreachable=True)
            )
        ended: list[Ended] = []
        params = []
        for o in outcomes:
            status, reason = _recorded(o.status)
            error = o.detail[:200] if o.detail and status != InvitationStatus.SENT else None
            params.append(
                {
                    "rid": o.row_id,
                    "st": status.value,
                    "why": reason,
                    "err": error,
                    "sat": o.at if status == InvitationStatus.SENT else None,
                    "mid": o.message_id,
                    "keep": by_id[o.row_id].response_id if o.row_id in sent_ids else None,
                    # A row given back (scheduled again) belongs to no worker any more.
                    "wrk": None if status == InvitationStatus.SCHEDULED else worker,
                }
            )
            if status in (InvitationStatus.FAILED, InvitationStatus.UNREACHABLE):
                assert reason is not None
                ended.append(_ended(by_id[o.row_id], status, reason, error))
        if params:
            await self._session.execute(
                update(INV)
                .where(INV.c.id == bindparam("rid"))
                .values(
                    status=bindparam("st"),
                    reason=bindparam("why"),
                    error=bindparam("err"),
                    sent_at=bindparam("sat"),
                    message_id=bindparam("mid"),
                    response_id=bindparam("keep"),
                    worker=bindparam("wrk"),
                ),
                params,
            )
        return ended

    async def recover_stale(self, live_workers: Iterable[str], now: datetime) -> int:
        """Takes over the rows of dead processes (storage/repos/invitation_recovery.py);
        returns how many were "sending", now recorded sent as uncertain."""
        return await invitation_recovery.recover_stale(
            self._session, self._dialect, self._recipients, live_workers, now
        )


def _due(now: datetime) -> tuple[Any, ...]:
    return (INV.c.status == InvitationStatus.SCHEDULED, INV.c.send_at <= now)


def _recorded(outcome: RecipientStatus) -> tuple[InvitationStatus, str | None]:
    """An invitation's status and reason for what the Telegram call did."""
    if outcome == RecipientStatus.SENT:
        return InvitationStatus.SENT, None
    if outcome == RecipientStatus.UNREACHABLE:
        return InvitationStatus.UNREACHABLE, BLOCKED
    if outcome == RecipientStatus.PENDING:  # never handed to Telegram: due again
        return InvitationStatus.SCHEDULED, None
    return InvitationStatus.FAILED, SEND_FAILED
