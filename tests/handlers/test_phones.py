"""Phone-keyed people (issue 11): a survey that asks offers one tap to share the phone
number after its thanks; only the sender's own contact is stored, in E.164, as their
phone address; /phone shows, shares again or removes it; /mydata shows it, /forgetme
erases it; a number moves to the person who proves it is theirs."""

from __future__ import annotations

import json

import pytest

from bot.emulator import BotApiEmulator
from bot.emulator.models import ReplyButton
from handlers.callbacks import pack
from handlers.phones import PhoneAction
from handlers.survey_views import SurveyAction
from storage.db import Database
from tests.admin_helpers import make_survey
from tests.broadcast_helpers import admin, reply_to
from tests.conftest import BACKENDS
from tests.handlers.harness import HandlerBot
from tests.phone_helpers import (
    NOT_NOW,
    OFFER,
    SAVED,
    SHARE,
    answer_to_the_end,
    holder_of,
    imported_phones,
    people_count,
    phone_addresses,
    phone_of,
)
from tests.scenario import add_survey, person_id, respondent_of

SHARE_KEYBOARD = [[ReplyButton(SHARE, request_contact=True)], [ReplyButton(NOT_NOW)]]


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_survey_that_asks_offers_one_tap_and_stores_the_own_number_in_e164(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await add_survey(check_db, slug="delivery", name="Delivery", ask_phone=True)
    anna = api.user(1001, first_name="Anna")
    thanks = await answer_to_the_end(anna, "/start delivery")
    offer = await anna.wait_for_message(lambda m: OFFER in m.text)
    # After the thanks, with a line saying why, and the keyboard under the input field.
    assert offer.message_id > thanks.message_id
    assert "recognises you when you call" in offer.text
    assert offer.reply_keyboard == SHARE_KEYBOARD and anna.reply_keyboard == SHARE_KEYBOARD
    anna.share_contact("37369123456")  # Telegram sends the number without "+"
    saved = await anna.wait_for_message(lambda m: SAVED in m.text)
    assert "+373 691 23 456" in saved.text
    assert saved.removes_keyboard and anna.reply_keyboard is None
    assert await phone_of(check_db, 1001) == "+37369123456"
    assert await holder_of(check_db, "+37369123456") == await person_id(check_db, 1001)
    # Answering again: the number is known, so nothing is offered.
    again = await answer_to_the_end(anna, "/start delivery")
    await bot.idle()
    assert not [m for m in anna.bot_messages if m.message_id > again.message_id]


async def test_no_offer_when_the_survey_does_not_ask_or_is_anonymous(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await add_survey(check_db, slug="team", name="Team", kind="enps", ask_phone=True)
    ben = api.user(1002, first_name="Ben")
    thanks = await answer_to_the_end(ben)  # the default survey does not ask
    await bot.idle()
    assert not [m for m in ben.bot_messages if m.message_id > thanks.message_id]
    thanks = await answer_to_the_end(ben, "/start team")  # anonymous: never asks
    await bot.idle()
    assert not [m for m in ben.bot_messages if m.message_id > thanks.message_id]
    assert ben.reply_keyboard is None
    assert not any(m.reply_keyboard for m in ben.bot_messages)


async def test_someone_elses_contact_or_an_unreadable_number_stores_nothing(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    cleo = api.user(1003, first_name="Cleo")
    cleo.send("/start")
    await cleo.wait_for_message(lambda m: "recommend" in m.text)
    cleo.send_contact("+48601234567", user_id=2002, first_name="Bob")  # forwarded
    refused = await cleo.wait_for_message(lambda m: "someone else's contact" in m.text)
    cleo.send_contact("+48601234567", first_name="Eve")  # from the address book
    await cleo.wait_for_message(
        lambda m: m.message_id > refused.message_id and "someone else's" in m.text
    )
    cleo.send_contact("12", user_id=cleo.id, first_name="Cleo")  # her own, but no number
    unreadable = await cleo.wait_for_message(lambda m: "could not read" in m.text)
    assert "12" in unreadable.text
    await bot.idle()
    assert await phone_addresses(check_db) == {}
    # The open question still waits: a contact is never taken for an answer.
    cleo.send("8")
    await cleo.wait_for_message(lambda m: "main reason for your score" in m.text)


async def test_not_now_takes_the_keyboard_away_and_stores_nothing(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await add_survey(check_db, slug="delivery", name="Delivery", ask_phone=True)
    dan = api.user(1004, first_name="Dan")
    await answer_to_the_end(dan, "/start delivery")
    await dan.wait_for_message(lambda m: OFFER in m.text)
    dan.tap_reply(NOT_NOW)
    answer = await dan.wait_for_message(lambda m: "no phone number" in m.text)
    assert answer.removes_keyboard and dan.reply_keyboard is None
    assert "/phone" in answer.text
    assert await phone_of(check_db, 1004) is None
    # In the user's language, from /phone as well.
    zoe = api.user(1010, first_name="Зоя", language_code="ru")
    offer = await reply_to(zoe, "/phone", "Вы не делились номером телефона")
    assert offer.reply_keyboard == [
        [ReplyButton("📱 Поделиться номером", request_contact=True)],
        [ReplyButton("Не сейчас")],
    ]
    zoe.tap_reply("Не сейчас")
    answer = await zoe.wait_for_message(lambda m: "без номера" in m.text)
    assert answer.removes_keyboard and zoe.reply_keyboard is None


async def test_phone_shows_shares_again_and_removes_the_number(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    eva = api.user(1005, first_name="Eva")
    none = await reply_to(eva, "/phone", "You have not shared a phone number")
    assert none.reply_keyboard == SHARE_KEYBOARD
    eva.share_contact("48601234567")
    await eva.wait_for_message(lambda m: SAVED in m.text)
    status = await reply_to(eva, "/phone", "Your phone number: +48 601 234 567")
    assert status.button_texts == ["📱 Share it again", "🗑 Remove it"]
    eva.press(status, "📱 Share it again")
    again = await eva.wait_for_message(lambda m: "Tap the button below" in m.text)
    assert again.reply_keyboard == SHARE_KEYBOARD
    assert (await eva.wait_for_message(lambda m: m.message_id == status.message_id)).buttons == []
    eva.share_contact("+37369123456")  # a new number replaces the old one
    await eva.wait_for_message(lambda m: "+373 691 23 456" in m.text and SAVED in m.text)
    assert await phone_addresses(check_db) == {"+37369123456": await person_id(check_db, 1005)}
    status = await reply_to(eva, "/phone", "Your phone number: +373 691 23 456")
    eva.press(status, "🗑 Remove it")
    removed = await eva.wait_for_message(lambda m: "is removed" in m.text)
    assert "+373 691 23 456" in removed.text
    assert await phone_of(check_db, 1005) is None
    await reply_to(eva, "/phone remove", "There is no phone number of yours to remove")
    forged = eva.press_data(status, pack(PhoneAction("bogus")))
    assert (await eva.wait_callback_answer(forged)).show_alert
    assert await phone_of(check_db, 1005) is None


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_mydata_shows_the_number_and_forgetme_erases_it(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    owner = admin(api)
    await reply_to(owner, "/import\nid,phone\n1006,+37369123456", "Contact list imported")
    fay = api.user(1006, first_name="Fay")
    fay.send("/start")  # her first update adopts the imported number
    await fay.wait_for_message(lambda m: "recommend" in m.text)
    assert await phone_of(check_db, 1006) == "+37369123456"
    summary = await reply_to(fay, "/mydata", "What I store about you")
    assert "Phone number: +373 691 23 456" in summary.text
    sent = await fay.wait_for_message(lambda m: m.document is not None)
    assert sent.document is not None
    profile = json.loads(sent.document.data)["profile"]
    assert {"channel": "phone", "address": "+37369123456", "chat": None} in profile["addresses"]
    confirm = await reply_to(fay, "/forgetme", "Erase your data?")
    fay.press(confirm, "🗑 Erase")
    await fay.wait_for_message(lambda m: "your data is erased" in m.text)
    await bot.idle()
    assert await phone_addresses(check_db) == {}
    assert 1006 not in await imported_phones(check_db)
    assert await respondent_of(check_db, 1006) is None


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_number_moves_to_the_person_who_shares_it_as_their_own(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    gil, hal = api.user(1007, first_name="Gil"), api.user(1008, first_name="Hal")
    await reply_to(gil, "/phone", "You have not shared")
    gil.share_contact("37369123456")
    await gil.wait_for_message(lambda m: SAVED in m.text)
    # The carrier gave Gil's old number to Hal: Hal proves it, so it is his now.
    await reply_to(hal, "/phone", "You have not shared")
    hal.share_contact("37369123456")
    await hal.wait_for_message(lambda m: SAVED in m.text)
    assert await phone_addresses(check_db) == {"+37369123456": await person_id(check_db, 1008)}
    assert await respondent_of(check_db, 1007) is not None  # Gil keeps everything else
    # A placeholder (a phone-only line of an import) gives the number up and goes.
    owner = admin(api)
    await reply_to(owner, "/import\n+48601234567,pl,shop,,Ida", "Contact list imported")
    placeholder = await holder_of(check_db, "+48601234567")
    assert placeholder is not None
    async with check_db.snapshot() as store:
        shell = await store.respondents.get(placeholder)
    assert shell is not None and shell.telegram_id is None and shell.first_name == "Ida"
    people = await people_count(check_db)
    ida = api.user(1009, first_name="Ida")
    await reply_to(ida, "/phone", "You have not shared")
    ida.share_contact("48601234567")
    await ida.wait_for_message(lambda m: SAVED in m.text)
    assert await holder_of(check_db, "+48601234567") == await person_id(check_db, 1009)
    async with check_db.snapshot() as store:
        assert await store.respondents.get(placeholder) is None
    assert await people_count(check_db) == people  # Ida came, the placeholder went


async def test_the_survey_card_shows_and_toggles_asking_for_the_phone(
    bot: HandlerBot, api: BotApiEmulator, check_db: Database
) -> None:
    await make_survey(check_db, "delivery", "Delivery")
    team = await make_survey(check_db, "team", "Team", kind="enps")
    owner = admin(api)
    card = await reply_to(owner, "/surveys delivery", "Delivery")
    assert "Phone number after the thanks: not asked" in card.text
    owner.press(card, "📱 Ask for the phone number")
    card = await owner.wait_for_message(
        lambda m: m.message_id == card.message_id and "asked (one tap" in m.text
    )
    assert card.button("📵 Stop asking for the phone number") is not None
    async with check_db.snapshot() as store:
        survey = await store.surveys.by_slug("delivery")
        assert survey is not None and survey.ask_phone
    owner.press(card, "📵 Stop asking for the phone number")
    await owner.wait_for_message(
        lambda m: m.message_id == card.message_id and "thanks: not asked" in m.text
    )
    async with check_db.snapshot() as store:
        survey = await store.surveys.by_slug("delivery")
        assert survey is not None and not survey.ask_phone
    # An anonymous survey's card offers no such button, and a forged press is refused.
    enps = await reply_to(owner, "/surveys team", "Team")
    assert "Phone number" not in enps.text
    assert not [b for b in enps.button_texts if "phone" in b]
    forged = owner.press_data(enps, pack(SurveyAction(team, "phone_on")))
    answer = await owner.wait_callback_answer(forged)
    assert answer.show_alert and "never asks for a phone number" in (answer.text or "")
    async with check_db.snapshot() as store:
        survey = await store.surveys.by_slug("team")
        assert survey is not None and not survey.ask_phone
