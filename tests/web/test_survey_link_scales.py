"""A CSAT or CES survey answered through its link, over real HTTP: the page offers only the
scale's scores (five stars, seven numbers) with its ends named, the follow-ups are worded
for the kind's groups, and a forged score off the scale is refused and changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import BotApp
from bot.web.api_responses import SETTLE
from bot.web.server import HttpServer
from storage.db import Database
from storage.models import Response, utcnow
from tests.admin_helpers import seed_answers
from tests.conftest import BACKENDS
from tests.link_helpers import LinkClient, invite, link_path
from tests.web.conftest import AUTH

_SCORES = re.compile(r'name="score" value="(\d+)">([^<]*)<')


@pytest.fixture
async def link_app(link_app: BotApp) -> BotApp:
    """The application with survey links on (tests/web/conftest.py), and a CSAT and a CES
    survey."""
    async with link_app.db.transaction() as store:
        await store.surveys.add(slug="checkout", name="Checkout", kind="csat")
        await store.surveys.add(slug="support", name="Support", kind="ces")
    return link_app


async def _scores(db: Database) -> list[int | None]:
    async with db.snapshot() as store:
        rows = await store.responses._session.scalars(select(Response.score).order_by(Response.id))
        return list(rows.all())


async def _link(
    app: BotApp, browser: aiohttp.ClientSession, server: HttpServer, survey: str, phone: str
) -> LinkClient:
    _, url = await invite(app, survey=survey, phone=phone)
    assert url is not None
    return LinkClient(browser, server.url, link_path(url))


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_csat_link_shows_five_stars_and_takes_a_whole_answer(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    link = await _link(link_app, browser, link_server, "checkout", "+447911123301")
    question = await link.open()
    assert question.status == 200
    assert "How satisfied are you with Acme?" in question.text
    assert _SCORES.findall(question.html) == [(str(s), f"{s} ⭐") for s in range(1, 6)]
    assert "1 — very dissatisfied" in question.text and "5 — very satisfied" in question.text
    assert 'class="scale short"' in question.html  # one row on a phone

    why = await link.answer("score", score="2")
    assert why.status == 200 and "What went wrong?" in why.text
    assert "your answer: 2 ⭐" in why.text
    improve = await link.answer("why", text="Payment failed", action="send")
    assert "What should we fix first?" in improve.text
    thanks = await link.answer("improve", text="", action="skip")
    assert "We are sorry it did not go well" in thanks.text
    assert await _scores(link_app.db) == [2]


async def test_a_score_off_the_scale_is_refused_and_changes_nothing(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    link = await _link(link_app, browser, link_server, "checkout", "+447911123302")
    for forged in ("9", "0", "6", "10"):
        refused = await link.answer("score", score=forged)
        assert refused.status == 400, forged
    assert await _scores(link_app.db) == []  # the question is still open to answer
    question = await link.open()
    assert _SCORES.findall(question.html)[0] == ("1", "1 ⭐")
    why = await link.answer("score", score="5")
    assert "What did you like most about Acme?" in why.text
    assert await _scores(link_app.db) == [5]


async def test_a_ces_link_shows_one_to_seven_with_its_ends(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    link = await _link(link_app, browser, link_server, "support", "+48501234567")
    question = await link.open()
    assert 'lang="pl"' in question.html  # the number's country: Poland
    assert "Jak łatwo było Ci załatwić w Acme" in question.text
    assert [value for value, _ in _SCORES.findall(question.html)] == [str(s) for s in range(1, 8)]
    assert "1 — bardzo trudno" in question.text and "7 — bardzo łatwo" in question.text
    assert (await link.answer("score", score="8")).status == 400
    why = await link.answer("score", score="4")
    assert "Co wymagało więcej wysiłku, niż powinno?" in why.text
    assert await _scores(link_app.db) == [4]


async def test_the_answers_api_groups_a_csat_or_ces_score_on_its_own_scale(
    link_app: BotApp,
    link_server: HttpServer,
    browser: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = utcnow() - timedelta(hours=1)
    await seed_answers(link_app.db, [5, 3, 2], survey_slug="checkout", first_user=50_000, at=at)
    await seed_answers(link_app.db, [5], survey_slug="support", first_user=51_000, at=at)
    await seed_answers(link_app.db, [5], first_user=52_000, at=at)
    # The feed lists what is SETTLE old: the bot's clock moves past it, as time would.
    monkeypatch.setattr(link_app, "clock", lambda: utcnow() + SETTLE + timedelta(seconds=1))
    async with browser.get(f"{link_server.url}/api/v1/responses", headers=AUTH) as response:
        body = await response.json()
        assert response.status == 200, body
    groups = sorted((item["survey"], item["score"], item["group"]) for item in body["items"])
    # The same 5 is a satisfied CSAT, an easy CES and an NPS detractor.
    assert groups == [
        ("checkout", 2, "detractor"),
        ("checkout", 3, "passive"),
        ("checkout", 5, "promoter"),
        ("nps", 5, "detractor"),
        ("support", 5, "promoter"),
    ]
