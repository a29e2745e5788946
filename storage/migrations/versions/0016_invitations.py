"""Invitations: surveys a CRM asks the bot to send one person (the trigger API).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("respondent_id", sa.BigInteger(), nullable=True),
        sa.Column("key_channel", sa.String(16), nullable=False),
        sa.Column("key_address", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("chat", sa.String(64), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("send_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("response_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("worker", sa.String(40), nullable=True),
        sa.Column("attempt_at", sa.DateTime(), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=True),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("public_id", name="uq_invitations_public_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_invitations_idempotency_key"),
    )
    # The sender's query (due scheduled rows) and forgetting a person.
    op.create_index("ix_invitations_status_send_at", "invitations", ["status", "send_at"])
    op.create_index("ix_invitations_respondent", "invitations", ["respondent_id"])


def downgrade() -> None:
    op.drop_index("ix_invitations_respondent", table_name="invitations")
    op.drop_index("ix_invitations_status_send_at", table_name="invitations")
    op.drop_table("invitations")
