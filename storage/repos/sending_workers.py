"""The broadcast and reminder workers' heartbeats: who is alive, so a dead one's work is
taken over (storage/repos/broadcast_recipients.py, storage/repos/reminders.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import SendingWorker
from storage.repos import upsert_insert
from storage.tables import table_of

W = table_of(SendingWorker)


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
