"""Relationship surveys on autopilot (migration 0020): a schedule per survey, and one run
per schedule and local day, each run a broadcast of the people due that day."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow


class Autopilot(Base):
    """`/autopilot <survey> every <N> days|months [segment]`: one schedule per survey."""

    __tablename__ = "autopilots"
    __table_args__ = (UniqueConstraint("survey_id", name="uq_autopilots_survey"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    every: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(8))  # "days" or "months"
    # The segment as the admin typed it, normalised ("" = everyone); as broadcasts keep it.
    segment: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The team member who set it up (a Telegram user id), or last changed it.
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The local day (TIMEZONE) of the last run, claimed with a conditional update: one run
    # a day, whichever replica or restarted process gets there first.
    last_run_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class AutopilotRun(Base):
    """One day's run of a schedule: how many were due, how many were enrolled, and the
    broadcast that sends to them (none when nobody was due)."""

    __tablename__ = "autopilot_runs"
    __table_args__ = (
        UniqueConstraint("autopilot_id", "day", name="uq_autopilot_run_day"),
        UniqueConstraint("broadcast_id", name="uq_autopilot_run_broadcast"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    autopilot_id: Mapped[int] = mapped_column(ForeignKey("autopilots.id"))
    day: Mapped[date] = mapped_column(Date)
    due: Mapped[int] = mapped_column(Integer, default=0)
    enrolled: Mapped[int] = mapped_column(Integer, default=0)
    broadcast_id: Mapped[int | None] = mapped_column(ForeignKey("broadcasts.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
