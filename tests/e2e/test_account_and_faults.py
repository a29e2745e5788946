"""Through each runtime: blocking the bot (my_chat_member), Telegram answering 429 / 403 /
400 / 5xx or slowly, and the command menu published per language. The conversations of
/help, /stop and /language are tested at the handler tier (tests/handlers/test_account.py)."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.e2e.conftest import (
    QUESTION,
    RunningBot,
    give_score,
    respondent_of,
    responses_of,
    start_survey,
    wait_db,
)


async def test_blocking_marks_the_respondent_unreachable(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
) -> None:
    user = api.user(207, first_name="Sam", language_code="en")
    await start_survey(user)
    user.block_bot()

    async def unreachable(db: Database) -> bool:
        respondent = await respondent_of(db, 207)
        return respondent is not None and respondent.unreachable

    await wait_db(check_db, unreachable)
    user.unblock_bot()

    async def reachable(db: Database) -> bool:
        respondent = await respondent_of(db, 207)
        return respondent is not None and not respondent.unreachable

    await wait_db(check_db, reachable)


async def test_403_while_replying_marks_unreachable_and_the_bot_goes_on(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
) -> None:
    user = api.user(208, first_name="Tom", language_code="en")
    api.inject_fault(method="sendMessage", status=403, chat_id=208, times=1)
    user.send("/start")

    async def unreachable(db: Database) -> bool:
        respondent = await respondent_of(db, 208)
        return respondent is not None and respondent.unreachable

    await wait_db(check_db, unreachable)
    # The rest of that reply is dropped for the unreachable chat; other users are served.
    other = api.user(209, first_name="Uma", language_code="en")
    await start_survey(other)
    assert [c.status for c in api.calls_for("sendMessage") if c.params.get("chat_id") == 208] == [
        403
    ]


async def test_429_waits_retry_after_and_delivers(api: BotApiEmulator, bot: RunningBot) -> None:
    user = api.user(210, first_name="Vic", language_code="en")
    api.inject_fault(method="sendMessage", status=429, retry_after=1, times=1)
    user.send("/start")
    await user.wait_for_message(lambda m: QUESTION in m.text, timeout=10)
    statuses = [c.status for c in api.calls_for("sendMessage")]
    assert statuses[0] == 429 and statuses.count(200) == 2
    first_ok = next(c for c in api.calls_for("sendMessage") if c.status == 200)
    assert first_ok.at - api.calls_for("sendMessage")[0].at >= 1.0  # honoured retry_after


async def test_5xx_is_retried_with_backoff(api: BotApiEmulator, bot: RunningBot) -> None:
    user = api.user(211, first_name="Wes", language_code="en")
    api.inject_fault(method="sendMessage", status=502, times=2)
    user.send("/start")
    await user.wait_for_message(lambda m: QUESTION in m.text, timeout=10)
    assert [c.status for c in api.calls_for("sendMessage")][:3] == [502, 502, 200]
    assert sum(m.text.startswith("Hi Wes!") for m in user.bot_messages) == 1


async def test_400_on_one_reply_is_logged_and_the_conversation_continues(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
) -> None:
    user = api.user(212, first_name="Xia", language_code="en")
    api.inject_fault(
        method="editMessageText", status=400, description="Bad Request: message to edit not found"
    )
    await give_score(user, 9, "like most")
    [response] = await responses_of(check_db, 212)
    assert response.score == 9


async def test_a_slow_api_answer_delays_but_loses_nothing(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
) -> None:
    user = api.user(213, first_name="Yan", language_code="en")
    api.inject_delay(method="sendMessage", seconds=0.5, times=2)
    user.send("/start")
    question = await user.wait_for_message(lambda m: QUESTION in m.text, timeout=10)
    user.press(question, "7")
    await user.wait_for_message(lambda m: "main reason" in m.text)
    [response] = await responses_of(check_db, 213)
    assert response.score == 7


async def test_command_menu_is_published_per_language(
    api: BotApiEmulator, bot: RunningBot
) -> None:
    calls = [
        c for c in api.calls_for("setMyCommands") if c.status == 200 and not c.params.get("scope")
    ]
    by_language = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_language) == {None, "ru", "ro", "pl"}
    assert [c["command"] for c in by_language[None]] == ["start", "help", "language", "stop"]
    assert by_language["ru"][0]["description"] == "Пройти опрос"
