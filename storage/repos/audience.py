"""Who a broadcast may reach: segments, fatigue rules, and the imported contacts' attributes.

The audience is every customer who pressed Start (a Telegram address) or wrote on WhatsApp
or was invited there (a WhatsApp address; Telegram wins for a person with both,
storage/repos/whatsapp_outbound.py) and has neither sent /stop nor blocked the bot; the
team (owners in ADMIN_IDS, admins, viewers) and employees who came only through an eNPS
link are not customers and are never messaged.
Imported contacts (`contacts`) add attributes — language, source, agent, name — and wait
there until the person presses Start: a bot cannot write first, so nobody who never
started is ever messaged. Contacts, owners and staff are Telegram user ids: they are
matched with the people's Telegram addresses (text), never with the internal ids.
Importing the lists: storage/repos/contacts.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement as ColumnExpr

from storage.broadcast_models import BroadcastRecipient, Contact, RecipientStatus
from storage.models import Address, Channel, Respondent, Response, StaffMember, Survey
from storage.tables import table_of

R = table_of(Respondent)
# The address broadcasts are sent to: the person's Telegram one, else their WhatsApp one.
T = table_of(Address).alias("telegram")
_OTHER = table_of(Address).alias("other_telegram")
C = table_of(Contact)
A = table_of(Response)
S = table_of(StaffMember)

# Score ranges of the last-answer groups (NPS: promoters 9–10, passives 7–8, detractors 0–6).
GROUPS: dict[str, tuple[int, int]] = {
    "promoter": (9, 10),
    "passive": (7, 8),
    "detractor": (0, 6),
}
# The same groups on the CSAT (1–5) and CES (1–7) scales: high, middle, low (nps/scales.py,
# which storage cannot import; tests/handlers/test_csat_ces.py checks that they agree).
KIND_GROUPS: dict[str, dict[str, tuple[int, int]]] = {
    "csat": {"promoter": (4, 5), "passive": (3, 3), "detractor": (1, 2)},
    "ces": {"promoter": (5, 7), "passive": (4, 4), "detractor": (1, 3)},
}
SV = table_of(Survey)
# The reasons someone in a segment is not messaged, in the order they are checked;
# "whatsapp_off": reached only on WhatsApp, which this bot has no settings for (now).
EXCLUSIONS = ("whatsapp_off", "unreachable", "unsubscribed", "same_survey", "any_survey")
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
    """Who is held back: quiet periods (the same survey within `survey_days`, any survey
    within `any_days`) and, with `whatsapp` False (no WHATSAPP_* settings), the people
    reached only on WhatsApp — so switching WhatsApp off after using it leaves them out
    of counts and sends ("whatsapp_off") instead of failing each send."""

    survey_days: int = 90
    any_days: int = 7
    whatsapp: bool = True


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
class Eligibility:
    """Whether a respondent may get a survey now, and what the message needs to know."""

    reason: str  # "eligible" or one of EXCLUSIONS
    language: str | None  # chosen with /language, else imported
    telegram_language: str | None
    source: str | None
    agent: str | None
    first_name: str | None


def language_expr() -> ColumnExpr[Any]:
    """A respondent's language: chosen with /language, else imported, else Telegram's."""
    return func.coalesce(
        R.c.language_override, C.c.language, func.lower(func.substr(R.c.telegram_language, 1, 2))
    )


def _groups_case(ranges: dict[str, tuple[int, int]]) -> Any:
    """The group of A's score by one kind's ranges."""
    return case(
        *((A.c.score.between(low, high), literal(group)) for group, (low, high) in ranges.items())
    )


def _last_group() -> Any:
    """The group of the respondent's latest scored answer (any survey), on its survey's
    own scale: a CSAT 5 is a promoter, not an NPS detractor."""
    by_kind = case(
        *((SV.c.kind == kind, _groups_case(ranges)) for kind, ranges in KIND_GROUPS.items()),
        else_=_groups_case(GROUPS),
    )
    return (
        select(by_kind)
        .select_from(A.join(SV, SV.c.id == A.c.survey_id))
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
        terms.append(_last_group() == segment.group)
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
    """The first reason a respondent may not get this survey now, or "eligible" (the
    address T they are messaged at must be in the query's FROM)."""
    whens: list[tuple[ColumnElement[bool], str]] = [
        (R.c.unreachable.is_(True), "unreachable"),
        (R.c.subscribed.is_(False), "unsubscribed"),
    ]
    if not fatigue.whatsapp:
        whens.insert(0, (T.c.channel == Channel.WHATSAPP.value, "whatsapp_off"))
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


def _as_address(user_id: Any) -> Any:
    """A Telegram user id column as address text (the index on addresses stays usable)."""
    return cast(user_id, String(64))


def team_expr(owners: Collection[int]) -> ColumnElement[bool]:
    """True for the team: owners (ADMIN_IDS) and everyone with a granted role (both are
    Telegram user ids, matched with the person's Telegram address)."""
    on_telegram = T.c.channel == Channel.TELEGRAM.value  # a wa_id is no Telegram user id
    staff = and_(on_telegram, exists().where(_as_address(S.c.user_id) == T.c.address))
    if not owners:
        return staff
    owner = and_(on_telegram, T.c.address.in_([str(owner) for owner in sorted(owners)]))
    return or_(owner, staff)


def employee_expr() -> ColumnElement[bool]:
    """True for employees who came only through an eNPS link (no named answer at all)."""
    named = exists().where(A.c.respondent_id == R.c.id)
    return and_(R.c.enps_link.is_(True), ~named)


def customer_expr(owners: Collection[int]) -> ColumnElement[bool]:
    """True for customers: the audience of a customer broadcast."""
    return and_(~team_expr(owners), ~employee_expr())


def _reached_by(respondent_id: Any) -> ColumnElement[bool]:
    """T is the address a person is messaged at: Telegram, else WhatsApp."""
    telegram = _OTHER.c.channel == Channel.TELEGRAM.value
    no_telegram = ~exists().where(_OTHER.c.respondent_id == respondent_id, telegram)
    return and_(
        T.c.respondent_id == respondent_id,
        or_(
            T.c.channel == Channel.TELEGRAM.value,
            and_(T.c.channel == Channel.WHATSAPP.value, T.c.chat.is_not(None), no_telegram),
        ),
    )


def _contact_of() -> ColumnElement[bool]:
    """The imported contact of a Telegram address (contacts are Telegram user ids)."""
    return and_(T.c.channel == Channel.TELEGRAM.value, _as_address(C.c.user_id) == T.c.address)


def _audience_from() -> Any:
    """People with an address to message, with their imported contact row if any."""
    return R.join(T, _reached_by(R.c.id)).outerjoin(C, _contact_of())


def audience_from() -> Any:
    """What segments, `customer_expr` and `exclusion_expr` select from (respondents R, their
    Telegram address T, their imported contact C), for other audiences (autopilot runs)."""
    return _audience_from()


def standing_from(recipients: Any, respondent_id: Any) -> Any:
    """`recipients` with their person (R), Telegram address and imported contact (C), as
    `standing_columns` reads them; a forgotten person's columns are NULL."""
    return (
        recipients.outerjoin(R, R.c.id == respondent_id)
        .outerjoin(T, _reached_by(R.c.id))
        .outerjoin(C, _contact_of())
    )


def _started(user_id: Any) -> ColumnElement[bool]:
    """True when the Telegram user has pressed Start (a person has their address)."""
    address = table_of(Address)
    return exists().where(
        address.c.channel == Channel.TELEGRAM.value, address.c.address == _as_address(user_id)
    )


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
        terms: list[ColumnElement[bool]] = [~_started(C.c.user_id)]
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
                cast(T.c.chat, BigInteger),
                literal(RecipientStatus.PENDING.value),
                literal(0),
            )
            .select_from(_audience_from())
            .where(segment_filter(segment), customer_expr(owners), eligible)
        )
        table = table_of(BroadcastRecipient)
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


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """The items in slices of CHUNK (bound parameters per statement stay bounded)."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
