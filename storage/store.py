"""The repositories of one transaction, bundled; they never commit (the boundary does)."""

from __future__ import annotations

from datetime import tzinfo

from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos.respondents import RespondentRepo
from storage.repos.responses import ResponseRepo
from storage.repos.staff import StaffRepo
from storage.repos.stats import StatsRepo
from storage.repos.surveys import SurveyRepo
from storage.repos.updates import UpdateLog


class Store:
    """Intention-revealing access to the data, bound to one session."""

    def __init__(self, session: AsyncSession, dialect: str, tz: tzinfo) -> None:
        self.surveys = SurveyRepo(session)
        self.respondents = RespondentRepo(session, dialect)
        self.stats = StatsRepo(session, dialect, tz)
        self.responses = ResponseRepo(session, self.stats)
        self.staff = StaffRepo(session)
        self.updates = UpdateLog(session, dialect)
