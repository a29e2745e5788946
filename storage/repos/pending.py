"""What a user is in the middle of besides a survey, in one look-up per message."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BindParameter, bindparam, exists, select

from storage.admin_models import StaffDialog
from storage.broadcast_models import ImportRequest
from storage.case_models import CaseThread, PendingReply
from storage.driver import DriverSQL
from storage.statements import same


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


# Driver SQL (storage/driver.py): it runs with every plain message.
_USER: BindParameter[int] = bindparam("user_id")
_PENDING = same(
    select(
        exists().where(
            PendingReply.staff_id == _USER, PendingReply.chat_id == bindparam("chat_id")
        ),
        exists().where(CaseThread.respondent_id == bindparam("respondent_id")),
        exists().where(StaffDialog.user_id == _USER),
        exists().where(ImportRequest.user_id == _USER),
    ),
    "user_id",
    "chat_id",
    "respondent_id",
)


class PendingRepo:
    """Reads the four "in the middle of" markers together."""

    def __init__(self, driver: DriverSQL) -> None:
        self._driver = driver

    async def of(self, user_id: int, chat_id: int, respondent_id: int | None) -> Pending:
        """The markers of this Telegram user (and, for a staff reply, this chat); the reply
        thread is the person's (`respondent_id`, None outside a private chat)."""
        row = await self._driver.fetchrow(_PENDING, user_id, chat_id, respondent_id)
        assert row is not None  # a SELECT without FROM returns one row
        return Pending(*(bool(flag) for flag in row))
