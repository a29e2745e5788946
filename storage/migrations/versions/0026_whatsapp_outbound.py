"""WhatsApp's outbound half: each WhatsApp address's last inbound message (the 24-hour
customer-service window), a survey's own template name, and the delivery statuses Meta
reports for the bot's messages (shown on invitations).

Revision ID: 0026
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("addresses", sa.Column("last_inbound_at", sa.DateTime(), nullable=True))
    op.add_column("surveys", sa.Column("whatsapp_template", sa.String(512), nullable=True))
    op.create_table(
        "whatsapp_statuses",
        sa.Column("message_id", ID, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("status_at", sa.DateTime(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("whatsapp_statuses")
    # SQLite ≥ 3.35 drops a column in place (as migration 0015 relies on).
    op.drop_column("surveys", "whatsapp_template")
    op.drop_column("addresses", "last_inbound_at")
