"""Helpers for owner-facing tests: seed answers through the repositories, act as staff."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from storage.db import Database
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext

ROLES = ("outsider", "viewer", "admin", "owner")


async def seed_answers(
    db: Database,
    scores: Sequence[int],
    *,
    survey_slug: str = "nps",
    first_user: int = 10_000,
    agent: str | None = None,
    source: str | None = None,
    language: str = "en",
    why: str | None = None,
    improve: str | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Stores one answered response per score (through the same repositories the bot uses)."""
    ids = []
    async with db.transaction() as store:
        survey = await store.surveys.by_slug(survey_slug) or await store.surveys.ensure_default()
        for offset, score in enumerate(scores):
            user_id = first_user + offset
            person = await store.respondents.touch(
                Profile(user_id, user_id, f"User{user_id}", None, language)
            )
            response = await store.responses.start(
                survey_id=survey.id,
                respondent_id=person.id,
                chat_id=user_id,
                language=language,
                context=AnswerContext(agent=agent, source=source),
                asked_at=at,
            )
            await store.responses.record_score(response.id, score, at=at)
            if why is not None or improve is not None:
                await store.responses.record_why(response.id, why)
                await store.responses.record_improve(response.id, improve)
            ids.append(response.id)
    return ids


async def seed_invitations(db: Database, count: int, *, first_user: int = 50_000) -> list[int]:
    """Stores surveys sent but not answered (they count in the response rate); their ids."""
    ids = []
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        for offset in range(count):
            user_id = first_user + offset
            person = await store.respondents.touch(Profile(user_id, user_id, None, None, "en"))
            response = await store.responses.start(
                survey_id=survey.id,
                respondent_id=person.id,
                chat_id=user_id,
                language="en",
                context=AnswerContext(),
            )
            ids.append(response.id)
    return ids


async def make_survey(db: Database, slug: str, name: str, **values: Any) -> int:
    """Adds a survey."""
    async with db.transaction() as store:
        survey = await store.surveys.add(slug=slug, name=name, **values)
        return survey.id


async def grant(db: Database, user_id: int, role: str) -> None:
    """Gives a role directly in the database (the /grant command has its own tests)."""
    async with db.transaction() as store:
        await store.staff.grant(user_id, role, granted_by=0)
