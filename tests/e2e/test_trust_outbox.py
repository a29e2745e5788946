"""Issue 9, item 10, through each runtime: stopping never waits out Telegram's 429s or a
hanging call, and what was not sent is sent at the next start (the crash and the lost
follow-up are tested at the handler tier, tests/handlers/test_trust_outbox.py)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from storage.db import Database
from tests.e2e.conftest import TOKEN, RunningBot, start_survey, wait_db
from tests.e2e.test_cli import _env, _npsbot
from tests.scenario import no_outbox_rows, outbox_rows

STOP_WITHIN = 10.0  # seconds: the bound for a stop, whatever Telegram says


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
    assert await wait_db(check_db, no_outbox_rows)
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
    assert await wait_db(check_db, no_outbox_rows)


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
