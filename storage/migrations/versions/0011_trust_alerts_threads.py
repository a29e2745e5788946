"""Undelivered detractor alerts are kept until their chat can be reached; a case thread
remembers which staff member opened it (revoking a role closes it).

Revision ID: 0011
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
# case_threads and detractor_cases come from 0005, a branch of its own beside 0006.
depends_on: str | Sequence[str] | None = "0005"


# Ids are 64-bit on PostgreSQL and SQLite's rowid integers there (as in 0005).
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # One row per (case, chat) whose alert has not been delivered yet: written with the
    # case, removed once Telegram accepted the alert.
    op.create_table(
        "undelivered_alerts",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["detractor_cases.id"]),
        sa.PrimaryKeyConstraint("case_id", "chat_id"),
    )
    with op.batch_alter_table("case_threads") as batch:
        batch.add_column(sa.Column("staff_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_threads") as batch:
        batch.drop_column("staff_id")
    op.drop_table("undelivered_alerts")
