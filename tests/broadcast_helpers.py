"""Helpers for broadcast tests in both tiers: seed an audience in bulk, settings for fast
sending, act as the owner."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.emulator import BotApiEmulator, ChatMessage, EmulatedUser
from storage.broadcast_models import Broadcast, BroadcastRecipient
from storage.db import Database
from storage.models import utcnow
from tests.scenario import OWNER_ID

# Fast enough that tests take seconds, like a paid broadcast; the emulator's own limits
# are off unless a test turns them on.
TEST_RATE = 200.0


# A high broadcast rate and quick progress edits (both tiers' broadcast bots use them).
BROADCAST_SETTINGS: dict[str, Any] = {
    "broadcast_rate": TEST_RATE,
    "broadcast_per_chat_interval": 0.0,
    "broadcast_progress_seconds": 0.3,
    "digest_time": "off",
}


async def seed_audience(
    db: Database,
    api: BotApiEmulator,
    ids: Iterable[int],
    *,
    language: str = "en",
    source: str | None = None,
    agent: str | None = None,
    subscribed: bool = True,
    unreachable: bool = False,
    started_at: datetime | None = None,
) -> list[EmulatedUser]:
    """People who pressed Start (a respondent row, and a started chat in the emulator)."""
    ids = list(ids)
    now = started_at or utcnow()
    rows = [
        {
            "telegram_id": uid,
            "first_name": f"User{uid}",
            "username": None,
            "telegram_language": language,
            "language_override": None,
            "subscribed": subscribed,
            "unreachable": unreachable,
            "source": source,
            "agent": agent,
            "started_at": now,
            "last_seen_at": now,
        }
        for uid in ids
    ]
    async with db.transaction() as store:
        # People of their own: internal ids, their Telegram ids on their addresses.
        await store.respondents.add_people(rows)
    users = []
    for uid in ids:
        user = api.user(uid, first_name=f"User{uid}", language_code=language)
        user.started = True  # they pressed Start (the bot may write to them)
        users.append(user)
    return users


def admin(api: BotApiEmulator) -> EmulatedUser:
    """The owner (ADMIN_IDS) who runs broadcasts in the tests."""
    return api.user(OWNER_ID, first_name="Olga", language_code="en")


async def preview_of(owner: EmulatedUser, command: str) -> ChatMessage:
    """Sends /broadcast … and returns the (new) preview message."""
    return await reply_to(owner, command, "Broadcast preview")


async def reply_to(user: EmulatedUser, text: str, fragment: str) -> ChatMessage:
    """Sends a message and returns the first later bot message containing `fragment`."""
    before = max((m.message_id for m in user.messages), default=0)
    user.send(text)
    return await user.wait_for_message(
        lambda m: m.message_id > before and fragment in m.text, timeout=15
    )


async def latest_broadcast(db: Database) -> Broadcast:
    """The newest broadcast row."""
    async with db.snapshot() as store:
        session = store.responses._session
        found = await session.scalar(select(Broadcast).order_by(Broadcast.id.desc()).limit(1))
        assert found is not None
        return found


async def recipients_of(db: Database, broadcast_id: int) -> Sequence[BroadcastRecipient]:
    """Recipient rows of a broadcast."""
    async with db.snapshot() as store:
        return await store.recipients.of(broadcast_id)


async def finished(db: Database, broadcast_id: int | None = None) -> Broadcast | None:
    """The broadcast once its summary is out (finished_at set), else None."""
    broadcast = await latest_broadcast(db)
    if broadcast_id is not None:
        async with db.snapshot() as store:
            broadcast = await store.broadcasts.get(broadcast_id)  # type: ignore[assignment]
    return broadcast if broadcast is not None and broadcast.finished_at else None
