"""SIGTERM in webhook mode, with `npsbot run` as a real process against the emulator: the
readiness probe goes 503 at once, updates Telegram posts meanwhile get 503 (so it posts
them again), the update in flight finishes or keeps its reply in the outbox, and the
process exits within 10 seconds with code 0. Nothing is lost: after a restart every reply
and every refused update arrives."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import aiohttp
import pytest

from bot.emulator import BotApiEmulator
from tests.conftest import fresh_database
from tests.e2e.conftest import QUESTION, TOKEN
from tests.e2e.test_cli import _env, _npsbot
from tests.e2e.test_webhook_mode import SECRET, SECRET_HEADER, free_port
from tests.scenario import wait_for

HELP = "one short question about Acme"  # the /help reply
# The /help reply's sendMessage takes this long at the emulator: longer than the stop's
# grace for a call in flight (3 s), so the stop abandons it and keeps it in the outbox.
SLOW_SEND = 6.0


async def _status(client: aiohttp.ClientSession, url: str) -> int:
    """The probe's status; 0 when nothing listens any more."""
    try:
        async with client.get(url) as response:
            return response.status
    except aiohttp.ClientConnectionError:
        return 0


async def _start(tmp_path: Path, env: dict[str, str], base: str) -> asyncio.subprocess.Process:
    """`npsbot run`, once its readiness probe says 200."""
    process = await _npsbot(tmp_path, env, "run")
    async with aiohttp.ClientSession() as client:

        async def ready() -> bool:
            assert process.returncode is None, "npsbot ended at start"
            return await _status(client, f"{base}/readyz") == 200

        await wait_for(ready, "npsbot ready", within=60)
    return process


async def _stop(process: asyncio.subprocess.Process, *, signalled: bool = False) -> str:
    """SIGTERM (unless sent already: a second one ends the process at once), then its log."""
    if not signalled and process.returncode is None:
        process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    return stderr.decode()


@pytest.mark.parametrize(
    ("runtime", "backend"), [("aiogram", "sqlite"), ("ptb", "postgres")], ids=["aiogram", "ptb"]
)
async def test_sigterm_drains_then_exits_in_seconds_and_loses_nothing(
    api: BotApiEmulator,
    tmp_path: Path,
    sqlite_template: Path,
    pg_template: str | None,
    runtime: str,
    backend: str,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hook = f"{base}/telegram/hook"
    async with fresh_database(backend, tmp_path, sqlite_template, pg_template) as db_url:
        env = _env(
            BOT_TOKEN=TOKEN,
            TELEGRAM_API_URL=api.base_url,
            DATABASE_URL=db_url,
            BRAND_NAME="Acme",
            BOT_FRAMEWORK=runtime,
            DIGEST_TIME="off",
            HTTP_PORT=str(port),
            WEBHOOK_URL=hook,
            WEBHOOK_SECRET=SECRET,
        )
        process = await _start(tmp_path, env, base)
        logs: list[str] = []
        try:
            ann = api.user(5401, first_name="Ann", language_code="en")
            bob = api.user(5402, first_name="Bob", language_code="en")
            ann.send("/start")
            await ann.wait_for_message(lambda m: QUESTION in m.text, timeout=30)

            # Ann's /help is committed (Telegram has its 200), its reply slow at Telegram.
            api.inject_delay("sendMessage", seconds=SLOW_SEND, times=1)
            ann.send("/help")
            await api.wait_until(
                lambda: any(c.status == 0 for c in api.calls_for("sendMessage")), timeout=15
            )
            loop = asyncio.get_running_loop()
            signalled = loop.time()
            process.send_signal(signal.SIGTERM)
            async with aiohttp.ClientSession() as client:
                # Not ready at once: the load balancer stops sending here.
                async def draining() -> bool:
                    return await _status(client, f"{base}/readyz") == 503

                await wait_for(draining, "readyz 503 while draining", within=2)
                async with client.get(f"{base}/readyz") as response:
                    assert (await response.json())["error"] == "draining"
                # An update posted now is refused with 503, so Telegram posts it again.
                bob_update = bob.send("/start")
                await api.wait_until(
                    lambda: any(
                        a.update_id == bob_update and a.status == 503 for a in api.webhook_attempts
                    ),
                    timeout=2,
                )
                forged = {"update_id": 9_000_001, "message": {"message_id": 1, "date": 0}}
                async with client.post(
                    hook, data=json.dumps(forged), headers={SECRET_HEADER: SECRET}
                ) as response:
                    assert response.status in (503, 0)  # refused, or already closed
            logs.append(await _stop(process, signalled=True))
            took = loop.time() - signalled
        finally:
            if process.returncode is None:
                logs.append(await _stop(process, signalled=True))
        assert process.returncode == 0, logs
        assert took < 10, f"stopped in {took:.1f} s"
        assert "Traceback" not in "".join(logs), logs
        assert not [m for m in bob.bot_messages if QUESTION in m.text]  # refused, not handled

        # The next start: the kept reply goes out, Telegram's redelivery of Bob's update
        # is taken, and both arrive.
        began = time.monotonic()
        process = await _start(tmp_path, env, base)
        try:
            await bob.wait_for_message(lambda m: QUESTION in m.text, timeout=30)
            await ann.wait_for_message(lambda m: HELP in m.text, timeout=30)
        finally:
            logs.append(await _stop(process))
        assert process.returncode == 0, logs
        # At most twice: the abandoned call may still have arrived (README, the outbox).
        assert 1 <= sum(HELP in m.text for m in ann.bot_messages) <= 2
        assert sum(QUESTION in m.text for m in bob.bot_messages) == 1
        assert time.monotonic() - began < 60
