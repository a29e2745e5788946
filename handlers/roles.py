"""Team roles, in increasing power (owners come from ADMIN_IDS, the rest are granted)."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Roles in increasing power; a command names the least role it needs."""

    NONE = 0
    VIEWER = 1  # statistics, comments, charts, exports
    ADMIN = 2  # also surveys and broadcasts
    OWNER = 3  # also grants and revokes roles (ADMIN_IDS)
