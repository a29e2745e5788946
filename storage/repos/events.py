"""The outbox of signed events for the CRM: written with the change, claimed per URL.

`emit` writes the event and one delivery row per configured URL (EVENTS_URLS, handed to
the Database and from there to every Store) in the caller's transaction, so an event
exists exactly when the change it reports was committed; with no URL configured it writes
nothing. The delivery worker (bot/events) then, per URL:

- claims the URL's **head** — its pending row with the smallest id — and only when that
  row is due and not claimed by a live worker (`claim_head`: one conditional UPDATE …
  RETURNING). Only the head can be claimed, so a URL's rows go one at a time and in
  order, and a failing head holds back that URL's later rows, no other URL's. On
  PostgreSQL a second replica's UPDATE of the same head waits for the first's commit and
  then finds the row claimed: each claim goes to one worker. (`FOR UPDATE SKIP LOCKED`
  would instead skip a head being claimed and take the row behind it, out of order.)
- sends it and records the outcome (`delivered`, or `failed` with the next attempt or
  dead). A claim expires (`claimed_until`): a worker that died between sending and
  recording leaves the row to be sent again — at least once, never lost.

Order is the order rows were written in: events of one conversation (a score, then its
case, then the completed answer) are written by successive transactions and arrive in
that order; two transactions writing at the same moment on PostgreSQL may commit in the
other order than their ids, and then the later id may be sent first.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    delete,
    exists,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.event_models import MAX_ERROR, EventDelivery, EventEndpoint, OutgoingEvent
from storage.models import Address, Channel, utcnow
from storage.repos import upsert_insert
from storage.statements import same
from storage.tables import rows_changed, table_of

E = table_of(OutgoingEvent)
D = table_of(EventDelivery)
P = table_of(EventEndpoint)
_A: Table = table_of(Address)

# Driver SQL (storage/driver.py): emitting runs inside the survey path's transactions.
_NEW_EVENT = same(
    insert(E).values(
        id=bindparam("event_id"),
        type=bindparam("event_type"),
        created_at=bindparam("created_at"),
        person_id=bindparam("person_id"),
        data=bindparam("data"),
    ),
    "event_id",
    "event_type",
    "created_at",
    "person_id",
    "data",
)
_NEW_DELIVERY = same(
    insert(D).values(
        event_id=bindparam("event_id"),
        url=bindparam("url"),
        attempts=literal_column("0"),
        next_attempt_at=bindparam("due"),
        dead=false(),
    ),
    "event_id",
    "url",
    "due",
)
_CONTACT = same(
    select(_A.c.channel, _A.c.address)
    .where(
        _A.c.respondent_id == bindparam("person_id"),
        _A.c.channel.in_(
            [
                literal_column(f"'{Channel.TELEGRAM.value}'"),
                literal_column(f"'{Channel.PHONE.value}'"),
            ]
        ),
    )
    .order_by(_A.c.id),
    "person_id",
)
_PENDING = and_(D.c.delivered_at.is_(None), D.c.dead == false())


@dataclass(frozen=True)
class Identity:
    """How a CRM knows a person: their Telegram user id and phone number (E.164)."""

    telegram_user_id: int | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Claimed:
    """A URL's head, claimed by one worker until `until`: send it, then record the outcome."""

    delivery_id: int
    token: str
    url: str
    attempts: int  # failed attempts before this one
    event_id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class UrlStatus:
    """One URL as /integrations shows it."""

    url: str
    configured: bool  # in EVENTS_URLS now (else: rows left from an earlier setting)
    backlog: int  # events waiting for this URL
    dead: int  # given up (not delivered within the retry window), still kept
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    next_attempt_at: datetime | None  # the head's, when it has failed before
    head_attempts: int


