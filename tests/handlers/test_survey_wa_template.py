"""A survey's own WhatsApp template, from its card (shown when WhatsApp runs): typed and
checked, kept, or back to WHATSAPP_TEMPLATE."""

from __future__ import annotations

import dataclasses

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID

BUTTON = "✏️ WhatsApp template"


async def template_of(db: Database, slug: str) -> str | None:
    async with db.snapshot() as store:
        survey = await store.surveys.by_slug(slug)
        assert survey is not None
        return await store.surveys.whatsapp_template(survey.id)


async def test_the_card_sets_keeps_and_resets_the_template(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    async with check_db.transaction() as store:
        await store.surveys.add(slug="shop", name="Shop")
    owner = Talk(api, OWNER_ID)
    card = await owner.say("/surveys shop", "Shop · NPS")
    assert BUTTON not in card.button_texts  # no WhatsApp: no button
    assert bot.app is not None
    config = bot.app.pipeline.config
    bot.app.pipeline.config = dataclasses.replace(config, whatsapp_number="15550783881")
    card = await owner.say("/surveys shop", "Shop · NPS")
    ask = await owner.tap(card, BUTTON, "Now: WHATSAPP_TEMPLATE")
    await owner.say("Order Feedback!", "only lowercase letters, digits and _")
    await owner.say("order_feedback", "✅ «Shop» saved.")
    assert await template_of(check_db, "shop") == "order_feedback"
    card = await owner.expect("Shop · NPS")
    ask = await owner.tap(card, BUTTON, "Now: order_feedback")
    assert ask.button_texts[:2] == ["Keep «order_feedback»", "Use WHATSAPP_TEMPLATE"]
    await owner.tap(ask, "Keep «order_feedback»", "Nothing changed in «Shop».")
    card = await owner.expect("Shop · NPS")
    ask = await owner.tap(card, BUTTON, "Now: order_feedback")
    await owner.tap(ask, "Use WHATSAPP_TEMPLATE", "✅ «Shop» saved.")
    assert await template_of(check_db, "shop") is None
