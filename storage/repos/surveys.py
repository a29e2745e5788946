"""Surveys: the default one, look-ups by deep-link slug."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Survey

DEFAULT_SLUG = "nps"


# Asked by every /start without a deep link (built once).
_DEFAULT = select(Survey).where(Survey.is_default.is_(True), Survey.active.is_(True)).limit(1)


class SurveyRepo:
    """Reads and creates surveys."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, survey_id: int) -> Survey | None:
        """The survey with this id."""
        return await self._session.get(Survey, survey_id)

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
