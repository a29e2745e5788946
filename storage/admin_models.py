"""Staff dialog state and what eNPS anonymity needs (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow

# Survey kinds whose answers are stored without anything that identifies the respondent.
ANONYMOUS_KINDS = ("enps",)


class StaffDialog(Base):
    """A staff member's guided dialog (creating or editing a survey), one per user.

    A row, not memory: a restart (or another replica) continues where the dialog was.
    A new dialog replaces the row, so its `id` changes and old buttons become stale.
    """

    __tablename__ = "staff_dialogs"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    flow: Mapped[str] = mapped_column(String(8))  # "create" or "edit"
    step: Mapped[str] = mapped_column(String(24))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"), nullable=True)
    # What was collected so far: name, kind, slug, subject, texts, review_url, active…
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnonymousThread(Base):
    """The open-conversation pointer of an anonymous (eNPS) answer.

    The response row carries no user; this row tells which response a user's next text
    belongs to, keyed by a salted hash of the user. It is deleted as soon as the response
    is finished, superseded or abandoned (after a day), which unlinks the answer for good.
    """

    __tablename__ = "anonymous_threads"
    __table_args__ = (Index("ix_anonymous_threads_created", "created_at"),)

    user_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnonymousAnswer(Base):
    """A mark that someone with this salted hash answered the survey (one answer each).

    Deliberately no timestamp and no response id: it records that a person took part,
    never which answer was theirs.
    """

    __tablename__ = "anonymous_answers"

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), primary_key=True)
    answer_key: Mapped[str] = mapped_column(String(64), primary_key=True)


class AppSecret(Base):
    """Secrets the bot generates once (the anonymity salt when ANONYMITY_SALT is unset)."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
