"""Surveys: the default one, look-ups by deep-link slug, and an admin's changes.

Every read returns a `SurveyView`, a plain frozen value: the entity stays in this module
(changes go through `add`, `update`, `make_default`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.models import Survey
from storage.repos import upsert_insert
from storage.statements import same

DEFAULT_SLUG = "nps"


@dataclass(frozen=True, slots=True)
class SurveyView:
    """A survey as everything outside storage reads it: a plain value.

    The conversation loads it with driver SQL (storage/driver.py) on every answer: an ORM
    entity cost five times the statement.
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
    # The thank-you offers to share the phone number (handlers/phones.py).
    ask_phone: bool = False


#: The view's columns, in order (responses.py reads them joined to a response).
VIEW_COLUMNS = tuple(field.name for field in fields(SurveyView))
#: What an admin may change (the edit dialog's fields, the card's on/off buttons).
EDITABLE = frozenset(
    (
        "name",
        "kind",
        "slug",
        "subject",
        "texts",
        "review_url",
        "active",
        "ask_phone",
        "whatsapp_template",
    )
)
# Driver SQL (storage/driver.py): a survey is read with every answer.
_SURVEYS = Survey.__table__
_VIEW_SELECT = select(*(_SURVEYS.c[name] for name in VIEW_COLUMNS))
_VIEW = same(_VIEW_SELECT.where(_SURVEYS.c.id == bindparam("survey_id")), "survey_id")
_DEFAULT_VIEW = same(
    _VIEW_SELECT.where(_SURVEYS.c.is_default == true(), _SURVEYS.c.active == true())
    .order_by(_SURVEYS.c.id)
    .limit(1)
)


def survey_view(driver: DriverSQL, row: Sequence[Any]) -> SurveyView:
    """A view from its columns as the driver returned them (VIEW_COLUMNS order)."""
    (id_, slug, name, kind, is_default, active, subject, texts, review_url, created) = row[:10]
    (ask_phone,) = row[10:]
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
        bool(ask_phone),
    )


def _view_of(survey: Survey) -> SurveyView:
    """The value of a loaded entity (texts copied: the value shares nothing with it)."""
    return SurveyView(
        survey.id,
        survey.slug,
        survey.name,
        survey.kind,
        bool(survey.is_default),
        bool(survey.active),
        survey.subject,
        dict(survey.texts or {}),
        survey.review_url,
        survey.created_at,
        bool(survey.ask_phone),
    )


class SurveyRepo:
    """Reads, creates and changes surveys."""

    def __init__(self, session: AsyncSession, driver: DriverSQL) -> None:
        self._session = session
        self._driver = driver

    async def get(self, survey_id: int) -> SurveyView | None:
        """The survey with this id."""
        row = await self._driver.fetchrow(_VIEW, survey_id)
        return survey_view(self._driver, row) if row is not None else None

    async def default(self) -> SurveyView | None:
        """The active default survey (None before the first start)."""
        row = await self._driver.fetchrow(_DEFAULT_VIEW)
        return survey_view(self._driver, row) if row is not None else None

    async def by_slug(self, slug: str) -> SurveyView | None:
        """The survey a deep link names."""
        survey = await self._session.scalar(select(Survey).where(Survey.slug == slug))
        return _view_of(survey) if survey is not None else None

    async def ensure_default(self) -> SurveyView:
        """Returns the default survey, creating the standard NPS one on first start."""
        view = await self.default()
        if view is not None:
            return view
        # Replicas starting together on a new database all get here: the insert skips a
        # row another one wrote (waiting for its commit), so none fails on the slug.
        dialect = "sqlite" if self._driver.sqlite else "postgresql"
        await self._session.execute(
            upsert_insert(dialect)(Survey)
            .values(slug=DEFAULT_SLUG, name="Main survey", kind="nps", texts={})
            .on_conflict_do_nothing(index_elements=["slug"])
        )
        survey = await self._session.scalar(select(Survey).where(Survey.slug == DEFAULT_SLUG))
        assert survey is not None  # inserted above, or by another process
        survey.is_default = True
        survey.active = True
        await self._session.flush()
        return _view_of(survey)

    async def add(
        self,
        *,
        slug: str,
        name: str,
        kind: str = "nps",
        subject: str | None = None,
        texts: dict[str, Any] | None = None,
        review_url: str | None = None,
        active: bool = True,
        is_default: bool = False,
        ask_phone: bool = False,
    ) -> SurveyView:
        """Stores a new survey."""
        survey = Survey(
            slug=slug,
            name=name,
            kind=kind,
            subject=subject,
            texts=dict(texts or {}),
            review_url=review_url,
            active=active,
            is_default=is_default,
            ask_phone=ask_phone,
        )
        self._session.add(survey)
        await self._session.flush()
        return _view_of(survey)

    async def update(self, survey_id: int, **changes: Any) -> SurveyView | None:
        """Changes some of a survey's EDITABLE fields; the survey as it is now (None: gone)."""
        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        survey = await self._session.get(Survey, survey_id)
        if survey is None:
            return None
        for name, value in changes.items():
            setattr(survey, name, dict(value) if name == "texts" else value)
        await self._session.flush()
        return _view_of(survey)

    async def whatsapp_template(self, survey_id: int) -> str | None:
        """The survey's own WhatsApp template (None: WHATSAPP_TEMPLATE)."""
        return await self._session.scalar(
            select(Survey.whatsapp_template).where(Survey.id == survey_id)
        )

    async def make_default(self, survey_id: int) -> SurveyView | None:
        """Makes this survey the one a plain /start asks (and no other); it as it is now."""
        chosen = None
        for survey in (await self._session.scalars(select(Survey))).all():
            survey.is_default = survey.id == survey_id
            chosen = survey if survey.id == survey_id else chosen
        await self._session.flush()
        return _view_of(chosen) if chosen is not None else None

    async def all(self) -> list[SurveyView]:
        """Every survey, oldest first."""
        surveys = await self._session.scalars(select(Survey).order_by(Survey.id))
        return [_view_of(survey) for survey in surveys.all()]
