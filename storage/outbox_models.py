"""Replies of committed units of work not yet known to be sent (bot/outbox.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow


class KeptReplies(Base):
    """The chat-bound replies of one unit of work, written in its transaction.

    Deleted once every reply was performed; `done` counts those already recorded as sent
    (written with the message-id jobs, at no extra cost). Rows left behind by a crash or a
    stop are sent again by a live replica, or at the next start (bot/outbox_keeper.py).
    """

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # The chat whose update produced the replies: its lock orders the re-sending.
    chat_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done: Mapped[int] = mapped_column(Integer, default=0)
    # The process sending them (its heartbeat in `sending_workers`); None: written before
    # migration 0024, or by an embedded bot.
    owner: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The actions as JSON (bot/outbox.py encodes and decodes them).
    actions: Mapped[str] = mapped_column(Text)
