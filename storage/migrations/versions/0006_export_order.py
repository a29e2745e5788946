"""Answers in (scored_at, id) order, for exports across several surveys (PostgreSQL only).

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_responses_scored_id"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # The CSV export reads answers in (scored_at, id) order. Over several surveys PostgreSQL
    # sorted them all before sending the first (2 s of the 6 at 10^6 answers); this index
    # streams them in order instead. SQLite's planner keeps ix_responses_survey_scored and a
    # sort there even with the index, so on SQLite it would only slow every write.
    # Partial: unanswered invitations (never exported) stay out of it.
    if _postgresql():
        op.create_index(
            INDEX,
            "responses",
            ["scored_at", "id"],
            postgresql_where=sa.text("scored_at IS NOT NULL"),
        )


def downgrade() -> None:
    if _postgresql():
        op.drop_index(INDEX, "responses")
