"""The persisted outbox: replies kept until sent, so a crash after a commit loses none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import BindParameter

from storage.broadcast_models import SendingWorker
from storage.driver import DriverSQL
from storage.models import utcnow
from storage.outbox_models import KeptReplies
from storage.statements import same

# Driver SQL (storage/driver.py): one insert with every unit of work that replies to a chat.
_OUTBOX = cast(Table, KeptReplies.__table__)
_KEEP = same(
    insert(_OUTBOX)
    .values(
        chat_id=bindparam("chat_id"),
        created_at=bindparam("created_at"),
        done=literal_column("0"),
        actions=bindparam("actions"),
        owner=bindparam("owner"),
    )
    .returning(_OUTBOX.c.id),
    "chat_id",
    "created_at",
    "actions",
    "owner",
)
_PROGRESS = same(
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"), _OUTBOX.c.done < bindparam("done"))
    .values(done=bindparam("done")),
    "row_id",
    "done",
)
_SENT = same(delete(_OUTBOX).where(_OUTBOX.c.id == bindparam("row_id")), "row_id")
# PostgreSQL: every id in one round trip.
_SENT_MANY_PG = same(
    delete(_OUTBOX).where(_OUTBOX.c.id == any_(bindparam("row_ids", type_=ARRAY(BigInteger)))),
    "row_ids",
)
_WORKERS = cast(Table, SendingWorker.__table__)
_ROW = (_OUTBOX.c.id, _OUTBOX.c.chat_id, _OUTBOX.c.done, _OUTBOX.c.actions)
# Each statement below hands rows to one process: the owner is set in the same UPDATE that
# checks it, so two replicas taking over at once never both get a row (PostgreSQL re-checks
# a row's condition after waiting for another's update of it; SQLite has one writer).
_OWNERS = select(_WORKERS.c.id)
# At a start: what was written before it and nobody is sending. `anyone` (SQLite, where
# one process runs the bot) takes every such row, as an owner cannot be alive there.
_TAKE_AT_START = same(
    update(_OUTBOX)
    .where(
        _OUTBOX.c.created_at <= bindparam("moment"),
        or_(
            _OUTBOX.c.owner.is_(None),
            bindparam("anyone", type_=Boolean),
            _OUTBOX.c.owner.not_in(_OWNERS.scalar_subquery()),
        ),
        or_(_OUTBOX.c.owner.is_(None), _OUTBOX.c.owner != bindparam("me")),
    )
    .values(owner=bindparam("me"))
    .returning(*_ROW),
    "moment",
    "anyone",
    "me",
)
# While running: rows of a process whose heartbeat stopped (killed, or stopped cleanly
# with replies left unsent) by `since`; rows younger than that are spared too (their
# owner may not have beaten yet).
_SINCE: BindParameter[datetime] = bindparam("since")
_TAKE_ABANDONED = same(
    update(_OUTBOX)
    .where(
        _OUTBOX.c.owner != bindparam("me"),
        _OUTBOX.c.created_at <= _SINCE,
        _OUTBOX.c.owner.not_in(
            select(_WORKERS.c.id).where(_WORKERS.c.seen_at >= _SINCE).scalar_subquery()
        ),
    )
    .values(owner=bindparam("me"))
    .returning(*_ROW),
    "me",
    "since",
)


_HOLDS = same(
    select(_OUTBOX.c.id).where(_OUTBOX.c.chat_id == bindparam("chat_id")).limit(1), "chat_id"
)


@dataclass(frozen=True)
class KeptRow:
    """Replies left unsent by an earlier run."""

    id: int
    chat_id: int
    done: int
    actions: str


class OutboxRepo:
    """Writes, advances and removes kept replies."""

    def __init__(self, driver: DriverSQL) -> None:
        self._driver = driver

    async def keep(self, chat_id: int, actions: str, owner: str | None = None) -> int:
        """Stores a unit of work's replies (JSON), sent by `owner`; the row's id."""
        driver = self._driver
        row = await driver.fetchrow(_KEEP, chat_id, driver.stamp(utcnow()), actions, owner)
        assert row is not None
        return int(row[0])

    async def progress(self, row_id: int, done: int) -> None:
        """Records that the first `done` replies were sent."""
        await self._driver.execute(_PROGRESS, row_id, done)

    async def sent(self, row_ids: list[int]) -> None:
        """Forgets rows whose replies were all performed (many chats' in one batch)."""
        driver = self._driver
        if driver.sqlite:  # inline: a prepared statement run per id is cheapest
            await driver.executemany(_SENT, [(row_id,) for row_id in row_ids])
        else:
            await driver.execute(_SENT_MANY_PG, row_ids)

    async def holds(self, chat_id: int) -> bool:
        """True while replies to this chat are kept: still being sent (by this process or
        another replica), or left by a crash for the next start."""
        return await self._driver.fetchrow(_HOLDS, chat_id) is not None

    async def take_left(self, me: str, before: datetime, *, anyone: bool) -> list[KeptRow]:
        """At a start: rows written before `before` that no live process is sending (every
        one with `anyone`), now `me`'s, oldest first."""
        driver = self._driver
        rows = await driver.fetch(_TAKE_AT_START, driver.stamp(before), anyone, me)
        return _kept(rows)

    async def take_abandoned(self, me: str, since: datetime) -> list[KeptRow]:
        """Rows written before `since` by a process not seen since then, now `me`'s,
        oldest first."""
        driver = self._driver
        return _kept(await driver.fetch(_TAKE_ABANDONED, me, driver.stamp(since)))


def _kept(rows: list[tuple[Any, ...]]) -> list[KeptRow]:
    kept = [KeptRow(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows]
    return sorted(kept, key=lambda row: row.id)
