"""The schema: typed SQLAlchemy 2.0 models (changes go through Alembic migrations)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalises to naive UTC so SQLite and PostgreSQL store the same thing."""
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Marks values read back as UTC."""
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Step(StrEnum):
    """Where a response's conversation stands (transitions live in handlers/states.py)."""

    SCORE = "score"  # question sent, waiting for 0-10
    WHY = "why"  # score stored, waiting for the reason
    IMPROVE = "improve"  # waiting for what to improve
    DONE = "done"  # thanked; nothing more is expected
    CLOSED = "closed"  # superseded by a newer survey before it was finished


OPEN_STEPS = (Step.SCORE, Step.WHY, Step.IMPROVE)


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base for all tables."""


class Survey(Base):
    """A survey: the question, its follow-ups and thank-yous, per language."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10), default="nps")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    subject: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Per-language overrides of catalog texts: {"ru": {"question": "..."}}.
    texts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    review_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The thank-you offers to share the phone number (handlers/phones.py); off by default.
    ask_phone: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The approved WhatsApp template inviting outside the 24-hour window (None:
    # WHATSAPP_TEMPLATE); bot/whatsapp/questions.py.
    whatsapp_template: Mapped[str | None] = mapped_column(String(512), nullable=True)


class Respondent(Base):
    """A person the bot talks to, whatever the channel: reached through their addresses.

    `id` is internal (migration 0015 kept the Telegram id of everyone who came before as
    their id, so older rows still point at them); the channel-specific part lives in
    `addresses`. The profile columns hold what the person's channel last told us.
    """

    __tablename__ = "respondents"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    username: Mapped[str | None] = mapped_column(String(100), nullable=True)
    telegram_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Chosen with /language; wins over the Telegram client's language.
    language_override: Mapped[str | None] = mapped_column(String(8), nullable=True)
    subscribed: Mapped[bool] = mapped_column(Boolean, default=True)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Pressed an eNPS link (an employee). With no named answer besides, the person came only
    # as an employee and is left out of customer broadcasts (storage/repos/audience.py).
    enps_link: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Channel(StrEnum):
    """How a person is reached: the channel of an address."""

    TELEGRAM = "telegram"  # address: the Telegram user id; chat: their private chat id
    PHONE = "phone"  # address: a phone number in E.164 (+37360000000)
    WHATSAPP = "whatsapp"  # address: the WhatsApp id
    WEB = "web"  # address: a web link's token


class Address(Base):
    """One way to reach a person: a channel and the person's address on it.

    An address belongs to one person (unique per channel); a person may have several
    (Telegram, a phone number from a CRM, WhatsApp…). Text, so every channel fits.
    """

    __tablename__ = "addresses"
    __table_args__ = (
        UniqueConstraint("channel", "address", name="uq_addresses_channel_address"),
        Index("ix_addresses_respondent", "respondent_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    respondent_id: Mapped[int] = mapped_column(ForeignKey("respondents.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64))
    # Where messages to this address go, when the channel has chats (Telegram's private chat).
    chat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # WhatsApp: the person's last message, which opens the 24-hour window (migration 0026).
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Response(Base):
    """One survey answer with its context; `step` is the conversation state."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_respondent_step", "respondent_id", "step"),
        Index("ix_responses_survey_scored", "survey_id", "scored_at"),
        # Exports across surveys read in this order (migration 0006 says why PostgreSQL only).
        # public_id between the two (migration 0008): anonymous answers of one day are
        # listed in the order of their random public ids, not of their row ids.
        Index(
            "ix_responses_scored_id",
            "scored_at",
            "public_id",
            "id",
            postgresql_where=text("scored_at IS NOT NULL"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # Nullable: erased on /forgetme and never set for anonymous (eNPS) answers.
    respondent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    step: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    score: Mapped[int | None] = mapped_column(Integer, nullable=True)
    why: Mapped[str | None] = mapped_column(Text, nullable=True)
    improve: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    campaign: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # An invitation's order id and custom attributes ({"order_id": "A-17", "region": "north"},
    # storage/attributes.py); agent, source and campaign have their columns. Never set for
    # anonymous (eNPS) answers; cleared with the comments when the person is forgotten.
    # none_as_null: None is SQL NULL (as the survey path writes it), never JSON `null`.
    attributes: Mapped[dict[str, str] | None] = mapped_column(
        JSON(none_as_null=True), nullable=True
    )
    start_payload: Mapped[str | None] = mapped_column(String(64), nullable=True)
    payload_unknown: Mapped[bool] = mapped_column(Boolean, default=False)
    # The door: how the question came ("start", "broadcast", "invitation"; response_start.Door).
    channel: Mapped[str] = mapped_column(String(16), default="start")
    # The messaging channel the answer is given through (a Channel: "telegram", "whatsapp",
    # "web"); counted in the "channel" histograms (`/nps by channel`, migration 0021).
    messenger: Mapped[str] = mapped_column(
        String(16), default=Channel.TELEGRAM.value, server_default=Channel.TELEGRAM.value
    )
    # The last message with buttons (question or follow-up), edited once answered.
    prompt_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scored_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    why_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    improve_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # One answer per person and door (handlers/survey.py `door_of`) within
    # SURVEY_COOLDOWN_DAYS: a new answer names the answer it replaces; once it is scored,
    # the older row points at it and no report, export or case counts that row again.
    replaces_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    superseded_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The invitation is counted with the score, not when asked: a question asked again
    # (it replaces an answer) or asked a team member (an owner testing the survey).
    invite_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # Anonymous (eNPS) answers only: a random token that reports, exports and alerts show
    # instead of `id`, which comes from the sequence all answers share and would tell when
    # the answer was given among customers' answers (storage/repos/anonymity.py).
    public_id: Mapped[str | None] = mapped_column(
        String(32), nullable=True, unique=True, index=True
    )


class ProcessedUpdate(Base):
    """An update_id already handled, so a redelivery changes nothing."""

    __tablename__ = "processed_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


SCORE_COLUMNS = tuple(f"c{score}" for score in range(11))


class ScoreCount(Base):
    """Eleven score counters (and invitations) per survey, local day and segment.

    Kept up to date in the same transaction as each answer, so statistics read a few
    rows per day instead of scanning responses. `dimension` is "all", "agent", "source",
    "language", "campaign" or "channel" (the messenger); `value` is the segment ("" when the
    answer has none).
    """

    __tablename__ = "score_counts"

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    invited: Mapped[int] = mapped_column(Integer, default=0)
    c0: Mapped[int] = mapped_column(Integer, default=0)
    c1: Mapped[int] = mapped_column(Integer, default=0)
    c2: Mapped[int] = mapped_column(Integer, default=0)
    c3: Mapped[int] = mapped_column(Integer, default=0)
    c4: Mapped[int] = mapped_column(Integer, default=0)
    c5: Mapped[int] = mapped_column(Integer, default=0)
    c6: Mapped[int] = mapped_column(Integer, default=0)
    c7: Mapped[int] = mapped_column(Integer, default=0)
    c8: Mapped[int] = mapped_column(Integer, default=0)
    c9: Mapped[int] = mapped_column(Integer, default=0)
    c10: Mapped[int] = mapped_column(Integer, default=0)


class StaffMember(Base):
    """A user granted a role by an owner: viewer (statistics) or admin (also surveys)."""

    __tablename__ = "staff"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(String(10))
    granted_by: Mapped[int] = mapped_column(BigInteger)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Viewers and admins opt in to the daily digest; owners always get it.
    digest: Mapped[bool] = mapped_column(Boolean, default=False)


class DigestOptOut(Base):
    """An owner (ADMIN_IDS) who turned their own daily digest off with `/digest off`.

    Owners have no staff row, so their choice is kept here; no row means they get it.
    """

    __tablename__ = "digest_optouts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestDelivery(Base):
    """A daily digest sent to one recipient for one local day (never twice)."""

    __tablename__ = "digest_deliveries"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
