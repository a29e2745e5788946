"""Issue 9, items 6, 8 and 13: alerts nobody could receive are kept and delivered later;
relays longer than Telegram's limit arrive whole (and "sent" means sent); a revoked role
and an old thread relay nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.emulator import BotApiEmulator
from storage.case_models import CaseThread, PendingReply, UndeliveredAlert
from storage.db import Database
from storage.models import utcnow
from tests.handlers.conftest import make_settings
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, start_survey, wait_db

BOSS_ID = 901  # a second owner, who pressed Start
VIEWER_ID = 300
STAFF_CHAT = -100_700
LIMIT = 4096


async def _held(db: Database) -> list[tuple[int, int]]:
    async with db.snapshot() as store:
        rows = await store.cases._session.execute(
            select(UndeliveredAlert.case_id, UndeliveredAlert.chat_id)
        )
        return [(int(case), int(chat)) for case, chat in rows]


async def _nothing_held(db: Database) -> bool:
    return await _held(db) == []


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the start-up said at WARNING about chats it cannot reach."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "bot.app"
        and r.levelno == logging.WARNING
        and "cannot be reached" in r.getMessage()
    ]


def _alerts(user) -> list:  # type: ignore[no-untyped-def]
    return [m for m in user.bot_messages if m.text.startswith("🔴 Detractor")]


def _long_text() -> str:
    """4096 characters of words, with characters HTML must escape."""
    words = []
    n = 0
    while sum(len(w) for w in words) < LIMIT:
        words.append(f"w{n}<&> ")
        n += 1
    return "".join(words)[:LIMIT]


async def _detractor(api: BotApiEmulator, user_id: int, name: str, score: str = "2"):  # type: ignore[no-untyped-def]
    """A respondent who scored a detractor and finished the survey (why and improve)."""
    user = api.user(user_id, first_name=name, language_code="en")
    user.press(await start_survey(user), score)
    await user.wait_for_message(lambda m: "disappointed" in m.text)
    user.send("Late")
    await user.wait_for_message(lambda m: "give us a 10" in m.text)
    user.send("Faster")
    await user.wait_for_message(lambda m: m.text.startswith("Thank you"))
    return user


async def _started(api: BotApiEmulator, user_id: int, name: str):  # type: ignore[no-untyped-def]
    user = api.user(user_id, first_name=name, language_code="en")
    user.send("/help")
    await user.wait_for_message(lambda m: "/start" in m.text)
    return user


@pytest.fixture
async def two_owners(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """Owner 900 (never pressed Start) and owner 901; alerts go to both privately."""
    settings = make_settings(api, db_url, admin_ids=[OWNER_ID, BOSS_ID])
    running = HandlerBot(settings, api)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def group_bot(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """Alerts go to a staff group; the owner never pressed Start."""
    settings = make_settings(api, db_url, alert_chat_id=STAFF_CHAT)
    running = HandlerBot(settings, api)
    await running.start()
    yield running
    await running.stop()


# --- item 6: alerts to chats that cannot be reached ------------------------------------


async def test_an_owner_who_never_pressed_start_gets_the_alert_once_after_start(
    api: BotApiEmulator, two_owners: HandlerBot, check_db: Database
) -> None:
    olga = api.user(OWNER_ID, first_name="Olga", language_code="en")  # never wrote
    boss = await _started(api, BOSS_ID, "Boris")
    await _detractor(api, 101, "Anna")
    await boss.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    [(_case, chat_id)] = await wait_db(check_db, _held)
    assert chat_id == OWNER_ID and olga.bot_messages == []
    boss.send("/nps")
    report = await boss.wait_for_message(lambda m: m.text.startswith("NPS ·"))
    assert "Detractor cases: 1 open" in report.text
    boss.send("/staff")
    staff = await boss.wait_for_message(lambda m: "Cannot be reached" in m.text)
    assert "⚠️ 900 — never pressed Start · alerts waiting: 1" in staff.text
    olga.send("/start")
    alert = await olga.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    assert "Anna (id 101)" in alert.text and "Why: Late" in alert.text
    assert [[b.text for b in row] for row in alert.keyboard] == [["✉️ Reply", "✅ Resolved"]]
    await two_owners.idle()
    assert await _held(check_db) == []
    await two_owners.restart()
    olga.send("/help")
    await olga.wait_for_message(lambda m: "/nps" in m.text)
    await two_owners.idle()
    assert len(_alerts(olga)) == 1  # once, across a restart too
    boss.send("/staff")
    await two_owners.idle()
    assert "Cannot be reached" not in boss.bot_messages[-1].text


async def test_start_up_names_each_unreachable_target_and_a_group_gets_its_alerts_back(
    api: BotApiEmulator,
    group_bot: HandlerBot,
    check_db: Database,
    caplog: pytest.LogCaptureFixture,
) -> None:
    group = api.group(STAFF_CHAT, title="Quality team")
    group.kick_bot()
    await _detractor(api, 102, "Ben", "4")
    await wait_db(check_db, _held)
    assert group.bot_messages == []
    caplog.set_level(logging.WARNING, logger="bot.app")
    await group_bot.stop()
    caplog.clear()  # what the first start said
    await group_bot.start()
    expected = [
        f"alert chat {STAFF_CHAT} cannot be reached: the bot is not in the group "
        "(1 alerts waiting)",
        "owner 900 cannot be reached: never pressed Start (0 alerts waiting)",
    ]
    await api.wait_until(lambda: len(_warnings(caplog)) >= 2)
    assert _warnings(caplog) == expected
    group.bot_is_member = True  # the bot was added back
    await group_bot.stop()
    caplog.clear()
    await group_bot.start()
    alert = await group.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 4"))
    assert "Ben (id 102)" in alert.text
    await wait_db(check_db, lambda db: _nothing_held(db))
    await api.wait_until(lambda: len(_warnings(caplog)) >= 1)
    await group_bot.idle()
    assert _warnings(caplog) == expected[1:]


# --- item 8: over-long relays ----------------------------------------------------------


def _team_part(text: str) -> str:
    return text.split("team:\n\n", 1)[1].rsplit("\n\nYou can answer right here.", 1)[0]


async def _reply_mode(api: BotApiEmulator, owner, alert) -> None:  # type: ignore[no-untyped-def]
    before = sum(m.text.startswith("✉️ Write") for m in owner.bot_messages)
    owner.press(alert, "✉️ Reply")
    await api.wait_until(
        lambda: sum(m.text.startswith("✉️ Write") for m in owner.bot_messages) > before
    )


async def test_a_long_respondent_message_reaches_the_team_whole_before_thanks(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await _started(api, OWNER_ID, "Olga")
    cleo = await _detractor(api, 103, "Cleo")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    await _reply_mode(api, owner, alert)
    owner.send("Could you tell us more?")
    await owner.wait_for_message(lambda m: m.text == "✅ Sent to Cleo.")
    text = _long_text()
    cleo.send(text)
    await cleo.wait_for_message(lambda m: m.text.startswith("Thank you — we passed"))
    parts = [m for m in owner.bot_messages if m.text.startswith("💬 Cleo (id 103) replied")]
    assert [p.text.rsplit("\n", 1)[1] for p in parts] == ["(1/2)", "(2/2)"]
    assert all(len(p.text) <= LIMIT for p in parts)
    assert "".join(p.text.split(":\n\n", 1)[1].rsplit("\n(", 1)[0] for p in parts) == text
    assert parts[0].keyboard == [] and parts[1].keyboard  # the buttons under the last part
    # The team's chat refuses the message: the respondent is not told it was passed on.
    api.inject_fault("sendMessage", status=400, chat_id=OWNER_ID, description="Bad Request: x")
    cleo.send("Hello again")
    await cleo.wait_for_message(lambda m: m.text.startswith("Sorry — we could not pass"))
    await bot.idle()
    assert sum(m.text.startswith("Thank you — we passed") for m in cleo.bot_messages) == 1


async def test_a_long_staff_reply_arrives_whole_and_sent_means_sent(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await _started(api, OWNER_ID, "Olga")
    dan = await _detractor(api, 104, "Dan")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    await _reply_mode(api, owner, alert)
    text = _long_text()
    owner.send(text)
    await owner.wait_for_message(lambda m: m.text == "✅ Sent to Dan.")
    parts = [m for m in dan.bot_messages if m.text.startswith("💬 A message from the Acme team")]
    assert [p.text.rsplit("\n", 1)[1] for p in parts] == ["(1/2)", "(2/2)"]
    assert all(len(p.text) <= LIMIT for p in parts)
    assert "".join(_team_part(p.text) for p in parts) == text
    # Telegram refuses (400), then the chat is closed to the bot (403): "failed" each time.
    for status in (400, 403):
        await _reply_mode(api, owner, alert)
        api.inject_fault("sendMessage", status=status, chat_id=104)
        owner.send(f"Attempt {status}")
        await api.wait_until(
            lambda s=status: (
                sum(m.text.startswith("⚠️ Could not deliver to Dan") for m in owner.bot_messages)
                == (1 if s == 400 else 2)
            )
        )
    await bot.idle()
    assert sum(m.text.startswith("✅ Sent to Dan") for m in owner.bot_messages) == 1
    assert not any("Attempt" in m.text for m in dan.bot_messages)


# --- item 13: revoked roles and old threads relay nothing ------------------------------


async def _viewer_in_reply_mode(api: BotApiEmulator, owner, alert):  # type: ignore[no-untyped-def]
    """A viewer (granted by the owner) who pressed Reply on the alert's case."""
    viewer = await _started(api, VIEWER_ID, "Vera")
    owner.send(f"/grant {VIEWER_ID} viewer")
    await owner.wait_for_message(lambda m: "Vera" in m.text and "viewer" in m.text)
    own = viewer.bot_messages[-1]
    viewer.press_data(own, alert.keyboard[0][0].callback_data)
    await viewer.wait_for_message(lambda m: m.text.startswith("✉️ Write your reply"))
    return viewer


