"""One answer per person and door: a repeated answer replaces (supersedes) the older one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("replaces_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("superseded_by", sa.BigInteger(), nullable=True))
        batch.add_column(
            sa.Column("invite_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("invite_pending")
        batch.drop_column("superseded_by")
        batch.drop_column("replaces_id")
