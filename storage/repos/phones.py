"""Phone numbers as people's addresses (channel 'phone', E.164): a person's own number
shared from Telegram, numbers from an imported contact list, and removing them.

A number belongs to one person (the addresses' unique key) and a person keeps one number.
When someone else already has the number:
- a person who shares **their own** contact from Telegram takes it (Telegram vouches that
  the number is theirs): it moves to them, and whoever had it keeps everything else;
- an imported line gives it to the person it names only when nobody has it, or when its
  holder is a *placeholder* (someone known by that number alone, from a phone-only line,
  who never answered); otherwise the line changes nothing and is counted as a conflict.
A placeholder left with no address and no answer is deleted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import Contact
from storage.driver import DriverSQL
from storage.models import Address, Channel, Respondent, Response
from storage.repos import upsert_insert
from storage.repos.audience import chunks
from storage.repos.contacts import ContactRow
from storage.statements import same
from storage.tables import table_of

PHONE = Channel.PHONE.value
TELEGRAM = Channel.TELEGRAM.value
A = table_of(Address)
C = table_of(Contact)
R = table_of(Respondent)
RESPONSES = table_of(Response)
# A new person's imported number (driver SQL: it runs at every person's first update).
_IMPORTED_PHONE = same(
    select(C.c.phone).where(
        C.c.user_id == bindparam("user_id", type_=BigInteger()), C.c.phone.is_not(None)
    ),
    "user_id",
)


@dataclass(frozen=True)
class PhoneClaim:
    """What sharing one's own number changed."""

    previous: str | None  # the person's number before (None: they had none)
    taken_from: int | None  # the person the number moved from (None: nobody had it)


@dataclass
class PhoneImport:
    """Where an import's numbers ended up, one count per line with a number."""

    linked: int = 0  # on a person who pressed Start (the line's, or already theirs)
    waiting: int = 0  # kept with the contact until that Telegram user presses Start
    phone_only: int = 0  # on a placeholder: a person known by the number alone
    conflicts: int = 0  # left as it was: someone else has it, or the person has another


async def adopt_imported_phone(
    driver: DriverSQL, session: AsyncSession, person_id: int, user_id: int, now: datetime
) -> None:
    """A new person's number from an imported contact list, when nobody else has it."""
    row = await driver.fetchrow(_IMPORTED_PHONE, user_id)
    if row is None:
        return
    insert_ = upsert_insert("sqlite" if driver.sqlite else "postgresql")
    await session.execute(
        insert_(A)
        .values(respondent_id=person_id, channel=PHONE, address=row[0], created_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "address"])
    )


