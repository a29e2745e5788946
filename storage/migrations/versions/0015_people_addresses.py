"""People, not Telegram ids: respondents get an internal id and addresses per channel.

Each existing respondent keeps their id (the Telegram user id they had) as their internal
id, so every row that points at them (responses, broadcast recipients, detractor cases,
reply threads, and the eNPS salted hashes computed from the id) stays valid with nothing
rewritten; each gets a 'telegram' address with their chat. New people take ids from a
sequence that starts above every existing id (SQLite: the rowid, max + 1).

Revision ID: 0015
Revises: 0004, 0007, 0008, 0009, 0011, 0013, 0014 (and 0003, 0005 through the
0008 and 0011 that depend on them)
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
# Every head but 0003 and 0005: 0008 and 0011 depend on them, so Alembic already folded
# them into those (naming them again fails the upgrade: they are no longer heads).
down_revision: str | Sequence[str] | None = (
    "0004",
    "0007",
    "0008",
    "0009",
    "0011",
    "0013",
    "0014",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Tables whose respondent_id points at a person (downgrade rewrites them).
_REFERENCES = ("responses", "broadcast_recipients", "detractor_cases", "case_threads")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # 1. The id becomes auto-incrementing, values kept. SQLite: only an INTEGER PRIMARY KEY
    # is the rowid (BIGINT is not), so the table is rebuilt — before `addresses` exists,
    # since dropping a referenced table with foreign keys on would cascade.
    if sqlite:
        with op.batch_alter_table("respondents", recreate="always") as batch:
            batch.alter_column(
                "id", existing_type=sa.BigInteger(), type_=sa.Integer(), autoincrement=True
            )
    else:
        op.execute("CREATE SEQUENCE respondents_id_seq AS bigint OWNED BY respondents.id")
        op.execute(
            "ALTER TABLE respondents ALTER COLUMN id SET DEFAULT nextval('respondents_id_seq')"
        )
        # Above every id there is (Telegram ids included): a new person never takes one.
        op.execute(
            "SELECT setval('respondents_id_seq', COALESCE(MAX(id), 0) + 1, false) FROM respondents"
        )
    # 2. The addresses, one Telegram address per existing respondent, chat included.
    op.create_table(
        "addresses",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column(
            "respondent_id",
            ID,
            sa.ForeignKey("respondents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("chat", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("channel", "address", name="uq_addresses_channel_address"),
    )
    op.create_index("ix_addresses_respondent", "addresses", ["respondent_id"])
    op.execute(
        "INSERT INTO addresses (respondent_id, channel, address, chat, created_at) "
        "SELECT id, 'telegram', CAST(id AS VARCHAR(64)), CAST(chat_id AS VARCHAR(64)), "
        "started_at FROM respondents ORDER BY respondents.id"
    )
    # 3. The chat moved to the address. SQLite ≥ 3.35 drops an unindexed column in place.
    op.drop_column("respondents", "chat_id")


def downgrade() -> None:
    """Back to Telegram ids: people with no Telegram address are deleted (the old schema
    cannot hold them); the others take their Telegram id again, references rewritten
    (eNPS "already answered" marks of people who came after the upgrade are lost)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("respondents", sa.Column("chat_id", sa.BigInteger(), nullable=True))
    op.add_column("respondents", sa.Column("telegram_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE respondents SET "
        "telegram_id = (SELECT CAST(a.address AS BIGINT) FROM addresses a "
        "WHERE a.channel = 'telegram' AND a.respondent_id = respondents.id), "
        "chat_id = (SELECT CAST(a.chat AS BIGINT) FROM addresses a "
        "WHERE a.channel = 'telegram' AND a.respondent_id = respondents.id)"
    )
    # The addresses go first: they reference the ids rewritten below.
    op.drop_index("ix_addresses_respondent", table_name="addresses")
    op.drop_table("addresses")
    op.execute("DELETE FROM respondents WHERE telegram_id IS NULL")
    moved = "SELECT id FROM respondents WHERE telegram_id <> id"
    for table in _REFERENCES:
        op.execute(
            f"UPDATE {table} SET respondent_id = (SELECT r.telegram_id FROM respondents r "
            f"WHERE r.id = {table}.respondent_id) WHERE respondent_id IN ({moved})"
        )
    op.execute("UPDATE respondents SET id = telegram_id WHERE telegram_id <> id")
    op.drop_column("respondents", "telegram_id")
    if sqlite:
        with op.batch_alter_table("respondents", recreate="always") as batch:
            batch.alter_column(
                "id", existing_type=sa.Integer(), type_=sa.BigInteger(), autoincrement=False
            )
            batch.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
    else:
        op.execute("ALTER TABLE respondents ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE respondents_id_seq")
        op.alter_column("respondents", "chat_id", existing_type=sa.BigInteger(), nullable=False)
