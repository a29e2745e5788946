"""Trust on WhatsApp against the Cloud API emulator: "my data" and "delete my data" act on
the WhatsApp person as /mydata and /forgetme do on Telegram, and a WhatsApp detractor's
alert reaches the Telegram staff chat, whose ✉️ Reply reaches the customer on WhatsApp
within the 24-hour window and is refused, with the reason, outside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.emulator import BotApiEmulator
from bot.emulator.actors import EmulatedUser
from bot.emulator.models import ChatMessage
from bot.wa_emulator import CloudApiEmulator, Customer
from bot.wa_emulator.models import BusinessMessage
from storage.models import Respondent, Response, utcnow
from tests.scenario import OWNER_ID, wait_for
from tests.whatsapp.conftest import WhatsAppBot, both_settings
from tests.whatsapp.test_conversation import person, question, responses

WA_ID = "447700900001"


def _skip_offered(message: BusinessMessage) -> bool:
    return "Skip" in [b.title for b in message.buttons]


async def _detractor_answer(wa: CloudApiEmulator) -> Customer:
    """Ana answers 3 on WhatsApp with both comments; her customer handle."""
    ana = wa.customer(WA_ID, "Ana")
    ana.send_text("Hi")
    asked = await question(ana)
    ana.send_text("3")
    why = await ana.wait_for_message(lambda m: m.id != asked.id and _skip_offered(m), 10)
    ana.send_text("The courier was late")
    await ana.wait_for_message(lambda m: m.id != why.id and _skip_offered(m), 10)
    ana.send_text("Call me: +1 555 0100")
    await ana.wait_for_message(lambda m: "Ana" in m.text and not _skip_offered(m), 10)
    return ana


async def test_delete_my_data_on_whatsapp_erases_the_person(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = await _detractor_answer(wa)
    [answer] = await wait_for(lambda: _why_stored(wa_bot), "the comments are stored", within=10)
    assert answer.messenger == "whatsapp"
    ana.send_text("my data")
    summary = await ana.wait_for_message(lambda m: "Profile: Ana" in m.text, 10)
    assert "WhatsApp: +44 7700 900001" in summary.text
    assert "«The courier was late»" in summary.text
    ana.send_text("delete my data")
    confirm = await ana.wait_for_message(lambda m: "Erase your data?" in m.text, 10)
    assert "unlink your answers (1)" in confirm.text
    ana.press_button(confirm, "🗑 Erase")
    await ana.wait_for_message(lambda m: "your data is erased" in m.text, 10)
    # As on Telegram: the person and their addresses are gone, the answer is detached with
    # its comments erased, and the score and context tags stay.
    assert await person(wa_bot.db, WA_ID) is None
    [detached] = await responses(wa_bot.db)
    assert (detached.respondent_id, detached.chat_id, detached.start_payload) == (None, None, None)
    assert (detached.why, detached.improve, detached.score) == (None, None, 3)
    assert detached.messenger == "whatsapp" and detached.scored_at is not None


async def _why_stored(bot: WhatsAppBot) -> list[Response] | None:
    rows = await responses(bot.db)
    return rows if rows and rows[-1].improve else None


@pytest.fixture
async def both(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str
) -> AsyncIterator[WhatsAppBot]:
    """npsbot on WhatsApp beside Telegram (aiogram, polling): staff on Telegram."""
    settings = both_settings(api, wa, db_url)
    running = WhatsAppBot(settings, wa, api)
    await running.start()
    yield running
    await running.stop()


def _alert(message: ChatMessage) -> bool:
    return "Detractor" in message.text or "score 3" in message.text


async def test_staff_reply_to_a_whatsapp_detractor_and_the_24_hour_window(
    api: BotApiEmulator, wa: CloudApiEmulator, both: WhatsAppBot
) -> None:
    owner = api.user(OWNER_ID, "Olga")
    owner.send("/start")
    await owner.wait_for_message(lambda m: "How likely" in m.text, 10)
    ana = await _detractor_answer(wa)
    alert = await owner.wait_for_message(lambda m: "via WhatsApp" in m.text, 10)
    assert "Ana (WhatsApp +44 7700 900001)" in alert.text
    assert alert.button_texts == ["✉️ Reply", "✅ Resolved"]
    await owner.wait_for_message(lambda m: "The courier was late" in m.text, 10)

    owner.press(alert, "✉️ Reply")
    await owner.wait_for_message(lambda m: "Write your reply to Ana" in m.text, 10)
    owner.send("Sorry, Ana: a new courier brings it today.")
    relayed = await ana.wait_for_message(lambda m: "a new courier" in m.text, 10)
    assert "Acme" in relayed.text
    await owner.wait_for_message(lambda m: "✅ Sent to Ana." in m.text, 10)

    # A day later WhatsApp refuses free-form messages (131047 in the send's answer).
    wa.failures = "response"
    wa.advance_clock(25 * 3600)
    owner.press(alert, "✉️ Reply")
    await _nth_prompt(owner, 2)
    owner.send("Did it arrive?")
    refused = await owner.wait_for_message(lambda m: "within 24 hours" in m.text, 10)
    assert "Not delivered to Ana" in refused.text
    assert not [m for m in ana.messages if "Did it arrive" in m.text]

    # Meta's way today: the send is accepted and a `failed` status follows. The bot does
    # not try: Ana has not written for longer than the window (her last-seen time).
    wa.failures = "status"
    await _last_seen_hours_ago(both, 25)
    sent_before = len(wa.calls)
    owner.press(alert, "✉️ Reply")
    await _nth_prompt(owner, 3)
    owner.send("Are you there?")
    await owner.wait_for_message(
        lambda m: len([x for x in owner.bot_messages if "within 24 hours" in x.text]) == 2, 10
    )
    assert not [c for c in wa.calls[sent_before:] if c.path.endswith("/messages")]

    owner.press(alert, "✅ Resolved")
    resolved = await owner.wait_for_message(lambda m: "Resolved by" in m.text and _alert(m), 10)
    assert resolved.button_texts == []


async def _nth_prompt(owner: EmulatedUser, n: int) -> None:
    """Waits for the n-th "Write your reply" prompt in the staff chat."""

    def prompts() -> int:
        return len([m for m in owner.bot_messages if "Write your reply" in m.text])

    await owner.wait_for_message(lambda m: prompts() >= n, 10)


async def _last_seen_hours_ago(bot: WhatsAppBot, hours: int) -> None:
    """Moves the customer's last message back (the bot's clock cannot be moved)."""
    async with bot.db.transaction() as store:
        session = store.responses._session
        await session.execute(
            update(Respondent)
            .where(Respondent.first_name == "Ana")
            .values(last_seen_at=utcnow() - timedelta(hours=hours))
        )
