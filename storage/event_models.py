"""Signed events for the CRM (EVENTS_URLS): the outbox rows and their per-URL deliveries.

An event row is written in the transaction of the change it reports (a score, a finished
answer, a detractor case), with one delivery row per configured URL; the delivery worker
(bot/events) sends each URL's rows in `event_deliveries.id` order, one at a time, and
records the outcome (storage/repos/events.py explains the claim and the order).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow

MAX_URL = 2000
MAX_ERROR = 300


class OutgoingEvent(Base):
    """One event as receivers get it: `{"id", "type", "created_at", "data"}`."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_person", "person_id"),)

    # A random UUID: receivers deduplicate by it, and it tells nothing about other rows.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The person `data` names (their Telegram id, phone, comments), so that forgetting them
    # finds the row; None when it names nobody (eNPS answers, erased people).
    person_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class EventDelivery(Base):
    """An event on its way to one URL; a URL's rows go in `id` order (its FIFO)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        # Each URL's queue: the rows still to send, in order (the head is the first).
        Index(
            "ix_event_deliveries_pending",
            "url",
            "id",
            sqlite_where=text("delivered_at IS NULL AND dead = 0"),
            postgresql_where=text("delivered_at IS NULL AND dead = false"),
        ),
        Index("ix_event_deliveries_event", "event_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(MAX_URL))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The worker sending it now (a random token) and until when its claim holds: a worker
    # that died mid-send leaves a claim that expires, and the row is sent again.
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Not delivered within DEAD_AFTER of the event: given up (shown in /integrations).
    dead: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR), nullable=True)


class EventEndpoint(Base):
    """A URL's latest outcomes, for /integrations (kept when old events are pruned)."""

    __tablename__ = "event_endpoints"

    url: Mapped[str] = mapped_column(String(MAX_URL), primary_key=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(MAX_ERROR), nullable=True)
