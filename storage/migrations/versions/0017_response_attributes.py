"""Invitation attributes on responses, and score histograms per campaign.

`responses.attributes` holds an invitation's order id and custom attributes (JSON, NULL
when there are none; storage/attributes.py). score_counts gains the "campaign" dimension
(`/nps by campaign`), counted from the answers already stored so that old answers count:
a campaign's rows are counted the way the repositories count them (an invitation on its
asked day unless it waited for a score that never came, a score on its scored day, an
answer replaced by a newer one not at all), on local days of the reporting time zone
(TIMEZONE, which npsbot and the plain `alembic` command line hand over; else UTC). The
rows of answers without a campaign (value "") are each day's "all" row minus the
campaigns' rows, so the campaigns always add up to the totals the reports already show.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-05
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, tzinfo

import sqlalchemy as sa
from alembic import context, op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = ("invited", *(f"c{score}" for score in range(11)))
_SCORE_COUNTS = sa.table(
    "score_counts",
    sa.column("survey_id", sa.Integer()),
    sa.column("day", sa.Date()),
    sa.column("dimension", sa.String()),
    sa.column("value", sa.String()),
    *(sa.column(name, sa.Integer()) for name in _COUNTERS),
)
Key = tuple[int, date, str]  # survey, local day, campaign ("" for none)


def upgrade() -> None:
    # Plain ALTER TABLE on both backends: SQLite adds (and drops) such a column in place,
    # where a batch copy of `responses` would trip the foreign keys that point at it.
    op.add_column("responses", sa.Column("attributes", sa.JSON(), nullable=True))
    _count_campaigns(_zone())


def downgrade() -> None:
    op.execute(_SCORE_COUNTS.delete().where(_SCORE_COUNTS.c.dimension == "campaign"))
    op.drop_column("responses", "attributes")


def _zone() -> tzinfo:
    """The reporting time zone storage.db.Database passes to Alembic (UTC otherwise)."""
    zone = context.config.attributes.get("tz")
    return zone if isinstance(zone, tzinfo) else UTC


def _local_day(value: object, zone: tzinfo) -> date:
    """The local day of a stored naive-UTC moment (SQLite hands back text)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC).astimezone(zone).date()


def _as_date(value: object) -> date:
    """A stored day (SQLite hands back text)."""
    if isinstance(value, str):
        return date.fromisoformat(value)
    assert isinstance(value, date)
    return value


def _count_campaigns(zone: tzinfo) -> None:
    bind = op.get_bind()
    op.execute(_SCORE_COUNTS.delete().where(_SCORE_COUNTS.c.dimension == "campaign"))
    counts: dict[Key, list[int]] = {}

    def bump(key: Key, index: int) -> None:
        counts.setdefault(key, [0] * len(_COUNTERS))[index] += 1

    # Only deep links carry a campaign (never an eNPS answer, never a broadcast).
    tagged = bind.execute(
        sa.text(
            "SELECT survey_id, campaign, asked_at, scored_at, score, invite_pending "
            "FROM responses WHERE campaign IS NOT NULL AND campaign <> '' "
            "AND superseded_by IS NULL"
        )
    )
    for survey_id, campaign, asked_at, scored_at, score, invite_pending in tagged:
        value = campaign[:64]
        scored = score is not None and scored_at is not None
        # A question asked again (or asked a team member) was counted with its score.
        if not invite_pending or scored:
            bump((survey_id, _local_day(asked_at, zone), value), 0)
        if scored:
            bump((survey_id, _local_day(scored_at, zone), value), 1 + int(score))
    campaigns: dict[tuple[int, date], list[int]] = {}
    for (survey_id, day, _value), row in counts.items():
        total = campaigns.setdefault((survey_id, day), [0] * len(_COUNTERS))
        for i, n in enumerate(row):
            total[i] += n
    every = bind.execute(
        sa.select(_SCORE_COUNTS.c.survey_id, _SCORE_COUNTS.c.day, *_counter_columns()).where(
            _SCORE_COUNTS.c.dimension == "all"
        )
    )
    for survey_id, stored_day, *row in every:
        day = _as_date(stored_day)
        tagged_total = campaigns.get((survey_id, day), [0] * len(_COUNTERS))
        # Never below zero: days counted in another zone than today's (TIMEZONE changed)
        # cannot be split exactly; their answers without a campaign stay countable.
        counts[(survey_id, day, "")] = [
            max(0, int(n or 0) - t) for n, t in zip(row, tagged_total, strict=True)
        ]
    rows = [
        {
            "survey_id": survey_id,
            "day": day,
            "dimension": "campaign",
            "value": value,
            **dict(zip(_COUNTERS, row, strict=True)),
        }
        for (survey_id, day, value), row in sorted(counts.items())
        if any(row)  # as the repositories write them: a row once something was counted
    ]
    if rows:
        op.bulk_insert(_SCORE_COUNTS, rows)


def _counter_columns() -> list[sa.ColumnClause[int]]:
    return [_SCORE_COUNTS.c[name] for name in _COUNTERS]
