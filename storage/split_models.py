"""A/B broadcasts (migrations 0029, 0030): a split broadcast's arms and each person's arm.

An arm is a variant ("A", "B": a message sent right before the question) or the control
group: no message and the plain question at the same time, or — held back (`control 10%
none`) — nothing at all from this broadcast. Assignments are written when the broadcast is
confirmed, in the transaction that enrols its recipients, before anything is sent: a
restart never assigns anyone again, and nobody has two arms of one broadcast.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType

# The arm of the people who get no variant message.
CONTROL = "control"
# The `detail` of a held-back control group's recipient rows: `skipped` at the draw, never
# claimed, and told apart from the people skipped for a reason (/stop, fatigue).
HELD_BACK_DETAIL = "control"


class BroadcastArm(Base):
    """One arm of a split broadcast: its name, its message and its planned share."""

    __tablename__ = "broadcast_arms"
    __table_args__ = (UniqueConstraint("broadcast_id", "arm", name="uq_broadcast_arm"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    arm: Mapped[str] = mapped_column(String(16))
    # The variant message as the owner wrote it (plain text); None for the control group.
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The share of recipients planned for the arm (0..1); variants share the rest equally.
    share: Mapped[float] = mapped_column(Float)
    # The arm's place in the command (A before B), for previews and tables.
    position: Mapped[int] = mapped_column(Integer, default=0)
    # The control group only: held back (`control 10% none`), never messaged by this
    # broadcast; otherwise it gets the plain question at the same time as the others.
    held_back: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class BroadcastAssignment(Base):
    """The arm one recipient of a split broadcast was assigned to (at most one)."""

    __tablename__ = "broadcast_assignments"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "respondent_id", name="uq_broadcast_assignment"),
        Index("ix_broadcast_assignments_arm", "broadcast_id", "arm"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id"))
    respondent_id: Mapped[int] = mapped_column(BigInteger)
    arm: Mapped[str] = mapped_column(String(16))
