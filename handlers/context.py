"""What every handler receives: the transaction, the outbox, texts and settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from handlers.kinds import for_kind
from handlers.port import Outbox
from handlers.roles import Role
from storage.repos.pending import UNKNOWN, Pending
from storage.repos.respondents import Person
from storage.repos.surveys import SurveyView
from storage.store import Store

if TYPE_CHECKING:
    from handlers.events import IncomingMessage
    from handlers.texts import CatalogsLike, TextsLike
    from nps.scope import Scope
    from storage.repos.response_rows import ResponseRow


# Reacts to a stored score or follow-up answer (e.g. a detractor alert).
AnswerListener = Callable[["UpdateContext", "SurveyView", "ResponseRow"], Awaitable[None]]
# Adds lines under the /nps figures (e.g. open detractor cases).
ReportExtra = Callable[["UpdateContext", "Scope"], Awaitable[list[str]]]
# Cancels what the user is in the middle of; True when something was cancelled.
Canceller = Callable[["IncomingMessage", "UpdateContext"], Awaitable[bool]]
# Erases a feature's own data about a sender id — a Telegram user id, or a WhatsApp chat's
# synthetic id (RespondentRepo.by_sender finds the person) — for /forgetme and /forget, in
# the same transaction, before the person and their addresses are erased. A person known
# only by a phone number has no sender id: the registry (storage/personal.py) erases them.
Forgetter = Callable[["UpdateContext", int], Awaitable[None]]


@dataclass
class Hooks:
    """Listeners and extra sections, filled once per router."""

    on_score: list[AnswerListener] = field(default_factory=list)
    on_text: list[AnswerListener] = field(default_factory=list)
    report_extras: list[ReportExtra] = field(default_factory=list)
    cancellers: list[Canceller] = field(default_factory=list)
    forgetters: list[Forgetter] = field(default_factory=list)
    # Extra /help sections by the least role that sees them (catalog keys).
    help_sections: list[tuple[Role, str]] = field(default_factory=list)
    # Commands in the Telegram menu of a user with this role (Routes.menu_for).
    menu: Callable[[Role], list[str]] = field(default=lambda role: [])


@dataclass(frozen=True)
class BotConfig:
    """The settings handlers depend on."""

    brand: str
    bot_username: str | None = None
    admin_ids: frozenset[int] = field(default_factory=frozenset)
    # Where detractor alerts go: the staff chat, or each owner's private chat.
    alert_chats: tuple[int, ...] = ()
    # The language of texts in shared staff chats (alerts), where readers differ.
    staff_language: str = "en"
    # Broadcast pacing and survey fatigue (BROADCAST_RATE, SURVEY_COOLDOWN_DAYS, …).
    broadcast_rate: float = 30.0
    survey_cooldown_days: int = 90
    any_survey_cooldown_days: int = 7
    # eNPS: no figure, segment, comment list or chart for fewer answers (ENPS_MIN_GROUP).
    enps_min_group: int = 5
    # The WhatsApp business number's digits (wa.me links in /link); None: no WhatsApp.
    whatsapp_number: str | None = None
    # WhatsApp is configured (WHATSAPP_*): people reached only there can be messaged.
    whatsapp_enabled: bool = True


@dataclass
class UpdateContext:
    """One update's view of the world; built by the boundary, discarded after."""

    store: Store
    out: Outbox
    catalogs: CatalogsLike
    config: BotConfig
    language: str
    now: datetime
    respondent: Person | None = None  # the private chat's user, as this update found them
    hooks: Hooks = field(default_factory=Hooks)
    # Which message interceptors have work; the router looks it up once per message.
    pending: Pending = UNKNOWN
    # Granted staff roles (or None) this update's handler already read, by user id: /start
    # reads the role with its other look-up, and the menu refresh after it reuses it.
    known_roles: dict[int, str | None] = field(default_factory=dict)
    # The messaging channel of the update's chat ("telegram", "whatsapp"): where a response
    # it starts is answered (responses.messenger).
    channel: str = "telegram"

    @property
    def texts(self) -> TextsLike:
        """Texts in the user's language."""
        return self.catalogs.texts(self.language)

    def survey_texts(self, survey: SurveyView) -> TextsLike:
        """Texts in the user's language with the survey's own wording.

        An eNPS survey's defaults are the workplace wording (`enps_*` catalog keys).
        """
        texts = self.catalogs.texts(self.language, survey.texts)
        return for_kind(texts, survey.kind, survey.texts, self.language)

    def brand_of(self, survey: SurveyView) -> str:
        """What the question asks about: the survey's subject or the bot's brand."""
        return survey.subject or self.config.brand
