"""Signed events for the CRM: the outbox of events, per-URL deliveries, per-URL status.

Revision ID: 0018
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MAX_URL = 2000
MAX_ERROR = 300


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_events_person", "events", ["person_id"])
    op.create_table(
        "event_deliveries",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "event_id",
            sa.String(36),
            sa.ForeignKey("events.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("url", sa.String(MAX_URL), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim", sa.String(32), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("dead", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("last_error", sa.String(MAX_ERROR), nullable=True),
    )
    # Each URL's queue in order, only the rows still to send (the head is the first).
    op.create_index(
        "ix_event_deliveries_pending",
        "event_deliveries",
        ["url", "id"],
        sqlite_where=sa.text("delivered_at IS NULL AND dead = 0"),
        postgresql_where=sa.text("delivered_at IS NULL AND dead = false"),
    )
    op.create_index("ix_event_deliveries_event", "event_deliveries", ["event_id"])
    op.create_table(
        "event_endpoints",
        sa.Column("url", sa.String(MAX_URL), primary_key=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(MAX_ERROR), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("event_endpoints")
    op.drop_index("ix_event_deliveries_event", table_name="event_deliveries")
    op.drop_index("ix_event_deliveries_pending", table_name="event_deliveries")
    op.drop_table("event_deliveries")
    op.drop_index("ix_events_person", table_name="events")
    op.drop_table("events")
