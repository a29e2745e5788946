"""What a user is in the middle of besides a survey, in one look-up per message."""

from __future__ import annotations

from dataclasses import dataclass

from storage.driver import DriverSQL


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
_PENDING = (
    "SELECT EXISTS (SELECT 1 FROM pending_replies WHERE staff_id = $1 AND chat_id = $2), "
    "EXISTS (SELECT 1 FROM case_threads WHERE respondent_id = $1), "
    "EXISTS (SELECT 1 FROM staff_dialogs WHERE user_id = $1), "
    "EXISTS (SELECT 1 FROM contact_import_requests WHERE user_id = $1)"
)


class PendingRepo:
    """Reads the four "in the middle of" markers together."""

    def __init__(self, driver: DriverSQL) -> None:
        self._driver = driver

    async def of(self, user_id: int, chat_id: int) -> Pending:
        """The markers of this user (and, for a staff reply, this chat)."""
        row = await self._driver.fetchrow(_PENDING, user_id, chat_id)
        assert row is not None  # a SELECT without FROM returns one row
        return Pending(*(bool(flag) for flag in row))
