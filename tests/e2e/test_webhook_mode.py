"""Telegram webhook mode on both runtimes: the emulator POSTs updates to npsbot's own HTTP
server (WEBHOOK_URL, WEBHOOK_SECRET), and a real HTTP client plays a forger and Telegram
redelivering. Route-level details (every malformed body): tests/unit/test_telegram_webhook.py.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import StartupError
from bot.emulator import BotApiEmulator, EmulatedUser
from bot.settings import Settings
from storage.db import Database
from storage.models import ProcessedUpdate
from tests.conftest import BACKENDS
from tests.e2e.conftest import (
    QUESTION,
    RUN_POLLING,
    TOKEN,
    RunningBot,
    make_settings,
    respondent_of,
    responses_of,
    start_survey,
)
from tests.e2e.test_cli import _env, _npsbot
from tests.scenario import outbox_rows

SECRET = "e2e-webhook_secret-0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What npsbot's handlers consume; both runtimes must subscribe to exactly these.
USED_UPDATES = {"message", "callback_query", "my_chat_member"}


def free_port() -> int:
    """A local TCP port nobody listens on right now (WEBHOOK_URL must name it up front)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def webhook_settings(api: BotApiEmulator, db_url: str, runtime: str) -> Settings:
    """Settings for webhook mode on a free port, served at /telegram/hook."""
    port = free_port()
    return make_settings(
        api,
        db_url,
        bot_framework=runtime,
        http_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram/hook",
        webhook_secret=SECRET,
    )


class WebhookBot(RunningBot):
    """npsbot in webhook mode: started once it has set its webhook (it never polls)."""

    async def start(self) -> None:
        """Starts the bot and waits until setWebhook succeeded (the server listens by then)."""
        before = len(self.api.calls_for("setWebhook"))
        self.stop_event = asyncio.Event()
        run = RUN_POLLING[self.settings.bot_framework]
        task = asyncio.create_task(
            run(self.settings, stop=self.stop_event, on_start=self._started)
        )
        self.task = task

        def webhook_set() -> bool:
            return any(c.status == 200 for c in self.api.calls_for("setWebhook")[before:])

        await self.api.wait_until(lambda: webhook_set() or task.done(), timeout=15)
        if task.done():
            task.result()  # surface the start-up error


@pytest.fixture
async def hook_bot(api: BotApiEmulator, db_url: str, runtime: str) -> AsyncIterator[WebhookBot]:
    """npsbot in webhook mode on the parametrized runtime and database."""
    running = WebhookBot(webhook_settings(api, db_url, runtime), api)
    await running.start()
    yield running
    await running.stop()


def start_update(update_id: int, user: EmulatedUser) -> dict[str, Any]:
    """A "/start" message update as Telegram would post it."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10_000 + update_id % 10_000,
            "date": int(time.time()),
            "chat": user.chat_payload(),
            "from": user.user_payload(),
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """One POST with a real HTTP client; the status and the JSON answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as response,
    ):
        return response.status, await response.json(content_type=None)


async def processed(db: Database, update_id: int) -> int:
    """How many times this update_id is recorded as handled (0 or 1)."""
    async with db.snapshot() as store:
        session = store.responses._session
        query = select(func.count()).where(ProcessedUpdate.update_id == update_id)
        return int(await session.scalar(query) or 0)


