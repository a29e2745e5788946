"""Scenario helpers shared by the handler and end-to-end tiers: what the database holds,
and a user starting the survey (through the emulator's users, whichever tier drives them)."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import Response
from storage.outbox_models import KeptReplies
from storage.repos.respondents import Person

TOKEN = "123456:TEST-token"
OWNER_ID = 900
POLL_INTERVAL = 0.02  # seconds between checks of a condition that has a deadline
QUESTION = "How likely are you to recommend Acme to a friend or colleague?"


async def responses_of(db: Database, user_id: int) -> list[Response]:
    """All responses of the person with this Telegram user id, oldest first."""
    async with db.snapshot() as store:
        person = await store.respondents.person_of(user_id)
        if person is None:
            return []
        session = store.responses._session
        rows = await session.scalars(
            select(Response).where(Response.respondent_id == person).order_by(Response.id)
        )
        return list(rows.all())


async def respondent_of(db: Database, user_id: int) -> Person | None:
    """The person with this Telegram user id, as stored."""
    async with db.snapshot() as store:
        return await store.respondents.by_telegram(user_id)


async def person_id(db: Database, user_id: int) -> int:
    """The internal id of the person with this Telegram user id (never the same number)."""
    async with db.snapshot() as store:
        found = await store.respondents.person_of(user_id)
    assert found is not None, f"Telegram user {user_id} never wrote to the bot"
    return found


async def add_survey(db: Database, **values: Any) -> int:
    """Inserts a survey directly (the admin dialog is tested elsewhere)."""
    async with db.transaction() as store:
        survey = await store.surveys.add(**values)
        return survey.id


async def wait_for(condition: Any, what: str, within: float = 5.0) -> Any:
    """Polls a condition (its result plain or awaitable) until it is truthy, with a
    deadline (no fixed sleeps); the result."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        await asyncio.sleep(POLL_INTERVAL)


async def wait_db(db: Database, probe: Any, within: float = 5.0) -> Any:
    """Polls an async probe of the database until it returns something truthy."""
    return await wait_for(lambda: probe(db), "database condition", within)


async def start_survey(user: Any, question_fragment: str = QUESTION) -> Any:
    """Sends /start and returns the question message with its 0–10 keyboard."""
    user.send("/start")
    return await user.wait_for_message(lambda m: question_fragment in m.text)


async def give_score(user: Any, score: int, follow_up: str) -> Any:
    """Starts the survey, taps a score and returns the follow-up question message."""
    question = await start_survey(user)
    user.press(question, str(score))
    return await user.wait_for_message(lambda m: follow_up in m.text)


async def outbox_rows(db: Database) -> int:
    """How many units of work still have replies kept in the outbox (bot/outbox.py)."""
    async with db.snapshot() as store:
        session = store.responses._session
        return int(await session.scalar(select(func.count()).select_from(KeptReplies)) or 0)


async def no_outbox_rows(db: Database) -> bool:
    """True once every kept reply was sent (a probe for wait_db)."""
    return await outbox_rows(db) == 0
