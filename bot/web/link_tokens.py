"""Survey links: `{PUBLIC_URL}/s/<token>`, a signed, expiring token naming one invitation,
and the anti-forgery value of the page's forms.

A token is `<id>.<expiry>.<tag>`: the invitation's public id without its `inv_` prefix, the
expiry in Unix seconds (base 36) and the first 16 bytes of HMAC-SHA256 over both, keyed
with a key derived from SURVEY_LINK_SECRET (base64url): about 52 characters, so a link
still fits an SMS. (itsdangerous would do the signing, but its signatures cannot be
shortened: 20-40 characters more per SMS.) Nothing in it is secret but the tag; a forged,
altered or expired token is refused before the database is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from handlers.web_survey import link_works

if TYPE_CHECKING:
    from bot.settings import Settings

PREFIX = "inv_"  # of the invitations' public ids (bot/web/invitation_requests.py)
TAG_BYTES = 16  # 128 bits: a forgery is a 2^-128 guess
MAX_TOKEN = 100  # anything longer is refused unread
_TOKEN = re.compile(r"^([A-Za-z0-9_-]{8,40})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{22})$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{22}$")


class BadToken(Exception):
    """The token is malformed or forged ("invalid") or out of date ("expired")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if not number:
            return out


@dataclass(frozen=True)
class LinkSigner:
    """Makes and checks survey-link tokens and their forms' anti-forgery values."""

    secret: str
    days: int

    def _key(self, purpose: str) -> bytes:
        """One key per use, so a value made for one can never pass for the other."""
        return hmac.new(self.secret.encode(), purpose.encode(), hashlib.sha256).digest()

    def _tag(self, purpose: str, message: str) -> str:
        digest = hmac.new(self._key(purpose), message.encode(), hashlib.sha256).digest()
        return _b64(digest[:TAG_BYTES])

    def expiry(self, send_at: datetime) -> datetime:
        """When a link for an invitation sent at `send_at` stops working."""
        return send_at + timedelta(days=self.days)

    def token(self, public_id: str, expires: datetime) -> str:
        """The token naming the invitation until `expires`."""
        short = public_id.removeprefix(PREFIX)
        body = f"{short}.{_base36(int(expires.timestamp()))}"
        return f"{body}.{self._tag('survey-link', body)}"

    def read(self, token: str, now: datetime) -> str:
        """The invitation's public id; BadToken when forged, malformed or expired."""
        match = _TOKEN.match(token) if len(token) <= MAX_TOKEN else None
        if match is None:
            raise BadToken("invalid")
        short, expiry, tag = match.groups()
        expected = self._tag("survey-link", f"{short}.{expiry}")
        if not hmac.compare_digest(expected.encode(), tag.encode()):
            raise BadToken("invalid")
        if datetime.fromtimestamp(int(expiry, 36), UTC) <= now:
            raise BadToken("expired")
        return PREFIX + short

    def form_value(self, token: str, nonce: str) -> str:
        """The hidden form field: bound to the link and to the browser's nonce cookie."""
        return self._tag("survey-form", f"{token}.{nonce}")

    def form_ok(self, token: str, nonce: str | None, given: str | None) -> bool:
        """Whether a POST carries the form value of this link and this browser's cookie."""
        if not nonce or not given or not _NONCE.match(nonce):
            return False
        expected = self.form_value(token, nonce)
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def new_nonce() -> str:
    """A browser's random anti-forgery nonce (kept in its cookie)."""
    return _b64(secrets.token_bytes(16))


def valid_nonce(value: str | None) -> bool:
    """Whether a cookie holds a nonce this module made."""
    return bool(value) and _NONCE.match(value or "") is not None


def signer_of(settings: Settings) -> LinkSigner:
    """The signer of SURVEY_LINK_SECRET and SURVEY_LINK_DAYS."""
    return LinkSigner(settings.survey_link_secret, settings.survey_link_days)


def survey_url(
    settings: Settings,
    public_id: str,
    status: str,
    reason: str | None,
    send_at: datetime,
    now: datetime,
) -> str | None:
    """The invitation's link, `{PUBLIC_URL}/s/<token>`; None without PUBLIC_URL, when the
    invitation cannot be answered (handlers/web_survey.py `link_works`) or once expired.
    The same invitation always gets the same link while its send_at stays."""
    if not settings.public_url or not link_works(status, reason):
        return None
    signer = signer_of(settings)
    expires = signer.expiry(send_at)
    if expires <= now:
        return None
    return f"{settings.public_url.rstrip('/')}/s/{signer.token(public_id, expires)}"
