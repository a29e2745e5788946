"""A response as the conversation handles it (`ResponseRow`), and reading it back.

The columns and the shared pieces of the survey path's statements live here too, for
storage/repos/response_start.py and response_steps.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.driver import DriverSQL
from storage.models import OPEN_STEPS, Response, Step, Survey
from storage.repos.anonymity import AnonymityRepo
from storage.repos.stats import StatsRepo
from storage.repos.surveys import VIEW_COLUMNS, SurveyView, survey_view
from storage.statements import same


@dataclass(slots=True)
class ResponseRow:
    """A response as the conversation handles it: a plain value, not an ORM entity.

    Loaded with driver SQL (storage/driver.py) on every answer, where an entity cost five
    times the statement; the repo keeps it current as it moves the row on. Reports,
    exports and privacy code load entities.
    """

    id: int
    survey_id: int
    respondent_id: int | None
    chat_id: int | None
    step: str
    language: str
    score: int | None
    why: str | None
    improve: str | None
    source: str | None
    agent: str | None
    campaign: str | None
    start_payload: str | None
    payload_unknown: bool
    channel: str  # the door ("start", "broadcast", "invitation")
    messenger: str  # the messaging channel ("telegram", "whatsapp", "web")
    prompt_message_id: int | None
    asked_at: datetime
    scored_at: datetime | None
    why_at: datetime | None
    improve_at: datetime | None
    completed_at: datetime | None
    replaces_id: int | None
    invite_pending: bool
    # Anonymous answers only: the random id shown instead of `id` (storage/models.py).
    public_id: str | None
    # An invitation's order id and custom attributes (storage/attributes.py), or None.
    attributes: dict[str, str] | None
    # Its survey, read in the same statement (None when the row was not loaded that way).
    survey: SurveyView | None = field(default=None, repr=False, compare=False)


ROW_FIELDS = tuple(f.name for f in fields(ResponseRow) if f.name != "survey")
_MOMENTS = frozenset(("asked_at", "scored_at", "why_at", "improve_at", "completed_at"))

# The survey path's statements, as driver SQL (storage/driver.py: why), built once from
# Core (storage/statements.py).
RESPONSES = cast(Table, Response.__table__)
_S = cast(Table, Survey.__table__)


def constant(value: str) -> Any:
    """A fixed text value written into the statement (a step name), not a parameter."""
    return literal_column(f"'{value}'")


OPEN_STEP_LIST = [constant(step.value) for step in OPEN_STEPS]
# A step needs the response and its survey: one statement reads both.
WITH_SURVEY = select(
    *(RESPONSES.c[name] for name in ROW_FIELDS), *(_S.c[name] for name in VIEW_COLUMNS)
).join_from(RESPONSES, _S, _S.c.id == RESPONSES.c.survey_id)
_GET = same(WITH_SURVEY.where(RESPONSES.c.id == bindparam("response_id")), "response_id")


def param(driver: DriverSQL, value: object) -> object:
    """A response column's value as a driver parameter (moments as stored, steps as text,
    the attributes as JSON text, which both drivers take for a JSON column)."""
    if isinstance(value, datetime):
        return driver.stamp(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return value.value if isinstance(value, Step) else value


def split(response: ResponseRow | int) -> tuple[int, ResponseRow | None]:
    """The id, and the loaded row when the caller passed one (kept current by updates)."""
    if isinstance(response, int):
        return response, None
    return response.id, response


class ResponseReader:
    """What every part of the responses repo shares: its collaborators and reading rows."""

    def __init__(
        self,
        session: AsyncSession,
        driver: DriverSQL,
        stats: StatsRepo,
        anonymity: AnonymityRepo,
    ) -> None:
        self._session = session
        self._driver = driver
        self._stats = stats
        self._anonymity = anonymity

    async def get(self, response_id: int) -> ResponseRow | None:
        """The response with this id."""
        return self._row(await self._driver.fetchrow(_GET, response_id))

    def _row(self, values: tuple[object, ...] | None) -> ResponseRow | None:
        """A row laid out as `WITH_SURVEY` returns it, with its survey."""
        if values is None:
            return None
        driver = self._driver
        columns = len(ROW_FIELDS)
        row = ResponseRow(*values[:columns])  # type: ignore[arg-type]
        row.survey = survey_view(driver, values[columns:])
        for name in _MOMENTS:
            setattr(row, name, driver.moment(getattr(row, name)))
        row.attributes = driver.json(row.attributes)
        row.payload_unknown = bool(row.payload_unknown)
        row.invite_pending = bool(row.invite_pending)
        return row

    async def latest_for(self, respondent_id: int) -> ResponseRow | None:
        """The respondent's newest response of any step (without its survey)."""
        columns = [getattr(Response, name) for name in ROW_FIELDS]
        row = await self._session.execute(
            select(*columns)
            .where(Response.respondent_id == respondent_id)
            .order_by(Response.id.desc())
            .limit(1)
        )
        values = row.first()
        return ResponseRow(*values) if values is not None else None

    async def refresh(self, response: ResponseRow) -> ResponseRow:
        """Re-reads a response after a conditional update."""
        fresh = await self.get(response.id)
        assert fresh is not None  # responses are never deleted mid-conversation
        for name in ROW_FIELDS:
            setattr(response, name, getattr(fresh, name))
        return response
