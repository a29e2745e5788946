"""Detractor cases: the alert posted to staff, replies through the bot, resolution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow


class DetractorCase(Base):
    """One detractor answer that a human should look at; open until someone resolves it."""

    __tablename__ = "detractor_cases"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), unique=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    # None for anonymous (eNPS) answers: nobody can be replied to.
    respondent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CaseAlert(Base):
    """Where a case's alert was posted, so it can be updated as answers arrive."""

    __tablename__ = "case_alerts"

    case_id: Mapped[int] = mapped_column(ForeignKey("detractor_cases.id"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger)


class PendingReply(Base):
    """A staff member pressed Reply: their next message in that chat goes to the respondent."""

    __tablename__ = "pending_replies"

    staff_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("detractor_cases.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseThread(Base):
    """A respondent the team wrote to: their answers go back to the staff chat."""

    __tablename__ = "case_threads"

    respondent_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(ForeignKey("detractor_cases.id"))
    staff_chat_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Who pressed Reply: answers stop going back once they lose their role.
    staff_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class UndeliveredAlert(Base):
    """An alert not delivered yet to a chat (an owner who never pressed Start, a group the
    bot is not in): written with the case, removed once Telegram accepted the alert."""

    __tablename__ = "undelivered_alerts"

    case_id: Mapped[int] = mapped_column(ForeignKey("detractor_cases.id"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
