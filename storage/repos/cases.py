"""Detractor cases: open, alert messages, replies, resolution, counts for reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from storage.case_models import (
    CaseAlert,
    CaseThread,
    DetractorCase,
    PendingReply,
    UndeliveredAlert,
)
from storage.driver import DriverSQL
from storage.models import utcnow
from storage.repos import upsert_insert
from storage.statements import Statement, same

# Asked for every detractor's answer (built once).
_FOR_RESPONSE = select(DetractorCase).where(DetractorCase.response_id == bindparam("response_id"))
# Driver SQL (storage/driver.py): a case opens with every detractor score, and every
# follow-up answer of a detractor looks for the alerts to update.
_OPEN = Statement(
    lambda dialect: (
        upsert_insert(dialect)(DetractorCase)
        .values(
            response_id=bindparam("response_id"),
            survey_id=bindparam("survey_id"),
            respondent_id=bindparam("respondent_id"),
            status=literal_column("'open'"),
            opened_at=bindparam("opened_at"),
        )
        .on_conflict_do_nothing(index_elements=["response_id"])
        .returning(DetractorCase.id)
    ),
    "response_id",
    "survey_id",
    "respondent_id",
    "opened_at",
)
_ALERTS_OF_RESPONSE = same(
    select(CaseAlert.chat_id, CaseAlert.message_id)
    .join(DetractorCase, DetractorCase.id == CaseAlert.case_id)
    .where(DetractorCase.response_id == bindparam("response_id")),
    "response_id",
)

# A held alert goes out for these; a case a newer answer superseded is not alerted late.
_STILL_ALERTED = ("open", "resolved")


class CaseRepo:
    """Reads and changes detractor cases."""

    def __init__(self, session: AsyncSession, driver: DriverSQL) -> None:
        self._session = session
        self._driver = driver

    async def open(
        self,
        response_id: int,
        survey_id: int,
        respondent_id: int | None,
        *,
        at: datetime | None = None,
    ) -> DetractorCase:
        """Opens the case of a detractor answer (one per response), now or `at`.

        Inserted with driver SQL; the entity is built from what was inserted and joins
        the session as if loaded, without reading the row back.
        """
        opened = at or utcnow()
        if respondent_id is None:
            # Anonymous (eNPS) answers: an exact time could point at the employee.
            opened = opened.replace(minute=0, second=0, microsecond=0)
        driver = self._driver
        row = await driver.fetchrow(
            _OPEN, response_id, survey_id, respondent_id, driver.stamp(opened)
        )
        if row is None:  # opened before (the score was stored again)
            existing = await self.for_response(response_id)
            assert existing is not None  # the conflict was this response's case
            return existing
        case = DetractorCase(
            id=row[0],
            response_id=response_id,
            survey_id=survey_id,
            respondent_id=respondent_id,
            status="open",
            opened_at=opened,
            resolved_by=None,
            resolved_at=None,
        )
        make_transient_to_detached(case)
        self._session.add(case)  # persistent: later attribute changes are written
        return case

    async def get(self, case_id: int) -> DetractorCase | None:
        """The case with this id."""
        return await self._session.get(DetractorCase, case_id)

    async def reload(self, case: DetractorCase) -> DetractorCase:
        """Re-reads a case after a conditional update."""
        await self._session.refresh(case)
        return case

    async def for_response(self, response_id: int) -> DetractorCase | None:
        """The case opened for a response, if any."""
        return await self._session.scalar(_FOR_RESPONSE, {"response_id": response_id})

    async def remember_alert(self, case_id: int, chat_id: int, message_id: int) -> None:
        """Stores where an alert was posted."""
        await self._session.merge(
            CaseAlert(case_id=case_id, chat_id=chat_id, message_id=message_id)
        )

    async def hold_alert(self, case_id: int, chat_ids: Sequence[int]) -> None:
        """Keeps the case's alert for these chats until Telegram accepted it
        (`alert_delivered`): a chat that cannot be written to yet gets it later."""
        now = utcnow()
        for chat_id in chat_ids:
            held = UndeliveredAlert(case_id=case_id, chat_id=chat_id, since=now)
            await self._session.merge(held)

    async def alert_delivered(self, case_id: int, chat_id: int, message_id: int) -> None:
        """The alert reached the chat: stores where, and stops holding it."""
        await self.remember_alert(case_id, chat_id, message_id)
        await self._session.execute(
            delete(UndeliveredAlert).where(
                UndeliveredAlert.case_id == case_id, UndeliveredAlert.chat_id == chat_id
            )
        )

    async def undelivered_to(self, chat_id: int) -> list[DetractorCase]:
        """The cases whose alert this chat has not received yet, oldest first."""
        rows = await self._session.scalars(
            select(DetractorCase)
            .join(UndeliveredAlert, UndeliveredAlert.case_id == DetractorCase.id)
            .where(
                UndeliveredAlert.chat_id == chat_id,
                DetractorCase.status.in_(_STILL_ALERTED),
            )
            .order_by(DetractorCase.id)
        )
        return list(rows.all())

    async def undelivered_counts(self) -> dict[int, int]:
        """Alerts waiting for each chat: chat → count."""
        rows = await self._session.execute(
            select(UndeliveredAlert.chat_id, func.count())
            .join(DetractorCase, DetractorCase.id == UndeliveredAlert.case_id)
            .where(DetractorCase.status.in_(_STILL_ALERTED))
            .group_by(UndeliveredAlert.chat_id)
        )
        return {int(chat_id): int(n) for chat_id, n in rows}

    async def alerts_of_response(self, response_id: int) -> dict[int, int]:
        """The alerts posted for a response's case (none without a case): chat → message."""
        return dict(await self._driver.fetch(_ALERTS_OF_RESPONSE, response_id))

    async def resolve(self, case_id: int, by: int, *, at: datetime | None = None) -> bool:
        """Marks the case resolved (now or `at`); False when it already was (the first
        press wins)."""
        result = await self._session.execute(
            update(DetractorCase)
            .where(DetractorCase.id == case_id, DetractorCase.status == "open")
            .values(status="resolved", resolved_by=by, resolved_at=at or utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def close_superseded(self, response_id: int) -> bool:
        """Closes the open case of an answer a newer one replaced (status "superseded":
        neither open nor resolved in any count); False when it had none open."""
        result = await self._session.execute(
            update(DetractorCase)
            .where(DetractorCase.response_id == response_id, DetractorCase.status == "open")
            .values(status="superseded", resolved_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def start_reply(self, staff_id: int, chat_id: int, case_id: int) -> None:
        """The staff member's next message in this chat goes to the case's respondent."""
        await self._session.merge(
            PendingReply(staff_id=staff_id, chat_id=chat_id, case_id=case_id, started_at=utcnow())
        )

    async def pending_reply(self, staff_id: int, chat_id: int) -> PendingReply | None:
        """The reply a staff member is about to write in this chat, if any."""
        return await self._session.get(PendingReply, (staff_id, chat_id))

    async def finish_reply(self, staff_id: int, chat_id: int) -> bool:
        """Leaves reply mode; False when there was none."""
        result = await self._session.execute(
            delete(PendingReply).where(
                PendingReply.staff_id == staff_id, PendingReply.chat_id == chat_id
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def open_thread(
        self, respondent_id: int, case_id: int, staff_chat_id: int, staff_id: int
    ) -> None:
        """Routes the respondent's answers to the staff chat that wrote to them."""
        await self._session.merge(
            CaseThread(
                respondent_id=respondent_id,
                case_id=case_id,
                staff_chat_id=staff_chat_id,
                updated_at=utcnow(),
                staff_id=staff_id,
            )
        )

    async def touch_thread(self, respondent_id: int) -> None:
        """The thread is in use: its expiry starts again."""
        await self._session.execute(
            update(CaseThread)
            .where(CaseThread.respondent_id == respondent_id)
            .values(updated_at=utcnow())
        )

    async def close_thread(self, respondent_id: int) -> None:
        """Stops forwarding a respondent's answers (expired, or the staff member's role
        was taken away)."""
        await self._session.execute(
            delete(CaseThread).where(CaseThread.respondent_id == respondent_id)
        )

    async def close_for_staff(self, staff_id: int, alert_chats: Sequence[int]) -> None:
        """A role was revoked: answers to what they wrote stop coming to them (threads
        that lead to their own chat, or that they opened in a chat other than the alert
        chat, whose members may act on cases anyway). Their reply mode ends at their next
        message, which tells them so (handlers/case_replies.py re-checks the role)."""
        await self._session.execute(
            delete(CaseThread).where(
                (CaseThread.staff_chat_id == staff_id)
                | (
                    (CaseThread.staff_id == staff_id)
                    & CaseThread.staff_chat_id.not_in(list(alert_chats))
                )
            )
        )

    async def thread_of(self, respondent_id: int) -> CaseThread | None:
        """The open conversation with the team, if any."""
        return await self._session.get(CaseThread, respondent_id)

    async def close_threads(self, case_id: int) -> None:
        """Stops forwarding once a case is resolved."""
        await self._session.execute(delete(CaseThread).where(CaseThread.case_id == case_id))

    async def forget_person(self, person_id: int) -> None:
        """Erases who a case was about (/forgetme): the case and its counts stay."""
        await self._session.execute(
            delete(CaseThread).where(CaseThread.respondent_id == person_id)
        )
        await self._session.execute(
            update(DetractorCase)
            .where(DetractorCase.respondent_id == person_id)
            .values(respondent_id=None)
        )

    async def counts(
        self, survey_ids: Sequence[int], start: datetime, end: datetime
    ) -> dict[str, int]:
        """Open and resolved cases opened in [start, end)."""
        rows = await self._session.execute(
            select(DetractorCase.status, func.count())
            .where(
                DetractorCase.survey_id.in_(survey_ids),
                DetractorCase.opened_at >= start,
                DetractorCase.opened_at < end,
            )
            .group_by(DetractorCase.status)
        )
        counts = {"open": 0, "resolved": 0}
        counts.update({status: int(n) for status, n in rows})
        return counts
