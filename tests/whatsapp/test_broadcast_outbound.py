"""Broadcasts and reminders reach WhatsApp people: a broadcast from the owner's Telegram
chat asks a Telegram customer and WhatsApp customers (the template for those who never
wrote, free-form inside the window) at WHATSAPP_RATE, the emulator's throughput limit as
referee; a reminder to someone outside the window is the template again."""

from __future__ import annotations

import pytest

from bot import invitations as sender
from bot.broadcast import reminders
from bot.emulator import BotApiEmulator
from bot.wa_emulator import CloudApiEmulator
from storage.db import Database
from tests.broadcast_helpers import BROADCAST_SETTINGS, admin, preview_of, seed_audience
from tests.e2e.conftest import QUESTION
from tests.scenario import wait_db, wait_for
from tests.whatsapp.conftest import WhatsAppBot, both_settings
from tests.whatsapp.outbound_helpers import api_settings, approve_templates, invite, is_template
from tests.whatsapp.score_lists import is_second_list
from tests.whatsapp.test_conversation import is_question, responses

WHATSAPP_RATE = 5  # messages/s; the emulator refuses above RATE_CEILING
RATE_CEILING = 6
PEOPLE = 11  # WhatsApp customers besides the one who wrote


async def add_whatsapp_people(db: Database, wa_ids: list[str]) -> None:
    """People known by their WhatsApp address alone (as an invitation by phone leaves
    them): they never wrote."""
    async with db.transaction() as store:
        for wa_id in wa_ids:
            await store.whatsapp.contact(wa_id, None, "en")


def busiest_second(moments: list[float]) -> int:
    """The most sends within any one second."""
    ordered = sorted(moments)
    return max(
        (sum(1 for t in ordered[i:] if t - start < 1.0) for i, start in enumerate(ordered)),
        default=0,
    )


async def test_a_broadcast_reaches_telegram_and_whatsapp_at_whatsapp_rate(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str
) -> None:
    approve_templates(wa)
    wa.set_rate_limits(per_second=RATE_CEILING)
    settings = both_settings(api, wa, db_url, **BROADCAST_SETTINGS, whatsapp_rate=WHATSAPP_RATE)
    running = WhatsAppBot(settings, wa, api)
    await running.start()
    check = Database(db_url)
    try:
        [tom] = await seed_audience(check, api, [5101])
        wrote = wa.customer("48601000100", "Ola")  # inside the window: free-form
        wrote.send_text("help")
        await wrote.wait_for_message(lambda m: m.type == "text", 10)
        silent = [f"4860100{n:04d}" for n in range(PEOPLE)]
        customers = [wa.customer(wa_id, f"P{n}") for n, wa_id in enumerate(silent)]
        await add_whatsapp_people(check, silent)
        owner = admin(api)
        preview = await preview_of(owner, "/broadcast nps")
        owner.press(preview, f"✅ Send to {PEOPLE + 2}")
        await tom.wait_for_message(lambda m: QUESTION in m.text, 15)
        question = await wrote.wait_for_message(is_question, 15)
        assert question.type == "interactive"
        await wrote.wait_for_message(is_second_list, 15)  # its token after the first's
        for customer in customers:
            await customer.wait_for_message(is_template, 15)
        assert wa.rate_limited == 0
        sends = [
            c.at
            for c in wa.calls
            if isinstance(c.body, dict) and c.body.get("type") in ("template", "interactive")
        ]
        assert len(sends) == PEOPLE + 2  # the templates; inside the window the two lists
        assert busiest_second(sends) <= WHATSAPP_RATE
        customers[0].send_text("9")

        async def scored() -> bool:
            rows = await responses(check)
            return any(r.score == 9 and r.messenger == "whatsapp" for r in rows)

        await wait_db(check, lambda _: scored())
    finally:
        await check.dispose()
        await running.stop()


async def test_a_reminder_outside_the_window_is_the_template(
    wa: CloudApiEmulator, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reminders, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(sender, "POLL_SECONDS", 0.05)
    # REMINDER_AFTER_HOURS of 2 seconds: the invitation's template, then the reminder's.
    running = WhatsAppBot(api_settings(wa, db_url, reminder_after_hours=2 / 3600), wa)
    await running.start()
    try:
        ida = wa.customer("447911123200", "Ida")
        await invite(running, "+447911123200")
        await ida.wait_for_message(is_template, 10)
        templates = lambda: [m for m in ida.messages if is_template(m)]  # noqa: E731
        await wait_for(lambda: len(templates()) == 2, "the reminder", 10)
        assert [m.type for m in ida.messages] == ["template", "template"]
    finally:
        await running.stop()
