"""The per-channel histograms (score_counts, dimension "channel") against a recount from the
stored answers, and answers given through another messaging channel, written through the
repositories as that channel's handlers will write them (AnswerContext.messenger)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.models import Response, ScoreCount
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext

Histograms = dict[tuple[int, str, str], list[int]]  # (survey, local day, value) → counters
COUNTERS = ("invited", *(f"c{score}" for score in range(11)))


def _local_day(moment: datetime, tz: tzinfo) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(tz).date().isoformat()


async def recount(db: Database, tz: tzinfo) -> Histograms:
    """The channel histograms as the repositories count answers: a question on its asked
    day (one asked again or asked a team member only once scored), a score on its scored
    day, an answer replaced by a newer one not at all; local days of `tz`."""
    counts: Histograms = defaultdict(lambda: [0] * len(COUNTERS))
    async with db.snapshot() as store:
        rows = await store.responses._session.execute(
            select(
                Response.survey_id,
                Response.messenger,
                Response.asked_at,
                Response.scored_at,
                Response.score,
                Response.invite_pending,
            ).where(Response.superseded_by.is_(None))
        )
        for survey_id, messenger, asked_at, scored_at, score, pending in rows:
            if not pending or score is not None:
                counts[(survey_id, _local_day(asked_at, tz), messenger)][0] += 1
            if score is not None and scored_at is not None:
                counts[(survey_id, _local_day(scored_at, tz), messenger)][1 + score] += 1
    return dict(counts)


async def stored(db: Database, dimension: str = "channel") -> Histograms:
    """The histogram rows of a dimension with anything counted."""
    table = ScoreCount.__table__
    counters = [table.c[name] for name in COUNTERS]
    async with db.snapshot() as store:
        rows = await store.responses._session.execute(
            select(table.c.survey_id, table.c.day, table.c.value, *counters).where(
                table.c.dimension == dimension
            )
        )
        found = {
            (survey_id, _as_text(day), value): [int(n) for n in counts]
            for survey_id, day, value, *counts in rows
        }
    return {key: counts for key, counts in found.items() if any(counts)}


def _as_text(day: Any) -> str:
    return day.isoformat() if isinstance(day, date) else str(day)


async def answer_through(
    db: Database,
    messenger: str,
    user_id: int,
    score: int | None,
    *,
    survey_slug: str = "nps",
    asked: datetime | None = None,
    scored: datetime | None = None,
    **options: Any,
) -> int:
    """An answer given through `messenger` (asked, and scored unless `score` is None) by
    the person with this Telegram id; the response id."""
    async with db.transaction() as store:
        survey = await store.surveys.by_slug(survey_slug) or await store.surveys.ensure_default()
        person = await store.respondents.touch(Profile(user_id, user_id, "Ana", None, "en"))
        response = await store.responses.start(
            survey_id=survey.id,
            respondent_id=person.id,
            chat_id=user_id,
            language="en",
            context=AnswerContext(messenger=messenger),
            asked_at=asked,
            **options,
        )
        if score is not None:
            assert await store.responses.record_score(response, score, at=scored or asked)
            await store.responses.supersede_replaced(response)
        return response.id
