"""Issue 9, item 20: once a question is answered no 0–10 keyboard is left anywhere in the
chat (older copies, hints), and the "type a number" hint stays a plain message of its own."""

from __future__ import annotations

from bot.emulator import BotApiEmulator
from bot.emulator.models import ChatMessage
from storage.db import Database
from tests.dialog_helpers import Talk
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, QUESTION, responses_of

HINT = "Please choose a number from 0 to 10"
SCORES = {str(s) for s in range(11)}


def score_keyboards(messages: list[ChatMessage]) -> list[int]:
    """Bot messages still showing a 0–10 button."""
    return [m.message_id for m in messages if SCORES & set(m.button_texts) and not m.deleted]


async def test_no_score_keyboard_is_left_once_the_question_is_answered(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    cleo = Talk(api, 2001, first_name="Cleo")
    first = await cleo.say("/start", QUESTION)
    # Start again, words, a sticker, an out-of-range number: each asks the question again.
    await cleo.say("/start", QUESTION)
    hint = await cleo.say("hello", HINT)
    await cleo.expect(QUESTION)
    cleo.user.send_sticker()
    await cleo.expect(HINT)
    await cleo.expect(QUESTION)
    latest = await cleo.say("11", QUESTION)
    # Only the newest copy of the question keeps its buttons while it waits.
    assert score_keyboards(cleo.user.bot_messages) == [latest.message_id]
    # A hint is a plain message of its own: no buttons, no copy of the question.
    assert hint.keyboard == [] and QUESTION not in hint.text
    await cleo.say("8", "main reason for your score")
    [response] = await responses_of(check_db, 2001)
    assert response.score == 8
    messages = cleo.user.bot_messages
    assert score_keyboards(messages) == [], cleo.user.transcript()
    # The copy the answer was typed under shows it; the hints stayed hints.
    assert [m.message_id for m in messages if "your answer: 8" in m.text] == [latest.message_id]
    hints = [m for m in messages if HINT in m.text]
    assert len(hints) == 3
    assert all(m.keyboard == [] and QUESTION not in m.text for m in hints)
    shown = cleo.user.message(first.message_id)
    assert shown is not None and QUESTION in shown.text and shown.keyboard == []


async def test_pressing_an_older_copy_still_works_and_clears_the_newer_one(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    dan = Talk(api, 2002, first_name="Dan")
    await dan.say("/start", QUESTION)
    await dan.say("seven", HINT)
    latest = await dan.expect(QUESTION)
    await dan.tap(latest, "7", "main reason")
    assert score_keyboards(dan.user.bot_messages) == [], dan.user.transcript()
    [response] = await responses_of(check_db, 2002)
    assert response.score == 7


async def test_the_preparing_note_goes_once_the_export_file_is_there(
    api: BotApiEmulator, bot: HandlerBot
) -> None:
    owner = api.user(OWNER_ID, first_name="Olga")
    owner.send("/export csv")
    await api.wait_until(lambda: any(m.document for m in owner.bot_messages), timeout=30)
    [note] = [m for m in owner.bot_messages if m.text.startswith("⏳")]
    [file] = [m for m in owner.bot_messages if m.document is not None]
    assert note.message_id < file.message_id
    # Deleted once the file arrived (the file replaces it); nothing else is left behind.
    await api.wait_until(lambda: note.deleted, timeout=10)
    assert [m.message_id for m in owner.bot_messages if not m.deleted] == [file.message_id]
    assert api.calls_for("deleteMessage")[-1].params["message_id"] == note.message_id
