"""The repositories of one transaction, bundled; they never commit (the boundary does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.driver import DriverSQL
from storage.repos.anonymity import AnonymityRepo, SaltMemo
from storage.repos.api_reads import ApiReadRepo
from storage.repos.audience import AudienceRepo
from storage.repos.autopilot import AutopilotRepo
from storage.repos.broadcast_recipients import RecipientQueue
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.cases import CaseRepo
from storage.repos.comments import CommentRepo
from storage.repos.contacts import ContactRepo
from storage.repos.dialogs import DialogRepo
from storage.repos.digests import DigestRepo
from storage.repos.events import EventRepo
from storage.repos.invitation_queue import InvitationQueue
from storage.repos.invitations import InvitationRepo
from storage.repos.outbox import OutboxRepo
from storage.repos.pending import PendingRepo
from storage.repos.phones import PhoneRepo
from storage.repos.privacy import PrivacyRepo
from storage.repos.reminders import ReminderRepo
from storage.repos.respondents import RespondentRepo
from storage.repos.responses import ResponseRepo
from storage.repos.sending_workers import SendingWorkers
from storage.repos.staff import StaffRepo
from storage.repos.stats import StatsRepo
from storage.repos.surveys import SurveyRepo
from storage.repos.updates import UpdateLog


class Store:
    """Intention-revealing access to the data, bound to one session."""

    def __init__(
        self,
        session: AsyncSession,
        dialect: str,
        tz: tzinfo,
        *,
        anonymity_salt: str = "",
        salt_memo: SaltMemo | None = None,
        connection: AsyncConnection,
        event_urls: Sequence[str] = (),
    ) -> None:
        # The survey path's statements, without SQLAlchemy's per-statement work.
        self.driver = DriverSQL(session, dialect, connection)
        self.surveys = SurveyRepo(session, self.driver)
        self.updates = UpdateLog(session, self.driver)
        self.respondents = RespondentRepo(session, self.driver, self.updates)
        self.stats = StatsRepo(session, self.driver, tz)
        # eNPS: salted keys and open-conversation pointers (ANONYMITY_SALT, else a stored salt).
        self.anonymity = AnonymityRepo(session, self.driver, anonymity_salt, salt_memo, tz)
        self.responses = ResponseRepo(session, self.driver, self.stats, self.anonymity)
        self.privacy = PrivacyRepo(session, self.anonymity, self.respondents)
        self.dialogs = DialogRepo(session)
        self.comments = CommentRepo(session)
        self.staff = StaffRepo(session)
        self.cases = CaseRepo(session, self.driver)
        self.digests = DigestRepo(session, dialect)
        self.audience = AudienceRepo(session)
        self.contacts = ContactRepo(session)  # imported contact lists, /import
        self.phones = PhoneRepo(session)  # people's phone numbers (addresses), /phone
        self.pending = PendingRepo(self.driver)
        self.outbox = OutboxRepo(self.driver)  # replies kept until sent (bot/outbox.py)
        # Signed events for the CRM, one delivery per URL of EVENTS_URLS (bot/events).
        self.events = EventRepo(session, self.driver, event_urls)
        # Broadcasts: the jobs, their recipient queue, the workers' heartbeats, reminders.
        self.broadcasts = BroadcastRepo(session)
        self.recipients = RecipientQueue(session, dialect, self.stats)
        self.workers = SendingWorkers(session, dialect)
        self.reminders = ReminderRepo(session, dialect)
        # The trigger API's invitations, and their sending queue: each is sent like a
        # broadcast question (bot/invitations.py).
        self.invitations = InvitationRepo(session, dialect)
        self.invitation_queue = InvitationQueue(session, dialect, self.recipients)
        # Relationship surveys on autopilot: schedules and their daily runs (broadcasts).
        self.autopilot = AutopilotRepo(session)
        self.api_reads = ApiReadRepo(session)  # the HTTP API's answer feed (bot/web)
