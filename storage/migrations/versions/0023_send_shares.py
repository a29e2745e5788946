"""Sending workers lease their share of BROADCAST_RATE: `broadcast_workers.share` (messages
per second; the live rows' shares never add up to more) and `wants` (it has work).

Revision ID: 0023
Revises: 0015
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "broadcast_workers",
        sa.Column("share", sa.Float(), nullable=False, server_default="0"),
    )
    op.add_column(
        "broadcast_workers",
        sa.Column("wants", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("broadcast_workers", "wants")
    op.drop_column("broadcast_workers", "share")
