"""The persisted outbox: replies kept until sent, so a crash after a commit loses none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.driver import DriverSQL
from storage.models import utcnow
from storage.outbox_models import KeptReplies

# Driver SQL (storage/driver.py): one insert with every unit of work that replies to a chat.
_KEEP = (
    "INSERT INTO outbox (chat_id, created_at, done, actions) VALUES ($1, $2, 0, $3) RETURNING id"
)
_PROGRESS = "UPDATE outbox SET done = $2 WHERE id = $1 AND done < $2"
_SENT = "DELETE FROM outbox WHERE id = $1"
_SENT_MANY_PG = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"  # one round trip
_LEFT = "SELECT id, chat_id, done, actions FROM outbox WHERE created_at <= $1 ORDER BY id"

assert KeptReplies.__tablename__ == "outbox"  # the table these statements name


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
