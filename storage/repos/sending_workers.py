"""The broadcast and reminder workers' heartbeats: who is alive, so a dead one's work is
taken over (storage/repos/broadcast_recipients.py, storage/repos/reminders.py), and the
share of BROADCAST_RATE each leases (bot/broadcast/sending_process.py)."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import SendingWorker
from storage.repos import upsert_insert
from storage.tables import table_of

W = table_of(SendingWorker)
LEASE_LOCK = 7_340_113  # the advisory lock that serialises leases on PostgreSQL


class Lease(NamedTuple):
    """A live worker's lease of the rate."""

    worker: str
    share: float
    wants: bool


class SendingWorkers:
    """Heartbeats of the sending workers; never commits (the caller does)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def heartbeat(self, worker: str, now: datetime) -> None:
        """Records that this worker is alive."""
        insert = upsert_insert(self._dialect)
        stmt = insert(W).values(id=worker, started_at=now, seen_at=now)
        stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={"seen_at": now})
        await self._session.execute(stmt)

    async def live(self, since: datetime) -> list[str]:
        """Workers seen since `since`."""
        rows = await self._session.scalars(select(W.c.id).where(W.c.seen_at >= since))
        return list(rows.all())

    async def forget(self, worker: str) -> None:
        """Removes a worker that stopped cleanly (it left nothing "sending")."""
        await self._session.execute(delete(W).where(W.c.id == worker))

    async def lock_leases(self) -> None:
        """Serialises lease changes until the transaction ends (SQLite: its write lock)."""
        if self._dialect == "postgresql":
            await self._session.execute(select(func.pg_advisory_xact_lock(LEASE_LOCK)))

    async def leases(self, since: datetime) -> list[Lease]:
        """The leases of workers seen since `since` (older ones are dead: no share)."""
        rows = await self._session.execute(
            select(W.c.id, W.c.share, W.c.wants).where(W.c.seen_at >= since)
        )
        return [Lease(worker, share, wants) for worker, share, wants in rows]

    async def set_lease(self, worker: str, now: datetime, *, share: float, wants: bool) -> None:
        """Records this worker's heartbeat with its share and whether it wants one."""
        insert = upsert_insert(self._dialect)
        stmt = insert(W).values(id=worker, started_at=now, seen_at=now, share=share, wants=wants)
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={"seen_at": now, "share": share, "wants": wants}
        )
        await self._session.execute(stmt)

    async def give_back(self, worker: str) -> None:
        """Returns this worker's whole share (it has nothing to send)."""
        await self._session.execute(
            update(W).where(W.c.id == worker).values(share=0.0, wants=False)
        )
