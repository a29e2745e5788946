"""Broadcast jobs: drafted from the preview, confirmed (the audience snapshotted as
recipients), cancelled, and finished once no recipient is open.

Sending is in storage/repos/broadcast_recipients.py (the recipient queue), the workers'
heartbeats in storage/repos/sending_workers.py, reminders in storage/repos/reminders.py;
bot/broadcast/worker.py explains the delivery guarantees.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import (
    OPEN_RECIPIENT_STATES,
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
)
from storage.repos.audience import AudienceRepo, Fatigue, Segment
from storage.split_models import HELD_BACK_DETAIL
from storage.tables import rows_changed, table_of

B = table_of(Broadcast)
BR = table_of(BroadcastRecipient)
# The tally's key for an A/B broadcast's held-back control group (`skipped` rows with the
# detail "control"): neither sent nor to be sent nor skipped for a reason.
HELD_BACK = "held_back"


@dataclass(frozen=True)
class Tally:
    """Recipients of a broadcast by state."""

    counts: dict[str, int]

    def __getitem__(self, status: RecipientStatus) -> int:
        return self.counts.get(status.value, 0)

    @property
    def total(self) -> int:
        """Every recipient the broadcast is to message (a held-back control group is not)."""
        return sum(count for key, count in self.counts.items() if key != HELD_BACK)

    @property
    def held_back(self) -> int:
        """An A/B broadcast's control group held back (storage/split_models.py)."""
        return self.counts.get(HELD_BACK, 0)

    @property
    def delivered(self) -> int:
        """Sent, counting the uncertain ones (they were handed to Telegram, maybe delivered)."""
        return self[RecipientStatus.SENT] + self[RecipientStatus.UNCERTAIN]

    @property
    def remaining(self) -> int:
        """Not yet handled."""
        return sum(self[status] for status in OPEN_RECIPIENT_STATES)

    @property
    def handled(self) -> int:
        """Handled one way or another."""
        return self.total - self.remaining


