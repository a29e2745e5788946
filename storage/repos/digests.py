"""Daily digest: which recipients got which day's digest, and the comments it lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DigestDelivery, Response, Survey
from storage.repos import upsert_insert


@dataclass(frozen=True)
class DetractorComment:
    """One detractor's answer with text, as the digest lists it."""

    score: int
    survey: str
    agent: str | None
    source: str | None
    why: str | None
    improve: str | None
    scored_at: datetime
    # The survey's kind: a CSAT or CES score is shown with its scale ("2 of 5").
    kind: str = "nps"


class DigestRepo:
    """Claims deliveries (one per recipient and day) and reads what the digest shows."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def claim(self, day: date, user_id: int, at: datetime) -> bool:
        """Records the day's digest as sent to the user; False when someone already did.

        The (day, user_id) primary key is the guarantee: of several replicas (or a replica
        and its restarted self) exactly one insert succeeds.
        """
        insert = upsert_insert(self._dialect)
        stmt = (
            insert(DigestDelivery)
            .values(day=day, user_id=user_id, sent_at=at)
            .on_conflict_do_nothing(index_elements=["day", "user_id"])
        )
        result = await self._session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delivered(self, day: date) -> set[int]:
        """Users whose digest for the day was claimed already."""
        rows = await self._session.scalars(
            select(DigestDelivery.user_id).where(DigestDelivery.day == day)
        )
        return set(rows.all())

    async def detractor_comments(
        self,
        survey_ids: Sequence[int],
        start: datetime,
        end: datetime,
        *,
        limit: int,
        low_to: Mapping[str, int] | None = None,
    ) -> tuple[list[DetractorComment], int]:
        """Detractors scored in [start, end) who wrote why or what to improve, oldest first.

        `low_to`: a survey kind's highest low score (nps/scales.py: CSAT 2, CES 3); a kind
        not in it, or no mapping, counts 0–6 as low (NPS's detractors).
        Returns at most `limit` comments and how many there are in all (for "…and N more").
        """
        kinds = dict(low_to or {})
        low = or_(
            *(and_(Survey.kind == kind, Response.score <= top) for kind, top in kinds.items()),
            and_(Survey.kind.not_in(list(kinds)), Response.score <= 6),
        )
        where = (
            Response.survey_id.in_(survey_ids),
            Response.scored_at >= start,
            Response.scored_at < end,
            low,
            Response.superseded_by.is_(None),  # replaced by a newer answer: not counted
            or_(Response.why.is_not(None), Response.improve.is_not(None)),
        )
        total = await self._session.scalar(
            select(func.count(Response.id))
            .join(Survey, Survey.id == Response.survey_id)
            .where(*where)
        )
        rows = await self._session.execute(
            select(
                Response.score,
                Survey.name,
                Response.agent,
                Response.source,
                Response.why,
                Response.improve,
                Response.scored_at,
                Survey.kind,
            )
            .join(Survey, Survey.id == Response.survey_id)
            .where(*where)
            .order_by(Response.scored_at, Response.id)
            .limit(limit)
        )
        comments = [
            DetractorComment(
                score=int(score or 0),  # never None: the query asks for a low score
                survey=survey,
                agent=agent,
                source=source,
                why=why,
                improve=improve,
                scored_at=scored_at or end,
                kind=kind or "nps",
            )
            for score, survey, agent, source, why, improve, scored_at, kind in rows
        ]
        return comments, int(total or 0)
