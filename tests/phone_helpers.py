"""Helpers for phone-keyed people in both tiers: answering a survey to its end, and what
the database holds about numbers."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.emulator import ChatMessage, EmulatedUser
from storage.broadcast_models import Contact
from storage.db import Database
from storage.models import Address, Channel, Respondent

OFFER = "share your phone number"
SAVED = "is saved"
SHARE = "📱 Share my phone number"
NOT_NOW = "Not now"


async def answer_to_the_end(user: EmulatedUser, start: str = "/start") -> ChatMessage:
    """Starts a survey, taps 9, skips both follow-ups; returns the thank-you."""
    before = max((m.message_id for m in user.messages), default=0)
    user.send(start)
    question = await user.wait_for_message(
        lambda m: m.message_id > before and m.button("9") is not None
    )
    user.press(question, "9")
    last = question.message_id
    for _ in range(2):  # why, then what to improve
        prompt = await user.wait_for_message(
            lambda m, after=last: m.message_id > after and m.button("Skip") is not None
        )
        user.press(prompt, "Skip")
        last = prompt.message_id
    return await user.wait_for_message(
        lambda m: m.message_id > last and m.text.startswith("Thank you")
    )


async def phone_of(db: Database, user_id: int) -> str | None:
    """The number of the person with this Telegram id (None: no number, or no person)."""
    async with db.snapshot() as store:
        person = await store.respondents.person_of(user_id)
        return await store.phones.of(person) if person is not None else None


async def holder_of(db: Database, phone: str) -> int | None:
    """The internal id of the person who has this number."""
    async with db.snapshot() as store:
        return await store.phones.owner(phone)


async def phone_addresses(db: Database) -> dict[str, int]:
    """Every phone address: number → person."""
    async with db.snapshot() as store:
        session = store.responses._session
        rows = await session.execute(
            select(Address.address, Address.respondent_id).where(
                Address.channel == Channel.PHONE.value
            )
        )
        return {key: value for key, value in rows.all()}


async def people_count(db: Database) -> int:
    """How many people (respondents) are stored."""
    async with db.snapshot() as store:
        session = store.responses._session
        return int(await session.scalar(select(func.count()).select_from(Respondent)) or 0)


async def imported_phones(db: Database) -> dict[int, str | None]:
    """The imported contact rows' numbers, by Telegram id."""
    async with db.snapshot() as store:
        session = store.responses._session
        rows = await session.execute(select(Contact.user_id, Contact.phone))
        return {key: value for key, value in rows.all()}