def questions(user: EmulatedUser) -> int:
    return sum(QUESTION in m.text for m in user.bot_messages)


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_survey_is_answered_end_to_end_in_webhook_mode(
    api: BotApiEmulator, hook_bot: WebhookBot, check_db: Database
) -> None:
    settings = hook_bot.settings
    [set_webhook] = api.calls_for("setWebhook")
    assert set_webhook.params["url"] == settings.webhook_url
    assert set_webhook.params["secret_token"] == SECRET
    assert set(set_webhook.params["allowed_updates"]) == USED_UPDATES

    ann = api.user(5101, first_name="Ann", language_code="en")
    question = await start_survey(ann)
    ann.press(question, "7")
    await ann.wait_for_message(lambda m: "main reason" in m.text)
    ann.send("Fast delivery")
    await ann.wait_for_message(lambda m: "give us a 10" in m.text)
    ann.send("Cheaper shipping")
    await ann.wait_for_message(lambda m: m.text.startswith("Thank you, Ann!"))
    await hook_bot.idle()

    [response] = await responses_of(check_db, 5101)
    assert (response.score, response.why, response.improve, response.step) == (
        7,
        "Fast delivery",
        "Cheaper shipping",
        "done",
    )
    # Every update came through the webhook, each accepted at the first attempt.
    attempts = api.webhook_attempts
    assert len({a.update_id for a in attempts}) == len(attempts) == 4  # start, 7, two texts
    assert {a.status for a in attempts} == {200}
    assert {a.secret for a in attempts} == {SECRET}
    assert api.calls_for("getUpdates") == [] and api.calls_for("deleteWebhook") == []


async def test_a_missing_or_wrong_secret_gets_401_and_changes_nothing(
    api: BotApiEmulator, hook_bot: WebhookBot, check_db: Database
) -> None:
    url = hook_bot.settings.webhook_url
    eve = api.user(5102, first_name="Eve", language_code="en")
    eve.started = True  # she pressed Start; the forger replays her update
    body = json.dumps(start_update(7_000_001, eve)).encode()
    for headers in ({}, {SECRET_HEADER: "guess"}, {SECRET_HEADER: SECRET[:-1]}):
        status, answer = await post(url, body, {"Content-Type": "application/json", **headers})
        assert (status, answer["error"]) == (401, "unauthorized")
        assert SECRET not in str(answer)
    status, answer = await post(url, b"{not json", {SECRET_HEADER: SECRET})
    assert (status, answer["error"]) == (400, "invalid")
    await hook_bot.idle()
    assert eve.bot_messages == []
    assert await respondent_of(check_db, 5102) is None
    assert await processed(check_db, 7_000_001) == 0

    # The same update with the right secret is taken: the refusals above were the secret's.
    status, _ = await post(url, body, {SECRET_HEADER: SECRET})
    assert status == 200
    await eve.wait_for_message(lambda m: QUESTION in m.text)
    assert await processed(check_db, 7_000_001) == 1


async def test_a_redelivered_update_is_handled_once(
    api: BotApiEmulator, hook_bot: WebhookBot, check_db: Database
) -> None:
    # Telegram posting an update again (the emulator's redelivery of an accepted update).
    bob = api.user(5103, first_name="Bob", language_code="en")
    update_id = bob.send("/start")
    await bob.wait_for_message(lambda m: QUESTION in m.text)
    api.redeliver(update_id)
    await api.wait_until(
        lambda: [a.status for a in api.webhook_attempts if a.update_id == update_id] == [200, 200]
    )
    await hook_bot.idle()
    assert questions(bob) == 1

    # The same update twice at once, straight to the route, as two Telegram connections.
    cat = api.user(5104, first_name="Cat", language_code="en")
    cat.started = True
    body = json.dumps(start_update(7_000_002, cat)).encode()
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    url = hook_bot.settings.webhook_url
    answers = await asyncio.gather(post(url, body, headers), post(url, body, headers))
    assert [status for status, _ in answers] == [200, 200]
    await cat.wait_for_message(lambda m: QUESTION in m.text)
    await hook_bot.idle()
    assert questions(cat) == 1
    assert sum(m.text.startswith("Hi Cat!") for m in cat.bot_messages) == 1
    assert await processed(check_db, 7_000_002) == 1
    assert len(await responses_of(check_db, 5104)) == 1


