"""The work queues' lengths, read at each /metrics scrape (bot/metrics.py).

Each count walks an index: running broadcasts first (few), then their recipients by
(broadcast, status); due invitations by (status, send_at); undelivered event rows by the
partial index of each URL's queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, false, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import (
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    RecipientStatus,
)
from storage.event_models import EventDelivery, OutgoingEvent
from storage.invitation_models import OPEN_INVITATION_STATES, Invitation
from storage.tables import table_of

B = table_of(Broadcast)
BR = table_of(BroadcastRecipient)
INV = table_of(Invitation)
D = table_of(EventDelivery)
E = table_of(OutgoingEvent)

# Recipients of a running broadcast not yet handed to Telegram.
_WAITING = (RecipientStatus.PENDING, RecipientStatus.QUEUED)


@dataclass(frozen=True)
class Backlogs:
    """What is waiting to be sent, for all replicas together."""

    broadcast_queue: int  # recipients of running broadcasts, pending or queued
    invitations_due: int  # invitations due and not sent yet
    events_backlog: int  # event deliveries not delivered (and not given up)
    events_oldest_seconds: float  # age of the oldest of them; 0 when none


class BacklogRepo:
    """Counts the queues; reads only."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def read(self, now: datetime) -> Backlogs:
        """The queues' lengths at `now` (aware UTC)."""
        running = select(B.c.id).where(B.c.status == BroadcastStatus.RUNNING)
        queue = select(func.count()).where(
            BR.c.broadcast_id.in_(running), BR.c.status.in_(_WAITING)
        )
        due = select(func.count()).where(
            INV.c.status.in_(OPEN_INVITATION_STATES), INV.c.send_at <= now
        )
        pending = and_(D.c.delivered_at.is_(None), D.c.dead == false())
        events = select(func.count(), func.min(E.c.created_at)).select_from(
            D.join(E, E.c.id == D.c.event_id)
        )
        broadcast_queue = int(await self._session.scalar(queue) or 0)
        invitations_due = int(await self._session.scalar(due) or 0)
        backlog, oldest = (await self._session.execute(events.where(pending))).one()
        age = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
        return Backlogs(broadcast_queue, invitations_due, int(backlog or 0), age)
