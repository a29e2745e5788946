"""Respondents who pressed an eNPS link: kept out of customer broadcasts.

Revision ID: 0014
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("respondents") as batch:
        batch.add_column(
            sa.Column("enps_link", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("respondents") as batch:
        batch.drop_column("enps_link")
