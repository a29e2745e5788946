"""Starting a conversation: what /start looks up first, opening a response at the score
step, and finding the person's open one again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, literal_column, not_, select, true, update

from storage.attributes import Attributes, parse_attributes
from storage.models import OPEN_STEPS, Channel, Respondent, StaffMember, Step, utcnow
from storage.repos.anonymity import new_public_id
from storage.repos.response_rows import (
    OPEN_STEP_LIST,
    RESPONSES,
    ROW_FIELDS,
    WITH_SURVEY,
    ResponseReader,
    ResponseRow,
    constant,
    param,
)
from storage.repos.stats import segments_of
from storage.statements import same

# Channels whose answers replace each other: a plain /start or a deep link. Every
# broadcast (and any future invitation) is its own interaction and always counts.
REPLACEABLE_CHANNELS = frozenset({"start"})


@dataclass(frozen=True)
class Door:
    """How a person came to a survey's question; one counted answer per person, survey and
    door within SURVEY_COOLDOWN_DAYS.

    Plain `/start` and a deep link without tags share the door ("start", "", "", ""); a deep
    link with another source, agent or campaign tag is another door.
    """

    channel: str
    source: str
    agent: str
    campaign: str


@dataclass(frozen=True)
class Previous:
    """What /start needs to know before asking: a team member? an answer to replace?"""

    role: str | None = None  # the granted staff role ("viewer" / "admin"), or None
    answer_id: int | None = None
    scored_at: datetime | None = None

    @property
    def team_member(self) -> bool:
        """Whether the person has a granted staff role."""
        return self.role is not None


@dataclass(frozen=True)
class AnswerContext:
    """Where an answer came from: deep-link tags, the door (`channel`: "start", …) and the
    messaging channel it is given through (`messenger`: "telegram", "whatsapp", "web")."""

    source: str | None = None
    agent: str | None = None
    campaign: str | None = None
    start_payload: str | None = None
    payload_unknown: bool = False
    channel: str = "start"
    messenger: str = Channel.TELEGRAM.value

    @property
    def door(self) -> Door | None:
        """The door answers through it replace each other; None when each one counts."""
        if self.channel not in REPLACEABLE_CHANNELS:
            return None
        return Door(self.channel, self.source or "", self.agent or "", self.campaign or "")


_R = RESPONSES
_OPEN_FOR = same(
    WITH_SURVEY.where(
        _R.c.respondent_id == bindparam("respondent_id"), _R.c.step.in_(OPEN_STEP_LIST)
    )
    .order_by(_R.c.id.desc())
    .limit(1),
    "respondent_id",
)
_INSERT_COLUMNS = tuple(name for name in ROW_FIELDS if name != "id")
_INSERT = same(
    insert(_R).values({name: bindparam(name) for name in _INSERT_COLUMNS}).returning(_R.c.id),
    *_INSERT_COLUMNS,
)
_CLOSE_OPEN = same(
    update(_R)
    .where(_R.c.respondent_id == bindparam("respondent_id"), _R.c.step.in_(OPEN_STEP_LIST))
    .values(step=constant(Step.CLOSED.value)),
    "respondent_id",
)
# Asked on /start: the answer this person last gave through this door, and the staff role
# of the Telegram user if any (one statement; ix_responses_respondent_step finds the
# person's rows; the role also serves the command-menu refresh that follows /start,
# handlers/access.py). `survey_id + 0` keeps SQLite off ix_responses_survey_scored, which
# would walk every answer to the survey since `since` (all respondents'), not just this
# person's few rows. A NULL `since` (SURVEY_COOLDOWN_DAYS = 0) finds no answer: every
# answer counts.
_STAFF = cast(Table, StaffMember.__table__)
_PREVIOUS = (
    select(_R.c.id, _R.c.scored_at)
    .where(
        _R.c.respondent_id == bindparam("respondent_id"),
        _R.c.survey_id + literal_column("0") == bindparam("survey_id"),
        _R.c.channel == bindparam("channel"),
        func.coalesce(_R.c.source, literal_column("''")) == bindparam("source"),
        func.coalesce(_R.c.agent, literal_column("''")) == bindparam("agent"),
        func.coalesce(_R.c.campaign, literal_column("''")) == bindparam("campaign"),
        _R.c.scored_at >= bindparam("since"),
        _R.c.superseded_by.is_(None),
    )
    .order_by(_R.c.scored_at.desc(), _R.c.id.desc())
    .limit(1)
    .subquery("p")
)
_ONE_ROW = select(literal_column("1").label("one")).subquery("x")
_BEFORE_START = same(
    select(
        select(_STAFF.c.role).where(_STAFF.c.user_id == bindparam("user_id")).scalar_subquery(),
        _PREVIOUS.c.id,
        _PREVIOUS.c.scored_at,
    ).select_from(_ONE_ROW.outerjoin(_PREVIOUS, true())),
    "respondent_id",
    "survey_id",
    "channel",
    "source",
    "agent",
    "campaign",
    "since",
    "user_id",
)
# Someone who pressed an eNPS link (storage/repos/audience.py leaves them out of customer
# broadcasts while they have no named answer).
_PEOPLE = cast(Table, Respondent.__table__)
_MARK_ENPS_LINK = same(
    update(_PEOPLE)
    .where(_PEOPLE.c.id == bindparam("respondent_id"), not_(_PEOPLE.c.enps_link))
    .values(enps_link=true()),
    "respondent_id",
)


class ResponseStarts(ResponseReader):
    """Opens responses and finds a person's open one (part of `ResponseRepo`).

    Anonymous (eNPS) responses are handled here too, so no caller can store an employee's
    identity by mistake: `start` strips it and points an anonymous thread at the row, and
    `open_for` / `belongs_to` follow that thread (see storage/repos/anonymity.py).
    """

    async def open_for(self, respondent_id: int) -> ResponseRow | None:
        """The respondent's unfinished response, newest first (anonymous ones included)."""
        response = self._row(await self._driver.fetchrow(_OPEN_FOR, respondent_id))
        if response is not None:
            return response
        # `start` closes the other kind, so at most one of the two is open.
        thread_response = await self._anonymity.thread_response(respondent_id)
        if thread_response is None:
            return None
        response = await self.get(thread_response)
        return response if response is not None and response.step in OPEN_STEPS else None

    async def before_start(
        self,
        respondent_id: int,
        survey_id: int,
        door: Door | None,
        since: datetime | None,
        user_id: int | None,
    ) -> Previous:
        """The staff role (None: none) of the Telegram user `user_id` (the team is Telegram
        accounts), and the person's latest counted answer to the
        survey through the door scored since `since` (None: no answer is replaced)."""
        driver = self._driver
        if door is None:
            since = None
            door = Door("", "", "", "")
        row = await driver.fetchrow(
            _BEFORE_START,
            respondent_id,
            survey_id,
            door.channel,
            door.source,
            door.agent,
            door.campaign,
            driver.stamp(since),
            user_id,
        )
        assert row is not None  # one row, always
        role, answer_id, scored_at = row
        return Previous(role, answer_id, driver.moment(scored_at))

    async def belongs_to(self, response: ResponseRow, respondent_id: int | None) -> bool:
        """True when the response is the person's (for anonymous ones: their open thread);
        False for no person (a button pressed outside a private chat)."""
        if respondent_id is None:
            return False
        if response.respondent_id is not None:
            return response.respondent_id == respondent_id
        return await self._anonymity.owns(respondent_id, response.id)

    async def start(
        self,
        *,
        survey_id: int,
        respondent_id: int,
        chat_id: int | None,  # None: the person has no Telegram chat (a web link)
        language: str,
        context: AnswerContext,
        asked_at: datetime | None = None,
        anonymous: bool | None = None,
        replaces: int | None = None,
        invite_pending: bool = False,
        attributes: Mapping[str, str] | Attributes | None = None,
    ) -> ResponseRow:
        """Opens a response at the score step, closing any older unfinished one.

        `replaces` names the person's answer this one will replace once scored; then, and
        with `invite_pending` (a team member), the invitation is counted with the score,
        not now: a question asked again is no new invitation, an owner's test is none.

        `attributes`: an invitation's attributes as the CRM sent them, e.g.
        `{"agent": "olga", "source": "call", "campaign": "dec", "order_id": "A-17",
        "region": "north"}` (or already parsed by storage.attributes.parse_attributes).
        They are checked by that function (InvalidAttributes names a bad one, and nothing
        is written); agent, source and campaign, when given, take the place of `context`'s
        and are counted in their /nps segments; the order id and up to 20 custom ones are
        stored in `responses.attributes`, which exports, /comments and alerts show.

        For an anonymous (eNPS) survey the row gets no respondent, chat, payload and no
        tag or attribute at all (source, agent, campaign, order id…: a per-employee link or
        invitation would name the employee), and a random public id instead of an order
        (`public_id`); the user finds it again through an anonymous thread keyed by a
        salted hash.
        """
        given = attributes if isinstance(attributes, Attributes) else parse_attributes(attributes)
        if anonymous is None:  # callers holding the survey pass its kind's answer
            anonymous = await self._anonymity.is_anonymous(survey_id)
        await self._driver.execute(_CLOSE_OPEN, respondent_id)
        await self._anonymity.close_for_user(respondent_id)
        # Unlinks conversations nobody finished, whoever they were (no scheduler needed).
        await self._anonymity.expire_abandoned()
        agent = None if anonymous else given.agent or context.agent
        source = None if anonymous else given.source or context.source
        campaign = None if anonymous else given.campaign or context.campaign
        response = ResponseRow(
            id=0,
            survey_id=survey_id,
            respondent_id=None if anonymous else respondent_id,
            chat_id=None if anonymous else chat_id,
            step=Step.SCORE.value,
            language=language,
            score=None,
            why=None,
            improve=None,
            source=source,
            agent=agent,
            campaign=campaign,
            start_payload=None if anonymous else context.start_payload,
            payload_unknown=context.payload_unknown,
            channel=context.channel,
            messenger=context.messenger,
            prompt_message_id=None,
            # Anonymous: the day from the start, so no export shows an open answer's minute.
            asked_at=self._anonymity.day_of(asked_at or utcnow())
            if anonymous
            else asked_at or utcnow(),
            scored_at=None,
            why_at=None,
            improve_at=None,
            completed_at=None,
            replaces_id=None if anonymous else replaces,
            invite_pending=invite_pending or (replaces is not None and not anonymous),
            public_id=new_public_id() if anonymous else None,
            attributes=None if anonymous else given.stored(),
        )
        driver = self._driver
        values = [param(driver, getattr(response, name)) for name in _INSERT_COLUMNS]
        inserted = await driver.fetchrow(_INSERT, *values)
        assert inserted is not None  # RETURNING id
        response.id = inserted[0]
        if anonymous:
            await self._anonymity.open_thread(respondent_id, response.id, survey_id)
            # An employee: kept out of customer broadcasts unless they also answer as one.
            await self._driver.execute(_MARK_ENPS_LINK, respondent_id)
        if not response.invite_pending:
            await self._stats.count_invited(
                survey_id,
                response.asked_at,
                segments_of(agent, source, language, campaign, context.messenger),
            )
        return response
