"""The Cloud API over aiohttp: send a message, upload media, read the number's profile;
Meta's errors become the ChatErrors of handlers/port.py.

pywa (MIT, async) was weighed: it brings httpx beside aiohttp, its own webhook server and
handler framework, and its own error classes; npsbot needs three Graph calls and its own
error policy, so a direct client is less code to keep than an adapter around pywa.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import aiohttp

from handlers.port import ChatError, OutsideWindow, Rejected, RetryLater, Transient, Unreachable

log = logging.getLogger(__name__)

# Throughput (130429), the pair's rate (131056), the app's call rate (80007; 4, 17, 32
# and 613 are Graph's own rate limits): wait and retry.
RATE_LIMITED = {4, 17, 32, 613, 80007, 130429, 131056}
# The number cannot receive messages (not on WhatsApp, an old app, terms not accepted).
CANNOT_RECEIVE = {131026}
OUTSIDE_WINDOW = {131047}
TOKEN_ERRORS = {190, 104}
# Seconds to wait when Meta asks to slow down (it names no Retry-After).
RATE_LIMIT_WAIT = 1.0
TIMEOUT = aiohttp.ClientTimeout(total=30)


class TokenRejected(Rejected):
    """The access token was refused (190, 104): a configuration error."""


def error_of(status: int, body: Any, text: str) -> ChatError:
    """The ChatError for a Cloud API answer that is not a success."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if status == 429:
            return RetryLater(RATE_LIMIT_WAIT)
        return Transient(f"HTTP {status}: the answer is not Graph's JSON: {text[:80]!r}")
    code = error.get("code")
    details = (error.get("error_data") or {}).get("details") if isinstance(error, dict) else None
    description = f"({code}) {error.get('message', '')}" + (f": {details}" if details else "")
    if status == 429 or code in RATE_LIMITED:
        return RetryLater(RATE_LIMIT_WAIT)
    if code in CANNOT_RECEIVE:
        return Unreachable(description)
    if code in OUTSIDE_WINDOW:
        return OutsideWindow(description)
    if code in TOKEN_ERRORS:
        return TokenRejected(description)
    if status >= 500 or code in (1, 2, 131000, 131016):
        return Transient(description)
    return Rejected(description)


class CloudApi:
    """POSTs to {WHATSAPP_API_URL}/{phone_number_id}/… with the bearer token."""

    def __init__(self, base_url: str, phone_number_id: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.phone_number_id = phone_number_id
        self._headers = {"Authorization": f"Bearer {token}"}
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        """One connection pool for every call (opened on first use)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=TIMEOUT)
        return self._session

    async def close(self) -> None:
        """Closes the connection pool."""
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with self.session.request(method, url, **kwargs) as answer:
                text = await answer.text()
                status = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if status != 200 or not isinstance(body, dict) or "error" in body:
            raise error_of(status, body, text)
        return body

    async def send(self, message: dict[str, Any]) -> str:
        """Sends one message (the body without messaging_product and recipient_type);
        its wamid."""
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", **message}
        answer = await self._call(
            "POST", f"{self.base_url}/{self.phone_number_id}/messages", json=body
        )
        try:
            return str(answer["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise Transient(f"no message id in the answer: {str(answer)[:80]!r}") from None

    async def upload(self, data: bytes, filename: str, mime_type: str) -> str:
        """Uploads a file; its media id."""
        form = aiohttp.FormData()
        form.add_field("messaging_product", "whatsapp")
        form.add_field("type", mime_type)
        form.add_field("file", data, filename=filename, content_type=mime_type)
        answer = await self._call(
            "POST", f"{self.base_url}/{self.phone_number_id}/media", data=form
        )
        return str(answer["id"])

    async def display_number(self) -> str:
        """The business number's digits (for wa.me links), read from the Cloud API."""
        answer = await self._call("GET", f"{self.base_url}/{self.phone_number_id}")
        number = str(answer.get("display_phone_number", ""))
        return "".join(c for c in number if c.isdigit())

    async def download(self, media_id: str, max_bytes: int) -> bytes:
        """A customer's media: its URL from Graph, then the bytes (Rejected above max_bytes)."""
        info = await self._call("GET", f"{self.base_url}/{media_id}")
        if int(info.get("file_size") or 0) > max_bytes or not info.get("url"):
            raise Rejected("file is too big")
        try:
            async with self.session.get(str(info["url"])) as answer:
                if answer.status != 200:
                    raise Transient(f"HTTP {answer.status} for the media's bytes")
                data = await answer.content.read(max_bytes + 1)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        if len(data) > max_bytes:
            raise Rejected("file is too big")
        return data
