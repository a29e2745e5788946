"""Themes of comments (migration 0028): the owner's dictionary, each answer's themes, the
marks saying at which dictionary version an answer was read, and suggested themes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, IdType, UTCDateTime, utcnow

# Where a theme came from.
STARTER, OWNER, SUGGESTED = "starter", "owner", "suggested"
# A suggestion's state: shown with its buttons, then accepted or dismissed for good.
OPEN, ACCEPTED, DISMISSED = "open", "accepted", "dismissed"


class Theme(Base):
    """One theme of the dictionary.

    `words` holds {language: [words]} as the owner wrote them; for a starter theme only the
    languages the owner changed (the others follow the code's starter words, so a better
    starter set in a new release reaches every owner who kept them). A removed theme stays
    as a row with `active` false, so the starter set is not seeded again.
    """

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    words: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[str] = mapped_column(String(10))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ResponseTheme(Base):
    """A theme an answer's comments mention (why and improve read together)."""

    __tablename__ = "response_themes"
    # Counting by theme over a period joins from here to the answers.
    __table_args__ = (Index("ix_response_themes_theme", "theme_key", "response_id"),)

    response_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    theme_key: Mapped[str] = mapped_column(String(40), primary_key=True)


class ThemeMark(Base):
    """That an answer's comments were read with the dictionary of `version`, at a moment
    when they held `length` characters: a new dictionary, a follow-up answered since or a
    comment erased since makes the answer due again."""

    __tablename__ = "theme_marks"

    response_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    version: Mapped[str] = mapped_column(String(16))
    length: Mapped[int] = mapped_column(Integer)


class ThemeSuggestion(Base):
    """A theme suggested from comments no theme covers; its buttons carry the id. One row
    per key: a dismissed key is never suggested again."""

    __tablename__ = "theme_suggestions"

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    terms: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The language most of its example comments are in: accepted words go there.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    state: Mapped[str] = mapped_column(String(10), default=OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
