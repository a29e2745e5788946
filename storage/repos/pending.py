"""What a user is in the middle of besides a survey, in one look-up per message."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.admin_models import StaffDialog
from storage.broadcast_models import ImportRequest
from storage.case_models import CaseThread, PendingReply


@dataclass(frozen=True)
class Pending:
    """Which message interceptors have something to do for this user and chat.

    Every plain message passes four interceptors; asking the four tables at once saves
    three round trips on each survey answer (bench/e2e_throughput.py).
    """

    reply: bool = True  # staff: the next message in this chat answers a detractor
    case_thread: bool = True  # respondent: the team wrote to them; answers go back
    dialog: bool = True  # staff: creating or editing a survey in a guided dialog
    import_request: bool = True  # admin: after /import, the next message is the list


#: Not looked up yet: every interceptor checks its own table.
UNKNOWN = Pending()


@functools.cache
def _statement() -> Any:
    """One row of four EXISTS, built once (bound by user and chat)."""
    user, chat = bindparam("user_id"), bindparam("chat_id")
    return select(
        exists().where(PendingReply.staff_id == user, PendingReply.chat_id == chat),
        exists().where(CaseThread.respondent_id == user),
        exists().where(StaffDialog.user_id == user),
        exists().where(ImportRequest.user_id == user),
    )


class PendingRepo:
    """Reads the four "in the middle of" markers together."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of(self, user_id: int, chat_id: int) -> Pending:
        """The markers of this user (and, for a staff reply, this chat)."""
        row = (
            await self._session.execute(_statement(), {"user_id": user_id, "chat_id": chat_id})
        ).one()
        return Pending(*(bool(flag) for flag in row))
