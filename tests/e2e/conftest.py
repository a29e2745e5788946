"""End-to-end harness: the real aiogram or PTB bot over HTTP against the Bot API emulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotApp
from bot.emulator import BotApiEmulator
from bot.runtime import aiogram_runtime, ptb_runtime
from bot.settings import Settings
from storage.db import Database
from tests.broadcast_helpers import BROADCAST_SETTINGS
from tests.conftest import fresh_database, next_loop_turn
from tests.scenario import (  # noqa: F401 - the e2e tests import the shared helpers from here
    OWNER_ID,
    QUESTION,
    TOKEN,
    add_survey,
    give_score,
    respondent_of,
    responses_of,
    start_survey,
    wait_db,
)

# Every scenario that uses the `bot` fixture runs on both runtimes: parity is tested, not hoped.
RUNTIMES = ["aiogram", "ptb"]
RUN_POLLING = {"aiogram": aiogram_runtime.run_polling, "ptb": ptb_runtime.run_polling}


@dataclass
class RunningBot:
    """npsbot running as a task on the runtime its settings name; stop and start it."""

    settings: Settings
    api: BotApiEmulator
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    app: BotApp | None = None

    async def start(self) -> None:
        """Starts polling and waits until the bot asks for updates."""
        polls_before = len(self.api.calls_for("getUpdates"))
        self.stop_event = asyncio.Event()
        run_polling = RUN_POLLING[self.settings.bot_framework]
        self.task = asyncio.create_task(
            run_polling(self.settings, stop=self.stop_event, on_start=self._started)
        )
        await self.api.wait_until(
            lambda: len(self.api.calls_for("getUpdates")) > polls_before or self.task.done(),  # type: ignore[union-attr]
            timeout=15,
        )
        if self.task.done():
            self.task.result()  # surface the start-up error

    async def stop(self) -> None:
        """Stops gracefully, as SIGTERM would."""
        if self.task is None:
            return
        self.stop_event.set()
        await asyncio.wait_for(self.task, timeout=15)
        self.task = None

    async def crash(self) -> None:
        """Stops abruptly: the task is cancelled wherever it is."""
        if self.task is None:
            return
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.task = None

    def _started(self, app: BotApp) -> None:
        self.app = app

    def _quiet(self) -> bool:
        """No update waiting, no event in the pipeline, no API call in flight."""
        in_flight = [c for c in self.api.calls if c.status == 0 and c.method != "getUpdates"]
        busy = self.app is not None and self.app.pipeline.inflight
        return not self.api.pending_updates and not busy and not in_flight

    async def idle(self) -> None:
        """Waits until the bot has handled every update and sent every reply."""
        # Twice: an update fetched but not yet handed to the pipeline looks quiet once.
        await self.api.wait_until(self._quiet)
        await next_loop_turn()
        await self.api.wait_until(self._quiet)

    async def restart(self) -> None:
        """Stops, then starts again on the same database."""
        await self.stop()
        await self.start()


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """A fresh Bot API emulator on a free local port."""
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as server:
        yield server


def make_settings(api: BotApiEmulator, db_url: str, **overrides: Any) -> Settings:
    """Settings for a bot under test (never reading a developer's .env)."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": db_url,
        "telegram_api_url": api.base_url,
        "admin_ids": [OWNER_ID],
        # Off unless a test asks for it: the default 09:00 would send the owner a digest
        # at start whenever tests run after 09:00, between a test's own messages.
        "digest_time": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def broadcast_bot(api: BotApiEmulator, db_url: str, **overrides: Any) -> RunningBot:
    """npsbot on aiogram with a high broadcast rate and quick progress edits."""
    return RunningBot(make_settings(api, db_url, **{**BROADCAST_SETTINGS, **overrides}), api)


@pytest.fixture
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A fresh migrated SQLite file; a test that must also run on PostgreSQL asks with
    `@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)`.

    End to end, what is tested is each runtime; the storage tests cover PostgreSQL, and
    test_parity and the broadcast acceptance run every runtime on both databases.
    """
    backend = getattr(request, "param", "sqlite")
    async with fresh_database(backend, tmp_path, sqlite_template, pg_template) as url:
        yield url


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest) -> str:
    """The framework npsbot runs on: aiogram (the default) or python-telegram-bot."""
    return str(request.param)


@pytest.fixture
async def bot(api: BotApiEmulator, db_url: str, runtime: str) -> AsyncIterator[RunningBot]:
    """npsbot running against the emulator on the parametrized backend and runtime."""
    running = RunningBot(make_settings(api, db_url, bot_framework=runtime), api)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def check_db(db_url: str) -> AsyncIterator[Database]:
    """A separate connection for asserting what the database holds."""
    database = Database(db_url)
    yield database
    await database.dispose()
