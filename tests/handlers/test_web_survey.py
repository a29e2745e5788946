"""A survey link's answer in the running application (handlers/web_survey.py, driven as
bot/web/survey_routes.py drives it): one response per invitation whichever way comes first,
Telegram's question updated, alerts and events as for Telegram, the page's language."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot import invitations as sender
from bot.app import BotApp
from bot.emulator import BotApiEmulator
from bot.web.survey_routes import link_context
from handlers import web_survey
from handlers.port import Outbox
from storage.db import Database
from storage.models import Response, utcnow
from tests.broadcast_helpers import seed_audience
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.link_helpers import LINK_SETTINGS, invite
from tests.scenario import OWNER_ID, QUESTION

EVENTS = {"events_urls": ["http://127.0.0.1:9/crm"], "events_secret": "s3cret-s3cret"}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """The sender looks every 50 ms; the application's clock is the test's to move."""
    monkeypatch.setattr(sender, "POLL_SECONDS", 0.05)
    clock = {"now": utcnow()}
    monkeypatch.setattr(BotApp, "clock", staticmethod(lambda: clock["now"]))
    return clock


async def started_owner(api: BotApiEmulator) -> Any:
    """The owner, who must have started the bot to get alerts."""
    owner = api.user(OWNER_ID, first_name="Olga", language_code="en")
    owner.send("/help")
    await owner.wait_for_message(lambda m: "Owner commands" in m.text)
    return owner


async def _run(bot: HandlerBot, step: str, public_id: str, value: Any) -> web_survey.LinkPage:
    """One submitted form, as the route runs it: a transaction, then the replies sent."""
    app = bot.app
    assert app is not None
    outbox = Outbox()
    async with app.db.transaction() as store:
        ctx = link_context(app, store, outbox)
        if step == "score":
            page = await web_survey.answer_score(ctx, public_id, value)
        else:
            page = await web_survey.answer_text(ctx, public_id, step, value)
    await app.pipeline.deliver(outbox, bot.port)
    return page


async def _show(bot: HandlerBot, public_id: str) -> web_survey.LinkPage:
    app = bot.app
    assert app is not None
    async with app.db.snapshot() as store:
        return await web_survey.show(link_context(app, store, Outbox()), public_id)


async def _response(db: Database, response_id: int) -> Response:
    async with db.snapshot() as store:
        found = await store.invitations._session.get(Response, response_id)
    assert found is not None
    return found


async def _events(db: Database) -> list[str]:
    async with db.snapshot() as store:
        rows = await store.invitations._session.execute(
            text("SELECT type FROM events ORDER BY created_at, id")
        )
    return [kind for (kind,) in rows]


async def test_a_question_sent_in_telegram_is_answered_through_the_link(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url, **LINK_SETTINGS, **EVENTS)
    await bot.start()
    try:
        owner = await started_owner(api)
        [anna] = await seed_audience(check_db, api, [41], language="ru")
        assert bot.app is not None
        public_id, url = await invite(bot.app, telegram_user_id=41, attributes={"agent": "olga"})
        assert url is not None
        question = await anna.wait_for_message(lambda m: "порекомендуете" in m.text)
        async with check_db.snapshot() as store:
            sent = await store.invitations.get(public_id)
        assert sent is not None and sent.status == "sent"

        page = await _run(bot, "score", public_id, 4)
        assert (page.page, page.score, page.texts.language) == ("why", 4, "ru")
        # The Telegram question shows the score and loses its buttons; no "why?" there.
        edited = await anna.wait_for_message(
            lambda m: m.message_id == question.message_id and "4" in m.text and not m.buttons
        )
        assert edited.text.startswith("Насколько")
        alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 4"))
        assert "agent: olga" in alert.text
        await _run(bot, "why", public_id, "Курьер опоздал")
        await owner.wait_for_message(
            lambda m: m.message_id == alert.message_id and "Курьер опоздал" in m.text
        )
        done = await _run(bot, "improve", public_id, None)
        assert done.page == "thanks" and done.name == "User41"
        await bot.idle()
        assert not [m for m in anna.bot_messages if "разочаровало" in m.text]

        response = await _response(check_db, sent.response_id or 0)
        assert (response.score, response.why, response.improve, response.step) == (
            4,
            "Курьер опоздал",
            None,
            "done",
        )
        assert (response.messenger, response.agent) == ("web", "olga")
        assert await _events(check_db) == ["response.scored", "case.opened", "response.completed"]
        async with check_db.snapshot() as store:
            read = await store.invitations.get(public_id)
        assert read is not None and (read.status, read.score) == ("answered", 4)
        # A score typed in Telegram afterwards changes nothing: the first answer stands.
        anna.send("10")
        await anna.wait_for_message(lambda m: m.text.startswith("Спасибо — вы уже ответили"))
        assert (await _response(check_db, response.id)).score == 4
        assert (await _show(bot, public_id)).page == "answered"
    finally:
        await bot.stop()


async def test_a_link_answered_first_takes_the_invitation_from_the_sender(
    api: BotApiEmulator, db_url: str, check_db: Database, quick: dict[str, datetime]
) -> None:
    bot = broadcast_bot(api, db_url, **LINK_SETTINGS)
    await bot.start()
    try:
        [boris] = await seed_audience(check_db, api, [42])
        assert bot.app is not None
        public_id, _ = await invite(bot.app, telegram_user_id=42, delay_seconds=600)
        assert (await _show(bot, public_id)).page == "question"  # looking changes nothing
        page = await _run(bot, "score", public_id, 10)
        assert page.page == "why" and page.group == "promoter"
        again = await _run(bot, "score", public_id, 0)  # the same form posted twice
        assert (again.page, again.score) == ("why", 10)
        skipped_wrong_step = await _run(bot, "improve", public_id, "not yet")
        assert skipped_wrong_step.page == "why"
        quick["now"] += timedelta(minutes=11)  # due now: the sender finds nothing to send
        await bot.idle()
        assert not [m for m in boris.bot_messages if QUESTION in m.text]
        async with check_db.snapshot() as store:
            read = await store.invitations.get(public_id)
            responses = (await store.invitations._session.scalars(select(Response.score))).all()
        assert read is not None and (read.status, read.score) == ("answered", 10)
        assert list(responses) == [10]
    finally:
        await bot.stop()


@pytest.mark.parametrize(
    ("person", "phone", "language"),
    [
        ({"language": "en", "override": "pl"}, None, "pl"),  # their own choice
        ({"language": "ru", "override": None}, None, "ru"),  # their Telegram's
        (None, "+48601234567", "pl"),  # nobody: the number's country
        (None, "+380501234567", "en"),  # a language without a catalog: DEFAULT_LANGUAGE
    ],
)
async def test_the_page_speaks_the_persons_language(
    api: BotApiEmulator,
    db_url: str,
    check_db: Database,
    person: dict[str, Any] | None,
    phone: str | None,
    language: str,
) -> None:
    bot = broadcast_bot(api, db_url, **LINK_SETTINGS)
    await bot.start()
    try:
        assert bot.app is not None
        body: dict[str, Any] = {"phone": phone}
        if person is not None:
            await seed_audience(check_db, api, [43], language=person["language"])
            async with check_db.transaction() as store:
                found = await store.respondents.by_telegram(43)
                assert found is not None
                await store.respondents.set_language(found.id, person["override"])
            body = {"telegram_user_id": 43, "delay_seconds": 3600}
        public_id, _ = await invite(bot.app, **body)
        page = await _show(bot, public_id)
        assert (page.page, page.texts.language) == ("question", language)
    finally:
        await bot.stop()


async def test_an_invitation_being_sent_asks_to_try_again(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(api, db_url, **LINK_SETTINGS)
    await bot.start()
    try:
        await seed_audience(check_db, api, [44])
        assert bot.app is not None
        public_id, _ = await invite(bot.app, telegram_user_id=44, delay_seconds=3600)
        async with check_db.transaction() as store:
            await store.invitations._session.execute(
                text("UPDATE invitations SET status = 'claimed' WHERE public_id = :p"),
                {"p": public_id},
            )
        assert (await _show(bot, public_id)).page == "busy"
        assert (await _run(bot, "score", public_id, 5)).page == "busy"
        assert await _no_response(check_db)
    finally:
        await bot.stop()


async def _no_response(db: Database) -> bool:
    async with db.snapshot() as store:
        return not (await store.invitations._session.scalars(select(Response.id))).all()
