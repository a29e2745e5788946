"""Phone-keyed people end to end (issue 11), on each runtime's real Bot over HTTP: the
thank-you of a survey that asks brings a reply keyboard with a request_contact button, the
contact Telegram sends for the tap arrives, and its number is stored in E.164."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from bot.emulator.models import ReplyButton
from storage.db import Database
from tests.e2e.conftest import RunningBot
from tests.phone_helpers import NOT_NOW, OFFER, SAVED, SHARE, answer_to_the_end, phone_of
from tests.scenario import add_survey


async def test_the_share_button_is_rendered_and_the_shared_contact_is_stored(
    bot: RunningBot, api: BotApiEmulator, check_db: Database
) -> None:
    await add_survey(check_db, slug="delivery", name="Delivery", ask_phone=True)
    anna = api.user(1001, first_name="Anna")
    await answer_to_the_end(anna, "/start delivery")
    offer = await anna.wait_for_message(lambda m: OFFER in m.text)
    keyboard = [[ReplyButton(SHARE, request_contact=True)], [ReplyButton(NOT_NOW)]]
    assert offer.reply_keyboard == keyboard and anna.reply_keyboard == keyboard
    [call] = [
        c
        for c in api.calls_for("sendMessage")
        if c.result and c.result.get("message_id") == offer.message_id
    ]
    assert call.params["reply_markup"]["one_time_keyboard"] is True
    anna.share_contact("37369123456")
    saved = await anna.wait_for_message(lambda m: SAVED in m.text)
    assert "+373 691 23 456" in saved.text
    assert saved.removes_keyboard and anna.reply_keyboard is None
    assert await phone_of(check_db, 1001) == "+37369123456"