async def test_a_revoked_viewer_relays_nothing_either_way(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await _started(api, OWNER_ID, "Olga")
    eve = await _detractor(api, 105, "Eve")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    viewer = await _viewer_in_reply_mode(api, owner, alert)
    viewer.send("Please call me back")
    await viewer.wait_for_message(lambda m: m.text == "✅ Sent to Eve.")
    await eve.wait_for_message(lambda m: "Please call me back" in m.text)
    # Reply mode again, then /revoke: the next message is refused, the thread closed.
    viewer.press_data(viewer.bot_messages[-1], alert.keyboard[0][0].callback_data)
    await api.wait_until(
        lambda: sum(m.text.startswith("✉️ Write") for m in viewer.bot_messages) == 2
    )
    owner.send(f"/revoke {VIEWER_ID}")
    await owner.wait_for_message(lambda m: "no longer has a role" in m.text)
    viewer.send("Second message")
    await viewer.wait_for_message(lambda m: m.text.startswith("⛔ Reply mode is closed"))
    eve.send("My phone is +1 555 0100")
    await bot.idle()
    assert not any("Second message" in m.text for m in eve.bot_messages)
    assert not any("+1 555 0100" in m.text for m in viewer.bot_messages)
    assert not any("+1 555 0100" in m.text for m in owner.bot_messages)
    async with check_db.snapshot() as store:
        assert await store.cases.thread_of(105) is None


async def test_the_relay_rechecks_the_role_of_whoever_opened_the_thread(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await _started(api, OWNER_ID, "Olga")
    finn = await _detractor(api, 106, "Finn")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    viewer = await _viewer_in_reply_mode(api, owner, alert)
    viewer.send("Your order number?")
    await finn.wait_for_message(lambda m: "Your order number?" in m.text)
    await bot.idle()
    async with check_db.transaction() as store:  # the role goes without /revoke
        await store.staff.revoke(VIEWER_ID)
    finn.send("It is 42, my phone is +1 555 0101")
    await bot.idle()
    assert not any("+1 555 0101" in m.text for m in viewer.bot_messages)


async def test_threads_and_reply_mode_expire_after_a_day(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    owner = await _started(api, OWNER_ID, "Olga")
    gil = await _detractor(api, 107, "Gil")
    alert = await owner.wait_for_message(lambda m: m.text.startswith("🔴 Detractor · 2"))
    await _reply_mode(api, owner, alert)
    owner.send("Sorry about that")
    await gil.wait_for_message(lambda m: "Sorry about that" in m.text)
    await _reply_mode(api, owner, alert)
    await bot.idle()
    old = utcnow() - timedelta(hours=25)
    async with check_db.transaction() as store:
        session = store.cases._session
        await session.execute(update(CaseThread).values(updated_at=old))
        await session.execute(update(PendingReply).values(started_at=old))
    owner.send("Are you still there?")
    await owner.wait_for_message(lambda m: m.text.startswith("⌛ Reply mode ended"))
    gil.send("Thanks, all good")
    await bot.idle()
    assert not any("Are you still there?" in m.text for m in gil.bot_messages)
    assert not any("Thanks, all good" in m.text for m in owner.bot_messages)
