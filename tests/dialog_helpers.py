"""Drives a conversation step by step: each expectation waits for a *newer* bot message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.emulator import BotApiEmulator
from bot.emulator.models import ChatMessage
from storage.admin_models import StaffDialog
from storage.db import Database
from storage.models import Survey
from storage.repos.surveys import SurveyView


class Talk:
    """One user's side of a conversation with the bot, with a cursor on its messages."""

    def __init__(self, api: BotApiEmulator, user_id: int, **profile: Any) -> None:
        profile.setdefault("first_name", "Olga")
        profile.setdefault("language_code", "en")
        self.user = api.user(user_id, **profile)
        self.api = api
        self.seen = 0

    async def expect(self, fragment: str) -> ChatMessage:
        """The next bot message (after the last one expected) that contains `fragment`."""
        message = await self.user.wait_for_message(
            lambda m: m.message_id > self.seen and fragment in m.text
        )
        self.seen = message.message_id
        return message

    async def say(self, text: str, expect: str) -> ChatMessage:
        """Sends a message and waits for the reply that contains `expect`."""
        self.user.send(text)
        return await self.expect(expect)

    async def tap(self, message: ChatMessage, button: str, expect: str) -> ChatMessage:
        """Presses a button and waits for the new message that contains `expect`."""
        self.user.press(message, button)
        return await self.expect(expect)

    async def alert(self, message: ChatMessage, button: str) -> str:
        """Presses a button that only answers with a toast or alert; returns its text."""
        query = self.user.press(message, button)
        answer = await self.user.wait_callback_answer(query)
        return answer.text or ""

    async def edited(self, message: ChatMessage, fragment: str) -> ChatMessage:
        """Waits until `message` was edited to contain `fragment`."""
        return await self.user.wait_for_message(
            lambda m: m.message_id == message.message_id and fragment in m.text
        )


async def survey_by_slug(db: Database, slug: str) -> SurveyView | None:
    """The stored survey with this deep-link name."""
    async with db.snapshot() as store:
        return await store.surveys.by_slug(slug)


async def dialog_of(db: Database, user_id: int) -> StaffDialog | None:
    """The user's stored dialog row."""
    async with db.snapshot() as store:
        return await store.dialogs.of(user_id)


async def all_surveys(db: Database) -> list[Survey]:
    """Every stored survey."""
    async with db.snapshot() as store:
        session = store.responses._session
        return list((await session.scalars(select(Survey).order_by(Survey.id))).all())
