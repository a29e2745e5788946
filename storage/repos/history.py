"""Back-dated answers (the demo's simulated traffic), written through the survey path's own
repository methods with explicit times: people with their Telegram address, responses,
the per-day histograms and invitations, detractor cases. Every report then counts them as
if they had been given through the bot on those days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos.cases import CaseRepo
from storage.repos.respondent_statements import TELEGRAM, A
from storage.repos.respondents import RespondentRepo
from storage.repos.response_start import AnswerContext
from storage.repos.responses import ResponseRepo


@dataclass(frozen=True)
class PastPerson:
    """Someone who pressed Start at `first_seen` (a private chat: the chat is their id)."""

    telegram_id: int
    first_name: str
    username: str | None
    language_code: str
    first_seen: datetime
    last_seen: datetime
    # Where they last came from (the deep-link tags /start remembers).
    source: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class PastCase:
    """The detractor case of a past answer: open, or resolved by a team member then."""

    resolved_by: int | None = None  # a Telegram user id, as the Resolved button records
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class PastAnswer:
    """One question asked in the past, and how far the person went with it.

    No `scored_at`: never answered. No `why_at`: stopped after the score; no `improve_at`:
    stopped after the reason. A text step's None text is a skipped one.
    """

    telegram_id: int
    survey_id: int
    language: str
    asked_at: datetime
    source: str | None = None
    agent: str | None = None
    start_payload: str | None = None
    score: int | None = None
    scored_at: datetime | None = None
    why: str | None = None
    why_at: datetime | None = None
    improve: str | None = None
    improve_at: datetime | None = None
    case: PastCase | None = None  # detractors: the case their score opened


class HistoryRepo:
    """Writes past people and answers; never commits (the caller's transaction does)."""

    def __init__(
        self,
        session: AsyncSession,
        respondents: RespondentRepo,
        responses: ResponseRepo,
        cases: CaseRepo,
    ) -> None:
        self._session = session
        self._respondents = respondents
        self._responses = responses
        self._cases = cases

    async def taken(self, telegram_ids: Sequence[int]) -> set[int]:
        """Which of these Telegram ids already belong to someone."""
        found: set[int] = set()
        for start in range(0, len(telegram_ids), 500):
            chunk = [str(user_id) for user_id in telegram_ids[start : start + 500]]
            rows = await self._session.scalars(
                select(A.c.address).where(A.c.channel == TELEGRAM, A.c.address.in_(chunk))
            )
            found.update(int(address) for address in rows)
        return found

    async def add_people(self, people: Sequence[PastPerson]) -> dict[int, int]:
        """Adds people seen for the first time; Telegram id → their new (internal) id."""
        rows = [
            {
                "telegram_id": p.telegram_id,
                "first_name": p.first_name,
                "username": p.username,
                "telegram_language": p.language_code,
                "source": p.source,
                "agent": p.agent,
                "started_at": p.first_seen,
                "last_seen_at": p.last_seen,
            }
            for p in people
        ]
        ids = await self._respondents.add_people(rows)
        return {p.telegram_id: person_id for p, person_id in zip(people, ids, strict=True)}

    async def record(self, answer: PastAnswer, person_id: int) -> int:
        """Replays one answer step by step at its own times, as the survey path stores it
        (the question counted as an invitation on its day, the score in its day's
        histogram); the response's id."""
        responses = self._responses
        context = AnswerContext(
            source=answer.source, agent=answer.agent, start_payload=answer.start_payload
        )
        row = await responses.start(
            survey_id=answer.survey_id,
            respondent_id=person_id,
            chat_id=answer.telegram_id,
            language=answer.language,
            context=context,
            asked_at=answer.asked_at,
            anonymous=False,  # customers' surveys only: an eNPS answer has no person
        )
        if answer.score is None or answer.scored_at is None:
            return row.id
        await responses.record_score(row, answer.score, at=answer.scored_at)
        if answer.case is not None:
            case = await self._cases.open(row.id, answer.survey_id, person_id, at=answer.scored_at)
            done = answer.case
            if done.resolved_by is not None and done.resolved_at is not None:
                await self._cases.resolve(case.id, done.resolved_by, at=done.resolved_at)
        if answer.why_at is None:
            return row.id
        await responses.record_why(row, answer.why, at=answer.why_at)
        if answer.improve_at is not None:
            await responses.record_improve(row, answer.improve, at=answer.improve_at)
        return row.id
