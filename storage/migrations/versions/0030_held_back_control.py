"""A/B broadcasts: a control group can be held back (`control 10% none`): drawn and
recorded like the other arms, never messaged by its broadcast (storage/split_models.py).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
# It adds a column to 0029's broadcast_arms.
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "broadcast_arms",
        sa.Column("held_back", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    # SQLite ≥ 3.35 drops a column in place (as migration 0015 relies on).
    op.drop_column("broadcast_arms", "held_back")
