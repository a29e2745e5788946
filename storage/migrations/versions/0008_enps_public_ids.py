"""eNPS answers: a random public id instead of the shared row order, no tags, day precision.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04

Rows stored before this revision are brought under the same rules: each finished
anonymous answer gets a random public id, loses every tag (source, agent, campaign, start
payload) and has its times truncated to the day (UTC: the reporting zone is a setting the
migration does not know; a day is what matters). Unfinished anonymous answers keep their
times until they are released, as new ones do.
"""

import secrets
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
# surveys.kind and anonymous_threads come from 0003 (a branch of its own).
depends_on: str | Sequence[str] | None = "0003"

INDEX = "ix_responses_scored_id"
PUBLIC_INDEX = "ix_responses_public_id"
ANONYMOUS_KINDS = ("enps",)
_TIMES = ("asked_at", "scored_at", "why_at", "improve_at", "completed_at")


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _day(value: object) -> object:
    """A stored timestamp truncated to its day (SQLite hands back text, PostgreSQL datetimes)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("public_id", sa.String(32), nullable=True))
    op.create_index(PUBLIC_INDEX, "responses", ["public_id"], unique=True)

    bind = op.get_bind()
    responses = sa.table(
        "responses",
        sa.column("id", sa.BigInteger()),
        sa.column("survey_id", sa.BigInteger()),
        sa.column("public_id", sa.String()),
        sa.column("source", sa.String()),
        sa.column("agent", sa.String()),
        sa.column("campaign", sa.String()),
        sa.column("start_payload", sa.String()),
        *(sa.column(name, sa.DateTime()) for name in _TIMES),
    )
    threads = sa.table("anonymous_threads", sa.column("response_id", sa.BigInteger()))
    surveys = sa.table("surveys", sa.column("id", sa.BigInteger()), sa.column("kind", sa.String()))
    anonymous = sa.select(surveys.c.id).where(surveys.c.kind.in_(ANONYMOUS_KINDS))
    rows = bind.execute(
        sa.select(responses.c.id, *(responses.c[name] for name in _TIMES))
        .where(responses.c.survey_id.in_(anonymous))
        .where(responses.c.id.not_in(sa.select(threads.c.response_id)))
    ).all()
    for row in rows:
        values: dict[str, object] = {
            "public_id": "anon-" + secrets.token_hex(8),
            "source": None,
            "agent": None,
            "campaign": None,
            "start_payload": None,
        }
        for name in _TIMES:
            values[name] = _day(getattr(row, name))
        bind.execute(sa.update(responses).where(responses.c.id == row.id).values(**values))
    # Open conversations: tags dropped now, a public id too; times coarsened on release.
    bind.execute(
        sa.update(responses)
        .where(responses.c.survey_id.in_(anonymous))
        .where(responses.c.public_id.is_(None))
        .values(source=None, agent=None, campaign=None, start_payload=None)
    )
    for (response_id,) in bind.execute(
        sa.select(responses.c.id)
        .where(responses.c.survey_id.in_(anonymous))
        .where(responses.c.public_id.is_(None))
    ).all():
        bind.execute(
            sa.update(responses)
            .where(responses.c.id == response_id)
            .values(public_id="anon-" + secrets.token_hex(8))
        )
    if _postgresql():
        op.drop_index(INDEX, "responses")
        op.create_index(
            INDEX,
            "responses",
            ["scored_at", "public_id", "id"],
            postgresql_where=sa.text("scored_at IS NOT NULL"),
        )


def downgrade() -> None:
    if _postgresql():
        op.drop_index(INDEX, "responses")
        op.create_index(
            INDEX,
            "responses",
            ["scored_at", "id"],
            postgresql_where=sa.text("scored_at IS NOT NULL"),
        )
    op.drop_index(PUBLIC_INDEX, "responses")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("public_id")
