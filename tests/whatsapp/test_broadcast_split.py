"""An A/B broadcast reaching WhatsApp people: inside the 24-hour window the variant message
goes before the question; outside it WhatsApp takes no free text, so the person gets the
question's template alone and keeps their arm (the comparison counts people as drawn)."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from bot.wa_emulator import CloudApiEmulator
from storage.db import Database
from tests.broadcast_helpers import BROADCAST_SETTINGS, admin, latest_broadcast, preview_of
from tests.whatsapp.conftest import WhatsAppBot, both_settings
from tests.whatsapp.outbound_helpers import approve_templates, is_template
from tests.whatsapp.test_broadcast_outbound import add_whatsapp_people
from tests.whatsapp.test_conversation import is_question

OFFER_A, OFFER_B = "Get 10% off with code SPRING", "Free delivery this week"


async def test_the_variant_goes_inside_the_window_and_outside_only_the_template(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str
) -> None:
    approve_templates(wa)
    settings = both_settings(api, wa, db_url, **BROADCAST_SETTINGS)
    running = WhatsAppBot(settings, wa, api)
    await running.start()
    check = Database(db_url)
    try:
        wrote = wa.customer("48601000100", "Ola")  # inside the window
        wrote.send_text("help")
        await wrote.wait_for_message(lambda m: m.type == "text", 10)
        before = len(wrote.messages)
        silent = [f"4860100{n:04d}" for n in range(4)]
        customers = [wa.customer(wa_id, f"P{n}") for n, wa_id in enumerate(silent)]
        await add_whatsapp_people(check, silent)
        owner = admin(api)
        preview = await preview_of(owner, f'/broadcast nps split A:"{OFFER_A}" B:"{OFFER_B}"')
        assert "On WhatsApp a message outside the 24-hour window is refused" in preview.text
        owner.press(preview, "✅ Send to 5")
        question = await wrote.wait_for_message(is_question, 15)
        for customer in customers:
            await customer.wait_for_message(is_template, 15)
        broadcast = await latest_broadcast(check)
        async with check.snapshot() as store:
            counts = await store.variants.counts(broadcast.id)
    finally:
        await check.dispose()
        await running.stop()
    assert counts == {"A": 3, "B": 2} or counts == {"A": 2, "B": 3}
    sent = [m for m in wrote.messages[before:]]
    texts = [m.text for m in sent if m.type == "text"]
    assert len(texts) == 1 and texts[0] in (OFFER_A, OFFER_B)
    assert sent.index(next(m for m in sent if m.type == "text")) < sent.index(question)
    for customer in customers:
        # No free text outside the window: the template alone, no refused send.
        assert [m.type for m in customer.messages] == ["template"]
    assert not any(m.status == "failed" for m in wa.messages)
