"""Handler tier: the real pipeline and routes on a real database, fed plain events in-process.

Scenarios read as in the end-to-end tier (`api.user(…)`, `send`, `press`,
`wait_for_message`), but nothing goes over HTTP and no framework runs (harness.py), so
they cost a fraction. SQLite by default; a test that needs PostgreSQL as well asks with
`@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from bot.settings import Settings
from storage.db import Database
from tests.broadcast_helpers import BROADCAST_SETTINGS
from tests.conftest import fresh_database
from tests.handlers.harness import HandlerBot
from tests.scenario import OWNER_ID, TOKEN

# Never contacted: the handler tier has no HTTP. Settings only require a URL.
NO_API_URL = "http://127.0.0.1:9"


@pytest.fixture
def api() -> BotApiEmulator:
    """The emulated Telegram world in memory: users, chats, messages; no server is started."""
    return BotApiEmulator(token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot")


@pytest.fixture
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A fresh migrated database: a SQLite file, or PostgreSQL when the test asks for it."""
    backend = getattr(request, "param", "sqlite")
    async with fresh_database(backend, tmp_path, sqlite_template, pg_template) as url:
        yield url


def make_settings(api: BotApiEmulator, db_url: str, **overrides: Any) -> Settings:
    """Settings for a bot under test (never reading a developer's .env)."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": db_url,
        "telegram_api_url": NO_API_URL,
        "admin_ids": [OWNER_ID],
        # Off unless a test asks for it: the default 09:00 would send the owner a digest
        # at start whenever tests run after 09:00, between a test's own messages.
        "digest_time": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
async def bot(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """npsbot's application handling the users' events on the test's database."""
    running = HandlerBot(make_settings(api, db_url), api)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
async def check_db(db_url: str) -> AsyncIterator[Database]:
    """A separate connection for asserting what the database holds."""
    database = Database(db_url)
    yield database
    await database.dispose()


def broadcast_bot(api: BotApiEmulator, db_url: str, **overrides: Any) -> HandlerBot:
    """npsbot with a high broadcast rate and quick progress edits (not started)."""
    return HandlerBot(make_settings(api, db_url, **{**BROADCAST_SETTINGS, **overrides}), api)


@pytest.fixture
async def sender(api: BotApiEmulator, db_url: str) -> AsyncIterator[HandlerBot]:
    """npsbot with a fast broadcast rate and quick progress edits, running."""
    running = broadcast_bot(api, db_url)
    await running.start()
    yield running
    await running.stop()
