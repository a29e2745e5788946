"""Invitations of the trigger API as it asks for them: who they reach, the fatigue rules,
idempotency keys, reading back and cancelling.

Statuses: scheduled, then claimed and sending while a process sends it
(storage/repos/invitation_queue.py), then sent, unreachable or failed; or suppressed (a
fatigue rule) or unreachable from the start, or cancelled before it is sent. `answered` is
not stored: a sent invitation whose response has a score reads as answered. Everything
here works on many requests at once (a batch of 1,000 is a few statements per hundred).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.invitation_models import (
    OPEN_INVITATION_STATES,
    Invitation,
    InvitationStatus,
    WhatsAppStatus,
)
from storage.models import Address, Channel, Respondent, Response, Survey
from storage.repos import upsert_insert
from storage.repos.audience import ELIGIBLE, AudienceRepo, Eligibility, Fatigue, chunks
from storage.tables import table_of

INV = table_of(Invitation)
A = table_of(Response)
R = table_of(Respondent)
S = table_of(Survey)
ADDRESSES = table_of(Address)
WS = table_of(WhatsAppStatus)

# The channel of an invitation's response (answers never replace each other's).
INVITATION_CHANNEL = "invitation"
# Why an invitation is suppressed: the fatigue rule, named after its setting.
SAME_SURVEY = "survey_cooldown"  # SURVEY_COOLDOWN_DAYS
ANY_SURVEY = "any_survey_cooldown"  # ANY_SURVEY_COOLDOWN_DAYS
# Why it is unreachable.
NOT_STARTED = "not_started"  # that Telegram user never pressed Start
NO_CHANNEL = "no_channel"  # nobody with that phone number can be reached on a channel
STOPPED = "stopped"  # sent /stop
BLOCKED = "blocked"  # blocked the bot (Telegram answered 403)
# Why it failed, and the doubt a crash during the call leaves on a sent one.
SEND_FAILED = "send_failed"
ANONYMOUS_SURVEY = "anonymous_survey"
UNCERTAIN = "uncertain"
# The audience's exclusion names (storage/repos/audience.py) as invitation reasons.
REASONS = {
    "whatsapp_off": (InvitationStatus.UNREACHABLE, NO_CHANNEL),  # reached only there
    "unreachable": (InvitationStatus.UNREACHABLE, BLOCKED),
    "unsubscribed": (InvitationStatus.UNREACHABLE, STOPPED),
    "same_survey": (InvitationStatus.SUPPRESSED, SAME_SURVEY),
    "any_survey": (InvitationStatus.SUPPRESSED, ANY_SURVEY),
}

# Picks the catalog language from (chosen or imported language, Telegram's language).
LanguageResolver = Callable[[str | None, str | None], str]


@dataclass(frozen=True)
class NewInvitation:
    """A validated request: the person's key, normalised, and when to send."""

    survey_id: int
    key_channel: str  # "telegram" or "phone"
    key_address: str  # the Telegram user id as text, or the phone number in E.164
    attributes: Mapping[str, str]
    send_at: datetime
    idempotency_key: str | None = None
    request_hash: str | None = None
    language: str | None = None  # the question's language, when the CRM gave one


@dataclass(frozen=True)
class Verdict:
    """What an invitation can be when it is asked for: scheduled, or why not."""

    status: InvitationStatus
    reason: str | None
    respondent_id: int | None


@dataclass(frozen=True)
class Pending:
    """An open invitation of a person (scheduled or being sent): the fatigue rules count
    it at its send_at."""

    respondent_id: int
    survey_id: int
    send_at: datetime


@dataclass(frozen=True)
class Stored:
    """An invitation to store: the request, its verdict and the API's answer to it."""

    new: NewInvitation
    verdict: Verdict
    public_id: str
    reply: Mapping[str, Any] | None = None


def judge(
    key_channel: str,
    person: int | None,
    standing: Eligibility | None,
    pending: Iterable[Pending],
    survey_id: int,
    fatigue: Fatigue,
    at: datetime,
) -> Verdict:
    """Whether an invitation sent at `at` reaches the person, or why not.

    `standing`: the person's eligibility at `at` (storage/repos/audience.py; None for a
    person no channel reaches); `pending`: the person's open invitations, which the fatigue
    rules count within their days either side of `at`.
    """
    if person is None:
        why = NOT_STARTED if key_channel == Channel.TELEGRAM else NO_CHANNEL
        return Verdict(InvitationStatus.UNREACHABLE, why, None)
    if standing is None:  # a person without a Telegram address: no channel reaches them
        return Verdict(InvitationStatus.UNREACHABLE, NO_CHANNEL, person)
    reason = standing.reason
    if reason in (ELIGIBLE, "any_survey"):
        for other in pending:
            gap = abs(other.send_at - at)
            if other.survey_id == survey_id and gap < timedelta(days=fatigue.survey_days):
                reason = "same_survey"
                break
            if gap < timedelta(days=fatigue.any_days):
                reason = "any_survey"
    if reason == ELIGIBLE:
        return Verdict(InvitationStatus.SCHEDULED, None, person)
    status, why = REASONS[reason]
    return Verdict(status, why, person)


