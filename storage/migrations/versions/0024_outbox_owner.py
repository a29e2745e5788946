"""Replicas take over each other's kept replies: an outbox row names the process that
wrote it (`outbox.owner`, its heartbeat name in `sending_workers`), so when that process
dies the live ones send what it had committed but not sent (bot/outbox_keeper.py).

Rows written before this revision have no owner; they are sent at the next start, as
before.

Revision ID: 0024
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("owner", sa.String(40), nullable=True))


def downgrade() -> None:
    # SQLite ≥ 3.35 drops a column in place (as migration 0015 relies on).
    op.drop_column("outbox", "owner")
