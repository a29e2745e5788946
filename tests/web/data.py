"""Answers written through the store, as the conversation writes them (start, then score)."""

from __future__ import annotations

from datetime import datetime

from storage.db import Database
from storage.repos.respondents import Profile
from storage.repos.response_start import AnswerContext


async def add_survey(db: Database, slug: str, name: str, kind: str = "nps") -> int:
    """A new survey's id."""
    async with db.transaction() as store:
        return (await store.surveys.add(slug=slug, name=name, kind=kind)).id


async def default_survey(db: Database) -> int:
    """The default survey's id (made at start)."""
    async with db.snapshot() as store:
        survey = await store.surveys.default()
    assert survey is not None
    return survey.id


async def asked(
    db: Database,
    survey_id: int,
    user_id: int,
    *,
    at: datetime | None = None,
    agent: str | None = None,
    source: str | None = None,
    replaces: int | None = None,
) -> int:
    """A person (Telegram user `user_id`) is asked the survey's question; the response id."""
    async with db.transaction() as store:
        person = await store.respondents.touch(Profile(user_id, user_id, "Ann", None, "en"))
        response = await store.responses.start(
            survey_id=survey_id,
            respondent_id=person.id,
            chat_id=user_id,
            language="en",
            context=AnswerContext(agent=agent, source=source),
            asked_at=at,
            replaces=replaces,
        )
        return response.id


async def score(db: Database, response_id: int, value: int, *, at: datetime | None = None) -> None:
    """The person taps a score (replacing the answer their response replaces, if any)."""
    async with db.transaction() as store:
        row = await store.responses.get(response_id)
        assert row is not None
        assert await store.responses.record_score(row, value, at=at)
        await store.responses.supersede_replaced(row)


async def answered(
    db: Database,
    survey_id: int,
    user_id: int,
    value: int,
    *,
    at: datetime | None = None,
    agent: str | None = None,
    source: str | None = None,
) -> int:
    """Asked and scored at `at`; the response id."""
    response_id = await asked(db, survey_id, user_id, at=at, agent=agent, source=source)
    await score(db, response_id, value, at=at)
    return response_id