@dataclass(frozen=True)
class InvitationView:
    """An invitation as the API shows it."""

    public_id: str
    survey: str  # the survey's slug
    status: str  # an InvitationStatus value, or "answered"
    reason: str | None
    error: str | None
    send_at: datetime
    sent_at: datetime | None
    response_id: int | None
    score: int | None
    created_at: datetime
    key_channel: str
    key_address: str
    attributes: dict[str, str] = field(default_factory=dict)
    request_hash: str | None = None
    reply: dict[str, Any] | None = None  # the API's first answer, for a retry
    # WhatsApp's latest status of its message: (sent|delivered|read|failed, when, error code).
    delivery: tuple[str, datetime, int | None] | None = None


_VIEW = select(
    INV.c.public_id,
    S.c.slug,
    INV.c.status,
    INV.c.reason,
    INV.c.error,
    INV.c.send_at,
    INV.c.sent_at,
    INV.c.response_id,
    A.c.score,
    INV.c.created_at,
    INV.c.key_channel,
    INV.c.key_address,
    INV.c.attributes,
    INV.c.request_hash,
    INV.c.reply,
    WS.c.status.label("delivery_status"),
    WS.c.status_at.label("delivery_at"),
    WS.c.error_code.label("delivery_error"),
).select_from(
    INV.join(S, S.c.id == INV.c.survey_id)
    .outerjoin(A, A.c.id == INV.c.response_id)
    .outerjoin(
        WS, and_(WS.c.message_id == INV.c.message_id, INV.c.channel == Channel.WHATSAPP.value)
    )
)


def _view(row: Any) -> InvitationView:
    status = row.status
    if status == InvitationStatus.SENT and row.score is not None:
        status = "answered"
    return InvitationView(
        public_id=row.public_id,
        survey=row.slug,
        status=status,
        reason=row.reason,
        error=row.error,
        send_at=row.send_at,
        sent_at=row.sent_at,
        response_id=row.response_id,
        score=row.score,
        created_at=row.created_at,
        key_channel=row.key_channel,
        key_address=row.key_address,
        attributes=dict(row.attributes or {}),
        request_hash=row.request_hash,
        reply=row.reply,
        delivery=(
            (row.delivery_status, row.delivery_at, row.delivery_error)
            if row.delivery_status is not None
            else None
        ),
    )


