"""Respondents: who started the bot, their language and whether we may write to them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Respondent, utcnow


@dataclass(frozen=True)
class Profile:
    """What Telegram tells us about a user on each update."""

    user_id: int
    chat_id: int
    first_name: str | None
    username: str | None
    language_code: str | None


class RespondentRepo:
    """Reads and updates respondents."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    async def touch(self, profile: Profile) -> Respondent:
        """Upserts the user's profile and locks their row for this transaction.

        The row lock (PostgreSQL) serialises two updates of one respondent handled by
        different workers or replicas; SQLite already serialises writers.
        """
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        now = utcnow()
        values = {
            "id": profile.user_id,
            "chat_id": profile.chat_id,
            "first_name": profile.first_name,
            "username": profile.username,
            "telegram_language": profile.language_code,
            "last_seen_at": now,
        }
        stmt = insert(Respondent).values(
            **values, subscribed=True, unreachable=False, started_at=now
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"],
            set_={k: stmt.excluded[k] for k in values if k != "id"},
        )
        await self._session.execute(stmt)
        query = select(Respondent).where(Respondent.id == profile.user_id)
        if self._dialect == "postgresql":
            query = query.with_for_update()
        respondent = await self._session.scalar(query.execution_options(populate_existing=True))
        assert respondent is not None  # just upserted
        return respondent

    async def get(self, user_id: int) -> Respondent | None:
        """The respondent with this Telegram id."""
        return await self._session.get(Respondent, user_id)

    async def by_username(self, username: str) -> Respondent | None:
        """The respondent with this @username (case-insensitive)."""
        return await self._session.scalar(
            select(Respondent).where(func.lower(Respondent.username) == username.lower()).limit(1)
        )

    async def set_subscribed(self, user_id: int, subscribed: bool) -> None:
        """Turns surveys on (/start) or off (/stop) for the user."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(subscribed=subscribed)
        )

    async def set_language(self, user_id: int, language: str | None) -> None:
        """Stores the language the user picked with /language."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(language_override=language)
        )

    async def set_reachable(self, user_id: int, reachable: bool) -> None:
        """Marks a user who blocked (or unblocked) the bot."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(unreachable=not reachable)
        )

    async def set_origin(self, user_id: int, source: str | None, agent: str | None) -> None:
        """Remembers where the user last came from (deep-link tags)."""
        await self._session.execute(
            update(Respondent).where(Respondent.id == user_id).values(source=source, agent=agent)
        )