async def test_the_answer_waits_for_the_commit_not_for_the_replies(
    api: BotApiEmulator, hook_bot: WebhookBot, check_db: Database
) -> None:
    """Telegram holds 429 on every reply: the webhook still answers 200 at once (the update
    is stored and its replies kept), a stop ends within seconds, the next start sends."""
    api.inject_fault(method="sendMessage", status=429, retry_after=30, times=None)
    fay = api.user(5106, first_name="Fay", language_code="en")
    update_id = fay.send("/start")
    await api.wait_until(
        lambda: any(a.update_id == update_id and a.status == 200 for a in api.webhook_attempts)
    )
    assert await processed(check_db, update_id) == 1
    assert await outbox_rows(check_db) == 1  # the greeting and the question, kept
    await api.wait_until(lambda: any(c.status == 429 for c in api.calls_for("sendMessage")))
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(10):  # a deadline: the 30 s retry_after is not waited out
        await hook_bot.stop()
    assert loop.time() - began < 10
    assert fay.bot_messages == []

    api.clear_faults()
    await hook_bot.start()
    await fay.wait_for_message(lambda m: QUESTION in m.text)
    await hook_bot.idle()
    assert questions(fay) == 1
    assert [a.status for a in api.webhook_attempts] == [200]  # never posted again


async def test_a_refused_webhook_url_stops_the_start_with_one_line(
    api: BotApiEmulator, db_url: str, runtime: str
) -> None:
    refusal = "Bad Request: bad webhook: HTTPS url must be provided for webhook"
    api.inject_fault(method="setWebhook", status=400, description=refusal)
    refused = WebhookBot(webhook_settings(api, db_url, runtime), api)
    with pytest.raises(StartupError) as caught:
        await refused.start()
    line = str(caught.value)
    assert line.startswith(f"WEBHOOK_URL {refused.settings.webhook_url} was refused")
    assert "https url must be provided" in line.lower()
    assert "\n" not in line and SECRET not in line


async def test_a_stop_keeps_the_webhook_and_polling_deletes_it(
    api: BotApiEmulator, hook_bot: WebhookBot, db_url: str, runtime: str
) -> None:
    await hook_bot.stop()
    # Stopped in webhook mode: the webhook stays, so Telegram keeps what arrives meanwhile.
    assert api.webhook["url"] == hook_bot.settings.webhook_url
    dan = api.user(5105, first_name="Dan", language_code="en")
    dan.send("/start")
    await api.wait_until(lambda: any(a.status == 0 for a in api.webhook_attempts))
    assert len(api.pending_updates) == 1

    polling = RunningBot(make_settings(api, db_url, bot_framework=runtime), api)
    await polling.start()
    try:
        assert api.webhook == {}
        [delete] = [c for c in api.calls_for("deleteWebhook") if c.status == 200]
        assert not delete.params.get("drop_pending_updates")
        await dan.wait_for_message(lambda m: QUESTION in m.text)  # kept while down, not lost
    finally:
        await polling.stop()
    async with aiohttp.ClientSession() as session:
        info_url = f"{api.base_url}/bot{api.token}/getWebhookInfo"
        async with session.get(info_url) as response:
            info = (await response.json())["result"]
    assert info["url"] == "" and info["pending_update_count"] == 0


async def test_npsbot_run_in_webhook_mode_serves_and_stops_on_sigterm(
    api: BotApiEmulator, tmp_path: Path
) -> None:
    """The command with its settings from the environment (one runtime: the wiring is
    shared; aiogram's own SIGTERM handling is tests/unit/test_telegram_webhook.py's)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    env = _env(
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_URL=api.base_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'npsbot.db'}",
        BRAND_NAME="Acme",
        BOT_FRAMEWORK="ptb",
        DIGEST_TIME="off",
        HTTP_PORT=str(port),
        WEBHOOK_URL=url,
        WEBHOOK_SECRET=SECRET,
    )
    process = await _npsbot(tmp_path, env, "run")
    try:
        await api.wait_until(lambda: api.webhook.get("url") == url, timeout=30)
        gus = api.user(5107, first_name="Gus", language_code="en")
        await start_survey(gus)
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert SECRET not in stderr.decode()
    assert api.webhook["url"] == url and api.calls_for("getUpdates") == []
