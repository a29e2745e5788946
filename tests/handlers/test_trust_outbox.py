"""Issue 9, items 7 and 10, at the handler tier: replies survive a crash between commit
and send, and the old score keyboard asks a lost follow-up again."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from bot.pipeline import DeliveryPolicy, Pipeline
from storage.db import Database
from tests.handlers.harness import HandlerBot
from tests.scenario import no_outbox_rows, outbox_rows, responses_of, start_survey, wait_db

FOLLOW_UP = "disappointed"  # the "why" question after a detractor score


class CrashAfterCommit:
    """While armed, a unit of work commits but its replies are never sent: the process
    "dies" between the commit and the first send (kill -9), as nothing after the commit
    runs — no send, no after-send job, no outbox bookkeeping."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed = False
        self.swallowed = 0
        original = Pipeline.deliver

        async def deliver(pipeline: Pipeline, outbox: Any, port: Any, *rest: Any) -> None:
            if self.armed:
                self.swallowed += 1
                return
            await original(pipeline, outbox, port, *rest)

        monkeypatch.setattr(Pipeline, "deliver", deliver)


async def test_a_follow_up_lost_to_a_crash_after_the_commit_is_sent_at_the_next_start(
    api: BotApiEmulator,
    bot: HandlerBot,
    check_db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crash = CrashAfterCommit(monkeypatch)
    ann = api.user(7301, first_name="Ann", language_code="en")
    question = await start_survey(ann)
    crash.armed = True
    ann.press(question, "4")

    async def scored(db: Database) -> bool:
        return any(r.score == 4 for r in await responses_of(db, 7301))

    await wait_db(check_db, scored)
    await bot.idle()
    await bot.crash()  # kill -9: the score is committed, nothing was sent
    crash.armed = False
    assert crash.swallowed == 1
    assert not any(FOLLOW_UP in m.text for m in ann.bot_messages)
    assert await outbox_rows(check_db) == 1

    await bot.start()
    follow_up = await ann.wait_for_message(lambda m: FOLLOW_UP in m.text)
    await bot.idle()
    # Exactly once: nothing was sent before the crash, so nothing arrives twice.
    assert sum(FOLLOW_UP in m.text for m in ann.bot_messages) == 1
    # The kept edit went out too: the question shows the score and has no buttons left.
    assert "your answer: 4" in ann.message(question.message_id).text  # type: ignore[union-attr]
    assert ann.message(question.message_id).keyboard == []  # type: ignore[union-attr]
    assert await wait_db(check_db, no_outbox_rows)
    # The re-sent question is the prompt again (its after-send job was kept as data):
    # answering it by text closes that message's Skip button.
    ann.send("Too slow")
    await ann.wait_for_message(lambda m: "give us a 10" in m.text)
    closed = ann.message(follow_up.message_id)
    assert closed is not None and closed.keyboard == []
    [response] = await responses_of(check_db, 7301)
    assert response.why == "Too slow"


async def test_pressing_the_old_score_keyboard_asks_the_lost_follow_up_again(
    api: BotApiEmulator, bot: HandlerBot, check_db: Database
) -> None:
    bea = api.user(7302, first_name="Bea", language_code="en")
    question = await start_survey(bea)
    # Telegram fails the edit and the follow-up and the bot gives up on them: the score is
    # taken, the keyboard is still live, and no "why?" arrived.
    assert bot.app is not None
    bot.app.pipeline.policy = DeliveryPolicy(max_attempts=1)
    api.inject_fault(method="editMessageText", status=502, times=1, chat_id=7302)
    api.inject_fault(method="sendMessage", status=502, times=1, chat_id=7302)
    first = bea.press(question, "4")
    await bea.wait_callback_answer(first)
    await bot.idle()
    assert not any(FOLLOW_UP in m.text for m in bea.bot_messages)
    assert [r.score for r in await responses_of(check_db, 7302)] == [4]

    again = bea.press(question, "9")
    answer = await bea.wait_callback_answer(again)
    assert "already answered: 4" in (answer.text or "")
    await bea.wait_for_message(lambda m: FOLLOW_UP in m.text)
    await bot.idle()
    assert sum(FOLLOW_UP in m.text for m in bea.bot_messages) == 1
    shown = bea.message(question.message_id)
    assert shown is not None and shown.keyboard == [] and "your answer: 4" in shown.text
    assert [r.score for r in await responses_of(check_db, 7302)] == [4]
