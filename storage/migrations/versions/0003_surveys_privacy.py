"""Staff dialogs (surveys from the chat) and eNPS anonymity: threads, answers, salt.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_dialogs",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False, unique=True),
        sa.Column("flow", sa.String(8), nullable=False),
        sa.Column("step", sa.String(24), nullable=False),
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "anonymous_threads",
        sa.Column("user_key", sa.String(64), primary_key=True),
        sa.Column("response_id", ID, sa.ForeignKey("responses.id"), nullable=False, unique=True),
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_anonymous_threads_created", "anonymous_threads", ["created_at"])
    op.create_table(
        "anonymous_answers",
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), primary_key=True),
        sa.Column("answer_key", sa.String(64), primary_key=True),
    )
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_secrets")
    op.drop_table("anonymous_answers")
    op.drop_index("ix_anonymous_threads_created", table_name="anonymous_threads")
    op.drop_table("anonymous_threads")
    op.drop_table("staff_dialogs")
