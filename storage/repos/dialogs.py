"""Staff dialogs: the state of a guided conversation, one row per staff member."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.admin_models import StaffDialog
from storage.models import utcnow


class DialogRepo:
    """Starts, reads, advances and ends staff dialogs."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of(self, user_id: int) -> StaffDialog | None:
        """The user's dialog, if one is open."""
        return await self._session.scalar(
            select(StaffDialog).where(StaffDialog.user_id == user_id)
        )

    async def start(
        self,
        user_id: int,
        flow: str,
        step: str,
        *,
        survey_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> StaffDialog:
        """Opens a dialog, replacing any earlier one (its buttons stop working)."""
        await self.end(user_id)
        now = utcnow()
        dialog = StaffDialog(
            user_id=user_id,
            flow=flow,
            step=step,
            survey_id=survey_id,
            data=dict(data or {}),
            started_at=now,
            updated_at=now,
        )
        self._session.add(dialog)
        await self._session.flush()
        return dialog

    async def save(
        self, dialog: StaffDialog, *, step: str | None = None, **changes: Any
    ) -> StaffDialog:
        """Moves the dialog to `step` and merges `changes` into what it collected."""
        if step is not None:
            dialog.step = step
        if changes:
            # A new dict: JSON columns only notice reassignment, not in-place mutation.
            dialog.data = {**dialog.data, **changes}
        dialog.updated_at = utcnow()
        await self._session.flush()
        return dialog

    async def end(self, user_id: int) -> bool:
        """Closes the user's dialog; False when there was none."""
        result = await self._session.execute(
            delete(StaffDialog).where(StaffDialog.user_id == user_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]
