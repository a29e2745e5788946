"""Themes of comments: the dictionary, each answer's themes, the marks of the dictionary
version each answer was read with, and suggested themes (issue 15).

Revision ID: 0028
Revises: 0015
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "themes",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("key", name="uq_themes_key"),
    )
    op.create_table(
        "response_themes",
        sa.Column("response_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("theme_key", sa.String(40), primary_key=True),
    )
    op.create_index("ix_response_themes_theme", "response_themes", ["theme_key", "response_id"])
    op.create_table(
        "theme_marks",
        sa.Column("response_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.String(16), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
    )
    op.create_table(
        "theme_suggestions",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(40), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("key", name="uq_theme_suggestions_key"),
    )


def downgrade() -> None:
    op.drop_table("theme_suggestions")
    op.drop_table("theme_marks")
    op.drop_index("ix_response_themes_theme", table_name="response_themes")
    op.drop_table("response_themes")
    op.drop_table("themes")