class EventRepo:
    """Emits events, hands out per-URL heads to delivery workers, reports per URL."""

    def __init__(self, session: AsyncSession, driver: DriverSQL, urls: Sequence[str] = ()) -> None:
        self._session = session
        self._driver = driver
        self.urls: tuple[str, ...] = tuple(dict.fromkeys(urls))  # EVENTS_URLS, each once

    @property
    def enabled(self) -> bool:
        """Whether events are sent anywhere (EVENTS_URLS is set)."""
        return bool(self.urls)

    async def emit(
        self, event_type: str, data: Mapping[str, Any], *, person_id: int | None = None
    ) -> str | None:
        """Writes the event and its deliveries in the caller's transaction; its id, or None
        when no URL is configured. `person_id`: the person `data` names (their Telegram id,
        their comments), so forgetting them finds the event; None for none (eNPS)."""
        if not self.urls:
            return None
        driver = self._driver
        event_id = str(uuid.uuid4())
        now = driver.stamp(utcnow())
        text = json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))
        await driver.execute(_NEW_EVENT, event_id, event_type, now, person_id, text)
        await driver.executemany(_NEW_DELIVERY, [(event_id, url, now) for url in self.urls])
        return event_id

    async def identity_of(self, person_id: int | None) -> Identity:
        """The person's Telegram user id and phone, as far as they are known."""
        if person_id is None:
            return Identity()
        telegram: int | None = None
        phone: str | None = None
        for channel, address in await self._driver.fetch(_CONTACT, person_id):
            if channel == Channel.TELEGRAM.value and telegram is None:
                telegram = int(address)
            elif channel == Channel.PHONE.value and phone is None:
                phone = str(address)
        return Identity(telegram, phone)

    async def due(self, url: str, now: datetime) -> bool:
        """Whether the URL's head may be claimed now (a read: an idle worker looks every
        second and should not take SQLite's write lock to find nothing)."""
        row = (
            await self._session.execute(
                select(D.c.next_attempt_at, D.c.claimed_until)
                .where(D.c.url == url, _PENDING)
                .order_by(D.c.id)
                .limit(1)
            )
        ).first()
        if row is None or row.next_attempt_at > now:
            return False
        return row.claimed_until is None or row.claimed_until <= now

    async def claim_head(self, url: str, now: datetime, until: datetime) -> Claimed | None:
        """Claims the URL's oldest pending delivery until `until`, if it is due and nobody
        holds it; None otherwise (nothing waiting, not due yet, or being sent)."""
        token = secrets.token_hex(8)
        head = (
            select(D.c.id)
            .where(D.c.url == url, _PENDING)
            .order_by(D.c.id)
            .limit(1)
            .scalar_subquery()
        )
        claimed = await self._session.execute(
            update(D)
            # Checked again on the row itself: on PostgreSQL a concurrent claim of the same
            # head makes this UPDATE wait, then re-read the row and find it claimed.
            .where(
                D.c.id == head,
                _PENDING,
                D.c.next_attempt_at <= now,
                or_(D.c.claimed_until.is_(None), D.c.claimed_until <= now),
            )
            .values(claim=token, claimed_until=until)
            .returning(D.c.id, D.c.event_id, D.c.attempts)
        )
        row = claimed.first()
        if row is None:
            return None
        delivery_id, event_id, attempts = row
        event = (
            await self._session.execute(
                select(E.c.type, E.c.created_at, E.c.data).where(E.c.id == event_id)
            )
        ).one()
        return Claimed(
            delivery_id=delivery_id,
            token=token,
            url=url,
            attempts=attempts,
            event_id=event_id,
            type=event.type,
            created_at=event.created_at,
            data=self._driver.json(event.data),
        )

    async def delivered(self, claimed: Claimed, now: datetime) -> bool:
        """Records a delivery the receiver accepted; False when the claim had expired and
        another worker took the row over (it records its own outcome)."""
        changed = await self._session.execute(
            update(D)
            .where(D.c.id == claimed.delivery_id, D.c.claim == claimed.token)
            .values(
                delivered_at=now,
                attempts=D.c.attempts + 1,
                claim=None,
                claimed_until=None,
                last_error=None,
            )
        )
        await self._endpoint(claimed.url, {"last_success_at": now})
        return rows_changed(changed) > 0

    async def failed(
        self, claimed: Claimed, now: datetime, error: str, retry_at: datetime | None
    ) -> bool:
        """Records a failed attempt: tried again at `retry_at`, or dead when None."""
        error = error[:MAX_ERROR]
        changed = await self._session.execute(
            update(D)
            .where(D.c.id == claimed.delivery_id, D.c.claim == claimed.token)
            .values(
                attempts=D.c.attempts + 1,
                last_error=error,
                next_attempt_at=retry_at or now,
                dead=retry_at is None,
                claim=None,
                claimed_until=None,
            )
        )
        await self._endpoint(claimed.url, {"last_error_at": now, "last_error": error})
        return rows_changed(changed) > 0

    async def release(self, claimed: Claimed) -> None:
        """Gives a claim back unrecorded (the worker is stopping): sent again soon."""
        await self._session.execute(
            update(D)
            .where(D.c.id == claimed.delivery_id, D.c.claim == claimed.token)
            .values(claim=None, claimed_until=None)
        )

    async def _endpoint(self, url: str, values: dict[str, Any]) -> None:
        insert_ = upsert_insert(self._driver.dialect)
        statement = insert_(P).values(url=url, **values)
        await self._session.execute(
            statement.on_conflict_do_update(index_elements=["url"], set_=values)
        )

    async def status(self) -> list[UrlStatus]:
        """Every configured URL, and any other still holding events, with its backlog,
        dead events and latest outcomes."""
        session = self._session
        pending = {
            url: (int(count), head)
            for url, count, head in await session.execute(
                select(D.c.url, func.count(), func.min(D.c.id)).where(_PENDING).group_by(D.c.url)
            )
        }
        dead = {
            url: int(count)
            for url, count in await session.execute(
                select(D.c.url, func.count()).where(D.c.dead == true()).group_by(D.c.url)
            )
        }
        heads = {
            row.id: row
            for row in await session.execute(
                select(D.c.id, D.c.attempts, D.c.next_attempt_at).where(
                    D.c.id.in_([head for _, head in pending.values()])
                )
            )
        }
        endpoints = {row.url: row for row in await session.execute(select(P))}
        urls = [*self.urls, *sorted(set(pending) - set(self.urls))]
        found = []
        for url in urls:
            backlog, head_id = pending.get(url, (0, None))
            head = heads.get(head_id) if head_id is not None else None
            endpoint = endpoints.get(url)
            failed_before = head is not None and head.attempts > 0
            found.append(
                UrlStatus(
                    url=url,
                    configured=url in self.urls,
                    backlog=backlog,
                    dead=dead.get(url, 0),
                    last_success_at=endpoint.last_success_at if endpoint else None,
                    last_error_at=endpoint.last_error_at if endpoint else None,
                    last_error=endpoint.last_error if endpoint else None,
                    next_attempt_at=head.next_attempt_at if failed_before and head else None,
                    head_attempts=head.attempts if head is not None else 0,
                )
            )
        return found

    async def prune(self, before: datetime) -> int:
        """Deletes events older than `before` that no URL still waits for (delivered or
        dead everywhere), with their deliveries; how many."""
        waiting = exists().where(D.c.event_id == E.c.id, _PENDING)
        # The deliveries first: SQLite only cascades with foreign keys on, which a
        # connection opened outside the bot (a migration, a shell) may not have.
        old = select(E.c.id).where(E.c.created_at < before, ~waiting)
        await self._session.execute(delete(D).where(D.c.event_id.in_(old)))
        gone = await self._session.execute(delete(E).where(E.c.created_at < before, ~waiting))
        return rows_changed(gone)
