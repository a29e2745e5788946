"""Issue 9, items 7 and 10: replies survive a crash between commit and send, the old score
keyboard asks a lost follow-up again, and stopping never waits out Telegram's 429s."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.emulator import BotApiEmulator
from bot.pipeline import DeliveryPolicy, Pipeline
from storage.db import Database
from storage.outbox_models import KeptReplies
from tests.e2e.conftest import TOKEN, RunningBot, responses_of, start_survey, wait_db
from tests.e2e.test_cli import _env, _npsbot

FOLLOW_UP = "disappointed"  # the "why" question after a detractor score
STOP_WITHIN = 10.0  # seconds: the bound for a stop, whatever Telegram says


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


async def outbox_rows(db: Database) -> int:
    async with db.snapshot() as store:
        session = store.responses._session
        return int(await session.scalar(select(func.count()).select_from(KeptReplies)) or 0)


async def test_a_follow_up_lost_to_a_crash_after_the_commit_is_sent_at_the_next_start(
    api: BotApiEmulator,
    bot: RunningBot,
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
    assert await wait_db(check_db, lambda db: _no_rows(db))
    # The re-sent question is the prompt again (its after-send job was kept as data):
    # answering it by text closes that message's Skip button.
    ann.send("Too slow")
    await ann.wait_for_message(lambda m: "give us a 10" in m.text)
    closed = ann.message(follow_up.message_id)
    assert closed is not None and closed.keyboard == []
    [response] = await responses_of(check_db, 7301)
    assert response.why == "Too slow"


async def _no_rows(db: Database) -> bool:
    return await outbox_rows(db) == 0


async def test_pressing_the_old_score_keyboard_asks_the_lost_follow_up_again(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
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


async def test_a_stop_while_telegram_asks_to_retry_after_400_s_ends_within_10_s(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
) -> None:
    cid = api.user(7303, first_name="Cid", language_code="en")
    api.inject_fault(method="sendMessage", status=429, retry_after=400, times=None)
    cid.send("/start")
    await api.wait_until(
        lambda: any(c.status == 429 for c in api.calls_for("sendMessage")), timeout=5
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(STOP_WITHIN):  # a deadline, not a sleep: fails past 10 s
        await bot.stop()
    assert loop.time() - began < STOP_WITHIN
    assert not any("recommend" in m.text for m in cid.bot_messages)
    assert await outbox_rows(check_db) == 1  # the greeting and the question are kept

    api.clear_faults()
    await bot.start()
    await cid.wait_for_message(lambda m: "recommend" in m.text)
    await bot.idle()
    texts = [m.text for m in cid.bot_messages]
    assert sum("recommend" in t for t in texts) == 1
    assert sum(t.startswith("Hi Cid!") for t in texts) == 1
    assert await wait_db(check_db, lambda db: _no_rows(db))
    question = next(m for m in cid.bot_messages if "recommend" in m.text)
    cid.press(question, "9")
    await cid.wait_for_message(lambda m: "like most" in m.text)


async def test_a_stop_while_a_send_hangs_ends_within_10_s_and_the_reply_is_kept(
    api: BotApiEmulator, bot: RunningBot, check_db: Database
) -> None:
    dot = api.user(7304, first_name="Dot", language_code="en")
    question = await start_survey(dot)
    api.inject_delay(method="sendMessage", seconds=60, times=1)  # Telegram never answers
    dot.press(question, "9")
    await api.wait_until(
        lambda: any(c.status == 0 for c in api.calls_for("sendMessage")), timeout=5
    )
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(STOP_WITHIN):
        await bot.stop()
    assert loop.time() - began < STOP_WITHIN
    assert await outbox_rows(check_db) == 1

    await bot.start()
    await dot.wait_for_message(lambda m: "like most" in m.text)
    assert await wait_db(check_db, lambda db: _no_rows(db))


@pytest.mark.parametrize("framework", ["aiogram", "ptb"])
async def test_sigterm_to_npsbot_run_during_a_429_exits_within_10_s_and_the_next_run_sends(
    api: BotApiEmulator, tmp_path: Path, framework: str
) -> None:
    db_path = tmp_path / "npsbot.db"
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        BRAND_NAME="Acme",
        BOT_FRAMEWORK=framework,
        DIGEST_TIME="off",
    )
    process = await _npsbot(tmp_path, env, "run")
    try:
        await api.wait_until(lambda: api.calls_for("getUpdates"), timeout=30)
        api.inject_fault(method="sendMessage", status=429, retry_after=400, times=None)
        eve = api.user(7305, first_name="Eve", language_code="en")
        eve.send("/start")
        await api.wait_until(
            lambda: any(c.status == 429 for c in api.calls_for("sendMessage")), timeout=10
        )
    finally:
        process.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        began = loop.time()
        async with asyncio.timeout(STOP_WITHIN):
            _, stderr = await process.communicate()
    assert loop.time() - began < STOP_WITHIN
    assert process.returncode == 0, stderr.decode()
    assert not any("recommend" in m.text for m in eve.bot_messages)

    api.clear_faults()
    process = await _npsbot(tmp_path, env, "run")
    try:
        await eve.wait_for_message(lambda m: "recommend" in m.text, timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.communicate(), timeout=30)
    assert sum("recommend" in m.text for m in eve.bot_messages) == 1
