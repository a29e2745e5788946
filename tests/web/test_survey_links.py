"""Survey links over real HTTP: the API gives `survey_url`, the page takes a whole answer
through plain form POSTs, and a forged, expired or reused link, a forged POST or an oversized
body gets a clear page and changes nothing."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select, text

from bot.app import BotApp
from bot.emulator import BotApiEmulator
from bot.settings import SettingsError, load_settings
from bot.web.link_tokens import LinkSigner
from bot.web.server import HttpServer, serve_http
from storage.db import Database
from storage.models import Address, Response
from tests.conftest import BACKENDS
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.invitation_helpers import add_people
from tests.link_helpers import (
    LINK_SECRET,
    LINK_SETTINGS,
    PUBLIC_URL,
    LinkClient,
    cookie_session,
    invite,
    link_path,
)
from tests.scenario import OWNER_ID, TOKEN
from tests.web.conftest import AUTH

QUESTION = "How likely are you to recommend Acme to a friend or colleague?"


async def _responses(db: Database) -> list[Response]:
    async with db.snapshot() as store:
        rows = await store.responses._session.scalars(select(Response).order_by(Response.id))
        return list(rows.all())


async def _api(
    session: aiohttp.ClientSession, server: HttpServer, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with session.request(
        method, f"{server.url}/api/v1{path}", json=body, headers=AUTH
    ) as response:
        return response.status, await response.json()


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_phone_invitation_is_answered_through_its_link(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    status, accepted = await _api(
        browser, link_server, "POST", "/invitations", {"survey": "nps", "phone": "+37369123456"}
    )
    assert status == 202, accepted
    # Nobody the bot can write to has the number: the business sends the link itself.
    assert (accepted["status"], accepted["reason"]) == ("unreachable", "no_channel")
    url = accepted["survey_url"]
    assert url.startswith(f"{PUBLIC_URL}/s/") and len(url) - len(PUBLIC_URL) < 70  # SMS-sized
    link = LinkClient(browser, link_server.url, link_path(url))

    question = await link.open()
    assert question.status == 200
    assert 'lang="ro"' in question.html  # the number's country: Moldova
    assert "Cât de probabil este să recomandați Acme" in question.text
    assert question.html.count('name="score"') == 11
    assert question.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "npsbot_link=" in question.headers["Set-Cookie"]
    assert "SameSite=Strict" in question.headers["Set-Cookie"]
    assert not await _responses(link_app.db)  # opening the page changes nothing

    why = await link.answer("score", score="9")
    assert why.status == 200 and 'name="step" value="why"' in why.html
    improve = await link.answer("why", text="Fast\r\ndelivery", action="send")
    assert 'name="step" value="improve"' in improve.html
    thanks = await link.answer("improve", text="ignored", action="skip")
    assert thanks.status == 200 and "Mulțumim" in thanks.text

    [response] = await _responses(link_app.db)
    assert (response.score, response.why, response.improve) == (9, "Fast\ndelivery", None)
    assert (response.channel, response.messenger, response.language) == (
        "invitation",
        "web",
        "ro",
    )
    async with link_app.db.snapshot() as store:
        owner = await store.survey_links._owner("+37369123456")
    assert owner == response.respondent_id  # a person known by the number from now on
    status, read = await _api(browser, link_server, "GET", f"/invitations/{accepted['id']}")
    assert (status, read["status"], read["score"]) == (200, "answered", 9)
    assert read["survey_url"] == url

    again = await link.open()  # reused: a clear page, and a second score changes nothing
    assert "ați răspuns deja" in again.text
    await link.post({"csrf": question.csrf, "step": "score", "score": "0"})
    [response] = await _responses(link_app.db)
    assert response.score == 9


async def test_a_detractor_by_link_alerts_staff_and_tells_the_crm(
    db_url: str, browser: aiohttp.ClientSession
) -> None:
    api = BotApiEmulator(token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot")
    events = {"events_urls": ["http://127.0.0.1:9/crm"], "events_secret": "s3cret-s3cret"}
    bot = HandlerBot(make_settings(api, db_url, **LINK_SETTINGS, **events), api)
    await bot.start()  # the Telegram side runs: its port delivers what the page causes
    try:
        assert bot.app is not None
        owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
        owner.send("/help")
        await owner.wait_for_message(lambda m: "Owner commands" in m.text)
        _, url = await invite(bot.app, phone="+37369123452", attributes={"order_id": "A-17"})
        assert url is not None
        async with serve_http(bot.app, bot.app.settings) as server:
            link = LinkClient(browser, server.url, link_path(url))
            assert "dezamăgit" in (await link.answer("score", score="3")).text
            alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 3"))
            assert "A-17" in alert.text and " ro " in alert.text
            # Known by the number alone: no chat to reply in (handlers/case_channel.py).
            assert "via the web survey link" in alert.text and "No ✉️ Reply" in alert.text
            assert alert.button_texts == ["✅ Resolved"]
            await link.answer("why", text="Late <b>again</b>", action="send")
            await owner.wait_for_message(
                lambda m: m.message_id == alert.message_id and "Late <b>again</b>" in m.text
            )
            await link.answer("improve", action="skip")
        async with bot.app.db.snapshot() as store:
            rows = await store.responses._session.execute(
                text("SELECT type, data FROM events ORDER BY created_at, id")
            )
            found = [(kind, _json(data)) for kind, data in rows]
        assert [kind for kind, _ in found] == [
            "response.scored",
            "case.opened",
            "response.completed",
        ]
        completed = found[-1][1]
        assert (completed["score"], completed["why"], completed["phone"]) == (
            3,
            "Late <b>again</b>",
            "+37369123452",
        )
    finally:
        await bot.stop()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def test_the_api_gives_links_only_to_invitations_that_can_be_answered(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    await add_people(link_app.db, [1001, 1002])
    async with link_app.db.transaction() as store:
        await store.respondents.set_subscribed(
            (await store.respondents.person_of(1002)) or 0, False
        )
    body = {
        "invitations": [
            {"survey": "nps", "telegram_user_id": 1001},
            {"survey": "nps", "telegram_user_id": 1001},  # the same person again: suppressed
            {"survey": "nps", "telegram_user_id": 1002},  # /stop: no survey, no link
            {"survey": "nps", "telegram_user_id": 1003},  # never started: nobody to answer as
        ]
    }
    status, batch = await _api(browser, link_server, "POST", "/invitations/batch", body)
    assert status == 202, batch
    results = batch["results"]
    assert [(r["status"], r["reason"]) for r in results] == [
        ("scheduled", None),
        ("suppressed", "survey_cooldown"),
        ("unreachable", "stopped"),
        ("unreachable", "not_started"),
    ]
    assert results[0]["survey_url"].startswith(f"{PUBLIC_URL}/s/")
    assert ["survey_url" in r for r in results] == [True, False, False, False]
    status, read = await _api(browser, link_server, "GET", f"/invitations/{results[0]['id']}")
    assert read["survey_url"] == results[0]["survey_url"]  # the same link every time
    status, cancelled = await _api(
        browser, link_server, "DELETE", f"/invitations/{results[0]['id']}"
    )
    assert status == 200 and "survey_url" not in cancelled
    gone = await LinkClient(browser, link_server.url, link_path(results[0]["survey_url"])).open()
    assert gone.status == 410 and "expired or was already used" in gone.text


async def test_forged_expired_and_tampered_links_get_a_clear_page_and_change_nothing(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    public_id, url = await invite(link_app, phone="+37369123457")
    assert url is not None
    path = link_path(url)
    token = path.rsplit("/", 1)[1]
    short, expiry, tag = token.split(".")
    forged_tag = LinkClient(browser, link_server.url, f"/s/{short}.{expiry}.{'A' * 22}")
    longer = LinkClient(browser, link_server.url, f"/s/{short}.{'zzzzzz'}.{tag}")
    other_key = LinkSigner("another-secret-" + "x" * 32, 7)
    foreign = other_key.token(public_id, link_app.clock() + timedelta(days=1))
    expired = LinkSigner(LINK_SECRET, 7).token(public_id, link_app.clock() - timedelta(seconds=1))
    for client in (
        forged_tag,
        longer,
        LinkClient(browser, link_server.url, f"/s/{foreign}"),
        LinkClient(browser, link_server.url, "/s/nonsense"),
    ):
        page = await client.open()
        assert page.status == 404, page.html
        assert "This survey link is not valid" in page.text
        posted = await client.post({"csrf": "x", "step": "score", "score": "3"})
        assert posted.status == 404
    stale = LinkClient(browser, link_server.url, f"/s/{expired}")
    page = await stale.open()
    assert page.status == 410 and "expired or was already used" in page.text
    assert (await stale.post({"step": "score", "score": "3"})).status == 410
    assert not await _responses(link_app.db)
    async with link_app.db.snapshot() as store:
        people = await store.responses._session.scalar(select(func.count()).select_from(Address))
    assert people == 0  # not even the person known by the number was made


async def test_a_post_without_the_pages_form_value_is_refused(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    _, url = await invite(link_app, phone="+37369123458")
    assert url is not None
    link = LinkClient(browser, link_server.url, link_path(url))
    page = await link.open()
    other_link = LinkClient(browser, link_server.url, link_path(await _other_link(link_app)))
    other_value = (await other_link.open()).csrf
    attempts: list[tuple[dict[str, str], dict[str, str]]] = [
        ({"step": "score", "score": "2"}, {}),  # no form value
        ({"csrf": "A" * 22, "step": "score", "score": "2"}, {}),  # a made-up one
        ({"csrf": other_value, "step": "score", "score": "2"}, {}),  # another link's
        ({"csrf": page.csrf, "step": "score", "score": "2"}, {"Sec-Fetch-Site": "cross-site"}),
    ]
    for fields, headers in attempts:
        refused = await link.post(fields, **headers)
        assert refused.status == 403, fields
        assert "This form could not be accepted" in refused.text
    async with cookie_session() as stranger:  # the right value, but not this browser's cookie
        forged = LinkClient(stranger, link_server.url, link_path(url))
        refused = await forged.post({"csrf": page.csrf, "step": "score", "score": "2"})
        assert refused.status == 403
    assert not await _responses(link_app.db)
    assert (await link.answer("score", score="2")).status == 200  # the page's own form works
    assert [r.score for r in await _responses(link_app.db)] == [2]


async def _other_link(app: BotApp) -> str:
    _, url = await invite(app, phone="+37369123459")
    assert url is not None
    return url


async def test_bad_bodies_get_a_page_and_change_nothing(
    link_app: BotApp, link_server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    _, url = await invite(link_app, phone="+37369123450")
    assert url is not None
    link = LinkClient(browser, link_server.url, link_path(url))
    csrf = (await link.open()).csrf
    for fields in (
        {"csrf": csrf, "step": "score", "score": "11"},
        {"csrf": csrf, "step": "score", "score": "²"},
        {"csrf": csrf, "step": "nonsense"},
    ):
        assert (await link.post(fields)).status == 400
    too_long = await link.post({"csrf": csrf, "step": "score", "score": "1", "x": "y" * 40_000})
    assert too_long.status == 413
    async with browser.post(link.url, json={"csrf": csrf, "step": "score", "score": 1}) as answer:
        assert answer.status == 415
    assert not await _responses(link_app.db)
    await link.answer("score", score="5")
    refused = await link.answer("why", text="x" * 2001, action="send")
    assert refused.status == 413 and "2000" in refused.text
    [response] = await _responses(link_app.db)
    assert (response.score, response.why, response.step) == (5, None, "why")


async def test_the_access_log_never_shows_a_token(
    link_app: BotApp,
    link_server: HttpServer,
    browser: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, url = await invite(link_app, phone="+37369123453")
    assert url is not None
    token = link_path(url).rsplit("/", 1)[1]
    with caplog.at_level(logging.INFO, logger="aiohttp.access"):
        await LinkClient(browser, link_server.url, link_path(url)).answer("score", score="8")
    logged = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(logged) >= 3 and all("/s/<token>" in line for line in logged), logged
    assert not [line for line in logged if token in line]


async def test_without_public_url_there_are_no_links_and_no_pages(
    bot_app: BotApp, server: HttpServer, browser: aiohttp.ClientSession
) -> None:
    _, url = await invite(bot_app, phone="+37369123451")
    assert url is None
    async with browser.get(f"{server.url}/s/abc.def.{'A' * 22}") as response:
        assert response.status == 404


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"PUBLIC_URL": "https://nps.example.com"}, "SURVEY_LINK_SECRET"),
        (
            {"PUBLIC_URL": "https://nps.example.com", "SURVEY_LINK_SECRET": "short"},
            "SURVEY_LINK_SECRET",
        ),
        (
            {"PUBLIC_URL": "http://nps.example.com", "SURVEY_LINK_SECRET": LINK_SECRET},
            "PUBLIC_URL",
        ),
        ({"PUBLIC_URL": "nps.example.com", "SURVEY_LINK_SECRET": LINK_SECRET}, "PUBLIC_URL"),
        (
            {"PUBLIC_URL": "https://nps.example.com/?a=1", "SURVEY_LINK_SECRET": LINK_SECRET},
            "PUBLIC_URL",
        ),
        ({"SURVEY_LINK_DAYS": "0"}, "SURVEY_LINK_DAYS"),
        ({"SURVEY_LINK_DAYS": "week"}, "SURVEY_LINK_DAYS"),
    ],
)
def test_bad_link_settings_stop_with_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, values: dict[str, str], named: str
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings(require_token=False)
    assert str(error.value).startswith(named) and "\n" not in str(error.value)


def test_good_link_settings_turn_the_http_server_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUBLIC_URL", "http://127.0.0.1:8080")  # http only on this machine
    monkeypatch.setenv("SURVEY_LINK_SECRET", LINK_SECRET)
    settings = load_settings(require_token=False)
    assert settings.http_enabled and settings.survey_link_days == 7
