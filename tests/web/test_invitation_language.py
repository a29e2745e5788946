"""An invitation's own `language` (the API's optional field): validated against the
catalogs, stored, and first in the survey link page's choice of language."""

from __future__ import annotations

from typing import Any

import aiohttp
from sqlalchemy import select

from bot.app import BotApp
from bot.web.server import HttpServer
from storage.invitation_models import Invitation
from tests.link_helpers import LinkClient, link_path
from tests.web.conftest import AUTH

MOLDOVA = "+37369123456"  # its country's language is Romanian


async def _invite(
    session: aiohttp.ClientSession, server: HttpServer, body: dict[str, Any]
) -> tuple[int, Any]:
    async with session.post(
        f"{server.url}/api/v1/invitations", json={"survey": "nps", **body}, headers=AUTH
    ) as response:
        return response.status, await response.json()


async def _stored_language(app: BotApp, public_id: str) -> str | None:
    async with app.db.snapshot() as store:
        return await store.responses._session.scalar(
            select(Invitation.language).where(Invitation.public_id == public_id)
        )


async def test_the_invitations_language_comes_before_the_numbers_country(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    status, accepted = await _invite(browser, link_server, {"phone": MOLDOVA, "language": "PL"})
    assert status == 202, accepted
    assert await _stored_language(link_app, accepted["id"]) == "pl"
    page = await LinkClient(browser, link_server.url, link_path(accepted["survey_url"])).open()
    assert 'lang="pl"' in page.html and "Acme" in page.text
    # Without it, the number's country decides, as before.
    status, plain = await _invite(browser, link_server, {"phone": "+37369123457"})
    assert status == 202 and await _stored_language(link_app, plain["id"]) is None
    page = await LinkClient(browser, link_server.url, link_path(plain["survey_url"])).open()
    assert 'lang="ro"' in page.html


async def test_an_unknown_language_is_refused_and_nothing_is_stored(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    for language in ("xx", "klingon", "e"):
        status, error = await _invite(
            browser, link_server, {"phone": MOLDOVA, "language": language}
        )
        assert status == 422, error
        assert error["field"] == "language"
    status, _ = await _invite(browser, link_server, {"phone": MOLDOVA, "language": "ru"})
    assert status == 202
    async with link_app.db.snapshot() as store:
        rows = await store.responses._session.scalars(select(Invitation.language))
        assert rows.all() == ["ru"]
