"""The invitation sender inside the running application: a due invitation is sent as the
broadcast question, answered through the conversation, and read back answered; not before
its time, not at night, blocked people and dead senders handled, `invitation.failed` emitted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot import invitations as sender
from bot.app import BotApp
from bot.emulator import BotApiEmulator
from bot.web.invitation_requests import Requests
from bot.web.invitation_types import InvitationIn
from storage.db import Database
from storage.models import Response, Step, utcnow
from tests.broadcast_helpers import seed_audience
from tests.handlers.conftest import broadcast_bot
from tests.handlers.harness import HandlerBot
from tests.invitation_helpers import FATIGUE, resolve, rows, schedule
from tests.scenario import wait_db

QUESTION = "How likely are you to recommend Acme to a friend or colleague?"


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
    """The sender looks every 50 ms; the application's clock is the test's to move."""
    monkeypatch.setattr(sender, "POLL_SECONDS", 0.05)
    clock = {"now": utcnow()}
    monkeypatch.setattr(BotApp, "clock", staticmethod(lambda: clock["now"]))
    return clock


async def _invite(bot: HandlerBot, **body: Any) -> str:
    """Asks for an invitation as the API does; its id."""
    app = bot.app
    assert app is not None
    async with app.db.transaction() as store:
        accepted = await Requests(store, app.settings, app.clock()).invite(
            InvitationIn.model_validate({"survey": "nps", **body}), None
        )
    return accepted.id


async def _status(db: Database, public_id: str) -> Any:
    async with db.snapshot() as store:
        return await store.invitations.get(public_id)


def _is(public_id: str, status: str) -> Callable[[Database], Any]:
    async def probe(db: Database) -> Any:
        view = await _status(db, public_id)
        return view if view is not None and view.status == status else None

    return probe


async def test_a_due_invitation_is_sent_answered_and_read_back(
    api: BotApiEmulator, db_url: str, check_db: Database, quick: dict[str, datetime]
) -> None:
    bot = broadcast_bot(api, db_url, quiet_hours="off")
    await bot.start()
    try:
        [anna] = await seed_audience(check_db, api, [41])
        attributes = {"agent": "olga", "source": "call", "order_id": "A-17", "region": "north"}
        public_id = await _invite(
            bot, telegram_user_id=41, attributes=attributes, delay_seconds=600
        )
        await bot.idle()
        assert not [m for m in anna.bot_messages if QUESTION in m.text]  # not before its time
        quick["now"] += timedelta(minutes=10)
        question = await anna.wait_for_message(lambda m: QUESTION in m.text)
        assert question.text.startswith("Hi User41")  # the broadcast's greeting
        sent = await wait_db(check_db, _is(public_id, "sent"))
        assert sent.response_id is not None and sent.sent_at is not None
        anna.press(question, "9")
        await anna.wait_for_message(lambda m: "What do you like most" in m.text)
        shown = anna.message(question.message_id)
        assert shown is not None and not shown.buttons  # answered: the keyboard goes
        answered = await wait_db(check_db, _is(public_id, "answered"))
        assert (answered.score, answered.response_id) == (9, sent.response_id)
        async with check_db.snapshot() as store:
            response = await store.invitations._session.get(Response, sent.response_id)
            # Days either side: the bot's clock is 10 minutes ahead of the real one, which
            # the score's day follows, so near midnight they fall on two days.
            today = quick["now"].date()
            totals = await store.stats.totals(
                [response.survey_id], today - timedelta(days=1), today + timedelta(days=1), "agent"
            )
        assert (response.channel, response.agent, response.source) == (
            "invitation",
            "olga",
            "call",
        )
        assert response.attributes == {"order_id": "A-17", "region": "north"}
        assert totals["olga"][0] == 1 and totals["olga"][10] == 1  # invited, and a 9
        # Sent once: nothing more arrives on later passes.
        quick["now"] += timedelta(minutes=1)
        await bot.idle()
        assert len([m for m in anna.bot_messages if QUESTION in m.text]) == 1
    finally:
        await bot.stop()


async def test_blocked_at_send_time_is_unreachable_and_emits_an_event(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    bot = broadcast_bot(
        api,
        db_url,
        quiet_hours="off",
        events_urls=["http://127.0.0.1:9/crm"],
        events_secret="s3cret-s3cret",
    )
    await bot.start()
    try:
        [boris] = await seed_audience(check_db, api, [42])
        public_id = await _invite(bot, telegram_user_id=42, attributes={"order_id": "B-2"})
        boris.blocked = True
        view = await wait_db(check_db, _is(public_id, "unreachable"))
        assert view.reason == "blocked" and view.error
        async with check_db.snapshot() as store:
            person = await store.respondents.by_telegram(42)
            events = (
                await store.invitations._session.execute(
                    text("SELECT type, data FROM events ORDER BY created_at")
                )
            ).all()
        assert person is not None and person.unreachable
        failed = [data for kind, data in events if kind == "invitation.failed"]
        assert len(failed) == 1
        data = failed[0] if isinstance(failed[0], dict) else json.loads(failed[0])
        assert data["invitation_id"] == public_id
        assert (data["status"], data["reason"], data["telegram_user_id"]) == (
            "unreachable",
            "blocked",
            42,
        )
        assert data["attributes"] == {"order_id": "B-2"}
        responses = await _responses(check_db)
        assert responses == []  # the question never reached anyone: no response kept
    finally:
        await bot.stop()


async def _responses(db: Database) -> list[Response]:
    async with db.snapshot() as store:
        found = await store.invitations._session.scalars(select(Response))
        return list(found.all())


async def test_due_while_the_bot_was_down_and_now_it_is_night_it_waits(
    api: BotApiEmulator, db_url: str, check_db: Database, quick: dict[str, datetime]
) -> None:
    # Due at 20:58 UTC while the bot was down; it starts at 21:30 (QUIET_HOURS 21:00-09:00
    # in TIMEZONE UTC, the defaults): the invitation waits for 09:00.
    evening = datetime(2026, 12, 10, 20, 58, tzinfo=UTC)
    [carl] = await seed_audience(check_db, api, [43])
    async with check_db.transaction() as store:
        survey = await store.surveys.ensure_default()
    public_id = await schedule(check_db, survey.id, 43, evening)
    quick["now"] = evening + timedelta(minutes=32)
    bot = broadcast_bot(api, db_url)
    await bot.start()
    try:
        morning = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)

        async def deferred(db: Database) -> bool:
            view = await _status(db, public_id)
            return view is not None and view.send_at == morning

        await wait_db(check_db, deferred)
        await bot.idle()
        assert not [m for m in carl.bot_messages if QUESTION in m.text]
        quick["now"] = morning
        await carl.wait_for_message(lambda m: QUESTION in m.text)
        await wait_db(check_db, _is(public_id, "sent"))
    finally:
        await bot.stop()


async def test_a_dead_senders_invitations_are_taken_over_once(
    api: BotApiEmulator, db_url: str, check_db: Database
) -> None:
    [dora, emil] = await seed_audience(check_db, api, [44, 45])
    async with check_db.transaction() as store:
        survey = await store.surveys.ensure_default()
    claimed = await schedule(check_db, survey.id, 44, utcnow() - timedelta(seconds=1))
    sending = await schedule(check_db, survey.id, 45, utcnow() - timedelta(seconds=1))
    # A process claimed both and died; it had marked Emil's "sending" (maybe delivered).
    async with check_db.transaction() as store:
        items, _ = await store.invitation_queue.claim(
            now=utcnow(), worker="dead:1", limit=10, fatigue=FATIGUE, resolve=resolve
        )
        emils = [i.row_id for i in items if i.chat_id == 45]
        assert await store.invitation_queue.mark_sending(emils, "dead:1", utcnow())
    bot = broadcast_bot(api, db_url, quiet_hours="off")
    await bot.start()
    try:
        await dora.wait_for_message(lambda m: QUESTION in m.text)
        await wait_db(check_db, _is(claimed, "sent"))
        uncertain = await wait_db(check_db, _is(sending, "sent"))
        assert uncertain.reason == "uncertain"
        await bot.idle()
        assert not [m for m in emil.bot_messages if QUESTION in m.text]  # never twice
        # The question that may be on Emil's screen is answerable.
        [response] = [r for r in await _responses(check_db) if r.id == uncertain.response_id]
        assert response.step == Step.SCORE
        assert [r.status for r in await rows(check_db)] == ["sent", "sent"]
    finally:
        await bot.stop()
