"""Staff roles granted by owners (owners themselves come from ADMIN_IDS)."""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DigestOptOut, StaffMember, utcnow

ROLES = ("viewer", "admin")


class StaffRepo:
    """Grants, revokes and reads roles."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def role_of(self, user_id: int) -> str | None:
        """The granted role ("viewer" / "admin"), or None."""
        return await self._session.scalar(
            select(StaffMember.role).where(StaffMember.user_id == user_id)
        )

    async def grant(self, user_id: int, role: str, granted_by: int) -> None:
        """Gives a user a role, replacing any earlier one."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        member = await self._session.get(StaffMember, user_id)
        if member is None:
            self._session.add(
                StaffMember(user_id=user_id, role=role, granted_by=granted_by, granted_at=utcnow())
            )
        else:
            member.role, member.granted_by, member.granted_at = role, granted_by, utcnow()
        await self._session.flush()

    async def revoke(self, user_id: int) -> bool:
        """Takes a user's role away; False when they had none."""
        result = await self._session.execute(
            delete(StaffMember).where(StaffMember.user_id == user_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def all(self) -> list[StaffMember]:
        """Everyone with a role, admins first."""
        rows = await self._session.scalars(
            select(StaffMember).order_by(StaffMember.role, StaffMember.user_id)
        )
        return list(rows.all())

    async def set_digest(self, user_id: int, enabled: bool) -> bool:
        """Opts a staff member in or out of the daily digest; False if not staff."""
        result = await self._session.execute(
            update(StaffMember).where(StaffMember.user_id == user_id).values(digest=enabled)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def set_owner_digest(self, user_id: int, enabled: bool) -> None:
        """Turns an owner's daily digest on (the default) or off."""
        await self._session.execute(delete(DigestOptOut).where(DigestOptOut.user_id == user_id))
        if not enabled:
            self._session.add(DigestOptOut(user_id=user_id, at=utcnow()))
        await self._session.flush()

    async def digest_optouts(self) -> set[int]:
        """Owners who turned their digest off."""
        return set((await self._session.scalars(select(DigestOptOut.user_id))).all())

    async def digest_subscribers(self) -> list[int]:
        """Staff who opted in to the daily digest."""
        rows = await self._session.scalars(
            select(StaffMember.user_id).where(StaffMember.digest.is_(True))
        )
        return list(rows.all())
