"""/help, /stop, /language and the client's language, at the handler tier."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.handlers.harness import HandlerBot
from tests.scenario import QUESTION, give_score, respondent_of, responses_of, start_survey


async def test_help_lists_the_commands(api: BotApiEmulator, bot: HandlerBot) -> None:
    user = api.user(201, first_name="Olga", language_code="en")
    user.send("/help")
    text = (await user.wait_for_message(lambda m: "/stop" in m.text)).text
    for command in ("/start", "/language", "/stop", "/help"):
        assert command in text


async def test_unknown_command_points_to_help(api: BotApiEmulator, bot: HandlerBot) -> None:
    user = api.user(202, first_name="Pia", language_code="en")
    user.send("/stats")
    await user.wait_for_message(lambda m: "I don't know that command" in m.text)


async def test_stop_unsubscribes_and_start_subscribes_again(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(203, first_name="Quinn", language_code="en")
    await start_survey(user)
    user.send("/stop")
    await user.wait_for_message(lambda m: "will not receive any more surveys" in m.text)
    respondent = await respondent_of(check_db, 203)
    assert respondent is not None and not respondent.subscribed
    user.send("/start")
    await api.wait_until(lambda: sum(QUESTION in m.text for m in user.bot_messages) == 2)
    respondent = await respondent_of(check_db, 203)
    assert respondent is not None and respondent.subscribed


async def test_language_switch_repeats_the_pending_question(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    user = api.user(204, first_name="Rita", language_code="en")
    await give_score(user, 3, "disappointed")
    user.send("/language")
    menu = await user.wait_for_message(lambda m: m.text == "Choose your language:")
    assert {b.text for row in menu.keyboard for b in row} == {
        "English",
        "Русский",
        "Română",
        "Polski",
    }
    user.press(menu, "Русский")
    await user.wait_for_message(lambda m: "Что вас больше всего разочаровало?" in m.text)
    assert any(m.text == "Язык изменён: русский." for m in user.bot_messages)
    respondent = await respondent_of(check_db, 204)
    assert respondent is not None and respondent.language_override == "ru"
    user.send("Долго ждал")
    await user.wait_for_message(lambda m: "Что нам сделать, чтобы вы поставили 10?" in m.text)
    [response] = await responses_of(check_db, 204)
    # The answer keeps the language it was asked in (its invitation's segment).
    assert (response.language, response.why) == ("en", "Долго ждал")


async def test_russian_client_gets_russian_and_unknown_language_gets_english(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    ru = api.user(205, first_name="Саша", language_code="ru")
    ru.send("/start")
    await ru.wait_for_message(lambda m: m.text.startswith("Здравствуйте, Саша!"))
    await ru.wait_for_message(lambda m: "порекомендуете Acme другу или коллеге" in m.text)
    de = api.user(206, first_name="Uwe", language_code="de")
    await start_survey(de)
