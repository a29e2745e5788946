"""Responses: each answer with its context, and the conversation step it is at."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.models import OPEN_STEPS, Response, Step, utcnow
from storage.repos.privacy import AnonymityRepo, new_public_id
from storage.repos.stats import StatsRepo, segments_of
from storage.repos.surveys import VIEW_COLUMNS, SurveyView, survey_view


@dataclass(slots=True)
class ResponseRow:
    """A response as the conversation handles it: a plain value, not an ORM entity.

    Loaded with driver SQL (storage/driver.py) on every answer, where an entity cost five
    times the statement; the repo keeps it current as it moves the row on. Reports,
    exports and privacy code load entities.
    """

    id: int
    survey_id: int
    respondent_id: int | None
    chat_id: int | None
    step: str
    language: str
    score: int | None
    why: str | None
    improve: str | None
    source: str | None
    agent: str | None
    campaign: str | None
    start_payload: str | None
    payload_unknown: bool
    channel: str
    prompt_message_id: int | None
    asked_at: datetime
    scored_at: datetime | None
    why_at: datetime | None
    improve_at: datetime | None
    completed_at: datetime | None
    replaces_id: int | None
    invite_pending: bool
    # Anonymous answers only: the random id shown instead of `id` (storage/models.py).
    public_id: str | None
    # Its survey, read in the same statement (None when the row was not loaded that way).
    survey: SurveyView | None = field(default=None, repr=False, compare=False)


_ROW_FIELDS = tuple(f.name for f in fields(ResponseRow) if f.name != "survey")
_MOMENTS = frozenset(("asked_at", "scored_at", "why_at", "improve_at", "completed_at"))

# The survey path's statements, as driver SQL (storage/driver.py: why).
# A step needs the response and its survey: one statement reads both.
_WITH_SURVEY = (
    ", ".join(f"r.{name}" for name in _ROW_FIELDS)
    + ", "
    + ", ".join(f"s.{name}" for name in VIEW_COLUMNS)
    + " FROM responses r JOIN surveys s ON s.id = r.survey_id"
)
_GET = f"SELECT {_WITH_SURVEY} WHERE r.id = $1"
_OPEN_STEP_LIST = ", ".join(f"'{step.value}'" for step in OPEN_STEPS)
_OPEN_FOR = (
    f"SELECT {_WITH_SURVEY} "
    f"WHERE r.respondent_id = $1 AND r.step IN ({_OPEN_STEP_LIST}) ORDER BY r.id DESC LIMIT 1"
)
_INSERT_COLUMNS = tuple(name for name in _ROW_FIELDS if name != "id")
_INSERT = (
    f"INSERT INTO responses ({', '.join(_INSERT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(_INSERT_COLUMNS) + 1))}) RETURNING id"
)
_CLOSE_OPEN = (
    f"UPDATE responses SET step = '{Step.CLOSED.value}' "
    f"WHERE respondent_id = $1 AND step IN ({_OPEN_STEP_LIST})"
)
_SET_PROMPT = "UPDATE responses SET prompt_message_id = $2 WHERE id = $1"
_SCORE = (
    f"UPDATE responses SET score = $2, scored_at = $3, step = '{Step.WHY.value}' "
    f"WHERE id = $1 AND step = '{Step.SCORE.value}' "
    "RETURNING survey_id, agent, source, language, asked_at, invite_pending"
)
# Asked on /start: the answer this person last gave through this door, and their staff
# role if any (one statement; ix_responses_respondent_step finds the person's rows; the
# role also serves the command-menu refresh that follows /start, handlers/access.py).
# `+survey_id` keeps SQLite off ix_responses_survey_scored, which would walk every answer
# to the survey since `since` (all respondents'), not just this person's few rows.
# A NULL `since` (SURVEY_COOLDOWN_DAYS = 0) finds no answer: every answer counts.
_BEFORE_START = (
    "SELECT (SELECT role FROM staff WHERE user_id = $1), p.id, p.scored_at "
    "FROM (SELECT 1 AS one) AS x LEFT JOIN ("
    "SELECT id, scored_at FROM responses WHERE respondent_id = $1 AND +survey_id = $2 "
    "AND channel = $3 AND COALESCE(source, '') = $4 AND COALESCE(agent, '') = $5 "
    "AND COALESCE(campaign, '') = $6 AND scored_at >= $7 AND superseded_by IS NULL "
    "ORDER BY scored_at DESC, id DESC LIMIT 1) AS p ON 1 = 1"
)
# Someone who pressed an eNPS link (storage/repos/audience.py leaves them out of customer
# broadcasts while they have no named answer).
_MARK_ENPS_LINK = "UPDATE respondents SET enps_link = TRUE WHERE id = $1 AND NOT enps_link"
# The replaced answer stops counting once the new one is scored (first writer wins).
_SUPERSEDE = (
    "UPDATE responses SET superseded_by = $1 "
    "WHERE id = $2 AND respondent_id = $3 AND superseded_by IS NULL AND scored_at IS NOT NULL "
    "RETURNING survey_id, asked_at, scored_at, score, agent, source, language"
)


def _param(driver: DriverSQL, value: object) -> object:
    """A response column's value as a driver parameter (moments as stored, steps as text)."""
    if isinstance(value, datetime):
        return driver.stamp(value)
    return value.value if isinstance(value, Step) else value