class PhoneRepo:
    """Reads and changes people's phone numbers; never commits (the caller does)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of(self, person_id: int) -> str | None:
        """The person's number (E.164), if they have one."""
        return await self._session.scalar(
            select(A.c.address)
            .where(A.c.respondent_id == person_id, A.c.channel == PHONE)
            .order_by(A.c.id)
            .limit(1)
        )

    async def owner(self, phone: str) -> int | None:
        """The person with this number (E.164)."""
        return await self._session.scalar(
            select(A.c.respondent_id).where(A.c.channel == PHONE, A.c.address == phone)
        )

    async def claim(self, person_id: int, phone: str, now: datetime) -> PhoneClaim:
        """Makes `phone` the person's number: they shared their own contact, so it moves
        to them from whoever had it (storage/repos/phones.py says why)."""
        holder = await self.owner(phone)
        previous = await self.of(person_id)
        if holder == person_id:
            return PhoneClaim(previous, None)
        await self._drop_numbers(person_id)
        if holder is None:
            await self._session.execute(
                insert(A).values(
                    respondent_id=person_id, channel=PHONE, address=phone, created_at=now
                )
            )
        else:
            await self._move(phone, person_id, now)
            await self._drop_if_empty(holder)
        return PhoneClaim(previous, holder)

    async def remove(self, person_id: int, telegram_id: int | None) -> str | None:
        """Forgets the person's number (and the one an imported list holds for their
        Telegram id, which would otherwise come back); the number that was removed."""
        phone = await self.of(person_id)
        await self._drop_numbers(person_id)
        if telegram_id is not None:
            await self._session.execute(
                update(C).where(C.c.user_id == telegram_id).values(phone=None)
            )
        return phone

    async def import_rows(self, rows: Sequence[ContactRow], now: datetime) -> PhoneImport:
        """Gives the numbers of imported lines to people (each number once in `rows`).

        A line with a Telegram id: its person gets the number, or, before they pressed
        Start, the contact row keeps it for them (ContactRepo stores it; their first
        update adopts it). A phone-only line: the person with that number, else a new
        placeholder with the line's name, language, source and agent.
        """
        outcome = PhoneImport()
        for chunk in chunks([row for row in rows if row.phone]):
            await self._import_chunk(chunk, now, outcome)
            await asyncio.sleep(0)  # let other chats' updates run between chunks
        return outcome

    async def _import_chunk(
        self, chunk: Sequence[ContactRow], now: datetime, outcome: PhoneImport
    ) -> None:
        session = self._session
        phones = [row.phone for row in chunk]
        holders = await self._pairs(
            select(A.c.address, A.c.respondent_id).where(
                A.c.channel == PHONE, A.c.address.in_(phones)
            )
        )
        ids = [str(row.user_id) for row in chunk if row.user_id is not None]
        people = await self._pairs(
            select(A.c.address, A.c.respondent_id).where(
                A.c.channel == TELEGRAM, A.c.address.in_(ids)
            )
        )
        numbers = await self._pairs(
            select(A.c.respondent_id, A.c.address).where(
                A.c.channel == PHONE, A.c.respondent_id.in_(list(people.values()))
            )
        )
        placeholders = await self._placeholders(holders.values())
        fresh: list[tuple[int, str]] = []
        newcomers: list[ContactRow] = []
        for row in chunk:
            phone = row.phone
            assert phone is not None  # filtered by import_rows
            holder = holders.get(phone)
            if row.user_id is None:  # a phone-only line
                if holder is None:
                    newcomers.append(row)
                    outcome.phone_only += 1
                elif holder in placeholders:
                    outcome.phone_only += 1
                else:
                    outcome.linked += 1
                continue
            person = people.get(str(row.user_id))
            if person is not None and holder == person:
                outcome.linked += 1
            elif holder is not None and holder not in placeholders:
                outcome.conflicts += 1
            elif person is None:
                # Their first update adopts it from the contact row: free the number now.
                if holder is not None:
                    await self._drop_numbers(holder)
                    await self._drop_if_empty(holder)
                    del holders[phone]
                outcome.waiting += 1
            elif person in numbers:  # they have another number (perhaps their own, shared)
                outcome.conflicts += 1
            else:
                if holder is None:
                    fresh.append((person, phone))
                else:
                    await self._move(phone, person, now)
                    await self._drop_if_empty(holder)
                holders[phone] = numbers[person] = person
                outcome.linked += 1
        await self._add_placeholders(newcomers, now)
        if fresh:
            await session.execute(
                insert(A),
                [
                    {"respondent_id": p, "channel": PHONE, "address": n, "created_at": now}
                    for p, n in fresh
                ],
            )

    async def _pairs(self, query: Select[Any]) -> dict[Any, Any]:
        """A two-column query's rows as a mapping."""
        return {key: value for key, value in (await self._session.execute(query)).all()}

    async def _add_placeholders(self, rows: Sequence[ContactRow], now: datetime) -> None:
        """People known only by their number, with what the imported line says of them."""
        if not rows:
            return
        inserted = await self._session.execute(
            insert(R).returning(R.c.id, sort_by_parameter_order=True),
            [
                {
                    "first_name": row.name,
                    # Their language as the list gives it: no Telegram client tells it.
                    "language_override": row.language,
                    "source": row.source,
                    "agent": row.agent,
                    "subscribed": True,
                    "unreachable": False,
                    "enps_link": False,
                    "started_at": now,
                    "last_seen_at": now,
                }
                for row in rows
            ],
        )
        ids = list(inserted.scalars())
        await self._session.execute(
            insert(A),
            [
                {"respondent_id": p, "channel": PHONE, "address": row.phone, "created_at": now}
                for p, row in zip(ids, rows, strict=True)
            ],
        )

    async def _placeholders(self, people: Collection[int]) -> set[int]:
        """Of these people, those known by one address alone (their number) who never
        answered: an earlier import's phone-only lines."""
        if not people:
            return set()
        answered = exists().where(RESPONSES.c.respondent_id == A.c.respondent_id)
        found = await self._session.scalars(
            select(A.c.respondent_id)
            .where(A.c.respondent_id.in_(list(people)), ~answered)
            .group_by(A.c.respondent_id)
            .having(func.count() == 1)
        )
        return set(found.all())

    async def _move(self, phone: str, person_id: int, now: datetime) -> None:
        await self._session.execute(
            update(A)
            .where(A.c.channel == PHONE, A.c.address == phone)
            .values(respondent_id=person_id, created_at=now)
        )

    async def _drop_numbers(self, person_id: int) -> None:
        await self._session.execute(
            delete(A).where(A.c.respondent_id == person_id, A.c.channel == PHONE)
        )

    async def _drop_if_empty(self, person_id: int) -> None:
        """Deletes a person left with no address and no answer (a placeholder whose
        number moved): nothing could reach or describe them any more."""
        await self._session.execute(
            delete(R).where(
                R.c.id == person_id,
                ~exists().where(A.c.respondent_id == person_id),
                ~exists().where(RESPONSES.c.respondent_id == person_id),
            )
        )
