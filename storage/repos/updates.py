"""Which update_ids were handled, so a redelivered update changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.models import ProcessedUpdate, utcnow
from storage.repos import upsert_insert
from storage.statements import Statement

# Runs with every update (storage/driver.py: why driver SQL).
CLAIM = Statement(
    lambda dialect: (
        upsert_insert(dialect)(ProcessedUpdate)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
    ),
    "update_id",
    "processed_at",
)


class UpdateLog:
    """Claims update ids inside the handling transaction."""

    def __init__(self, session: AsyncSession, driver: DriverSQL) -> None:
        self._session = session
        self._driver = driver

    async def claim(self, update_id: int) -> bool:
        """Records the update; False when it was handled before."""
        driver = self._driver
        return bool(await driver.execute(CLAIM, update_id, driver.stamp(utcnow())))

    async def forget_older_than(self, days: int) -> int:
        """Prunes the log; Telegram never redelivers updates older than a day."""
        cutoff = utcnow() - timedelta(days=days)
        result = await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
