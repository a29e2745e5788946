"""WhatsApp end to end: npsbot's own HTTP server gets the signed webhooks of the Cloud API
emulator (bot/wa_emulator), on WhatsApp alone or beside Telegram on either runtime."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.app import BotApp
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from bot.wa_emulator import CloudApiEmulator
from bot.whatsapp.channel import run_whatsapp
from storage.db import Database
from tests.conftest import fresh_database
from tests.e2e.conftest import RUN_POLLING, make_settings
from tests.e2e.conftest import api as api  # the Telegram emulator, beside WhatsApp
from tests.e2e.test_webhook_mode import free_port
from tests.scenario import OWNER_ID, wait_for

WA_TOKEN = "EAAwhatsapp-test-token-0123456789"
PHONE_ID = "106540352242922"
APP_SECRET = "wa-app-secret-0123456789"
VERIFY_TOKEN = "wa-verify-token-0123456789"
DISPLAY = "15550783881"
QUESTION = "How likely"
Runner = Callable[..., Awaitable[None]]


@pytest.fixture
async def wa() -> AsyncIterator[CloudApiEmulator]:
    """A Cloud API emulator with quick webhook retries."""
    async with CloudApiEmulator(
        token=WA_TOKEN, phone_number_id=PHONE_ID, app_secret=APP_SECRET
    ) as emulator:
        emulator.set_webhook_retries(0.05, 0.2)
        yield emulator


@pytest.fixture
async def db_url(
    tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A fresh migrated SQLite file."""
    async with fresh_database("sqlite", tmp_path, sqlite_template, pg_template) as url:
        yield url


def wa_settings(wa: CloudApiEmulator, db_url: str, **overrides: Any) -> Settings:
    """WhatsApp alone on a free port (no BOT_TOKEN, no developer .env)."""
    values: dict[str, Any] = {
        "bot_token": "",
        "database_url": db_url,
        "admin_ids": [OWNER_ID],
        "digest_time": "off",
        "http_port": free_port(),
        "whatsapp_token": WA_TOKEN,
        "whatsapp_phone_number_id": PHONE_ID,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_api_url": wa.base_url,
        "whatsapp_display_number": DISPLAY,
        "brand_name": "Acme",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def both_settings(
    api: BotApiEmulator, wa: CloudApiEmulator, db_url: str, **overrides: Any
) -> Settings:
    """Telegram (the e2e emulator; polling unless WEBHOOK_URL is among `overrides`) beside
    WhatsApp, on a free port."""
    values: dict[str, Any] = {
        "http_port": free_port(),
        "whatsapp_token": WA_TOKEN,
        "whatsapp_phone_number_id": wa.phone_number_id,
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_api_url": wa.base_url,
        "whatsapp_display_number": DISPLAY,
        "brand_name": "Acme",
    }
    return make_settings(api, db_url, **{**values, **overrides})


@dataclass
class WhatsAppBot:
    """npsbot running as a task with WhatsApp (and Telegram when `api` is given)."""

    settings: Settings
    wa: CloudApiEmulator
    api: BotApiEmulator | None = None
    task: asyncio.Task[None] | None = None
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    app: BotApp | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}/whatsapp/webhook"

    async def start(self) -> None:
        """Starts the bot, then points the emulator's webhook at it (Meta's handshake)."""
        self.stop_event = asyncio.Event()
        run: Runner = (
            RUN_POLLING[self.settings.bot_framework] if self.settings.bot_token else run_whatsapp
        )
        self.task = asyncio.create_task(
            run(self.settings, stop=self.stop_event, on_start=self._started)
        )

        async def handshake() -> bool:  # the server listens once the handshake succeeds
            if self.task is not None and self.task.done():
                self.task.result()
            with contextlib.suppress(Exception):
                await self.wa.set_webhook(self.url, VERIFY_TOKEN)
                return True
            return False

        await wait_for(handshake, "the bot's WhatsApp webhook answering", within=15)

    def _started(self, app: BotApp) -> None:
        self.app = app

    async def stop(self) -> None:
        if self.task is None:
            return
        self.stop_event.set()
        await asyncio.wait_for(self.task, timeout=15)
        self.task = None

    @property
    def db(self) -> Database:
        assert self.app is not None
        return self.app.db


@pytest.fixture
async def wa_bot(wa: CloudApiEmulator, db_url: str) -> AsyncIterator[WhatsAppBot]:
    """npsbot on WhatsApp alone."""
    running = WhatsAppBot(wa_settings(wa, db_url), wa)
    await running.start()
    yield running
    await running.stop()
