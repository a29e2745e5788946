"""The repositories of one transaction, bundled; they never commit (the boundary does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.driver import DriverSQL
from storage.repos.anonymity import AnonymityRepo, SaltMemo
from storage.repos.api_reads import ApiReadRepo
from storage.repos.audience import AudienceRepo
from storage.repos.autopilot import AutopilotRepo
from storage.repos.backlogs import BacklogRepo
from storage.repos.broadcast_recipients import RecipientQueue
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.cases import CaseRepo
from storage.repos.comments import CommentRepo
from storage.repos.contacts import ContactRepo
from storage.repos.dialogs import DialogRepo
from storage.repos.digests import DigestRepo
from storage.repos.events import EventRepo
from storage.repos.history import HistoryRepo
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
from storage.repos.survey_links import SurveyLinkRepo
from storage.repos.surveys import SurveyRepo
from storage.repos.themes import ThemeRepo
from storage.repos.updates import UpdateLog
from storage.repos.variants import VariantRepo
from storage.repos.whatsapp import WhatsAppRepo
from storage.repos.whatsapp_outbound import WhatsAppOutboundRepo


class Store:
    """Intention-revealing access to the data, bound to one session.

    Each repository is built on first use: a unit of work touches a few of the thirty, and
    the survey path opens eight units of work per survey.
    """

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
        self._session = session
        self._dialect = dialect
        self._tz = tz
        self._anonymity_salt = anonymity_salt
        self._salt_memo = salt_memo
        self._event_urls = event_urls
        # The survey path's statements, without SQLAlchemy's per-statement work.
        self.driver = DriverSQL(session, dialect, connection)

    @cached_property
    def surveys(self) -> SurveyRepo:
        return SurveyRepo(self._session, self.driver)

    @cached_property
    def updates(self) -> UpdateLog:
        return UpdateLog(self._session, self.driver)

    @cached_property
    def respondents(self) -> RespondentRepo:
        return RespondentRepo(self._session, self.driver, self.updates)

    @cached_property
    def whatsapp(self) -> WhatsAppRepo:
        return WhatsAppRepo(self._session)

    @cached_property
    def whatsapp_outbound(self) -> WhatsAppOutboundRepo:
        return WhatsAppOutboundRepo(self._session, self._dialect)

    @cached_property
    def stats(self) -> StatsRepo:
        return StatsRepo(self._session, self.driver, self._tz)

    @cached_property
    def anonymity(self) -> AnonymityRepo:
        """eNPS: salted keys and open-conversation pointers (ANONYMITY_SALT, else stored)."""
        return AnonymityRepo(
            self._session, self.driver, self._anonymity_salt, self._salt_memo, self._tz
        )

    @cached_property
    def responses(self) -> ResponseRepo:
        return ResponseRepo(self._session, self.driver, self.stats, self.anonymity)

    @cached_property
    def privacy(self) -> PrivacyRepo:
        return PrivacyRepo(self._session, self.anonymity, self.respondents)

    @cached_property
    def dialogs(self) -> DialogRepo:
        return DialogRepo(self._session)

    @cached_property
    def comments(self) -> CommentRepo:
        return CommentRepo(self._session)

    @cached_property
    def staff(self) -> StaffRepo:
        return StaffRepo(self._session)

    @cached_property
    def cases(self) -> CaseRepo:
        return CaseRepo(self._session, self.driver)

    @cached_property
    def digests(self) -> DigestRepo:
        return DigestRepo(self._session, self._dialect)

    @cached_property
    def audience(self) -> AudienceRepo:
        return AudienceRepo(self._session)

    @cached_property
    def contacts(self) -> ContactRepo:
        """Imported contact lists (/import)."""
        return ContactRepo(self._session)

    @cached_property
    def phones(self) -> PhoneRepo:
        """People's phone numbers (addresses), /phone."""
        return PhoneRepo(self._session)

    @cached_property
    def pending(self) -> PendingRepo:
        return PendingRepo(self.driver)

    @cached_property
    def outbox(self) -> OutboxRepo:
        """Replies kept until sent (bot/outbox.py)."""
        return OutboxRepo(self.driver)

    @cached_property
    def events(self) -> EventRepo:
        """Signed events for the CRM, one delivery per URL of EVENTS_URLS (bot/events)."""
        return EventRepo(self._session, self.driver, self._event_urls)

    @cached_property
    def broadcasts(self) -> BroadcastRepo:
        return BroadcastRepo(self._session)

    @cached_property
    def recipients(self) -> RecipientQueue:
        """A broadcast's recipient queue."""
        return RecipientQueue(self._session, self._dialect, self.stats)

    @cached_property
    def variants(self) -> VariantRepo:
        """A/B broadcasts: arms, each recipient's arm, answers per arm."""
        return VariantRepo(self._session)

    @cached_property
    def workers(self) -> SendingWorkers:
        """The sending processes' heartbeats."""
        return SendingWorkers(self._session, self._dialect)

    @cached_property
    def reminders(self) -> ReminderRepo:
        return ReminderRepo(self._session, self._dialect)

    @cached_property
    def invitations(self) -> InvitationRepo:
        """The trigger API's invitations."""
        return InvitationRepo(self._session, self._dialect)

    @cached_property
    def invitation_queue(self) -> InvitationQueue:
        """Invitations' sending queue: each is sent like a broadcast question."""
        return InvitationQueue(self._session, self._dialect, self.recipients)

    @cached_property
    def survey_links(self) -> SurveyLinkRepo:
        """Invitations answered through their survey links (handlers/web_survey.py)."""
        return SurveyLinkRepo(self._session, self._dialect)

    @cached_property
    def autopilot(self) -> AutopilotRepo:
        """Relationship surveys on autopilot: schedules and their daily runs."""
        return AutopilotRepo(self._session)

    @cached_property
    def history(self) -> HistoryRepo:
        """Back-dated answers written through the survey path (the demo's traffic)."""
        return HistoryRepo(self._session, self.respondents, self.responses, self.cases)

    @cached_property
    def api_reads(self) -> ApiReadRepo:
        """The HTTP API's answer feed (bot/web)."""
        return ApiReadRepo(self._session)

    @cached_property
    def themes(self) -> ThemeRepo:
        """Themes of comments: the dictionary, each answer's themes, suggestions."""
        return ThemeRepo(self._session, self._dialect)

    @cached_property
    def backlogs(self) -> BacklogRepo:
        """The work queues' lengths, for /metrics."""
        return BacklogRepo(self._session)
