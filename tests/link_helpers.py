"""Survey links in tests: the settings that turn them on, an invitation's link, and a
browser-like client that reads the page's form and keeps its cookie."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.app import BotApp
from bot.web.invitation_requests import Requests
from bot.web.invitation_types import InvitationIn
from bot.web.link_tokens import survey_url

# The base links are made with; tests request their path from the server's real address.
PUBLIC_URL = "http://127.0.0.1:9"
LINK_SECRET = "link-secret-0123456789abcdef-0123456789"
LINK_SETTINGS: dict[str, Any] = {
    "public_url": PUBLIC_URL,
    "survey_link_secret": LINK_SECRET,
    "quiet_hours": "off",
}
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def invite(app: BotApp, **body: Any) -> tuple[str, str | None]:
    """An invitation as the API makes it: its public id and survey link (None: no link)."""
    async with app.db.transaction() as store:
        accepted = await Requests(store, app.settings, app.clock()).invite(
            InvitationIn.model_validate({"survey": "nps", **body}), None
        )
    url = survey_url(
        app.settings, accepted.id, accepted.status, accepted.reason, accepted.send_at, app.clock()
    )
    return accepted.id, url


def link_path(url: str) -> str:
    """The path of a survey link (`/s/<token>`)."""
    return urlsplit(url).path


@dataclass
class Page:
    """A page as a browser got it."""

    status: int
    html: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        """The anti-forgery value of the page's form."""
        found = _CSRF.search(self.html)
        assert found, self.html
        return unescape(found.group(1))

    @property
    def text(self) -> str:
        """What a person reads: the markup dropped."""
        return unescape(
            re.sub(r"\s+", " ", re.sub(r"<(style|title)>.*?</\1>|<[^>]+>", " ", self.html))
        )


class LinkClient:
    """Opens a link's page and submits its forms as a browser does (cookie kept)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, path: str) -> None:
        self.session, self.url = session, base + path

    async def open(self, query: str = "") -> Page:
        async with self.session.get(self.url + query) as response:
            return Page(response.status, await response.text(), dict(response.headers))

    async def post(self, fields: dict[str, str], **headers: str) -> Page:
        """POSTs the form; a 303 is followed as a browser does (the page it leads to)."""
        async with self.session.post(
            self.url, data=fields, headers=headers, allow_redirects=False
        ) as response:
            if response.status != 303:
                return Page(response.status, await response.text(), dict(response.headers))
            location = response.headers["Location"]
        assert not location.startswith(("/", "http")), location  # relative to the link
        return await self.open(location[location.index("?") :] if "?" in location else "")

    async def answer(self, step: str, **fields: str) -> Page:
        """Opens the page and submits its form for `step` with these fields."""
        page = await self.open()
        return await self.post({"csrf": page.csrf, "step": step, **fields})


def cookie_session() -> aiohttp.ClientSession:
    """A client that keeps cookies of an IP address, as a browser does."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
