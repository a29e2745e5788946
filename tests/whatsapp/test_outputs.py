"""A WhatsApp answer through the real channel reaches what the business reads: the export's
Channel column and the CRM's signed events (`messenger: "whatsapp"`); and WhatsApp runs
beside Telegram in webhook mode, both webhooks on the one HTTP server."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from bot.wa_emulator import CloudApiEmulator
from tests.e2e.events_receiver import Receiver
from tests.e2e.test_webhook_mode import webhook_settings
from tests.scenario import OWNER_ID, start_survey, wait_for
from tests.whatsapp.conftest import WhatsAppBot, both_settings
from tests.whatsapp.score_lists import nps_score, question_lists
from tests.whatsapp.test_conversation import responses

EVENTS_SECRET = "events-secret-0123456789abcdef"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    crm = Receiver(EVENTS_SECRET)
    await crm.start()
    yield crm
    await crm.stop()


async def _answer_nine(wa: CloudApiEmulator, wa_id: str, name: str) -> None:
    """A whole WhatsApp answer: 9 in two taps (the second list), a reason, Skip."""
    customer = wa.customer(wa_id, name)
    customer.send_text("Hi")
    asked, rest = await question_lists(customer)
    nps_score(customer, (asked, rest), 9)
    why = await customer.wait_for_message(lambda m: "Skip" in [b.title for b in m.buttons], 10)
    customer.send_text("Fast delivery")
    improve = await customer.wait_for_message(
        lambda m: m.id != why.id and "Skip" in [b.title for b in m.buttons], 10
    )
    customer.press_button(improve, "Skip")
    await customer.wait_for_message(lambda m: name in m.text and m.id != asked.id, 10)


async def test_a_whatsapp_answer_is_in_the_export_and_the_crm_events(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str, receiver: Receiver
) -> None:
    settings = both_settings(
        api, wa, db_url, events_urls=[receiver.url], events_secret=EVENTS_SECRET
    )
    running = WhatsAppBot(settings, wa, api)
    await running.start()
    try:
        await _answer_nine(wa, "447700900001", "Ana")
        completed = await wait_for(
            lambda: _event(receiver, "response.completed"), "the CRM got the answer", within=15
        )
        data = completed["data"]
        assert (data["messenger"], data["score"], data["why"]) == ("whatsapp", 9, "Fast delivery")
        assert receiver.bad_signatures == 0 and receiver.requests == receiver.accepted

        owner = api.user(OWNER_ID, "Olga")
        owner.send("/export csv")
        exported = await owner.wait_for_message(lambda m: m.document is not None, 15)
        assert exported.document is not None
        header, *rows = list(
            csv.reader(io.StringIO(exported.document.data.decode("utf-8-sig"), newline=""))
        )
        [row] = [dict(zip(header, r, strict=True)) for r in rows]
        assert (row["Channel"], row["Score"]) == ("whatsapp", "9")
    finally:
        await running.stop()


async def _event(receiver: Receiver, kind: str) -> dict[str, Any] | None:
    found = [e for e in receiver.accepted if e["type"] == kind]
    return found[-1] if found else None


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_whatsapp_beside_telegram_in_webhook_mode(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str, runtime: str
) -> None:
    hook = webhook_settings(api, db_url, runtime)
    settings = both_settings(
        api,
        wa,
        db_url,
        bot_framework=runtime,
        http_port=hook.http_port,
        webhook_url=hook.webhook_url,
        webhook_secret=hook.webhook_secret,
    )
    running = WhatsAppBot(settings, wa, api)
    await running.start()
    try:
        await _answer_nine(wa, "447700900002", "Ion")
        tom = api.user(5001, "Tom")
        await start_survey(tom)
        rows = await wait_for(lambda: _two(running), "both answers are stored", within=10)
        assert sorted(r.messenger for r in rows) == ["telegram", "whatsapp"]
        # Telegram's updates came through its webhook (never polled), beside WhatsApp's.
        assert api.webhook_attempts and {a.status for a in api.webhook_attempts} == {200}
        assert api.calls_for("getUpdates") == []
    finally:
        await running.stop()


async def _two(running: WhatsAppBot) -> list[Any] | None:
    rows = await responses(running.db)
    return rows if len(rows) == 2 else None
