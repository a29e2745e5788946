"""Which update_ids were handled, so a redelivered update changes nothing."""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate, utcnow
from storage.repos import upsert_insert


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """The claim, built once per dialect: it runs with every update."""
    insert = upsert_insert(dialect)
    return (
        insert(ProcessedUpdate.__table__)
        .values(update_id=bindparam("update_id"), processed_at=bindparam("processed_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
    )


class UpdateLog:
    """Claims update ids inside the handling transaction."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def claim(self, update_id: int) -> bool:
        """Records the update; False when it was handled before."""
        result = await self._session.execute(
            _claim_statement(self._dialect), {"update_id": update_id, "processed_at": utcnow()}
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def forget_older_than(self, days: int) -> int:
        """Prunes the log; Telegram never redelivers updates older than a day."""
        cutoff = utcnow() - timedelta(days=days)
        result = await self._session.execute(
            delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < cutoff)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
