"""An invitation's own language (the API's optional `language`): its question is asked in
it, before the person's stored language and the phone number's country.

Revision ID: 0027
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
# The invitations table comes from 0016 (another branch off 0015).
depends_on: str | Sequence[str] | None = "0016"


def upgrade() -> None:
    op.add_column("invitations", sa.Column("language", sa.String(16), nullable=True))


def downgrade() -> None:
    # SQLite ≥ 3.35 drops a column in place (as migration 0015 relies on).
    op.drop_column("invitations", "language")
