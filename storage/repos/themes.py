"""Themes of comments: the dictionary, each answer's themes kept current, the counts the
/themes report reads, and suggested themes with their accept / dismiss state."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import Response
from storage.repos import upsert_insert
from storage.theme_models import OPEN, ResponseTheme, Theme, ThemeMark, ThemeSuggestion


@dataclass(frozen=True)
class ThemeRow:
    """One theme as stored: its words by language (for a starter theme, only those the
    owner changed), where it came from, and whether it is in use."""

    key: str
    words: dict[str, list[str]]
    origin: str
    active: bool
    id: int = 0  # 0: not stored yet (the starter set before its first use)


@dataclass(frozen=True)
class CommentText:
    """An answer's comments as the engine reads them."""

    response_id: int
    why: str | None
    improve: str | None
    language: str | None

    @property
    def text(self) -> str:
        """The text matched for the answer: why and improve joined (CONTRACTS.md)."""
        return "\n".join(part for part in (self.why, self.improve) if part and part.strip())

    @property
    def length(self) -> int:
        """Characters of both comments, as the database counts them (theme_marks.length)."""
        return len(self.why or "") + len(self.improve or "")


@dataclass(frozen=True)
class ScopeFilter:
    """The answers a report reads: surveys, scored in [start, end), not superseded."""

    survey_ids: Sequence[int]
    start: datetime
    end: datetime

    def conditions(self) -> tuple[ColumnElement[bool], ...]:
        return (
            Response.survey_id.in_(self.survey_ids),
            Response.scored_at >= self.start,
            Response.scored_at < self.end,
            Response.score.is_not(None),
            Response.superseded_by.is_(None),
        )


@dataclass(frozen=True)
class SuggestionRow:
    """A suggestion as stored (its buttons carry the id)."""

    id: int
    key: str
    terms: list[str]
    language: str | None
    state: str


def _has_text(column: InstrumentedAttribute[str | None]) -> ColumnElement[bool]:
    """A comment counts when it has more than whitespace (as /comments counts them)."""
    return and_(column.is_not(None), func.length(func.trim(column)) > 0)


def _commented() -> ColumnElement[bool]:
    return or_(_has_text(Response.why), _has_text(Response.improve))


def _length() -> ColumnElement[int]:
    return func.coalesce(func.length(Response.why), 0) + func.coalesce(
        func.length(Response.improve), 0
    )


