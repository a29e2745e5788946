"""Who a broadcast may reach: segments, fatigue rules, and imported contact lists.

The audience is every customer who pressed Start (a `respondents` row) and has neither
sent /stop nor blocked the bot; the team (owners in ADMIN_IDS, admins, viewers) and
employees who came only through an eNPS link are not customers and are never messaged.
Imported contacts (`contacts`) add attributes — language, source, agent, name — and wait
there until the person presses Start: a bot cannot write first, so nobody who never
started is ever messaged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement as ColumnExpr

from storage.broadcast_models import BroadcastRecipient, Contact, ImportRequest, RecipientStatus
from storage.models import Respondent, Response, StaffMember

R = Respondent.__table__
C = Contact.__table__
A = Response.__table__
S = StaffMember.__table__

# Score ranges of the last-answer groups (NPS: promoters 9–10, passives 7–8, detractors 0–6).
GROUPS: dict[str, tuple[int, int]] = {
    "promoter": (9, 10),
    "passive": (7, 8),
    "detractor": (0, 6),
}
# The reasons someone in a segment is not messaged, in the order they are checked.
EXCLUSIONS = ("unreachable", "unsubscribed", "same_survey", "any_survey")
ELIGIBLE = "eligible"
# IN lists are chunked so an import of 100 000 ids never builds one giant statement.
CHUNK = 500


@dataclass(frozen=True)
class Segment:
    """A slice of the audience; every given attribute must match (empty = everyone)."""

    language: str | None = None
    source: str | None = None
    agent: str | None = None
    group: str | None = None  # "promoter", "passive" or "detractor": the last score's group
    never_answered: bool = False

    @property
    def everyone(self) -> bool:
        """True when no attribute narrows the audience."""
        return self == Segment()


@dataclass(frozen=True)
class Fatigue:
    """Quiet periods: the same survey within `survey_days`, any survey within `any_days`."""

    survey_days: int = 90
    any_days: int = 7


@dataclass
class AudiencePreview:
    """How many people a broadcast would reach, and why the others would not be messaged."""

    eligible: int = 0
    excluded: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EXCLUSIONS, 0))
    # Eligible people by their language code (as stored; the caller maps it to a catalog).
    languages: dict[str | None, int] = field(default_factory=dict)
    # Imported contacts in the segment who have not pressed Start yet.
    not_started: int = 0
    # People in the segment who are not customers, never messaged by a customer broadcast:
    # the team (owners, admins, viewers) and employees who came only through an eNPS link.
    team: int = 0
    employees: int = 0

    @property
    def matched(self) -> int:
        """Everyone in the segment who pressed Start."""
        return self.eligible + sum(self.excluded.values())


@dataclass(frozen=True)
class ContactRow:
    """One valid line of an imported contact list."""

    user_id: int
    language: str | None = None
    source: str | None = None
    agent: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Eligibility:
    """Whether a respondent may get a survey now, and what the message needs to know."""

    reason: str  # "eligible" or one of EXCLUSIONS
    language: str | None  # chosen with /language, else imported
    telegram_language: str | None
    source: str | None
    agent: str | None
    first_name: str | None


@dataclass(frozen=True)
class ImportOutcome:
    """What an import changed."""

    added: int
    updated: int
    unchanged: int
    started: int  # of the imported ids, how many have pressed Start already


def language_expr() -> ColumnExpr[Any]:
    """A respondent's language: chosen with /language, else imported, else Telegram's."""
    return func.coalesce(
        R.c.language_override, C.c.language, func.lower(func.substr(R.c.telegram_language, 1, 2))
    )


def _last_score() -> Any:
    """The score of the respondent's latest scored answer (any survey)."""
    return (
        select(A.c.score)
        .where(A.c.respondent_id == R.c.id, A.c.score.is_not(None))
        .order_by(A.c.scored_at.desc(), A.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def segment_filter(segment: Segment) -> ColumnElement[bool]:
    """The WHERE clause selecting a segment of respondents (joined with contacts)."""
    terms: list[ColumnElement[bool]] = []
    if segment.language:
        terms.append(language_expr() == segment.language)
    if segment.source:
        terms.append(or_(R.c.source == segment.source, C.c.source == segment.source))
    if segment.agent:
        terms.append(or_(R.c.agent == segment.agent, C.c.agent == segment.agent))
    if segment.group:
        low, high = GROUPS[segment.group]
        terms.append(_last_score().between(low, high))
    if segment.never_answered:
        terms.append(~exists().where(A.c.respondent_id == R.c.id, A.c.score.is_not(None)))
    return and_(true(), *terms)


def surveyed_since(
    respondent: Any, since: datetime, survey_id: int | None = None
) -> ColumnElement[bool]:
    """True when the respondent was asked a survey (this one, if given) since `since`."""
    terms = [A.c.respondent_id == respondent, A.c.asked_at >= since]
    if survey_id is not None:
        terms.append(A.c.survey_id == survey_id)
    return exists().where(*terms)


def exclusion_expr(survey_id: int, fatigue: Fatigue, now: datetime) -> Any:
    """The first reason a respondent may not get this survey now, or "eligible"."""
    whens: list[tuple[ColumnElement[bool], str]] = [
        (R.c.unreachable.is_(True), "unreachable"),
        (R.c.subscribed.is_(False), "unsubscribed"),
    ]
    if fatigue.survey_days > 0:
        since = now - timedelta(days=fatigue.survey_days)
        whens.append((surveyed_since(R.c.id, since, survey_id), "same_survey"))
    if fatigue.any_days > 0:
        since = now - timedelta(days=fatigue.any_days)
        whens.append((surveyed_since(R.c.id, since), "any_survey"))
    return case(*whens, else_=literal(ELIGIBLE))


def standing_columns(survey_id: int, fatigue: Fatigue, now: datetime) -> list[Any]:
    """What `standing_of` needs, selectable beside anything joined with respondents (R)
    and contacts (C); a missing respondent (forgotten with /forgetme) reads "forgotten"."""
    reason = case(
        (R.c.id.is_(None), literal("forgotten")), else_=exclusion_expr(survey_id, fatigue, now)
    )
    return [
        reason.label("reason"),
        func.coalesce(R.c.language_override, C.c.language).label("chosen_language"),
        R.c.telegram_language.label("telegram_language"),
        func.coalesce(R.c.source, C.c.source).label("standing_source"),
        func.coalesce(R.c.agent, C.c.agent).label("standing_agent"),
        R.c.first_name.label("first_name"),
    ]


def standing_of(row: Any) -> Eligibility:
    """An Eligibility from a row selected with `standing_columns`."""
    return Eligibility(
        row.reason,
        row.chosen_language,
        row.telegram_language,
        row.standing_source,
        row.standing_agent,
        row.first_name,
    )


def team_expr(owners: Collection[int]) -> ColumnElement[bool]:
    """True for the team: owners (ADMIN_IDS) and everyone with a granted role."""
    staff = exists().where(S.c.user_id == R.c.id)
    return or_(R.c.id.in_(sorted(owners)), staff) if owners else staff


def employee_expr() -> ColumnElement[bool]:
    """True for employees who came only through an eNPS link (no named answer at all)."""
    named = exists().where(A.c.respondent_id == R.c.id)
    return and_(R.c.enps_link.is_(True), ~named)


def customer_expr(owners: Collection[int]) -> ColumnElement[bool]:
    """True for customers: the audience of a customer broadcast."""
    return and_(~team_expr(owners), ~employee_expr())


def _audience_from() -> Any:
    return R.outerjoin(C, C.c.user_id == R.c.id)


class AudienceRepo:
    """Counts and selects broadcast audiences; imports contact lists."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def preview(
        self,
        survey_id: int,
        segment: Segment,
        fatigue: Fatigue,
        now: datetime,
        owners: Collection[int] = (),
    ) -> AudiencePreview:
        """Counts the segment: who would be messaged, who not and why (`owners`: ADMIN_IDS)."""
        reason = case(
            (team_expr(owners), literal("team")),
            (employee_expr(), literal("employee")),
            else_=exclusion_expr(survey_id, fatigue, now),
        ).label("reason")
        language = language_expr().label("language")
        rows = await self._session.execute(
            select(reason, language, func.count())
            .select_from(_audience_from())
            .where(segment_filter(segment))
            .group_by(reason, language)
        )
        preview = AudiencePreview()
        for why, code, count in rows:
            if why == ELIGIBLE:
                preview.eligible += count
                preview.languages[code] = preview.languages.get(code, 0) + count
            elif why == "team":
                preview.team += count
            elif why == "employee":
                preview.employees += count
            else:
                preview.excluded[why] += count
        preview.not_started = await self._not_started(segment)
        return preview

    async def _not_started(self, segment: Segment) -> int:
        """Imported contacts in the segment with no respondent row (never pressed Start)."""
        if segment.group:  # nobody who never started has a score
            return 0
        terms: list[ColumnElement[bool]] = [~exists().where(R.c.id == C.c.user_id)]
        if segment.language:
            terms.append(C.c.language == segment.language)
        if segment.source:
            terms.append(C.c.source == segment.source)
        if segment.agent:
            terms.append(C.c.agent == segment.agent)
        query = select(func.count()).select_from(C).where(*terms)
        return int(await self._session.scalar(query) or 0)

    async def enrol(
        self,
        broadcast_id: int,
        survey_id: int,
        segment: Segment,
        fatigue: Fatigue,
        now: datetime,
        owners: Collection[int] = (),
    ) -> int:
        """Adds every eligible customer of the segment as a pending recipient; returns how many
        (the team — `owners` and granted roles — and eNPS-only employees are left out).

        One INSERT … SELECT, so confirming a broadcast to 100 000 people stays one short
        statement instead of a round trip per person.
        """
        eligible = exclusion_expr(survey_id, fatigue, now) == ELIGIBLE
        source = (
            select(
                literal(broadcast_id),
                R.c.id,
                R.c.chat_id,
                literal(RecipientStatus.PENDING.value),
                literal(0),
            )
            .select_from(_audience_from())
            .where(segment_filter(segment), customer_expr(owners), eligible)
        )
        table = BroadcastRecipient.__table__
        result = await self._session.execute(
            insert(table).from_select(
                ["broadcast_id", "respondent_id", "chat_id", "status", "attempts"], source
            )
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def eligibility(
        self, respondent_ids: Sequence[int], survey_id: int, fatigue: Fatigue, now: datetime
    ) -> dict[int, Eligibility]:
        """Each respondent's standing right now (missing ids were forgotten with /forgetme)."""
        columns = standing_columns(survey_id, fatigue, now)
        found: dict[int, Eligibility] = {}
        for chunk in chunks(respondent_ids):
            rows = await self._session.execute(
                select(R.c.id, *columns).select_from(_audience_from()).where(R.c.id.in_(chunk))
            )
            for row in rows:
                found[row.id] = standing_of(row)
        return found

    async def lock_respondents(self, respondent_ids: Sequence[int]) -> None:
        """Locks respondents' rows (PostgreSQL) so two senders cannot both survey one person."""
        for chunk in chunks(sorted(respondent_ids)):
            await self._session.execute(
                select(R.c.id).where(R.c.id.in_(chunk)).order_by(R.c.id).with_for_update()
            )

    # --- contact lists ------------------------------------------------------------------

    async def import_contacts(
        self, rows: Sequence[ContactRow], imported_by: int, now: datetime
    ) -> ImportOutcome:
        """Adds new contacts and updates known ones (a blank column keeps the old value)."""
        added = updated = unchanged = started = 0
        table = C
        for chunk in chunks(rows):
            ids = [row.user_id for row in chunk]
            known = {
                row.user_id: row
                for row in await self._session.execute(select(table).where(C.c.user_id.in_(ids)))
            }
            started += int(
                await self._session.scalar(select(func.count()).where(R.c.id.in_(ids))) or 0
            )
            fresh = []
            for row in chunk:
                values = {
                    "name": row.name,
                    "language": row.language,
                    "source": row.source,
                    "agent": row.agent,
                }
                old = known.get(row.user_id)
                if old is None:
                    fresh.append(
                        {"user_id": row.user_id, "imported_by": imported_by, "imported_at": now}
                        | values
                    )
                    continue
                changes = {
                    k: v for k, v in values.items() if v is not None and getattr(old, k) != v
                }
                if not changes:
                    unchanged += 1
                    continue
                await self._session.execute(
                    update(table)
                    .where(C.c.user_id == row.user_id)
                    .values(**changes, imported_by=imported_by, imported_at=now)
                )
                updated += 1
            if fresh:
                await self._session.execute(insert(table), fresh)
                added += len(fresh)
            # SQLite's statements run on the event loop (storage/sqlite_inline.py): let other
            # chats' updates and polling run between chunks of a long list.
            await asyncio.sleep(0)
        return ImportOutcome(added, updated, unchanged, started)

    async def request_import(self, user_id: int, now: datetime) -> None:
        """Remembers that the admin's next message is a contact list."""
        await self._session.merge(ImportRequest(user_id=user_id, requested_at=now))

    async def take_import_request(self, user_id: int, not_before: datetime) -> bool:
        """Consumes the admin's pending /import if it is recent enough."""
        request = await self._session.get(ImportRequest, user_id)
        if request is None:
            return False
        await self._session.delete(request)
        return request.requested_at >= not_before

    async def has_import_request(self, user_id: int) -> bool:
        """True when the admin typed /import and has not sent the list yet."""
        return await self._session.get(ImportRequest, user_id) is not None


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """The items in slices of CHUNK (bound parameters per statement stay bounded)."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
