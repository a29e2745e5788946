"""WhatsApp beside Telegram in one `npsbot run`, on both runtimes (polling): a WhatsApp
answer is counted under its channel in the owner's /nps, and a Telegram user's survey
still works."""

from __future__ import annotations

import pytest

from bot.emulator import BotApiEmulator
from bot.wa_emulator import CloudApiEmulator
from tests.e2e.conftest import make_settings
from tests.scenario import OWNER_ID, start_survey
from tests.whatsapp.conftest import WA_TOKEN, WhatsAppBot, wa_settings
from tests.whatsapp.score_lists import nps_score, question_lists
from tests.whatsapp.test_conversation import responses


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_both_channels_run_in_one_bot(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str, runtime: str
) -> None:
    whatsapp = wa_settings(wa, db_url).model_dump(include={"http_port", "whatsapp_api_url"})
    settings = make_settings(
        api,
        db_url,
        bot_framework=runtime,
        http_port=whatsapp["http_port"],
        whatsapp_token=WA_TOKEN,
        whatsapp_phone_number_id=wa.phone_number_id,
        whatsapp_app_secret="wa-app-secret-0123456789",
        whatsapp_verify_token="wa-verify-token-0123456789",
        whatsapp_api_url=whatsapp["whatsapp_api_url"],
        whatsapp_display_number="15550783881",
    )
    running = WhatsAppBot(settings, wa, api)
    await running.start()
    try:
        ana = wa.customer("447700900001", "Ana")
        ana.send_text("Hi")
        nps_score(ana, await question_lists(ana), 10)
        await ana.wait_for_message(lambda m: "Skip" in [b.title for b in m.buttons], 10)
        telegram_user = api.user(5001, "Tom")
        await start_survey(telegram_user)
        owner = api.user(OWNER_ID, "Owner")
        owner.send("/start")
        await owner.wait_for_message(lambda m: "How likely" in m.text, 10)
        owner.send("/nps by channel")
        report = await owner.wait_for_message(lambda m: "whatsapp" in m.text.lower(), 10)
        assert "whatsapp" in report.text.lower()
        owner.send("/link nps shop")
        link = await owner.wait_for_message(lambda m: "wa.me" in m.text, 10)
        assert "https://wa.me/15550783881?text=start%20nps__s-shop" in link.text
        rows = await responses(running.db)
        assert sorted(r.messenger for r in rows) == ["telegram", "telegram", "whatsapp"]
    finally:
        await running.stop()
