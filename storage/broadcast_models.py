"""Broadcasts, their recipients, imported contacts, reminders and sending workers.

A broadcast is one row plus one row per recipient; the recipient row is the unit of work
and the record of what happened to that person (see bot/broadcast/worker.py for the
states and the delivery guarantees).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow


class BroadcastStatus(StrEnum):
    """Where a broadcast stands."""

    DRAFT = "draft"  # previewed, waiting for Confirm
    DISCARDED = "discarded"  # the preview was cancelled (or expired)
    RUNNING = "running"  # confirmed; workers are sending
    CANCELLED = "cancelled"  # stopped by an admin; in-flight messages still complete
    DONE = "done"  # every recipient was handled


class RecipientStatus(StrEnum):
    """What happened to one recipient of a broadcast (or one reminder)."""

    PENDING = "pending"  # not yet claimed by a worker
    QUEUED = "queued"  # claimed by a worker, not yet handed to Telegram
    SENDING = "sending"  # committed just before the Telegram call: it may be in flight
    SENT = "sent"  # Telegram accepted the message
    UNREACHABLE = "unreachable"  # 403: blocked the bot, deactivated, never started
    FAILED = "failed"  # 400 or retries exhausted
    SKIPPED = "skipped"  # no longer eligible when its turn came (/stop, fatigue, blocked)
    CANCELLED = "cancelled"  # the broadcast was cancelled before its turn
    # The worker died (kill -9) during the call: maybe delivered. Never re-sent, so nobody
    # gets the survey twice; counted as delivered, and the reminder repeats the question.
    UNCERTAIN = "uncertain"


# Recipients a worker still has to handle.
OPEN_RECIPIENT_STATES = (RecipientStatus.PENDING, RecipientStatus.QUEUED, RecipientStatus.SENDING)


class Broadcast(Base):
    """A survey sent to an audience segment on an admin's command."""

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status", "status"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # The segment as the admin typed it, normalised ("" = everyone).
    segment: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(12), default=BroadcastStatus.DRAFT)
    created_by: Mapped[int] = mapped_column(BigInteger)
    # Where the preview / progress message lives, and the language it is written in.
    admin_chat_id: Mapped[int] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en")
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The last progress edit; claimed with a conditional update so one replica edits.
    progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class BroadcastRecipient(Base):
    """One person a broadcast is for, and what happened when their turn came."""

    __tablename__ = "broadcast_recipients"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "respondent_id", name="uq_broadcast_recipient"),
        Index("ix_broadcast_recipients_status", "broadcast_id", "status"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    respondent_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default=RecipientStatus.PENDING)
    # The worker that claimed the row and when it last tried (crash recovery).
    worker: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The survey response created for this message (its buttons carry the response id).
    response_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    detail: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Contact(Base):
    """A person from an imported contact list; surveyed only once they press Start."""

    __tablename__ = "contacts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # E.164, from a phone column: becomes the person's phone address when they press Start
    # (storage/repos/phones.py); /phone removing the number clears it here too.
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    imported_by: Mapped[int] = mapped_column(BigInteger)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ImportRequest(Base):
    """An admin who typed /import and whose next message is the contact list."""

    __tablename__ = "contact_import_requests"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyReminder(Base):
    """The one reminder of an unanswered question (the row exists from the first claim)."""

    __tablename__ = "survey_reminders"
    __table_args__ = (Index("ix_survey_reminders_status", "status"),)

    response_id: Mapped[int] = mapped_column(
        ForeignKey("responses.id"), primary_key=True, autoincrement=False
    )
    status: Mapped[str] = mapped_column(String(12), default=RecipientStatus.SENDING)
    worker: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SendingWorker(Base):
    """A live sending process: its heartbeat shares the rate and reveals dead workers."""

    __tablename__ = "broadcast_workers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Its lease of BROADCAST_RATE (messages/s; the live rows' shares never add up to more),
    # and whether it has anything to send (only those get a share).
    share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    wants: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
