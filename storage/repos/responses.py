"""Responses: each answer with its context, and the conversation step it is at."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from storage.driver import DriverSQL
from storage.models import OPEN_STEPS, Response, Step, utcnow
from storage.repos.privacy import AnonymityRepo
from storage.repos.stats import StatsRepo, segments_of

# The survey path's statements, as driver SQL (storage/driver.py: why).
_OPEN_FOR = (
    select(Response)
    .where(Response.respondent_id == bindparam("respondent_id"), Response.step.in_(OPEN_STEPS))
    .order_by(Response.id.desc())
    .limit(1)
)
_OPEN_STEP_LIST = ", ".join(f"'{step.value}'" for step in OPEN_STEPS)
_CLOSE_OPEN = (
    f"UPDATE responses SET step = '{Step.CLOSED.value}' "
    f"WHERE respondent_id = $1 AND step IN ({_OPEN_STEP_LIST})"
)
_SET_PROMPT = "UPDATE responses SET prompt_message_id = $2 WHERE id = $1"
_SCORE = (
    f"UPDATE responses SET score = $2, scored_at = $3, step = '{Step.WHY.value}' "
    f"WHERE id = $1 AND step = '{Step.SCORE.value}' "
    "RETURNING survey_id, agent, source, language"
)


def _split(response: Response | int) -> tuple[int, Response | None]:
    """The id, and the loaded row when the caller passed one (kept current by updates)."""
    if isinstance(response, Response):
        return response.id, response
    return response, None


@functools.cache
def _advance_statement(columns: tuple[str, ...]) -> str:
    """`UPDATE … SET <columns> WHERE id = $1 AND step = $2`, written once per column set."""
    sets = ", ".join(f"{name} = ${n}" for n, name in enumerate(columns, start=3))
    return f"UPDATE responses SET {sets} WHERE id = $1 AND step = $2"


@dataclass(frozen=True)
class Context:
    """Where an answer came from (deep-link tags and channel)."""

    source: str | None = None
    agent: str | None = None
    campaign: str | None = None
    start_payload: str | None = None
    payload_unknown: bool = False
    channel: str = "start"


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

    async def get(self, response_id: int) -> Response | None:
        """The response with this id."""
        return await self._session.get(Response, response_id)

    async def open_for(self, respondent_id: int) -> Response | None:
        """The respondent's unfinished response, newest first (anonymous ones included)."""
        response = await self._session.scalar(_OPEN_FOR, {"respondent_id": respondent_id})
        if response is not None:
            return response
        # `start` closes the other kind, so at most one of the two is open.
        thread_response = await self._anonymity.thread_response(respondent_id)
        if thread_response is None:
            return None
        response = await self._session.get(Response, thread_response)
        return response if response is not None and response.step in OPEN_STEPS else None

    async def belongs_to(self, response: Response, user_id: int) -> bool:
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
        context: Context,
        asked_at: datetime | None = None,
    ) -> Response:
        """Opens a response at the score step, closing any older unfinished one.

        For an anonymous (eNPS) survey the row gets no respondent, chat, agent or payload
        (the agent tag of a per-employee link would name the employee); the user finds it
        again through an anonymous thread keyed by a salted hash.
        """
        anonymous = await self._anonymity.is_anonymous(survey_id)
        await self._driver.execute(_CLOSE_OPEN, respondent_id)
        await self._anonymity.close_for_user(respondent_id)
        # Unlinks conversations nobody finished, whoever they were (no scheduler needed).
        await self._anonymity.expire_abandoned()
        agent = None if anonymous else context.agent
        response = Response(
            survey_id=survey_id,
            respondent_id=None if anonymous else respondent_id,
            chat_id=None if anonymous else chat_id,
            step=Step.SCORE,
            language=language,
            source=context.source,
            agent=agent,
            campaign=context.campaign,
            start_payload=None if anonymous else context.start_payload,
            payload_unknown=context.payload_unknown,
            channel=context.channel,
            asked_at=asked_at or utcnow(),
        )
        self._session.add(response)
        await self._session.flush()
        if anonymous:
            await self._anonymity.open_thread(respondent_id, response.id, survey_id)
        await self._stats.count_invited(
            survey_id,
            asked_at or response.asked_at,
            segments_of(agent, context.source, language),
        )
        return response

    async def _advance(self, response: Response | int, expected: Step, **values: object) -> bool:
        """Moves a response on only if it is still at `expected` (the first writer wins);
        a loaded row passed in shows the new values."""
        response_id, loaded = _split(response)
        driver = self._driver
        params = [
            driver.stamp(v) if isinstance(v, datetime) else str(v) if isinstance(v, Step) else v
            for v in values.values()
        ]
        changed = await driver.execute(
            _advance_statement(tuple(values)), response_id, expected.value, *params
        )
        done = bool(changed)
        if done and loaded is not None:
            # Committed state, not attribute sets: a set would mark the row dirty and
            # write it again at the commit.
            for name, value in values.items():
                set_committed_value(loaded, name, value)
        return done

    async def record_score(
        self, response: Response | int, score: int, *, at: datetime | None = None
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
        row = await self._driver.fetchrow(_SCORE, response_id, score, self._driver.stamp(now))
        if row is None:
            return False
        survey_id, agent, source, language = row
        if thread is not None:
            await self._anonymity.mark_answered(thread)
        await self._stats.count_score(survey_id, now, segments_of(agent, source, language), score)
        if loaded is not None:
            for name, value in (("score", score), ("scored_at", now), ("step", Step.WHY)):
                set_committed_value(loaded, name, value)
        return True

    async def record_why(self, response: Response | int, text: str | None) -> bool:
        """Stores the reason for the score (None when skipped)."""
        return await self._advance(
            response, Step.WHY, why=text, why_at=utcnow(), step=Step.IMPROVE
        )

    async def record_improve(self, response: Response | int, text: str | None) -> bool:
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
                await self._session.refresh(loaded)
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

    async def refresh(self, response: Response) -> Response:
        """Re-reads a response after a conditional update."""
        await self._session.refresh(response)
        return response

    async def set_language(self, response_id: int, language: str) -> None:
        """Records the language the respondent switched to mid-survey."""
        await self._session.execute(
            update(Response).where(Response.id == response_id).values(language=language)
        )