class InvitationRepo:
    """Schedules, reads and cancels invitations; never commits (the caller does)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect
        self._audience = AudienceRepo(session)

    async def people(self, key_channel: str, addresses: Collection[str]) -> dict[str, int]:
        """The people with these addresses on the channel (a Telegram user id as text, a
        phone number in E.164): address → person; unknown ones are left out."""
        found: dict[str, int] = {}
        for chunk in chunks(sorted(set(addresses))):
            rows = await self._session.execute(
                select(ADDRESSES.c.address, ADDRESSES.c.respondent_id).where(
                    ADDRESSES.c.channel == key_channel, ADDRESSES.c.address.in_(chunk)
                )
            )
            found.update({address: person for address, person in rows})
        return found

    async def person(self, key_channel: str, key_address: str) -> int | None:
        """The person with this address, if any."""
        return (await self.people(key_channel, [key_address])).get(key_address)

    async def standing(
        self, people: Sequence[int], survey_id: int, fatigue: Fatigue, at: datetime
    ) -> dict[int, Eligibility]:
        """Each person's eligibility for the survey at `at` (people without a Telegram
        address are left out)."""
        return await self._audience.eligibility(people, survey_id, fatigue, at)

    async def pending(
        self, people: Collection[int], start: datetime, end: datetime
    ) -> dict[int, list[Pending]]:
        """The people's open invitations sent between `start` and `end`, by person."""
        found: dict[int, list[Pending]] = {}
        for chunk in chunks(sorted(people)):
            rows = await self._session.execute(
                select(INV.c.respondent_id, INV.c.survey_id, INV.c.send_at).where(
                    INV.c.respondent_id.in_(chunk),
                    INV.c.status.in_(OPEN_INVITATION_STATES),
                    INV.c.send_at > start,
                    INV.c.send_at < end,
                )
            )
            for person, survey_id, send_at in rows:
                found.setdefault(person, []).append(Pending(person, survey_id, send_at))
        return found

    async def verdict(
        self, key_channel: str, key_address: str, survey_id: int, fatigue: Fatigue, at: datetime
    ) -> Verdict:
        """`judge` for one request, reading what it needs."""
        person = await self.person(key_channel, key_address)
        if person is None:
            return judge(key_channel, None, None, (), survey_id, fatigue, at)
        standing = (await self.standing([person], survey_id, fatigue, at)).get(person)
        days = timedelta(days=max(fatigue.survey_days, fatigue.any_days))
        pending = (await self.pending([person], at - days, at + days)).get(person, [])
        return judge(key_channel, person, standing, pending, survey_id, fatigue, at)

    async def add_many(self, items: Sequence[Stored], now: datetime) -> set[str]:
        """Stores the invitations in one statement; returns the public ids stored. One
        whose idempotency key is taken (by a request committed meanwhile: read it with
        `by_keys`) is not among them."""
        if not items:
            return set()
        values = [
            {
                "public_id": item.public_id,
                "survey_id": item.new.survey_id,
                "respondent_id": item.verdict.respondent_id,
                "key_channel": item.new.key_channel,
                "key_address": item.new.key_address,
                "attributes": dict(item.new.attributes),
                "language": item.new.language,
                "status": item.verdict.status.value,
                "reason": item.verdict.reason,
                "send_at": item.new.send_at,
                "idempotency_key": item.new.idempotency_key,
                "request_hash": item.new.request_hash,
                "reply": dict(item.reply) if item.reply is not None else None,
                "created_at": now,
            }
            for item in items
        ]
        # PostgreSQL waits for a concurrent insert of the same key, then does nothing.
        stmt = (
            upsert_insert(self._dialect)(INV)
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(INV.c.public_id)
        )
        inserted = await self._session.execute(stmt, values)
        return set(inserted.scalars().all())

    async def add(self, item: Stored, now: datetime) -> bool:
        """Stores one invitation; False when its idempotency key is taken."""
        return bool(await self.add_many([item], now))

    async def by_keys(self, keys: Collection[str]) -> dict[str, InvitationView]:
        """The invitations first made with these Idempotency-Keys, by key."""
        found: dict[str, InvitationView] = {}
        for chunk in chunks(sorted(set(keys))):
            rows = await self._session.execute(
                _VIEW.add_columns(INV.c.idempotency_key).where(INV.c.idempotency_key.in_(chunk))
            )
            found.update({row.idempotency_key: _view(row) for row in rows})
        return found

    async def by_key(self, idempotency_key: str) -> InvitationView | None:
        """The invitation first made with this Idempotency-Key."""
        return (await self.by_keys([idempotency_key])).get(idempotency_key)

    async def get(self, public_id: str) -> InvitationView | None:
        """The invitation with this public id."""
        row = (await self._session.execute(_VIEW.where(INV.c.public_id == public_id))).first()
        return _view(row) if row is not None else None

    async def cancel(self, public_id: str) -> tuple[bool, InvitationView | None]:
        """Cancels an invitation not yet handed to Telegram: (cancelled or already so, the
        invitation); (False, it) when it was sent or is being sent or ended otherwise;
        (False, None) when there is none."""
        query = select(INV.c.id, INV.c.status, INV.c.response_id).where(
            INV.c.public_id == public_id
        )
        if self._dialect == "postgresql":
            query = query.with_for_update()  # a sender marking it "sending" waits for us
        row = (await self._session.execute(query)).first()
        if row is None:
            return False, None
        if row.status in (InvitationStatus.SCHEDULED, InvitationStatus.CLAIMED):
            if row.response_id is not None:  # claimed: its response was never shown
                await self._session.execute(delete(A).where(A.c.id == row.response_id))
            await self._session.execute(
                update(INV)
                .where(INV.c.id == row.id)
                .values(status=InvitationStatus.CANCELLED, worker=None, response_id=None)
            )
        ok = row.status in (
            InvitationStatus.SCHEDULED,
            InvitationStatus.CLAIMED,
            InvitationStatus.CANCELLED,
        )
        return ok, await self.get(public_id)
