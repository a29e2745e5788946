"""What every handler receives: the transaction, the outbox, texts and settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from handlers.hooks import Hooks
from handlers.kinds import for_kind
from handlers.port import Outbox
from storage.repos.pending import UNKNOWN, Pending
from storage.repos.respondents import Visitor
from storage.repos.surveys import SurveyLike
from storage.store import Store


class TextsLike(Protocol):
    """A language's catalog: `texts(key, **values)` gives HTML, `.plain` plain text."""

    language: str

    def __call__(self, key: str, **values: Any) -> str:
        """The text as HTML."""
        ...

    def plain(self, key: str, **values: Any) -> str:
        """The text without markup."""
        ...


class CatalogsLike(Protocol):
    """The loaded languages (bot.i18n.Catalogs)."""

    languages: list[str]

    def supports(self, code: str | None) -> bool:
        """True when a catalog exists for the code."""
        ...

    def texts(self, language: str, survey_texts: Mapping[str, Any] | None = None) -> TextsLike:
        """Texts of a language, with a survey's own wording on top."""
        ...

    def resolve(self, override: str | None, telegram_code: str | None) -> str:
        """The language to talk to a user in."""
        ...


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


@dataclass
class Context:
    """One update's view of the world; built by the boundary, discarded after."""

    store: Store
    out: Outbox
    catalogs: CatalogsLike
    config: BotConfig
    language: str
    now: datetime
    respondent: Visitor | None = None  # the private chat's user, as this update found them
    hooks: Hooks = field(default_factory=Hooks)
    # Which message interceptors have work; the router looks it up once per message.
    pending: Pending = UNKNOWN
    # Granted staff roles (or None) this update's handler already read, by user id: /start
    # reads the role with its other look-up, and the menu refresh after it reuses it.
    known_roles: dict[int, str | None] = field(default_factory=dict)

    @property
    def texts(self) -> TextsLike:
        """Texts in the user's language."""
        return self.catalogs.texts(self.language)

    def survey_texts(self, survey: SurveyLike) -> TextsLike:
        """Texts in the user's language with the survey's own wording.

        An eNPS survey's defaults are the workplace wording (`enps_*` catalog keys).
        """
        texts = self.catalogs.texts(self.language, survey.texts)
        return for_kind(texts, survey.kind, survey.texts, self.language)

    def brand_of(self, survey: SurveyLike) -> str:
        """What the question asks about: the survey's subject or the bot's brand."""
        return survey.subject or self.config.brand