def _split(response: ResponseRow | int) -> tuple[int, ResponseRow | None]:
    """The id, and the loaded row when the caller passed one (kept current by updates)."""
    if isinstance(response, int):
        return response, None
    return response.id, response


@functools.cache
def _advance_statement(columns: tuple[str, ...]) -> str:
    """`UPDATE … SET <columns> WHERE id = $1 AND step = $2`, written once per column set."""
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(columns, start=3))
    return f"UPDATE responses SET {sets} WHERE id = $1 AND step = $2"


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
class Replaced:
    """An answer that stopped counting because a newer one replaced it."""

    id: int
    score: int


@dataclass(frozen=True)
class AnswerContext:
    """Where an answer came from (deep-link tags and channel)."""

    source: str | None = None
    agent: str | None = None
    campaign: str | None = None
    start_payload: str | None = None
    payload_unknown: bool = False
    channel: str = "start"

    @property
    def door(self) -> Door | None:
        """The door answers through it replace each other; None when each one counts."""
        if self.channel not in REPLACEABLE_CHANNELS:
            return None
        return Door(self.channel, self.source or "", self.agent or "", self.campaign or "")


class ResponseRepo:
    """Creates responses and moves them through their steps atomically.

    Anonymous (eNPS) responses are handled here too, so no caller can store an employee's
    identity by mistake: `start` strips it and points an anonymous thread at the row, and
    `open_for` / `belongs_to` follow that thread (see storage/repos/privacy.py).
    """

    def __init__(
        self,
        session: AsyncSession,
        driver: DriverSQL,
        stats: StatsRepo,
        anonymity: AnonymityRepo,
    ) -> None:
        self._session = session
        self._driver = driver
        self._stats = stats
        self._anonymity = anonymity

    async def get(self, response_id: int) -> ResponseRow | None:
        """The response with this id."""
        return self._row(await self._driver.fetchrow(_GET, response_id))

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

    def _row(self, values: tuple[object, ...] | None) -> ResponseRow | None:
        if values is None:
            return None
        driver = self._driver
        columns = len(_ROW_FIELDS)
        row = ResponseRow(*values[:columns])  # type: ignore[arg-type]
        row.survey = survey_view(driver, values[columns:])
        for name in _MOMENTS:
            setattr(row, name, driver.moment(getattr(row, name)))
        row.payload_unknown = bool(row.payload_unknown)
        row.invite_pending = bool(row.invite_pending)
        return row

    async def before_start(
        self, respondent_id: int, survey_id: int, door: Door | None, since: datetime | None
    ) -> Previous:
        """The person's staff role (None: none), and their latest counted answer to the
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
        )
        assert row is not None  # one row, always
        role, answer_id, scored_at = row
        return Previous(role, answer_id, driver.moment(scored_at))

    async def belongs_to(self, response: ResponseRow, user_id: int) -> bool:
        """True when the response is the user's (for anonymous ones: their open thread)."""
        if response.respondent_id is not None:
            return response.respondent_id == user_id
        return await self._anonymity.owns(user_id, response.id)

    async def start(
        self,
        *,
        survey_id: int,
        respondent_id: int,
        chat_id: int,
        language: str,
        context: AnswerContext,
        asked_at: datetime | None = None,
        anonymous: bool | None = None,
        replaces: int | None = None,
        invite_pending: bool = False,
    ) -> ResponseRow:
        """Opens a response at the score step, closing any older unfinished one.

        `replaces` names the person's answer this one will replace once scored; then, and
        with `invite_pending` (a team member), the invitation is counted with the score,
        not now: a question asked again is no new invitation, an owner's test is none.

        For an anonymous (eNPS) survey the row gets no respondent, chat, payload and no
        tag at all (source, agent, campaign: a per-employee link would name the employee),
        and a random public id instead of an order (`public_id`); the user finds it again
        through an anonymous thread keyed by a salted hash.
        """
        if anonymous is None:  # callers holding the survey pass its kind's answer
            anonymous = await self._anonymity.is_anonymous(survey_id)
        await self._driver.execute(_CLOSE_OPEN, respondent_id)
        await self._anonymity.close_for_user(respondent_id)
        # Unlinks conversations nobody finished, whoever they were (no scheduler needed).
        await self._anonymity.expire_abandoned()
        agent = None if anonymous else context.agent
        source = None if anonymous else context.source
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
            campaign=None if anonymous else context.campaign,
            start_payload=None if anonymous else context.start_payload,
            payload_unknown=context.payload_unknown,
            channel=context.channel,
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
        )
        driver = self._driver
        values = [_param(driver, getattr(response, name)) for name in _INSERT_COLUMNS]
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
                segments_of(agent, source, language),
            )
        return response

    async def _advance(
        self, response: ResponseRow | int, expected: Step, **values: object
    ) -> bool:
        """Moves a response on only if it is still at `expected` (the first writer wins);
        a loaded row passed in shows the new values."""
        response_id, loaded = _split(response)
        driver = self._driver
        params = [_param(driver, value) for value in values.values()]
        changed = await driver.execute(
            _advance_statement(tuple(values)), response_id, expected.value, *params
        )
        done = bool(changed)
        if done and loaded is not None:
            for name, value in values.items():
                setattr(loaded, name, value)
        return done

    async def record_score(
        self, response: ResponseRow | int, score: int, *, at: datetime | None = None
    ) -> bool:
        """Stores and counts the score (valid on its own); False if already scored.

        An anonymous survey takes one score per person: the thread's salted hash is
        checked, and marked once the score is stored. Pass the loaded row (rather than its
        id) to have it updated in place.
        """
        response_id, loaded = _split(response)
        now = at or utcnow()
        thread = None
        # A row with a respondent is never anonymous: no thread to look for.
        if loaded is None or loaded.respondent_id is None:
            thread = await self._anonymity.thread_for_response(response_id)
        if thread is not None and not await self._anonymity.may_score(thread):
            return False
        # An anonymous answer's time is stored at the day at once (counted on its day).
        stored = now if thread is None else self._anonymity.day_of(now)
        row = await self._driver.fetchrow(_SCORE, response_id, score, self._driver.stamp(stored))
        if row is None:
            return False
        survey_id, agent, source, language, asked_at, invite_pending = row
        if thread is not None:
            await self._anonymity.mark_answered(thread)
        segments = segments_of(agent, source, language)
        await self._stats.count_score(survey_id, now, segments, score)
        if invite_pending:
            # Counted with the answer, in the same segments (the response rate stays <= 1).
            moment = self._driver.moment(asked_at)
            assert moment is not None  # asked_at is never NULL
            await self._stats.count_invited(survey_id, moment, segments)
        if loaded is not None:
            for name, value in (("score", score), ("scored_at", stored), ("step", Step.WHY)):
                setattr(loaded, name, value)
        return True

    async def supersede_replaced(self, response: ResponseRow) -> Replaced | None:
        """Once `response` is scored, the answer it replaces stops counting: kept, marked
        superseded, and taken out of its day's histogram with its invitation (the new
        answer counted both). None when it replaces nothing (or another answer did)."""
        if response.replaces_id is None or response.respondent_id is None:
            return None
        driver = self._driver
        row = await driver.fetchrow(
            _SUPERSEDE, response.id, response.replaces_id, response.respondent_id
        )
        if row is None:
            return None
        survey_id, asked_at, scored_at, score, agent, source, language = row
        segments = segments_of(agent, source, language)
        asked, scored = driver.moment(asked_at), driver.moment(scored_at)
        assert asked is not None and scored is not None  # a scored row
        await self._stats.count_invited(survey_id, asked, segments, -1)
        await self._stats.count_score(survey_id, scored, segments, score, -1)
        return Replaced(response.replaces_id, score)

    async def record_why(self, response: ResponseRow | int, text: str | None) -> bool:
        """Stores the reason for the score (None when skipped)."""
        return await self._advance(
            response, Step.WHY, why=text, why_at=utcnow(), step=Step.IMPROVE
        )

    async def record_improve(self, response: ResponseRow | int, text: str | None) -> bool:
        """Stores what to improve (None when skipped) and completes the response."""
        now = utcnow()
        done = await self._advance(
            response, Step.IMPROVE, improve=text, improve_at=now, completed_at=now, step=Step.DONE
        )
        response_id, loaded = _split(response)
        if done and (loaded is None or loaded.respondent_id is None):
            # A finished anonymous answer is unlinked at once: its pointer dropped, its
            # times coarsened (no-op for other answers).
            await self._anonymity.release(response_id)
            if loaded is not None:
                await self.refresh(loaded)
        return done

    async def set_prompt_message(self, response_id: int, message_id: int) -> None:
        """Remembers which message carries the score keyboard, to edit it later."""
        await self._driver.execute(_SET_PROMPT, response_id, message_id)

    async def latest_for(self, respondent_id: int) -> Response | None:
        """The respondent's newest response of any step."""
        return await self._session.scalar(
            select(Response)
            .where(Response.respondent_id == respondent_id)
            .order_by(Response.id.desc())
            .limit(1)
        )

    async def refresh(self, response: ResponseRow) -> ResponseRow:
        """Re-reads a response after a conditional update."""
        fresh = await self.get(response.id)
        assert fresh is not None  # responses are never deleted mid-conversation
        for name in _ROW_FIELDS:
            setattr(response, name, getattr(fresh, name))
        return response
