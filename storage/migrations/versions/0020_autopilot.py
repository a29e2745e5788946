"""Relationship surveys on autopilot: a schedule per survey and one run per local day.

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "autopilots",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("every", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(8), nullable=False),
        sa.Column("segment", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_run_on", sa.Date(), nullable=True),
        sa.UniqueConstraint("survey_id", name="uq_autopilots_survey"),
    )
    op.create_table(
        "autopilot_runs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("autopilot_id", ID, sa.ForeignKey("autopilots.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("due", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", ID, sa.ForeignKey("broadcasts.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("autopilot_id", "day", name="uq_autopilot_run_day"),
        sa.UniqueConstraint("broadcast_id", name="uq_autopilot_run_broadcast"),
    )


def downgrade() -> None:
    op.drop_table("autopilot_runs")
    op.drop_table("autopilots")
