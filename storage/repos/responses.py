"""Responses: each answer with its context, and the conversation step it is at."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OPEN_STEPS, Response, Step, utcnow
from storage.repos.stats import StatsRepo, segments_of


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
    """Creates responses and moves them through their steps atomically."""

    def __init__(self, session: AsyncSession, stats: StatsRepo) -> None:
        self._session = session
        self._stats = stats

    async def get(self, response_id: int) -> Response | None:
        """The response with this id."""
        return await self._session.get(Response, response_id)

    async def open_for(self, respondent_id: int) -> Response | None:
        """The respondent's unfinished response, newest first."""
        return await self._session.scalar(
            select(Response)
            .where(Response.respondent_id == respondent_id, Response.step.in_(OPEN_STEPS))
            .order_by(Response.id.desc())
            .limit(1)
        )

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
        """Opens a response at the score step, closing any older unfinished one."""
        await self._session.execute(
            update(Response)
            .where(Response.respondent_id == respondent_id, Response.step.in_(OPEN_STEPS))
            .values(step=Step.CLOSED)
        )
        response = Response(
            survey_id=survey_id,
            respondent_id=respondent_id,
            chat_id=chat_id,
            step=Step.SCORE,
            language=language,
            source=context.source,
            agent=context.agent,
            campaign=context.campaign,
            start_payload=context.start_payload,
            payload_unknown=context.payload_unknown,
            channel=context.channel,
            asked_at=asked_at or utcnow(),
        )
        self._session.add(response)
        await self._session.flush()
        await self._stats.count_invited(
            survey_id,
            asked_at or response.asked_at,
            segments_of(context.agent, context.source, language),
        )
        return response

    async def _advance(self, response_id: int, expected: Step, **values: object) -> bool:
        """Moves a response on only if it is still at `expected` (the first writer wins)."""
        result = await self._session.execute(
            update(Response)
            .where(Response.id == response_id, Response.step == expected)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def record_score(
        self, response_id: int, score: int, *, at: datetime | None = None
    ) -> bool:
        """Stores and counts the score (valid on its own); False if already scored."""
        now = at or utcnow()
        result = await self._session.execute(
            update(Response)
            .where(Response.id == response_id, Response.step == Step.SCORE)
            .values(score=score, scored_at=now, step=Step.WHY)
            .returning(Response.survey_id, Response.agent, Response.source, Response.language)
            .execution_options(synchronize_session=False)
        )
        row = result.first()
        if row is None:
            return False
        survey_id, agent, source, language = row
        await self._stats.count_score(survey_id, now, segments_of(agent, source, language), score)
        return True

    async def record_why(self, response_id: int, text: str | None) -> bool:
        """Stores the reason for the score (None when skipped)."""
        return await self._advance(
            response_id, Step.WHY, why=text, why_at=utcnow(), step=Step.IMPROVE
        )

    async def record_improve(self, response_id: int, text: str | None) -> bool:
        """Stores what to improve (None when skipped) and completes the response."""
        now = utcnow()
        return await self._advance(
            response_id,
            Step.IMPROVE,
            improve=text,
            improve_at=now,
            completed_at=now,
            step=Step.DONE,
        )

    async def set_prompt_message(self, response_id: int, message_id: int) -> None:
        """Remembers which message carries the score keyboard, to edit it later."""
        await self._session.execute(
            update(Response).where(Response.id == response_id).values(prompt_message_id=message_id)
        )

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
