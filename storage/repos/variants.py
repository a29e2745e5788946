"""A/B broadcasts: the arms of a split broadcast, each recipient's arm, and the score
histograms per arm (the `variant` segment of /nps).

The variant segment is read from the recorded assignments, not from the per-day counters:
an arm is a fact about one broadcast's recipients, known only once the broadcast is
confirmed, and an answer reaches its arm through the recipient row that asked it
(assignment → recipient → response).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.broadcast_models import BroadcastRecipient, RecipientStatus
from storage.models import Response
from storage.repos.audience import chunks
from storage.split_models import CONTROL, HELD_BACK_DETAIL, BroadcastArm, BroadcastAssignment
from storage.tables import rows_changed, table_of

ARMS = table_of(BroadcastArm)
AS = table_of(BroadcastAssignment)
BR = table_of(BroadcastRecipient)
A = table_of(Response)

Counts = tuple[int, ...]  # invited, then scores 0..10 (as storage/repos/stats.py)


@dataclass(frozen=True)
class Arm:
    """One stored arm: its name, its message (None for the control group), its share,
    and for the control group whether it is held back (never messaged)."""

    name: str
    text: str | None
    share: float
    held_back: bool = False


class VariantRepo:
    """Stores splits and assignments, and counts answers per arm; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save_arms(self, broadcast_id: int, arms: Sequence[Arm]) -> None:
        """Stores a draft's arms (the preview's split), in the command's order."""
        rows = [
            {
                "broadcast_id": broadcast_id,
                "arm": arm.name,
                "text": arm.text,
                "share": arm.share,
                "position": position,
                "held_back": arm.held_back,
            }
            for position, arm in enumerate(arms)
        ]
        await self._session.execute(insert(ARMS), rows)

    async def arms(self, broadcast_id: int) -> list[Arm]:
        """The broadcast's arms in order; empty for a broadcast that is not split."""
        rows = await self._session.execute(
            select(ARMS.c.arm, ARMS.c.text, ARMS.c.share, ARMS.c.held_back)
            .where(ARMS.c.broadcast_id == broadcast_id)
            .order_by(ARMS.c.position)
        )
        return [Arm(name, text, share, bool(held)) for name, text, share, held in rows]

    async def recipients(self, broadcast_id: int) -> list[int]:
        """The people a confirmed broadcast enrolled (in id order, for a seeded draw)."""
        rows = await self._session.scalars(
            select(BR.c.respondent_id)
            .where(BR.c.broadcast_id == broadcast_id)
            .order_by(BR.c.respondent_id)
        )
        return list(rows.all())

    async def save_assignments(self, broadcast_id: int, arms: Mapping[int, str]) -> None:
        """Records each person's arm; runs in the transaction that enrolled them, before
        anything is sent. The unique (broadcast, person) key refuses a second arm."""
        rows = [
            {"broadcast_id": broadcast_id, "respondent_id": person, "arm": arm}
            for person, arm in arms.items()
        ]
        for chunk in chunks(rows):
            await self._session.execute(insert(AS), list(chunk))

    async def hold_back(self, broadcast_id: int) -> int:
        """Marks the control group's pending recipient rows `skipped` ("control"): a held-back
        control group is never claimed, so never messaged. Runs in the transaction of the
        draw, so no worker sees them pending; how many rows it marked."""
        control = select(AS.c.respondent_id).where(
            AS.c.broadcast_id == broadcast_id, AS.c.arm == CONTROL
        )
        result = await self._session.execute(
            update(BR)
            .where(
                BR.c.broadcast_id == broadcast_id,
                BR.c.status == RecipientStatus.PENDING,
                BR.c.respondent_id.in_(control),
            )
            .values(status=RecipientStatus.SKIPPED, detail=HELD_BACK_DETAIL)
        )
        return rows_changed(result)

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        """Recipients per arm."""
        rows = await self._session.execute(
            select(AS.c.arm, func.count())
            .where(AS.c.broadcast_id == broadcast_id)
            .group_by(AS.c.arm)
        )
        return {arm: int(count) for arm, count in rows}

    async def messages_for(self, broadcast_id: int, people: Sequence[int]) -> dict[int, str]:
        """The variant message of each person who has one (the control group has none)."""
        found: dict[int, str] = {}
        for chunk in chunks(list(people)):
            rows = await self._session.execute(
                select(AS.c.respondent_id, ARMS.c.text)
                .join(ARMS, and_(ARMS.c.broadcast_id == AS.c.broadcast_id, ARMS.c.arm == AS.c.arm))
                .where(AS.c.broadcast_id == broadcast_id, AS.c.respondent_id.in_(chunk))
            )
            found.update({person: text for person, text in rows if text})
        return found

    async def arm_of(self, broadcast_id: int, respondent_id: int) -> str | None:
        """A person's arm in a broadcast (tests and audits)."""
        return await self._session.scalar(
            select(AS.c.arm).where(
                AS.c.broadcast_id == broadcast_id, AS.c.respondent_id == respondent_id
            )
        )

    async def totals(
        self, survey_ids: Sequence[int], start: datetime, end: datetime
    ) -> dict[str, Counts]:
        """Invited and score counts per arm of the answers to split broadcasts in [start,
        end): an answer counts on the day it was scored, an invitation on the day it was
        asked, as in the counters; an answer replaced by a newer one does not count."""
        if not survey_ids:
            return {}
        joined = AS.join(
            BR,
            and_(BR.c.broadcast_id == AS.c.broadcast_id, BR.c.respondent_id == AS.c.respondent_id),
        ).join(A, A.c.id == BR.c.response_id)
        ids = list(survey_ids)
        scores = await self._session.execute(
            select(AS.c.arm, A.c.score, func.count())
            .select_from(joined)
            .where(
                A.c.survey_id.in_(ids),
                A.c.score.is_not(None),
                A.c.scored_at >= start,
                A.c.scored_at < end,
                A.c.superseded_by.is_(None),
            )
            .group_by(AS.c.arm, A.c.score)
        )
        counts: dict[str, list[int]] = {}
        for arm, score, n in scores:
            counts.setdefault(arm, [0] * 12)[1 + int(score)] += int(n)
        invited = await self._session.execute(
            select(AS.c.arm, func.count())
            .select_from(joined)
            .where(
                A.c.survey_id.in_(ids),
                A.c.asked_at >= start,
                A.c.asked_at < end,
                A.c.superseded_by.is_(None),
            )
            .group_by(AS.c.arm)
        )
        for arm, n in invited:
            counts.setdefault(arm, [0] * 12)[0] += int(n)
        return {arm: tuple(values) for arm, values in counts.items()}
