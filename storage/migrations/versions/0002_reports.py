"""Score histograms per survey/day/segment, staff roles, daily digest deliveries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    counters = [
        sa.Column(name, sa.Integer(), nullable=False, server_default="0")
        for name in ["invited", *(f"c{score}" for score in range(11))]
    ]
    op.create_table(
        "score_counts",
        sa.Column("survey_id", ID, sa.ForeignKey("surveys.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("dimension", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(64), primary_key=True),
        *counters,
    )
    _backfill_counts()
    op.create_table(
        "staff",
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("granted_by", sa.BigInteger(), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "digest_deliveries",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
    )


def _backfill_counts() -> None:
    """Counts answers stored before this revision (days in UTC), streaming the rows."""
    bind = op.get_bind()
    counts: dict[tuple[int, object, str, str], list[int]] = {}

    def bump(key: tuple[int, object, str, str], index: int) -> None:
        counts.setdefault(key, [0] * 12)[index] += 1

    rows = bind.execute(
        sa.text(
            "SELECT survey_id, asked_at, scored_at, score, agent, source, language FROM responses"
        )
    )
    for survey_id, asked_at, scored_at, score, agent, source, language in rows:
        segments = (
            ("all", ""),
            ("agent", agent or ""),
            ("source", source or ""),
            ("language", language),
        )
        for dimension, value in segments:
            bump((survey_id, _day(asked_at), dimension, value), 0)
            if score is not None and scored_at is not None:
                bump((survey_id, _day(scored_at), dimension, value), 1 + int(score))
    table = sa.table(
        "score_counts",
        *(sa.column(n) for n in ("survey_id", "day", "dimension", "value", "invited")),
        *(sa.column(f"c{s}") for s in range(11)),
    )
    values = [
        {
            "survey_id": survey_id,
            "day": day,
            "dimension": dimension,
            "value": value,
            "invited": c[0],
            **{f"c{s}": c[1 + s] for s in range(11)},
        }
        for (survey_id, day, dimension, value), c in counts.items()
    ]
    if values:
        op.bulk_insert(table, values)


def _day(value: object) -> object:
    """The UTC date of a stored timestamp (SQLite hands back strings)."""
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.date()


def downgrade() -> None:
    op.drop_table("digest_deliveries")
    op.drop_table("staff")
    op.drop_table("score_counts")
