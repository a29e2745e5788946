"""What the Telegram suite checks of bad input, on WhatsApp: wrong words, an unsupported
message, a double tap, a stale list, a forged button id, and Meta answering 5xx or HTML.
Each gets an answer and changes nothing it should not."""

from __future__ import annotations

import hmac
import json
from hashlib import sha256
from typing import Any

import aiohttp

from bot.wa_emulator import CloudApiEmulator
from bot.wa_emulator.models import BusinessMessage
from tests.scenario import wait_for
from tests.whatsapp.conftest import APP_SECRET, WhatsAppBot
from tests.whatsapp.score_lists import is_question, nps_score, question_lists
from tests.whatsapp.test_channel_rules import _claimed
from tests.whatsapp.test_conversation import question, responses

UK = "447700900021"


def _has_skip(message: BusinessMessage) -> bool:
    return "Skip" in [b.title for b in message.buttons]


async def _scores(wa_bot: WhatsAppBot) -> list[int | None]:
    return [row.score for row in await responses(wa_bot.db)]


async def _next_message(customer: Any, after: int) -> BusinessMessage:
    """The first message the bot sends after the customer had `after` messages."""
    return await customer.wait_for_message(
        lambda m: customer.messages.index(m) >= after, timeout=10
    )


async def test_wrong_words_and_unsupported_messages_get_the_hint_and_score_nothing(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    ana.send_text("Hi")
    await question(ana)
    for wrong in ("great service", "11", "-1", "7.5"):
        seen = len(ana.messages)
        ana.send_text(wrong)
        hint = await _next_message(ana, seen)
        assert not _has_skip(hint), (wrong, hint.text)  # not taken as a score
    seen = len(ana.messages)
    ana.send_unsupported()
    await _next_message(ana, seen)
    assert await _scores(wa_bot) == [None]
    ana.send_text("7")  # the question still works
    await ana.wait_for_message(_has_skip, timeout=10)
    assert await _scores(wa_bot) == [7]


async def test_a_double_tap_keeps_the_first_score_and_asks_why_once(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    ana.send_text("Hi")
    lists = await question_lists(ana)
    first = nps_score(ana, lists, 9)
    second = nps_score(ana, lists, 10)  # a second tap before the first is answered
    for wamid in (first, second):
        await wait_for(lambda w=wamid: _claimed(wa_bot.db, w), "the tap handled", within=10)
    why = await ana.wait_for_message(_has_skip, timeout=10)
    ana.send_text("Fast")  # answered after both taps' replies (one chat, in order)
    await ana.wait_for_message(lambda m: _has_skip(m) and m.id != why.id, timeout=10)
    assert await _scores(wa_bot) == [9]
    assert sum(1 for m in ana.messages if _has_skip(m)) == 2  # "why?" once, then "improve?"


async def test_a_stale_list_and_a_forged_button_change_nothing(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    ana.send_text("Hi")
    asked, rest = await question_lists(ana)
    nps_score(ana, (asked, rest), 6)
    why = await ana.wait_for_message(_has_skip, timeout=10)
    ana.press_button(why, "Skip")
    improve = await ana.wait_for_message(lambda m: _has_skip(m) and m.id != why.id, 10)
    ana.press_button(improve, "Skip")
    await wait_for(lambda: _completed(wa_bot), "the answer is complete", within=10)
    # The thank-you is sent after the commit: count from it, not from the commit.
    await ana.wait_for_message(lambda m: m.text.startswith("Thank you, Ana"), timeout=10)
    seen = len(ana.messages)
    ana.choose_row(asked, "4")  # the other list, after the answer was complete
    assert "already answered: 6" in (await _next_message(ana, seen)).text
    seen = len(ana.messages)
    ana.choose_row(rest, "10")  # the answered list again
    assert "already answered: 6" in (await _next_message(ana, seen)).text
    seen = len(ana.messages)
    await _post_button(wa_bot, UK, "nps:9999999:10")  # an id the bot never sent
    assert "not valid" in (await _next_message(ana, seen)).text
    [answer] = await responses(wa_bot.db)
    assert (answer.score, answer.step) == (6, "done")


async def _completed(wa_bot: WhatsAppBot) -> bool:
    rows = await responses(wa_bot.db)
    return bool(rows) and rows[-1].step == "done"


async def _post_button(wa_bot: WhatsAppBot, wa_id: str, button_id: str) -> None:
    """A correctly signed button reply carrying an id of the sender's choosing."""
    reply = {"type": "button_reply", "button_reply": {"id": button_id, "title": "10"}}
    message = {
        "from": wa_id,
        "id": f"wamid.forged-{button_id}",
        "timestamp": "1764806400",
        "type": "interactive",
        "interactive": reply,
    }
    value = {
        "messaging_product": "whatsapp",
        "contacts": [{"wa_id": wa_id, "profile": {"name": "Ana"}}],
        "messages": [message],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    body = json.dumps(envelope).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, sha256).hexdigest()
    async with (
        aiohttp.ClientSession() as session,
        session.post(wa_bot.url, data=body, headers={"X-Hub-Signature-256": signature}) as got,
    ):
        assert got.status == 200


async def test_meta_answering_5xx_or_html_is_retried(
    wa: CloudApiEmulator, wa_bot: WhatsAppBot
) -> None:
    ana = wa.customer(UK, "Ana")
    wa.inject_fault(131000, status=500, times=1)
    wa.inject_fault(None, status=502, times=1, body="html")
    ana.send_text("Hi")
    await question(ana)
    failed = [c.status for c in wa.calls if c.path.endswith("/messages") and c.status != 200]
    assert failed == [500, 502]
    assert len([m for m in ana.messages if is_question(m)]) == 1
