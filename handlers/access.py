"""Who may do what: owners (ADMIN_IDS) grant viewer and admin roles stored in the database."""

from __future__ import annotations

from enum import IntEnum

from handlers.context import Context


class Role(IntEnum):
    """Roles in increasing power; a command names the least role it needs."""

    NONE = 0
    VIEWER = 1  # statistics, comments, charts, exports
    ADMIN = 2  # also surveys and broadcasts
    OWNER = 3  # also grants and revokes roles (ADMIN_IDS)


async def role_of(ctx: Context, user_id: int) -> Role:
    """The user's role: owner from settings, else the granted one, else none."""
    if user_id in ctx.config.admin_ids:
        return Role.OWNER
    granted = await ctx.store.staff.role_of(user_id)
    return Role[granted.upper()] if granted else Role.NONE
