"""Respondents: who started the bot, their language and whether we may write to them."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.language_codes import normalize_language_code
from storage.models import Respondent, utcnow
from storage.repos.updates import UpdateLog


@dataclass(frozen=True)
class Profile:
    """What Telegram tells us about a user on each update."""

    user_id: int
    chat_id: int
    first_name: str | None
    username: str | None
    language_code: str | None


@dataclass(frozen=True, slots=True)
class Visitor:
    """The respondent's row as `touch` left it: read-only, for the rest of the update.

    A plain value rather than an ORM object: loading an entity from the upsert cost more
    than the upsert itself, and handlers only read it (changes go through the repo).
    """

    id: int
    chat_id: int
    first_name: str | None
    username: str | None
    telegram_language: str | None
    language_override: str | None
    subscribed: bool
    unreachable: bool
    source: str | None
    agent: str | None
    started_at: datetime
    last_seen_at: datetime


# What each update refreshes; the rest of the row is set once, at the first update.
_PROFILE_COLUMNS = ("chat_id", "first_name", "username", "telegram_language", "last_seen_at")
_VISITOR_COLUMNS = ", ".join(field.name for field in fields(Visitor))

# Driver SQL (storage/driver.py): the upsert runs with every update, the reset with every
# /start.
_TOUCH = (
    "INSERT INTO respondents (id, chat_id, first_name, username, telegram_language, "
    "last_seen_at, started_at, subscribed, unreachable) "
    "VALUES ($1, $2, $3, $4, $5, $6, $6, TRUE, FALSE) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _PROFILE_COLUMNS)
    + f" RETURNING {_VISITOR_COLUMNS}"
)
# PostgreSQL: the update's claim rides along in the same round trip (a data-modifying
# CTE; SQLite has none, so there the claim is a statement of its own).
_CLAIM_AND_TOUCH = (
    "WITH claimed AS (INSERT INTO processed_updates (update_id, processed_at) "
    "VALUES ($7, $6) ON CONFLICT (update_id) DO NOTHING RETURNING 1) "
    + _TOUCH
    + ", EXISTS (SELECT 1 FROM claimed)"
)
_RESTART = "UPDATE respondents SET subscribed = TRUE, unreachable = FALSE WHERE id = $1"


class RespondentRepo:
    """Reads and updates respondents."""

    def __init__(self, session: AsyncSession, driver: DriverSQL, updates: UpdateLog) -> None:
        self._session = session
        self._driver = driver
        self._updates = updates  # SQLite claims on its own (claim_and_touch)

    async def touch(self, profile: Profile) -> Visitor:
        """Upserts the user's profile and locks their row for this transaction.

        One statement (an upsert returning the row): on PostgreSQL its update locks the row
        until the commit, which serialises two updates of one respondent handled by
        different workers or replicas; SQLite already serialises writers.
        """
        row = await self._driver.fetchrow(_TOUCH, *self._touch_args(profile))
        assert row is not None  # an upsert returns its row
        return self._visitor(row)

    async def claim_and_touch(self, update_id: int, profile: Profile) -> tuple[bool, Visitor]:
        """Claims the update (False: handled before) and touches the sender's profile.

        One round trip on PostgreSQL. A redelivered update refreshes the profile too,
        which is harmless: it is the same user, seen again.
        """
        driver = self._driver
        if driver.sqlite:
            return await self._updates.claim(update_id), await self.touch(profile)
        row = await driver.fetchrow(_CLAIM_AND_TOUCH, *self._touch_args(profile), update_id)
        assert row is not None  # an upsert returns its row
        return bool(row[-1]), self._visitor(row[:-1])

    def _touch_args(self, profile: Profile) -> tuple[object, ...]:
        return (
            profile.user_id,
            profile.chat_id,
            profile.first_name,
            profile.username,
            normalize_language_code(profile.language_code),
            self._driver.stamp(utcnow()),
        )

    def _visitor(self, row: tuple[Any, ...]) -> Visitor:
        (*head, subscribed, unreachable, source, agent, started_at, last_seen_at) = row
        driver = self._driver
        return Visitor(
            *head,
            subscribed=bool(subscribed),
            unreachable=bool(unreachable),
            source=source,
            agent=agent,
            started_at=driver.moment(started_at),  # type: ignore[arg-type]
            last_seen_at=driver.moment(last_seen_at),  # type: ignore[arg-type]
        )

    async def get(self, user_id: int) -> Respondent | None:
        """The respondent with this Telegram id."""
        return await self._session.get(Respondent, user_id)

    async def resolve(self, who: str) -> int | None:
        """A user id typed by staff: digits, or the @username of someone who talked to the bot."""
        who = who.strip()
        if who.lstrip("-").isdigit():
            return int(who)
        if who.startswith("@") and len(who) > 1:
            named = await self.named(who[1:])
            # Two people seen with one username (Telegram recycles them): nobody is guessed.
            return named[0].id if len(named) == 1 else None
        return None

    async def named(self, username: str) -> list[Respondent]:
        """Everyone seen with this @username (case-insensitive), the latest seen first.

        More than one when Telegram gave the username to someone else after its owner
        dropped it (the old owner's row keeps the name they had when last seen).
        """
        rows = await self._session.scalars(
            select(Respondent)
            .where(func.lower(Respondent.username) == username.lower())
            .order_by(Respondent.last_seen_at.desc(), Respondent.id)
        )
        return list(rows.all())

    async def set_subscribed(self, user_id: int, subscribed: bool) -> None:
        """Turns surveys on (/start) or off (/stop) for the user."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(subscribed=subscribed)
        )

    async def restart(self, user_id: int) -> None:
        """/start: subscribed again and reachable again, in one statement."""
        await self._driver.execute(_RESTART, user_id)

    async def set_language(self, user_id: int, language: str | None) -> None:
        """Stores the language the user picked with /language."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(language_override=language)
        )

    async def set_reachable(self, user_id: int, reachable: bool) -> None:
        """Marks a user who blocked (or unblocked) the bot."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(unreachable=not reachable)
        )

    async def set_origin(self, user_id: int, source: str | None, agent: str | None) -> None:
        """Remembers where the user last came from (deep-link tags)."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(source=source, agent=agent)
        )
