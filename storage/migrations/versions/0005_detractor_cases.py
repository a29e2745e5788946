"""Detractor cases, their alert messages, pending staff replies and reply threads.

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "detractor_cases",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("response_id", ID, sa.ForeignKey("responses.id"), nullable=False, unique=True),
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("respondent_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
    )
    op.create_index(
        "ix_detractor_cases_survey_opened", "detractor_cases", ["survey_id", "opened_at"]
    )
    op.create_table(
        "case_alerts",
        sa.Column("case_id", ID, sa.ForeignKey("detractor_cases.id"), primary_key=True),
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "pending_replies",
        sa.Column("staff_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("chat_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("case_id", ID, sa.ForeignKey("detractor_cases.id"), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "case_threads",
        sa.Column("respondent_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("case_id", ID, sa.ForeignKey("detractor_cases.id"), nullable=False),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("case_threads")
    op.drop_table("pending_replies")
    op.drop_table("case_alerts")
    op.drop_index("ix_detractor_cases_survey_opened", "detractor_cases")
    op.drop_table("detractor_cases")
