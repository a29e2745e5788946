"""Broadcasts and their recipients, imported contacts, reminders, sending workers.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), nullable=False),
        sa.Column("segment", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("admin_chat_id", sa.BigInteger(), nullable=False),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("progress_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_broadcasts_status", "broadcasts", ["status"])
    op.create_table(
        "broadcast_recipients",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("broadcast_id", ID, sa.ForeignKey("broadcasts.id"), nullable=False),
        sa.Column("respondent_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("worker", sa.String(40), nullable=True),
        sa.Column("attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("detail", sa.String(200), nullable=True),
        sa.UniqueConstraint("broadcast_id", "respondent_id", name="uq_broadcast_recipient"),
    )
    op.create_index(
        "ix_broadcast_recipients_status", "broadcast_recipients", ["broadcast_id", "status"]
    )
    op.create_table(
        "contacts",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("source", sa.String(64), nullable=True),
        sa.Column("agent", sa.String(64), nullable=True),
        sa.Column("imported_by", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "contact_import_requests",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "survey_reminders",
        sa.Column(
            "response_id",
            ID,
            sa.ForeignKey("responses.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("worker", sa.String(40), nullable=True),
        sa.Column("attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_survey_reminders_status", "survey_reminders", ["status"])
    op.create_table(
        "broadcast_workers",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
    )
    # Reminders look for unanswered questions by age; fatigue rules by respondent and age.
    op.create_index("ix_responses_step_asked", "responses", ["step", "asked_at"])
    op.create_index("ix_responses_respondent_asked", "responses", ["respondent_id", "asked_at"])


def downgrade() -> None:
    op.drop_index("ix_responses_respondent_asked", "responses")
    op.drop_index("ix_responses_step_asked", "responses")
    op.drop_table("broadcast_workers")
    op.drop_index("ix_survey_reminders_status", "survey_reminders")
    op.drop_table("survey_reminders")
    op.drop_table("contact_import_requests")
    op.drop_table("contacts")
    op.drop_index("ix_broadcast_recipients_status", "broadcast_recipients")
    op.drop_table("broadcast_recipients")
    op.drop_index("ix_broadcasts_status", "broadcasts")
    op.drop_table("broadcasts")
