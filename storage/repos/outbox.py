"""The persisted outbox: replies kept until sent, so a crash after a commit loses none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

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
    )
    .returning(_OUTBOX.c.id),
    "chat_id",
    "created_at",
    "actions",
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
_LEFT = same(
    select(_OUTBOX.c.id, _OUTBOX.c.chat_id, _OUTBOX.c.done, _OUTBOX.c.actions)
    .where(_OUTBOX.c.created_at <= bindparam("moment"))
    .order_by(_OUTBOX.c.id),
    "moment",
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

    async def keep(self, chat_id: int, actions: str) -> int:
        """Stores a unit of work's replies (JSON); the row's id."""
        driver = self._driver
        row = await driver.fetchrow(_KEEP, chat_id, driver.stamp(utcnow()), actions)
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

    async def left_before(self, moment: datetime) -> list[KeptRow]:
        """Rows written before `moment` (by an earlier run), oldest first."""
        driver = self._driver
        rows = await driver.fetch(_LEFT, driver.stamp(moment))
        return [KeptRow(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows]
