"""Taking over the invitations a dead sending process held (its heartbeat stopped, see
storage/repos/sending_workers.py); the queue itself is storage/repos/invitation_queue.py.

"claimed" rows were never handed to Telegram and are scheduled again; "sending" rows may
have arrived and are recorded sent with the reason "uncertain" — never sent twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import RecipientStatus
from storage.invitation_models import InvitationStatus
from storage.repos.broadcast_recipients import Outcome, RecipientQueue
from storage.repos.invitations import INV, UNCERTAIN, A


async def recover_stale(
    session: AsyncSession,
    dialect: str,
    recipients: RecipientQueue,
    live_workers: Iterable[str],
    now: datetime,
) -> int:
    """Takes over the rows of processes whose heartbeat stopped (killed, powered off).

    "claimed" rows were never handed to Telegram: scheduled again, sent by whoever
    claims them next. "sending" rows may have been delivered: recorded sent with the
    reason "uncertain" and never sent again (at most once); their responses are opened
    (`recipients`), since the question may be on the person's screen. Returns how many
    were uncertain. Never commits (the caller does).
    """
    live = list(live_workers)
    query = select(
        INV.c.id, INV.c.status, INV.c.respondent_id, INV.c.response_id, INV.c.attempt_at
    ).where(INV.c.status.in_([InvitationStatus.CLAIMED, InvitationStatus.SENDING]))
    if live:
        query = query.where(INV.c.worker.not_in(live))
    if dialect == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.execute(query)).all()
    claimed = [row for row in rows if row.status == InvitationStatus.CLAIMED]
    doubtful = [row for row in rows if row.status == InvitationStatus.SENDING]
    if claimed:
        dropped = [row.response_id for row in claimed if row.response_id is not None]
        if dropped:
            await session.execute(delete(A).where(A.c.id.in_(dropped)))
        await session.execute(
            update(INV)
            .where(INV.c.id.in_([row.id for row in claimed]))
            .values(status=InvitationStatus.SCHEDULED, worker=None, response_id=None)
        )
    if doubtful:
        await session.execute(
            update(INV)
            .where(INV.c.id == bindparam("rid"))
            .values(status=InvitationStatus.SENT, reason=UNCERTAIN, sent_at=bindparam("at")),
            [{"rid": row.id, "at": row.attempt_at or now} for row in doubtful],
        )
        await recipients.open_responses(
            [
                (
                    row.respondent_id,
                    row.response_id,
                    Outcome(row.id, RecipientStatus.SENT, row.attempt_at or now),
                )
                for row in doubtful
                if row.response_id is not None
            ]
        )
    return len(doubtful)
