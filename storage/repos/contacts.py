"""Imported contact lists: attributes (language, source, agent, name, phone) for Telegram
users, kept in `contacts` until the person presses Start (storage/repos/audience.py reads
them), and the admin's pending /import. Phone numbers also become people's addresses
(storage/repos/phones.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import Contact, ImportRequest
from storage.models import Address, Channel
from storage.repos.audience import chunks
from storage.tables import table_of

C = table_of(Contact)


@dataclass(frozen=True)
class ContactRow:
    """One valid line of an imported contact list: a Telegram user id, a phone number
    (E.164), or both."""

    user_id: int | None
    language: str | None = None
    source: str | None = None
    agent: str | None = None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class ImportOutcome:
    """What an import changed."""

    added: int
    updated: int
    unchanged: int
    started: int  # of the imported ids, how many have pressed Start already


class ContactRepo:
    """Imports contact lists and tracks /import requests; never commits (the caller does)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def import_contacts(
        self, rows: Sequence[ContactRow], imported_by: int, now: datetime
    ) -> ImportOutcome:
        """Adds new contacts and updates known ones (a blank column keeps the old value).

        Lines without a Telegram id (phone only) are PhoneRepo.import_rows' alone.
        """
        added = updated = unchanged = started = 0
        table = C
        for chunk in chunks([row for row in rows if row.user_id is not None]):
            ids = [row.user_id for row in chunk]
            known = {
                row.user_id: row
                for row in await self._session.execute(select(table).where(C.c.user_id.in_(ids)))
            }
            address = table_of(Address)
            seen = select(func.count()).where(
                address.c.channel == Channel.TELEGRAM.value,
                address.c.address.in_([str(user_id) for user_id in ids]),
            )
            started += int(await self._session.scalar(seen) or 0)
            fresh = []
            for row in chunk:
                values = {
                    "name": row.name,
                    "language": row.language,
                    "source": row.source,
                    "agent": row.agent,
                    "phone": row.phone,
                }
                old = known.get(row.user_id)
                if old is None:
                    fresh.append(
                        {"user_id": row.user_id, "imported_by": imported_by, "imported_at": now}
                        | values
                    )
                    continue
                changes = {
                    k: v for k, v in values.items() if v is not None and getattr(old, k) != v
                }
                if not changes:
                    unchanged += 1
                    continue
                await self._session.execute(
                    update(table)
                    .where(C.c.user_id == row.user_id)
                    .values(**changes, imported_by=imported_by, imported_at=now)
                )
                updated += 1
            if fresh:
                await self._session.execute(insert(table), fresh)
                added += len(fresh)
            # SQLite's statements run on the event loop (storage/sqlite_inline.py): let other
            # chats' updates and polling run between chunks of a long list.
            await asyncio.sleep(0)
        return ImportOutcome(added, updated, unchanged, started)

    async def request_import(self, user_id: int, now: datetime) -> None:
        """Remembers that the admin's next message is a contact list."""
        await self._session.merge(ImportRequest(user_id=user_id, requested_at=now))

    async def take_import_request(self, user_id: int, not_before: datetime) -> bool:
        """Consumes the admin's pending /import if it is recent enough."""
        request = await self._session.get(ImportRequest, user_id)
        if request is None:
            return False
        await self._session.delete(request)
        return request.requested_at >= not_before

    async def has_import_request(self, user_id: int) -> bool:
        """True when the admin typed /import and has not sent the list yet."""
        return await self._session.get(ImportRequest, user_id) is not None