class ThemeRepo:
    """Reads and writes the theme tables (storage/theme_models.py)."""

    def __init__(self, session: AsyncSession, dialect: str) -> None:
        self._session = session
        self._dialect = dialect

    # The dictionary.

    async def rows(self) -> list[ThemeRow]:
        """Every theme, removed ones included, oldest first."""
        found = await self._session.scalars(select(Theme).order_by(Theme.id))
        return [ThemeRow(t.key, dict(t.words or {}), t.origin, t.active, t.id) for t in found]

    async def seed(self, keys: Iterable[str], origin: str, now: datetime) -> None:
        """Adds the starter themes (no words of their own) unless the dictionary has rows;
        two processes seeding at once add each key once."""
        if await self._session.scalar(select(func.count()).select_from(Theme)):
            return
        insert = upsert_insert(self._dialect)
        for key in keys:
            await self._session.execute(
                insert(Theme)
                .values(
                    key=key, words={}, origin=origin, active=True, created_at=now, updated_at=now
                )
                .on_conflict_do_nothing(index_elements=["key"])
            )

    async def save(
        self, key: str, words: dict[str, list[str]], origin: str, now: datetime
    ) -> None:
        """Sets a theme's words (and makes it active); adds the theme when it is new."""
        existing = await self._session.scalar(select(Theme).where(Theme.key == key))
        if existing is None:
            self._session.add(
                Theme(
                    key=key,
                    words=words,
                    origin=origin,
                    active=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            await self._session.flush()
            return
        existing.words = words
        existing.active = True
        existing.updated_at = now

    async def deactivate(self, key: str, now: datetime) -> bool:
        """Removes a theme from use (the row stays); False when there was no active one."""
        result = await self._session.execute(
            update(Theme)
            .where(Theme.key == key, Theme.active.is_(True))
            .values(active=False, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    # Keeping each answer's themes current.

    @staticmethod
    def _pending(version: str) -> tuple[ColumnElement[bool], ...]:
        return (
            or_(
                Response.why.is_not(None),
                Response.improve.is_not(None),
                ThemeMark.response_id.is_not(None),
            ),
            or_(
                ThemeMark.response_id.is_(None),
                ThemeMark.version != version,
                ThemeMark.length != _length(),
            ),
        )

    async def pending(self, version: str, limit: int) -> list[CommentText]:
        """Answers whose comments were not read with this dictionary version since they
        last changed: never read, read with another version, a follow-up answered since,
        or erased since (their themes must go). Lowest ids first."""
        rows = await self._session.execute(
            select(Response.id, Response.why, Response.improve, Response.language)
            .outerjoin(ThemeMark, ThemeMark.response_id == Response.id)
            .where(*self._pending(version))
            .order_by(Response.id)
            .limit(limit)
        )
        return [CommentText(r.id, r.why, r.improve, r.language) for r in rows]

    async def pending_count(self, version: str) -> int:
        """How many answers are due (for logs and tests)."""
        count = await self._session.scalar(
            select(func.count())
            .select_from(Response)
            .outerjoin(ThemeMark, ThemeMark.response_id == Response.id)
            .where(*self._pending(version))
        )
        return int(count or 0)

    async def assign(
        self, version: str, assigned: Sequence[tuple[CommentText, Collection[str]]]
    ) -> None:
        """Replaces these answers' themes and marks them read with `version`."""
        if not assigned:
            return
        ids = [comment.response_id for comment, _ in assigned]
        await self._session.execute(
            delete(ResponseTheme).where(ResponseTheme.response_id.in_(ids))
        )
        insert = upsert_insert(self._dialect)
        links = [
            {"response_id": comment.response_id, "theme_key": key}
            for comment, keys in assigned
            for key in sorted(keys)
        ]
        if links:
            # A concurrent refresh of the same answers writes the same rows: kept once.
            await self._session.execute(
                insert(ResponseTheme).on_conflict_do_nothing(
                    index_elements=["response_id", "theme_key"]
                ),
                links,
            )
        marks = insert(ThemeMark)
        await self._session.execute(
            marks.on_conflict_do_update(
                index_elements=["response_id"],
                set_={"version": marks.excluded.version, "length": marks.excluded.length},
            ),
            [
                {"response_id": c.response_id, "version": version, "length": c.length}
                for c, _ in assigned
            ],
        )

    # What the /themes report reads.

    async def mentions(self, scope: ScopeFilter) -> list[tuple[str, int, int, int]]:
        """(theme key, survey id, score, answers) for the scope's answers with themes."""
        rows = await self._session.execute(
            select(ResponseTheme.theme_key, Response.survey_id, Response.score, func.count())
            .join(Response, Response.id == ResponseTheme.response_id)
            .where(*scope.conditions())
            .group_by(ResponseTheme.theme_key, Response.survey_id, Response.score)
        )
        return [(r[0], r[1], int(r[2] or 0), int(r[3])) for r in rows]

    async def answers(self, scope: ScopeFilter) -> list[tuple[int, int, bool, bool, int]]:
        """(survey id, score, has a comment, mentions a theme, answers) for every scored
        answer in scope: one pass over the scope's answers."""
        # Grouped by the labels: PostgreSQL would not match the expressions' own bound
        # parameters in GROUP BY with those in the select list.
        commented = _commented().label("commented")
        themed = (
            select(ResponseTheme.response_id)
            .where(ResponseTheme.response_id == Response.id)
            .exists()
            .label("themed")
        )
        rows = await self._session.execute(
            select(Response.survey_id, Response.score, commented, themed, func.count())
            .where(*scope.conditions())
            .group_by(Response.survey_id, Response.score, commented, themed)
        )
        return [(r[0], int(r[1] or 0), bool(r[2]), bool(r[3]), int(r[4])) for r in rows]

    async def examples(
        self, scope: ScopeFilter, key: str, scores: Sequence[int], *, limit: int
    ) -> list[CommentText]:
        """The latest answers in scope with these scores that mention the theme."""
        rows = await self._session.execute(
            select(Response.id, Response.why, Response.improve, Response.language)
            .join(ResponseTheme, ResponseTheme.response_id == Response.id)
            .where(*scope.conditions(), ResponseTheme.theme_key == key, Response.score.in_(scores))
            .order_by(Response.scored_at.desc(), Response.id.desc())
            .limit(limit)
        )
        return [CommentText(r.id, r.why, r.improve, r.language) for r in rows]

    async def uncovered(
        self, scope: ScopeFilter, scores: Sequence[int], *, limit: int
    ) -> list[CommentText]:
        """The latest commented answers in scope that mention no theme."""
        themed = select(ResponseTheme.response_id).where(ResponseTheme.response_id == Response.id)
        rows = await self._session.execute(
            select(Response.id, Response.why, Response.improve, Response.language)
            .where(
                *scope.conditions(),
                Response.score.in_(scores),
                _commented(),
                ~themed.exists(),
            )
            .order_by(Response.scored_at.desc(), Response.id.desc())
            .limit(limit)
        )
        return [CommentText(r.id, r.why, r.improve, r.language) for r in rows]

    async def themes_of(self, response_ids: Collection[int]) -> dict[int, list[str]]:
        """Each answer's theme keys (answers with none are left out)."""
        found: dict[int, list[str]] = defaultdict(list)
        ids = list(response_ids)
        for start in range(0, len(ids), 500):  # PostgreSQL and SQLite cap bound parameters
            rows = await self._session.execute(
                select(ResponseTheme.response_id, ResponseTheme.theme_key)
                .where(ResponseTheme.response_id.in_(ids[start : start + 500]))
                .order_by(ResponseTheme.response_id, ResponseTheme.theme_key)
            )
            for response_id, key in rows:
                found[response_id].append(key)
        return dict(found)

    # Suggested themes.

    async def suggestions(self, keys: Collection[str]) -> dict[str, SuggestionRow]:
        """The stored suggestions with these keys, by key."""
        if not keys:
            return {}
        found = await self._session.scalars(
            select(ThemeSuggestion).where(ThemeSuggestion.key.in_(list(keys)))
        )
        return {s.key: _suggestion(s) for s in found}

    async def dismissed_terms(self) -> list[list[str]]:
        """The terms of every dismissed suggestion (a new group much like one stays away)."""
        rows = await self._session.scalars(
            select(ThemeSuggestion.terms).where(ThemeSuggestion.state != OPEN)
        )
        return [list(terms or []) for terms in rows]

    async def offer(
        self, key: str, terms: Sequence[str], language: str | None, now: datetime
    ) -> SuggestionRow:
        """Stores a suggestion to show (or refreshes the open one with this key)."""
        insert = upsert_insert(self._dialect)
        await self._session.execute(
            insert(ThemeSuggestion)
            .values(key=key, terms=list(terms), language=language, state=OPEN, created_at=now)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        await self._session.execute(
            update(ThemeSuggestion)
            .where(ThemeSuggestion.key == key, ThemeSuggestion.state == OPEN)
            .values(terms=list(terms), language=language)
        )
        row = await self._session.scalar(select(ThemeSuggestion).where(ThemeSuggestion.key == key))
        assert row is not None
        return _suggestion(row)

    async def suggestion(self, suggestion_id: int) -> SuggestionRow | None:
        """One suggestion by id (None when there is no such)."""
        row = await self._session.get(ThemeSuggestion, suggestion_id)
        return _suggestion(row) if row is not None else None

    async def decide(self, suggestion_id: int, state: str, now: datetime) -> bool:
        """Accepts or dismisses an open suggestion; False when it was decided already (a
        second press, or another team member's)."""
        result = await self._session.execute(
            update(ThemeSuggestion)
            .where(ThemeSuggestion.id == suggestion_id, ThemeSuggestion.state == OPEN)
            .values(state=state, decided_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _suggestion(row: ThemeSuggestion) -> SuggestionRow:
    return SuggestionRow(row.id, row.key, list(row.terms or []), row.language, row.state)
