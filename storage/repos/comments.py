"""Comments: the free-text "why" and "improve" answers, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Response, Survey
from storage.repos.audience import GROUPS, KIND_GROUPS
from storage.theme_models import ResponseTheme


@dataclass(frozen=True)
class Comment:
    """One answer with a comment, as the team's listing shows it (no respondent identity)."""

    response_id: int
    survey_id: int
    survey_name: str
    score: int
    why: str | None
    improve: str | None
    agent: str | None
    scored_at: datetime
    source: str | None = None
    campaign: str | None = None
    # An invitation's order id and custom attributes (storage/attributes.py).
    attributes: dict[str, str] | None = None
    # The survey's kind ("nps", "csat", "ces"…): the scale the score is read on.
    kind: str = "nps"


@dataclass(frozen=True)
class CommentPage:
    """A slice of the comments and how many match in all."""

    comments: list[Comment]
    total: int


def _has_text(column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
    """A comment counts when it has more than whitespace (a skipped step stores NULL)."""
    return and_(column.is_not(None), func.length(func.trim(column)) > 0)


def _groups_case(ranges: dict[str, tuple[int, int]]) -> Any:
    """The group of the answer's score by one kind's ranges."""
    return case(
        *(
            (Response.score.between(low, high), literal(group))
            for group, (low, high) in ranges.items()
        )
    )


def group_of_score() -> Any:
    """The group ("promoter", "passive", "detractor") of an answer on its own survey's
    scale, as the broadcast segments read it (storage/repos/audience.py): a CSAT 2 is a
    detractor, a CSAT 5 a promoter. Needs Survey joined."""
    return case(
        *((Survey.kind == kind, _groups_case(ranges)) for kind, ranges in KIND_GROUPS.items()),
        else_=_groups_case(GROUPS),
    )


class CommentRepo:
    """Reads answers that carry a comment, filtered by survey, time and score range."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def latest(
        self,
        survey_ids: Sequence[int],
        start: datetime,
        end: datetime,
        *,
        group: str | None = None,
        offset: int = 0,
        limit: int = 5,
        theme: str | None = None,
    ) -> CommentPage:
        """Comments scored in [start, end), newest first, with the total count.

        `group` ("promoter", "passive", "detractor"; None for all) is judged on each
        answer's own survey's scale, so surveys of mixed kinds can be listed together.
        Filters on (survey_id, scored_at), which ix_responses_survey_scored covers, so a
        page stays cheap however many answers pile up.
        """
        conditions: tuple[ColumnElement[bool], ...] = (
            Response.survey_id.in_(survey_ids),
            Response.scored_at >= start,
            Response.scored_at < end,
            Response.score.is_not(None),
            Response.superseded_by.is_(None),  # replaced by a newer answer: not counted
            or_(_has_text(Response.why), _has_text(Response.improve)),
        )
        if theme is not None:
            # `/comments <theme>`: answers whose comments mention it (storage/repos/themes.py).
            conditions += (
                Response.id.in_(
                    select(ResponseTheme.response_id).where(ResponseTheme.theme_key == theme)
                ),
            )
        if group is not None:
            conditions += (group_of_score() == group,)
        total = await self._session.scalar(
            select(func.count())
            .select_from(Response)
            .join(Survey, Survey.id == Response.survey_id)
            .where(*conditions)
        )
        rows = await self._session.execute(
            select(
                Response.id,
                Response.survey_id,
                Survey.name,
                Response.score,
                Response.why,
                Response.improve,
                Response.agent,
                Response.scored_at,
                Response.source,
                Response.campaign,
                Response.attributes,
                Survey.kind,
            )
            .join(Survey, Survey.id == Response.survey_id)
            .where(*conditions)
            # The id breaks ties between answers stored in the same instant, so pages
            # never repeat or skip a row; anonymous answers (all of a day at its start)
            # by their random public id first, so their row ids tell no order.
            .order_by(
                Response.scored_at.desc(),
                Response.public_id.desc().nulls_last(),
                Response.id.desc(),
            )
            .offset(offset)
            .limit(limit)
        )
        comments = [
            Comment(
                response_id=row.id,
                survey_id=row.survey_id,
                survey_name=row.name,
                score=row.score,
                why=row.why,
                improve=row.improve,
                agent=row.agent,
                scored_at=row.scored_at,
                source=row.source,
                campaign=row.campaign,
                attributes=row.attributes,
                kind=row.kind or "nps",
            )
            for row in rows
        ]
        return CommentPage(comments, int(total or 0))
