"""Invitations: one survey a CRM asked the bot to send one person (the trigger API).

The row is the unit of work and the record of what happened, like a broadcast recipient
(storage/repos/invitations.py explains the states and the delivery guarantees).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow


class InvitationStatus(StrEnum):
    """Where an invitation stands. `answered` is not stored: a sent invitation whose
    response has a score reads as answered (storage/repos/invitations.py)."""

    SCHEDULED = "scheduled"  # waiting for send_at
    CLAIMED = "claimed"  # taken by a sending process, not yet handed to Telegram
    SENDING = "sending"  # committed just before the Telegram call: it may be in flight
    SENT = "sent"
    SUPPRESSED = "suppressed"  # a fatigue rule (reason names it)
    UNREACHABLE = "unreachable"  # nobody the bot may write to (reason says why)
    FAILED = "failed"  # Telegram refused it, or retries ran out (error says why)
    CANCELLED = "cancelled"  # DELETE before it was sent


# Rows a sending process still has to handle.
OPEN_INVITATION_STATES = (
    InvitationStatus.SCHEDULED,
    InvitationStatus.CLAIMED,
    InvitationStatus.SENDING,
)


class Invitation(Base):
    """A survey to send one person at `send_at`, and what became of it."""

    __tablename__ = "invitations"
    __table_args__ = (
        UniqueConstraint("public_id", name="uq_invitations_public_id"),
        UniqueConstraint("idempotency_key", name="uq_invitations_idempotency_key"),
        # The sender's query: due scheduled rows, oldest first.
        Index("ix_invitations_status_send_at", "status", "send_at"),
        Index("ix_invitations_respondent", "respondent_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # What the API shows: random, so ids tell nothing about volumes or order.
    public_id: Mapped[str] = mapped_column(String(32))
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # The person, when one was found (a phone nobody has: NULL, status unreachable).
    respondent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # How the CRM named the person: "telegram" (a user id) or "phone" (E.164).
    key_channel: Mapped[str] = mapped_column(String(16))
    key_address: Mapped[str] = mapped_column(String(64))
    # The channel and address the message goes (went) to: Telegram and the private chat.
    channel: Mapped[str | None] = mapped_column(String(16), nullable=True)
    chat: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # agent, source, campaign, order_id and up to 20 custom string attributes.
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The language the CRM asked for (a catalog's code), asked in before the person's own.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(12), default=InvitationStatus.SCHEDULED)
    reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The survey response the message carries (its buttons name it), once claimed.
    response_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # The sending process holding the row, and when it last tried (crash recovery).
    worker: Mapped[str | None] = mapped_column(String(40), nullable=True)
    attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Idempotency-Key and the SHA-256 of the request it came with (same key, other body: 409).
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The API's first answer (the 202's body), given again to a retry with the same key.
    reply: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WhatsAppStatus(Base):
    """The latest delivery status Meta reported for one of the bot's WhatsApp messages
    (sent < delivered < read; failed with its error code), by the message's id as
    storage/repos/whatsapp.py's wamid_message_id: an invitation shows its message's."""

    __tablename__ = "whatsapp_statuses"

    message_id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(12))
    status_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
