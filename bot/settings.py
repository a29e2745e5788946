"""Settings from the environment and `.env`, validated once at start."""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Literal
from urllib.parse import quote, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.json_schema import JsonDict
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
SUPPORTED_DB_PREFIXES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
# Marks a setting whose value must never reach a log (bot/logs.py redacts every record);
# SECRET_URL: only the URL's password is secret.
SECRET: JsonDict = {"secret": "value"}
SECRET_URL: JsonDict = {"secret": "url-password"}
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words; they are no secret


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment (see `.env.example`)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_file_encoding="utf-8")

    bot_token: str = Field(default="", json_schema_extra=SECRET)
    database_url: str = Field(
        default="sqlite+aiosqlite:///./npsbot.db", json_schema_extra=SECRET_URL
    )
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    telegram_api_url: str = "https://api.telegram.org"
    bot_framework: Literal["aiogram", "ptb"] = "aiogram"
    brand_name: str = ""
    default_language: str = "en"
    log_level: str = "INFO"
    # Keys the salted hashes that keep eNPS answers anonymous; empty: generated once and
    # stored in the database (weaker: a database copy alone can then test known user ids).
    anonymity_salt: str = Field(default="", json_schema_extra=SECRET)
    timezone: str = "UTC"
    alert_chat_id: int | None = None
    digest_time: str = "09:00"
    # Broadcasts: messages per second for all replicas together, and per chat.
    broadcast_rate: float = Field(default=30.0, gt=0, le=1000)
    # Paid broadcasts (allow_paid_broadcast, Telegram Stars per message): needed above the
    # free limit of about 30 messages per second, up to 1000.
    broadcast_paid: bool = False
    broadcast_per_chat_interval: float = Field(default=1.0, ge=0, le=60)
    # How often the broadcast progress message is edited (seconds).
    broadcast_progress_seconds: float = Field(default=3.0, gt=0, le=600)
    # Survey fatigue: nobody gets the same survey again within N days, nor any survey
    # within M days (broadcasts and reminders obey both; 0 turns a rule off).
    survey_cooldown_days: int = Field(default=90, ge=0, le=3650)
    any_survey_cooldown_days: int = Field(default=7, ge=0, le=3650)
    # eNPS anonymity threshold: no eNPS figure, segment, comment list or chart is shown
    # for fewer answers than this.
    enps_min_group: int = Field(default=5, ge=1, le=1000)
    # One reminder this many hours after an unanswered question; 0 turns reminders off.
    reminder_after_hours: float = Field(default=24.0, ge=0, le=24 * 90)
    # The HTTP server (bot/web): health, the Telegram webhook, the trigger API. It listens
    # whenever WEBHOOK_URL, API_TOKEN or EVENTS_URLS is set.
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # The public URL Telegram calls in webhook mode (its path is the route served); empty:
    # long polling. WEBHOOK_SECRET comes back in X-Telegram-Bot-Api-Secret-Token.
    webhook_url: str = ""
    webhook_secret: str = Field(default="", json_schema_extra=SECRET)
    # Bearer token of the trigger API (/api/v1); empty: no API.
    api_token: str = Field(default="", json_schema_extra=SECRET)
    # Bearer token of GET /metrics (Prometheus); empty: no /metrics. Not API_TOKEN: a
    # scraper must not be able to invite people.
    metrics_token: str = Field(default="", json_schema_extra=SECRET)
    # PostgreSQL connections each process keeps open; replicas × POOL_SIZE + headroom must
    # stay within the server's max_connections (README "At scale").
    pool_size: int = Field(default=20, ge=1, le=200)
    # Where signed events go (comma-separated URLs), and the HMAC key that signs them.
    events_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    events_secret: str = Field(default="", json_schema_extra=SECRET)
    # Invitations wait for the end of this local window (TIMEZONE), e.g. 21:00-09:00; off.
    quiet_hours: str = "21:00-09:00"
    # Survey links for SMS and e-mail ({PUBLIC_URL}/s/<token>): the public https base of this
    # server, the key that signs the links (at least 32 characters) and how many days after
    # its send_at a link works. Empty PUBLIC_URL: no links, no /s pages.
    public_url: str = ""
    survey_link_secret: str = Field(default="", json_schema_extra=SECRET)
    survey_link_days: int = Field(default=7, ge=1, le=365)
    # WhatsApp Cloud API (bot/whatsapp): all four or none; the webhook is
    # {server}/whatsapp/webhook. WHATSAPP_DISPLAY_NUMBER (digits) builds wa.me links;
    # empty: asked from the Cloud API at start.
    whatsapp_token: str = Field(default="", json_schema_extra=SECRET)
    whatsapp_phone_number_id: str = ""
    whatsapp_app_secret: str = Field(default="", json_schema_extra=SECRET)
    whatsapp_verify_token: str = Field(default="", json_schema_extra=SECRET)
    whatsapp_api_url: str = "https://graph.facebook.com/v23.0"
    whatsapp_display_number: str = ""
    # The approved template that asks outside the 24-hour window (a survey may name its own),
    # and WhatsApp's sending rate for broadcasts, reminders and invitations, in messages/s
    # for all replicas together (each live one takes an equal part). README "WhatsApp".
    whatsapp_template: str = Field(
        default="nps_invitation", min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$"
    )
    whatsapp_rate: float = Field(default=20.0, gt=0, le=1000)

    @property
    def tz(self) -> ZoneInfo:
        """The reporting time zone (days in statistics and the digest's clock)."""
        return ZoneInfo(self.timezone)

    @property
    def digest_at(self) -> time | None:
        """The local time of the daily digest, or None when turned off."""
        if not self.digest_time.strip() or self.digest_time.strip().lower() == "off":
            return None
        hours, minutes = self.digest_time.strip().split(":")
        return time(int(hours), int(minutes))

    @property
    def quiet_window(self) -> tuple[time, time] | None:
        """The quiet hours as (start, end) local times, or None when turned off."""
        value = self.quiet_hours.strip().lower()
        if not value or value == "off":
            return None
        start, end = (part.strip() for part in value.split("-"))
        return _clock(start), _clock(end)

    @property
    def http_enabled(self) -> bool:
        """Whether the HTTP server runs (webhook mode, the trigger API, events or metrics)."""
        return bool(
            self.webhook_url
            or self.api_token
            or self.events_urls
            or self.metrics_token
            or self.public_url
            or self.whatsapp_enabled
        )

    @property
    def whatsapp_enabled(self) -> bool:
        """Whether the WhatsApp channel runs (WHATSAPP_TOKEN and the rest are set)."""
        return bool(self.whatsapp_token)

    @field_validator("events_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        """Accepts `https://a/hook,https://b/hook` as well as a list."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_admin_ids(cls, value: object) -> object:
        """Accepts `1,2,3` (the documented form) as well as a list."""
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            ids = []
            for part in parts:
                if not part.lstrip("-").isdigit():
                    raise ValueError(f"{part!r} is not a numeric Telegram user id")
                ids.append(int(part))
            return ids
        return value

    @field_validator("alert_chat_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        """An empty ALERT_CHAT_ID means: alert the owners in their private chats."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bot_framework", mode="before")
    @classmethod
    def _lower_framework(cls, value: object) -> object:
        """Lets operators write `PTB` or `Aiogram`."""
        return value.strip().lower() if isinstance(value, str) else value


MIN_API_TOKEN_LENGTH = 32
FREE_BROADCAST_RATE = 30.0  # Telegram's broadcast limit without allow_paid_broadcast
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d$")
_HTTP_URL = re.compile(r"^https?://[^/\s]+")


def _clock(value: str) -> time:
    """A 24-hour local time such as 09:00 (the caller checked it with _CLOCK)."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def secret_values(settings: Settings) -> list[str]:
    """Every secret the settings hold, as it could appear in a log line.

    Fields marked SECRET (or typed SecretStr) count whole; the bot token's part after the
    colon counts alone too (it is the secret; the bot id is public). For SECRET_URL fields
    the password counts, raw and percent-encoded.
    """
    found: list[str] = []
    for name, field in type(settings).model_fields.items():
        value = getattr(settings, name)
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        kind = extra.get("secret")
        if isinstance(value, SecretStr):
            value, kind = value.get_secret_value(), kind or "value"
        if not kind or not isinstance(value, str) or not value:
            continue
        if kind == "url-password":
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                found += [password, quote(password, safe=""), unquote(password)]
            continue
        found.append(value)
        if ":" in value:
            found.append(value.split(":", 1)[1])
    return [s for s in dict.fromkeys(found) if len(s) >= MIN_SECRET_LENGTH]


def _explain(field: str, problem: str) -> str:
    """One operator-facing line for a bad setting."""
    hints = {
        "BOT_TOKEN": "get a token from @BotFather (https://t.me/BotFather, /newbot) and set "
        "BOT_TOKEN=123456789:AA... in .env or the environment",
        "DATABASE_URL": "use sqlite+aiosqlite:///./npsbot.db or "
        "postgresql+asyncpg://user:password@host:5432/dbname",
        "ADMIN_IDS": "write numeric Telegram user ids separated by commas, "
        "e.g. ADMIN_IDS=12345,67890",
        "TELEGRAM_API_URL": "use https://api.telegram.org or the http(s) URL of a Bot API server",
        "BOT_FRAMEWORK": "use aiogram (default) or ptb",
        "DEFAULT_LANGUAGE": "use a two-letter code such as en or ru",
        "ALERT_CHAT_ID": "use the numeric id of the staff chat (groups are negative, "
        "e.g. -1001234567890), or leave it empty to alert the owners",
        "TIMEZONE": "use an IANA time zone name such as Europe/Chisinau or UTC",
        "DIGEST_TIME": "use a 24-hour local time such as 09:00, or off",
        "BROADCAST_RATE": "use messages per second above 0 and at most 1000, e.g. 30 "
        "(Telegram's limit for all replicas together)",
        "BROADCAST_PAID": "use true or false",
        "BROADCAST_PER_CHAT_INTERVAL": "use seconds between two messages to one chat, e.g. 1.0",
        "BROADCAST_PROGRESS_SECONDS": "use seconds between progress updates, e.g. 3",
        "SURVEY_COOLDOWN_DAYS": "use a whole number of days, e.g. 90 (0 turns the rule off)",
        "ANY_SURVEY_COOLDOWN_DAYS": "use a whole number of days, e.g. 7 (0 turns the rule off)",
        "ENPS_MIN_GROUP": "use a whole number of answers, at least 1, e.g. 5",
        "REMINDER_AFTER_HOURS": "use hours after the question, e.g. 24 (0 turns reminders off)",
        "WHATSAPP_TEMPLATE": "use an approved template's name: lowercase letters, digits and "
        "_, e.g. nps_invitation",
        "WHATSAPP_RATE": "use messages per second above 0 and at most 1000, e.g. 20",
        "HTTP_HOST": "use the address to listen on, e.g. 127.0.0.1 or 0.0.0.0",
        "HTTP_PORT": "use a TCP port number, e.g. 8080",
        "WEBHOOK_URL": "use the public https URL Telegram should call, e.g. "
        "https://bot.example.com/telegram, or leave it empty for long polling",
        "WEBHOOK_SECRET": "set a random secret of 1-256 letters, digits, _ or - "
        "(e.g. `openssl rand -hex 32`)",
        "API_TOKEN": f"use a random token of at least {MIN_API_TOKEN_LENGTH} characters "
        "(e.g. `openssl rand -hex 32`), or leave it empty to turn the API off",
        "METRICS_TOKEN": f"use a random token of at least {MIN_API_TOKEN_LENGTH} characters "
        "(e.g. `openssl rand -hex 32`), or leave it empty to turn /metrics off",
        "POOL_SIZE": "use a whole number of connections from 1 to 200, e.g. 20 "
        "(replicas × POOL_SIZE must stay below PostgreSQL's max_connections)",
        "EVENTS_URLS": "use comma-separated http(s) URLs of the receivers",
        "EVENTS_SECRET": "set a random secret the receivers verify signatures with "
        "(e.g. `openssl rand -hex 32`)",
        "QUIET_HOURS": "use a local window such as 21:00-09:00, or off",
        "PUBLIC_URL": "use the public https address of this server behind your proxy, e.g. "
        "https://nps.example.com (no query), or leave it empty to turn survey links off",
        "SURVEY_LINK_SECRET": f"set a random secret of at least {MIN_API_TOKEN_LENGTH} "
        "characters that signs the survey links (e.g. `openssl rand -hex 32`)",
        "SURVEY_LINK_DAYS": "use a whole number of days from 1 to 365, e.g. 7",
        "WHATSAPP_TOKEN": "set the Cloud API access token of your Meta app (a system "
        "user's permanent token)",
        "WHATSAPP_PHONE_NUMBER_ID": "set the phone number id shown in the app's WhatsApp "
        "API Setup page",
        "WHATSAPP_APP_SECRET": "set the Meta app's secret (App settings → Basic), which "
        "signs the webhooks",
        "WHATSAPP_VERIFY_TOKEN": "set the random verify token you enter in the app's "
        "webhook configuration",
        "WHATSAPP_API_URL": "use https://graph.facebook.com/v23.0",
        "WHATSAPP_DISPLAY_NUMBER": "use the business number's digits, e.g. 37360000000",
    }
    hint = hints.get(field, "see .env.example")
    return f"{field} {problem}: {hint}."


def load_settings(*, require_token: bool = True, **overrides: object) -> Settings:
    """Reads and checks settings; raises SettingsError with one clear line."""
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        raise SettingsError(_explain(field, f"is invalid ({first['msg']})")) from None
    check_settings(settings, require_token=require_token)
    return settings


def check_settings(settings: Settings, *, require_token: bool = True) -> None:
    """Checks the values pydantic cannot judge alone."""
    token = settings.bot_token.strip()
    check_whatsapp_settings(settings)
    if require_token and not token and not settings.whatsapp_enabled:
        raise SettingsError(_explain("BOT_TOKEN", "is not set"))
    if token and not TOKEN_RE.match(token):
        raise SettingsError(
            _explain("BOT_TOKEN", "does not look like a bot token (digits:letters)")
        )
    if not settings.database_url.startswith(SUPPORTED_DB_PREFIXES):
        raise SettingsError(
            _explain(
                "DATABASE_URL",
                f"has an unsupported driver ({settings.database_url.split(':')[0]})",
            )
        )
    if settings.broadcast_rate > FREE_BROADCAST_RATE and not settings.broadcast_paid:
        raise SettingsError(
            f"BROADCAST_RATE is above {FREE_BROADCAST_RATE:g} messages/s: Telegram's free "
            f"limit is about {FREE_BROADCAST_RATE:g}/s; set BROADCAST_PAID=true (paid "
            "broadcasts, in Telegram Stars) for up to 1000/s, or lower BROADCAST_RATE."
        )
    if not re.match(r"^https?://[^/\s]+", settings.telegram_api_url):
        raise SettingsError(_explain("TELEGRAM_API_URL", "is not an http(s) URL"))
    if not re.match(r"^[a-z]{2}$", settings.default_language):
        raise SettingsError(_explain("DEFAULT_LANGUAGE", "is not a two-letter language code"))
    try:
        settings.tz  # noqa: B018 - resolving the zone is the check
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            _explain("TIMEZONE", f"names no known zone ({settings.timezone})")
        ) from None
    digest = settings.digest_time.strip().lower()
    if digest and digest != "off" and not _CLOCK.match(digest):
        raise SettingsError(_explain("DIGEST_TIME", f"is not a time ({settings.digest_time})"))
    check_http_settings(settings)


_WHATSAPP_SECRETS = (
    "whatsapp_token",
    "whatsapp_phone_number_id",
    "whatsapp_app_secret",
    "whatsapp_verify_token",
)


def check_whatsapp_settings(settings: Settings) -> None:
    """WhatsApp's four settings come together (one line names the first missing one)."""
    given = [name for name in _WHATSAPP_SECRETS if getattr(settings, name).strip()]
    if given and len(given) < len(_WHATSAPP_SECRETS):
        missing = next(n for n in _WHATSAPP_SECRETS if n not in given).upper()
        raise SettingsError(_explain(missing, f"is not set ({given[0].upper()} needs it)"))
    if given and not re.match(r"^https?://[^/\s]+", settings.whatsapp_api_url):
        raise SettingsError(_explain("WHATSAPP_API_URL", "is not an http(s) URL"))
    if settings.whatsapp_display_number and not settings.whatsapp_display_number.isdigit():
        raise SettingsError(_explain("WHATSAPP_DISPLAY_NUMBER", "is not digits only"))


def check_http_settings(settings: Settings) -> None:
    """Checks the HTTP server's settings: the webhook, the trigger API, events, quiet hours."""
    if settings.webhook_url:
        if not _HTTP_URL.match(settings.webhook_url):
            raise SettingsError(_explain("WEBHOOK_URL", "is not an http(s) URL"))
        if not settings.webhook_secret:
            raise SettingsError(_explain("WEBHOOK_SECRET", "is not set (WEBHOOK_URL needs it)"))
    # Telegram's own rule for secret_token: 1-256 characters A-Z, a-z, 0-9, _ and -.
    if settings.webhook_secret and not re.match(
        r"^[A-Za-z0-9_-]{1,256}$", settings.webhook_secret
    ):
        raise SettingsError(_explain("WEBHOOK_SECRET", "has characters Telegram refuses"))
    if settings.api_token and len(settings.api_token) < MIN_API_TOKEN_LENGTH:
        raise SettingsError(
            _explain("API_TOKEN", f"is shorter than {MIN_API_TOKEN_LENGTH} characters")
        )
    if settings.metrics_token and len(settings.metrics_token) < MIN_API_TOKEN_LENGTH:
        raise SettingsError(
            _explain("METRICS_TOKEN", f"is shorter than {MIN_API_TOKEN_LENGTH} characters")
        )
    for url in settings.events_urls:
        if not _HTTP_URL.match(url):
            raise SettingsError(_explain("EVENTS_URLS", f"has a URL that is not http(s) ({url})"))
    if settings.events_urls and not settings.events_secret:
        raise SettingsError(_explain("EVENTS_SECRET", "is not set (EVENTS_URLS needs it)"))
    check_link_settings(settings)
    quiet = settings.quiet_hours.strip().lower()
    if quiet and quiet != "off":
        parts = [part.strip() for part in quiet.split("-")]
        if (
            len(parts) != 2
            or not all(_CLOCK.match(part) for part in parts)
            or parts[0] == parts[1]
        ):
            raise SettingsError(
                _explain("QUIET_HOURS", f"is not a window of two times ({settings.quiet_hours})")
            )


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def check_link_settings(settings: Settings) -> None:
    """Checks the survey links' settings: an https PUBLIC_URL (http only on this machine,
    for trying it out) and, with it, a long enough SURVEY_LINK_SECRET."""
    if not settings.public_url:
        return
    try:
        url = urlsplit(settings.public_url)
        host = url.hostname
    except ValueError:
        host = None
    if host is None or url.query or url.fragment or not _HTTP_URL.match(settings.public_url):
        raise SettingsError(_explain("PUBLIC_URL", "is not an http(s) URL without a query"))
    if url.scheme != "https" and host not in _LOOPBACK:
        raise SettingsError(_explain("PUBLIC_URL", "is not https (links carry personal tokens)"))
    if not settings.survey_link_secret:
        raise SettingsError(_explain("SURVEY_LINK_SECRET", "is not set (PUBLIC_URL needs it)"))
    if len(settings.survey_link_secret) < MIN_API_TOKEN_LENGTH:
        raise SettingsError(
            _explain("SURVEY_LINK_SECRET", f"is shorter than {MIN_API_TOKEN_LENGTH} characters")
        )
