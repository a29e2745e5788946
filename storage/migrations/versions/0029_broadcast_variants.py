"""A/B broadcasts: a split broadcast's arms (variant messages, the control group) and the
arm each recipient was assigned to (storage/split_models.py).

Revision ID: 0029
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "broadcast_arms",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("broadcast_id", ID, sa.ForeignKey("broadcasts.id"), nullable=False),
        sa.Column("arm", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("broadcast_id", "arm", name="uq_broadcast_arm"),
    )
    op.create_table(
        "broadcast_assignments",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("broadcast_id", ID, sa.ForeignKey("broadcasts.id"), nullable=False),
        sa.Column("respondent_id", sa.BigInteger(), nullable=False),
        sa.Column("arm", sa.String(16), nullable=False),
        sa.UniqueConstraint("broadcast_id", "respondent_id", name="uq_broadcast_assignment"),
    )
    op.create_index(
        "ix_broadcast_assignments_arm", "broadcast_assignments", ["broadcast_id", "arm"]
    )


def downgrade() -> None:
    op.drop_index("ix_broadcast_assignments_arm", "broadcast_assignments")
    op.drop_table("broadcast_assignments")
    op.drop_table("broadcast_arms")
