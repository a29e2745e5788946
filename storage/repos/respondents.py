"""Respondents: people (whatever the channel), their addresses, language and whether we
may write to them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.language_codes import normalize_language_code
from storage.models import Channel, Respondent, utcnow
from storage.repos.phones import adopt_imported_phone
from storage.repos.respondent_statements import (
    CLAIM_AND_TOUCH,
    DROP_PERSON,
    MOVE_CHAT,
    NEW_ADDRESS,
    NEW_PERSON,
    RESTART,
    TAIL,
    TELEGRAM,
    TOUCH_RETURNING,
    A,
    R,
)
from storage.repos.updates import UpdateLog
from storage.repos.whatsapp import WhatsAppRepo, is_whatsapp_chat


@dataclass(frozen=True)
class Profile:
    """What the channel tells us about a user on each update (Telegram's user; on
    WhatsApp `user_id` and `chat_id` are both the address's synthetic chat id)."""

    user_id: int
    chat_id: int
    first_name: str | None
    username: str | None
    language_code: str | None
    channel: str = TELEGRAM


@dataclass(frozen=True, slots=True)
class Person:
    """A respondent (a person, whatever the channel) as stored: read-only, one type for the
    person an update came from and for the person staff act on.

    A plain value rather than an ORM object: loading an entity from the upsert cost more
    than the upsert itself, and handlers only read it (changes go through the repo).
    `telegram_id` and `chat_id` are their Telegram address (None for someone reached only
    on another channel); everything stored about the person uses `id`.
    """

    id: int
    telegram_id: int | None
    chat_id: int | None
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


_TELEGRAM_ADDRESS = A.alias("telegram")
_PERSON_QUERY = select(
    R.c.id,
    _TELEGRAM_ADDRESS.c.address,
    _TELEGRAM_ADDRESS.c.chat,
    *(R.c[name] for name in TAIL),
).select_from(
    R.outerjoin(
        _TELEGRAM_ADDRESS,
        and_(
            _TELEGRAM_ADDRESS.c.respondent_id == R.c.id,
            _TELEGRAM_ADDRESS.c.channel == TELEGRAM,
        ),
    )
)


def _number(text: str | None) -> int | None:
    """A Telegram id or chat stored as address text."""
    return int(text) if text is not None else None


class RespondentRepo:
    """Reads and updates respondents (people) and their addresses."""

    def __init__(self, session: AsyncSession, driver: DriverSQL, updates: UpdateLog) -> None:
        self._session = session
        self._driver = driver
        self._updates = updates  # SQLite claims on its own (claim_and_touch)

    async def touch(self, profile: Profile) -> Person:
        """Upserts the user's profile and locks their row for this transaction.

        A returning person costs one statement (an update returning the row): on PostgreSQL
        it locks the row until the commit, which serialises two updates of one respondent
        handled by different workers or replicas; SQLite already serialises writers.
        """
        driver = self._driver
        row = await driver.fetchrow(TOUCH_RETURNING, *self._touch_args(profile))
        return await self._touched(profile, row)

    async def claim_and_touch(self, update_id: int, profile: Profile) -> tuple[bool, Person]:
        """Claims the update (False: handled before) and touches the sender's profile.

        One round trip on PostgreSQL for a returning person. A redelivered update refreshes
        the profile too, which is harmless: it is the same user, seen again.
        """
        driver = self._driver
        if profile.channel != TELEGRAM:  # a WhatsApp chat: found through its own address
            return await self._updates.claim(update_id), await self._touch_other(profile)
        if driver.sqlite:
            return await self._updates.claim(update_id), await self.touch(profile)
        row = await driver.fetchrow(CLAIM_AND_TOUCH, *self._touch_args(profile), update_id)
        assert row is not None  # the outer join returns one row
        claimed, *person = row
        return bool(claimed), await self._touched(profile, tuple(person))

    async def _touch_other(self, profile: Profile) -> Person:
        """Touches the person behind a WhatsApp chat (created by storage/repos/whatsapp.py
        when their first message came); their Telegram address, if any, is not theirs here."""
        person_id = await WhatsAppRepo(self._session).touch(
            profile.chat_id, profile.first_name, utcnow()
        )
        found = await self.get(person_id) if person_id is not None else None
        if found is None:
            raise LookupError(f"no person has the chat {profile.chat_id}")
        return dataclasses.replace(found, telegram_id=None, chat_id=profile.chat_id)

    def _touch_args(self, profile: Profile) -> tuple[object, ...]:
        return (
            str(profile.user_id),
            profile.first_name,
            profile.username,
            normalize_language_code(profile.language_code),
            self._driver.stamp(utcnow()),
        )

    async def _touched(self, profile: Profile, row: tuple[Any, ...] | None) -> Person:
        """The person the touch found, or a new one for a user seen for the first time."""
        if row is None or row[0] is None:
            return await self._first_touch(profile)
        person_id, stored_chat, *tail = row
        chat = str(profile.chat_id)
        if stored_chat != chat:  # Telegram moved the private chat (rare)
            await self._driver.execute(MOVE_CHAT, str(profile.user_id), chat)
        return self._person((person_id, str(profile.user_id), chat, *tail))

    async def _first_touch(self, profile: Profile) -> Person:
        """Creates the person and their Telegram address (several statements: once a person)."""
        driver = self._driver
        now = utcnow()
        language = normalize_language_code(profile.language_code)
        inserted = await driver.fetchrow(
            NEW_PERSON, profile.first_name, profile.username, language, driver.stamp(now)
        )
        assert inserted is not None  # an insert returning its id
        person_id = inserted[0]
        address = str(profile.user_id)
        added = await driver.execute(
            NEW_ADDRESS, person_id, TELEGRAM, address, str(profile.chat_id), driver.stamp(now)
        )
        if not added:  # another replica's first update of this user won: theirs is the person
            await driver.execute(DROP_PERSON, person_id)
            return await self.touch(profile)
        # An imported contact list gave a number for this Telegram id before they came.
        await adopt_imported_phone(driver, self._session, person_id, profile.user_id, now)
        return Person(
            id=person_id,
            telegram_id=profile.user_id,
            chat_id=profile.chat_id,
            first_name=profile.first_name,
            username=profile.username,
            telegram_language=language,
            language_override=None,
            subscribed=True,
            unreachable=False,
            source=None,
            agent=None,
            started_at=now,
            last_seen_at=now,
        )

    def _person(self, row: tuple[Any, ...] | Row[Any]) -> Person:
        """A person from a row laid out as `_PERSON_QUERY` (and the touch) return it."""
        (person_id, address, chat, first_name, username, telegram_language, override) = row[:7]
        (subscribed, unreachable, source, agent, started_at, last_seen_at) = row[7:]
        driver = self._driver
        return Person(
            id=person_id,
            telegram_id=_number(address),
            chat_id=_number(chat),
            first_name=first_name,
            username=username,
            telegram_language=telegram_language,
            language_override=override,
            subscribed=bool(subscribed),
            unreachable=bool(unreachable),
            source=source,
            agent=agent,
            started_at=driver.moment(started_at),  # type: ignore[arg-type]
            last_seen_at=driver.moment(last_seen_at),  # type: ignore[arg-type]
        )

    async def get(self, person_id: int) -> Person | None:
        """The person with this (internal) id."""
        row = (await self._session.execute(_PERSON_QUERY.where(R.c.id == person_id))).first()
        return self._person(row) if row is not None else None

    async def by_sender(self, user_id: int) -> Person | None:
        """The person behind an event's sender id: a Telegram user id, or a WhatsApp
        address's synthetic chat id (storage/repos/whatsapp.py)."""
        if not is_whatsapp_chat(user_id):
            return await self.by_telegram(user_id)
        person_id = await WhatsAppRepo(self._session).person_of(user_id)
        found = await self.get(person_id) if person_id is not None else None
        return dataclasses.replace(found, telegram_id=None, chat_id=user_id) if found else None

    async def by_telegram(self, user_id: int) -> Person | None:
        """The person with this Telegram user id (e.g. an owner: did they press Start?)."""
        query = _PERSON_QUERY.where(_TELEGRAM_ADDRESS.c.address == str(user_id))
        row = (await self._session.execute(query)).first()
        return self._person(row) if row is not None else None

    async def person_of(self, user_id: int) -> int | None:
        """The internal id of the person with this Telegram user id, if they were seen."""
        return await self._session.scalar(
            select(A.c.respondent_id).where(A.c.channel == TELEGRAM, A.c.address == str(user_id))
        )

    async def addresses(self, person_id: int) -> list[tuple[str, str, str | None]]:
        """The person's addresses as (channel, address, chat), oldest first."""
        rows = await self._session.execute(
            select(A.c.channel, A.c.address, A.c.chat)
            .where(A.c.respondent_id == person_id)
            .order_by(A.c.id)
        )
        return [(channel, address, chat) for channel, address, chat in rows.all()]

    async def add_people(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Adds people who pressed Start, in bulk (seeding, benchmarks): each row holds
        `respondents` columns (no id) and `telegram_id`; their new ids, in row order."""
        ids: list[int] = []
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            people = [{k: v for k, v in row.items() if k != "telegram_id"} for row in chunk]
            inserted = await self._session.execute(
                insert(R).returning(R.c.id, sort_by_parameter_order=True), people
            )
            new = list(inserted.scalars())
            await self._session.execute(
                insert(A),
                [
                    {
                        "respondent_id": person_id,
                        "channel": TELEGRAM,
                        "address": str(row["telegram_id"]),
                        "chat": str(row["telegram_id"]),  # a private chat's id is the user's
                        "created_at": row.get("started_at") or utcnow(),
                    }
                    for person_id, row in zip(new, chunk, strict=True)
                ],
            )
            ids += new
        return ids

    async def named(self, username: str) -> list[Person]:
        """Everyone seen with this @username (case-insensitive), the latest seen first.

        More than one when Telegram gave the username to someone else after its owner
        dropped it (the old owner's row keeps the name they had when last seen).
        """
        rows = await self._session.execute(
            _PERSON_QUERY.where(func.lower(R.c.username) == username.lower()).order_by(
                R.c.last_seen_at.desc(), R.c.id
            )
        )
        return [self._person(row) for row in rows.all()]

    async def set_subscribed(self, person_id: int, subscribed: bool) -> None:
        """Turns surveys on (/start) or off (/stop) for the person."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == person_id).values(subscribed=subscribed)
        )

    async def restart(self, person_id: int) -> None:
        """/start: subscribed again and reachable again, in one statement."""
        await self._driver.execute(RESTART, person_id)

    async def set_language(self, person_id: int, language: str | None) -> None:
        """Stores the language the person picked with /language."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == person_id).values(language_override=language)
        )

    async def set_reachable(self, person_id: int, reachable: bool) -> None:
        """Marks a person who blocked (or unblocked) the bot."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == person_id).values(unreachable=not reachable)
        )

    async def set_chat_unreachable(self, chat_id: int) -> None:
        """Marks whoever has this chat unreachable (a 403 from Telegram, a WhatsApp number
        that cannot receive messages; a group chat matches nobody)."""
        channel = Channel.WHATSAPP.value if is_whatsapp_chat(chat_id) else TELEGRAM
        chat = select(A.c.respondent_id).where(A.c.channel == channel, A.c.chat == str(chat_id))
        await self._session.execute(
            update(Respondent).where(Respondent.id.in_(chat)).values(unreachable=True)
        )

    async def set_origin(self, person_id: int, source: str | None, agent: str | None) -> None:
        """Remembers where the person last came from (deep-link tags)."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == person_id).values(source=source, agent=agent)
        )
