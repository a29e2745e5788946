"""Phone-keyed people: a survey may ask for the respondent's phone number after its
thank-you (`surveys.ask_phone`, off), and an imported contact list may carry a phone
column (`contacts.phone`, E.164), kept until that Telegram user presses Start.

The numbers themselves are addresses (channel 'phone', migration 0015): no new table.

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-10
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both backends: a batch on SQLite would rebuild
    # `surveys` (its default is an expression), and dropping it fails while answers point at it.
    op.add_column(
        "surveys",
        sa.Column("ask_phone", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("contacts", sa.Column("phone", sa.String(32), nullable=True))


def downgrade() -> None:
    # SQLite ≥ 3.35 drops a column in place (as migration 0015 relies on).
    op.drop_column("contacts", "phone")
    op.drop_column("surveys", "ask_phone")
