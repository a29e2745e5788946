"""Surveys: the default one, look-ups by deep-link slug."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.models import Survey

DEFAULT_SLUG = "nps"


@dataclass(frozen=True, slots=True)
class SurveyView:
    """A survey as the respondent's conversation reads it: a plain value.

    Loaded with driver SQL (storage/driver.py) on every answer: an ORM entity cost five
    times the statement. Handlers that change surveys load the entity (`get`).
    """

    id: int
    slug: str
    name: str
    kind: str
    is_default: bool
    active: bool
    subject: str | None
    texts: dict[str, Any]
    review_url: str | None
    created_at: datetime


#: What the conversation's handlers accept: the entity or the view.
SurveyLike = Survey | SurveyView

#: The view's columns, in order (responses.py reads them joined to a response).
VIEW_COLUMNS = tuple(field.name for field in fields(SurveyView))
_VIEW_COLUMNS = ", ".join(VIEW_COLUMNS)
_VIEW = f"SELECT {_VIEW_COLUMNS} FROM surveys WHERE id = $1"
_DEFAULT_VIEW = (
    f"SELECT {_VIEW_COLUMNS} FROM surveys WHERE is_default = TRUE AND active = TRUE "
    "ORDER BY id LIMIT 1"
)


# Asked by every /start without a deep link (built once).
_DEFAULT = select(Survey).where(Survey.is_default.is_(True), Survey.active.is_(True)).limit(1)


def survey_view(driver: DriverSQL, row: Sequence[Any]) -> SurveyView:
    """A view from its columns as the driver returned them (VIEW_COLUMNS order)."""
    (id_, slug, name, kind, is_default, active, subject, texts, review_url, created) = row
    return SurveyView(
        id_,
        slug,
        name,
        kind,
        bool(is_default),
        bool(active),
        subject,
        driver.json(texts) or {},
        review_url,
        driver.moment(created),  # type: ignore[arg-type]
    )


class SurveyRepo:
    """Reads and creates surveys."""

    def __init__(self, session: AsyncSession, driver: DriverSQL) -> None:
        self._session = session
        self._driver = driver

    async def get(self, survey_id: int) -> Survey | None:
        """The survey with this id."""
        return await self._session.get(Survey, survey_id)

    async def view(self, survey_id: int) -> SurveyView | None:
        """The survey with this id, to read only."""
        row = await self._driver.fetchrow(_VIEW, survey_id)
        return survey_view(self._driver, row) if row is not None else None

    async def default_view(self) -> SurveyView | None:
        """The active default survey, to read only (None before the first start)."""
        row = await self._driver.fetchrow(_DEFAULT_VIEW)
        return survey_view(self._driver, row) if row is not None else None

    async def by_slug(self, slug: str) -> Survey | None:
        """The survey a deep link names."""
        return await self._session.scalar(select(Survey).where(Survey.slug == slug))

    async def default(self) -> Survey | None:
        """The active default survey, if any."""
        return await self._session.scalar(_DEFAULT)

    async def ensure_default(self) -> Survey:
        """Returns the default survey, creating the standard NPS one on first start."""
        survey = await self.default()
        if survey is not None:
            return survey
        survey = await self.by_slug(DEFAULT_SLUG)
        if survey is None:
            survey = Survey(slug=DEFAULT_SLUG, name="Main survey", kind="nps", texts={})
            self._session.add(survey)
        survey.is_default = True
        survey.active = True
        await self._session.flush()
        return survey

    async def add(self, survey: Survey) -> Survey:
        """Stores a new survey."""
        self._session.add(survey)
        await self._session.flush()
        return survey

    async def all(self) -> list[Survey]:
        """Every survey, oldest first."""
        return list((await self._session.scalars(select(Survey).order_by(Survey.id))).all())