class BroadcastRepo:
    """Creates, confirms, cancels and finishes broadcasts; never commits (the caller does)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._audience = AudienceRepo(session)

    # --- the admin's side ---------------------------------------------------------------

    async def create_draft(
        self,
        *,
        survey_id: int,
        segment: str,
        created_by: int,
        chat_id: int,
        language: str,
        now: datetime,
    ) -> Broadcast:
        """Stores a previewed broadcast waiting for Confirm."""
        broadcast = Broadcast(
            survey_id=survey_id,
            segment=segment,
            status=BroadcastStatus.DRAFT,
            created_by=created_by,
            admin_chat_id=chat_id,
            language=language,
            total=0,
            created_at=now,
        )
        self._session.add(broadcast)
        await self._session.flush()
        return broadcast

    async def remember_preview(self, broadcast_id: int, message_id: int) -> None:
        """Binds a draft to its preview message (the only one whose Confirm counts)."""
        await self._session.execute(
            update(B)
            .where(B.c.id == broadcast_id, B.c.status == BroadcastStatus.DRAFT)
            .values(progress_message_id=message_id)
        )

    async def get(self, broadcast_id: int) -> Broadcast | None:
        """The broadcast with this id (fresh from the database)."""
        return await self._session.scalar(
            select(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .execution_options(populate_existing=True)
        )

    async def start(
        self,
        broadcast_id: int,
        segment: Segment,
        fatigue: Fatigue,
        now: datetime,
        progress_message_id: int | None,
        owners: Collection[int] = (),
    ) -> int | None:
        """Confirms a draft: snapshots its audience as pending recipients; None if not a draft.

        The audience is counted again here, so someone who sent /stop after the preview
        is not messaged.
        """
        result = await self._session.execute(
            update(B)
            .where(B.c.id == broadcast_id, B.c.status == BroadcastStatus.DRAFT)
            .values(
                status=BroadcastStatus.RUNNING,
                started_at=now,
                progress_message_id=progress_message_id,
            )
            .returning(B.c.survey_id)
        )
        survey_id = result.scalar()
        if survey_id is None:
            return None
        total = await self._audience.enrol(
            broadcast_id, survey_id, segment, fatigue, now, owners=owners
        )
        await self._session.execute(update(B).where(B.c.id == broadcast_id).values(total=total))
        return total

    async def discard(self, broadcast_id: int) -> bool:
        """Drops a draft (Cancel on the preview); False if it was not a draft any more."""
        result = await self._session.execute(
            update(B)
            .where(B.c.id == broadcast_id, B.c.status == BroadcastStatus.DRAFT)
            .values(status=BroadcastStatus.DISCARDED)
        )
        return bool(rows_changed(result))

    async def cancel(self, broadcast_id: int, by: int) -> bool:
        """Stops a running broadcast: nobody still pending is messaged."""
        result = await self._session.execute(
            update(B)
            .where(B.c.id == broadcast_id, B.c.status == BroadcastStatus.RUNNING)
            .values(status=BroadcastStatus.CANCELLED, cancelled_by=by)
        )
        if not rows_changed(result):
            return False
        await self._session.execute(
            update(BR)
            .where(BR.c.broadcast_id == broadcast_id, BR.c.status == RecipientStatus.PENDING)
            .values(status=RecipientStatus.CANCELLED)
        )
        return True

    # --- the workers' side --------------------------------------------------------------

    async def unfinished(self) -> list[Broadcast]:
        """Running or cancelled broadcasts whose summary was not sent yet, oldest first."""
        rows = await self._session.scalars(
            select(Broadcast)
            .where(
                Broadcast.status.in_([BroadcastStatus.RUNNING, BroadcastStatus.CANCELLED]),
                Broadcast.finished_at.is_(None),
            )
            .order_by(Broadcast.id)
            .execution_options(populate_existing=True)
        )
        return list(rows.all())

    async def status_of(self, broadcast_id: int) -> str | None:
        """The broadcast's status, read fresh."""
        return await self._session.scalar(select(B.c.status).where(B.c.id == broadcast_id))

    async def tally(self, broadcast_id: int) -> Tally:
        """Recipients by state; a held-back control group apart from the skipped (HELD_BACK)."""
        rows = await self._session.execute(
            select(BR.c.status, func.count())
            .where(BR.c.broadcast_id == broadcast_id)
            .group_by(BR.c.status)
        )
        counts = {status: count for status, count in rows}
        if counts.get(RecipientStatus.SKIPPED.value):
            held = await self._session.scalar(
                select(func.count()).where(
                    BR.c.broadcast_id == broadcast_id,
                    BR.c.status == RecipientStatus.SKIPPED,
                    BR.c.detail == HELD_BACK_DETAIL,
                )
            )
            if held:
                counts[RecipientStatus.SKIPPED.value] -= held
                counts[HELD_BACK] = held
        return Tally(counts)

    async def claim_progress(self, broadcast_id: int, now: datetime, not_after: datetime) -> bool:
        """True for the one worker that should edit the progress message now."""
        result = await self._session.execute(
            update(B)
            .where(
                B.c.id == broadcast_id,
                (B.c.progress_at.is_(None)) | (B.c.progress_at <= not_after),
            )
            .values(progress_at=now)
        )
        return bool(rows_changed(result))

    async def finish(self, broadcast_id: int, now: datetime) -> bool:
        """Marks a broadcast finished once nobody is open; True for the one caller that did."""
        if await self.status_of(broadcast_id) == BroadcastStatus.CANCELLED:
            # Rows given back after the cancel (a stopped worker's queue) are not sent either.
            await self._session.execute(
                update(BR)
                .where(BR.c.broadcast_id == broadcast_id, BR.c.status == RecipientStatus.PENDING)
                .values(status=RecipientStatus.CANCELLED)
            )
        still_open = await self._session.scalar(
            select(func.count()).where(
                BR.c.broadcast_id == broadcast_id, BR.c.status.in_(OPEN_RECIPIENT_STATES)
            )
        )
        if still_open:
            return False
        result = await self._session.execute(
            update(B)
            .where(B.c.id == broadcast_id, B.c.finished_at.is_(None))
            .values(
                finished_at=now,
                status=func.coalesce(
                    # A cancelled broadcast keeps its status; a running one is done.
                    func.nullif(B.c.status, BroadcastStatus.RUNNING.value),
                    BroadcastStatus.DONE.value,
                ),
            )
        )
        return bool(rows_changed(result))
