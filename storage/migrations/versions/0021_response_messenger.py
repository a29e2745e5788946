"""The messaging channel of every answer, and score histograms per channel.

`responses.messenger` is the channel an answer is given through: "telegram", "whatsapp" or
"web" (storage.models.Channel; `responses.channel` stays the door: "start", "broadcast",
"invitation"). score_counts gains the "channel" dimension (`/nps by channel`), counted for
the answers already stored so that old answers count. Migration 0017's approach: the rows
of the untagged value are each day's "all" row minus the tagged values' rows; here every
answer stored before this revision was given in Telegram (the column starts as
'telegram'), so nothing is tagged otherwise and each day's "telegram" row is its "all"
row, counted on the local days the totals were counted on. The channels therefore add up
to the totals the reports already show, even when TIMEZONE changed since (a recount from
the rows could not split such days exactly).

Revision ID: 0021
Revises: 0015
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM = "telegram"
_COUNTERS = ("invited", *(f"c{score}" for score in range(11)))
_SCORE_COUNTS = sa.table(
    "score_counts",
    sa.column("survey_id", sa.Integer()),
    sa.column("day", sa.Date()),
    sa.column("dimension", sa.String()),
    sa.column("value", sa.String()),
    *(sa.column(name, sa.Integer()) for name in _COUNTERS),
)


def upgrade() -> None:
    # Plain ALTER TABLE on both backends (as 0017): SQLite adds and drops such a column in
    # place, where a batch copy of `responses` would trip the foreign keys pointing at it.
    op.add_column(
        "responses",
        sa.Column("messenger", sa.String(16), nullable=False, server_default=TELEGRAM),
    )
    _count_channels()


def downgrade() -> None:
    op.execute(_SCORE_COUNTS.delete().where(_SCORE_COUNTS.c.dimension == "channel"))
    op.drop_column("responses", "messenger")


def _count_channels() -> None:
    """Each day's "all" row with anything counted as its "telegram" row (as 0017 writes
    its rows): one INSERT … SELECT, however many answers there are."""
    table = _SCORE_COUNTS
    op.execute(table.delete().where(table.c.dimension == "channel"))
    counters = [table.c[name] for name in _COUNTERS]
    op.execute(
        table.insert().from_select(
            ["survey_id", "day", "dimension", "value", *_COUNTERS],
            sa.select(
                table.c.survey_id,
                table.c.day,
                sa.literal("channel", sa.String()),
                sa.literal(TELEGRAM, sa.String()),
                *counters,
            ).where(table.c.dimension == "all", sa.or_(*(c != 0 for c in counters))),
        )
    )
