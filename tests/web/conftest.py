"""The HTTP tier: a real BotApp on a real database, served by the real aiohttp server on
a free port, called with a real aiohttp client. No Telegram (the API never needs it).

SQLite by default; a test that must also run on PostgreSQL asks with
`@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import BotApp, BotIdentity, start_application
from bot.settings import Settings
from bot.web import server as web_server
from bot.web.server import HttpServer, serve_http
from tests.conftest import fresh_database
from tests.link_helpers import LINK_SETTINGS, cookie_session
from tests.scenario import OWNER_ID, TOKEN

API_TOKEN = "test-api-token-0123456789abcdef-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ME = BotIdentity(id=123456, username="acme_nps_bot", first_name="Acme")
# Never contacted: nothing here talks to Telegram. Settings only require a URL.
NO_API_URL = "http://127.0.0.1:9"


def web_settings(db_url: str, **overrides: Any) -> Settings:
    """Settings with the API on and a free port (never reading a developer's .env)."""
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database_url": db_url,
        "telegram_api_url": NO_API_URL,
        "admin_ids": [OWNER_ID],
        "digest_time": "off",
        "api_token": API_TOKEN,
        "http_host": "127.0.0.1",
        "http_port": 0,
        # Off unless a test turns it on: at night (21:00-09:00, the default) every
        # invitation would wait for the morning, whatever the test is about.
        "quiet_hours": "off",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> AsyncIterator[str]:
    """A fresh migrated database: a SQLite file, or PostgreSQL when the test asks for it."""
    backend = getattr(request, "param", "sqlite")
    async with fresh_database(backend, tmp_path, sqlite_template, pg_template) as url:
        yield url


@pytest.fixture
async def bot_app(db_url: str) -> AsyncIterator[BotApp]:
    """The application as a runtime builds it (database migrated, pipeline), no Telegram."""
    app = await start_application(web_settings(db_url), ME)
    yield app
    await app.close()


@pytest.fixture
def echo_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adds tests/web/echo_endpoints.py to the API: a body to validate, a handler that fails."""
    modules = (*web_server.RESOURCE_MODULES, "tests.web.echo_endpoints")
    monkeypatch.setattr(web_server, "RESOURCE_MODULES", modules)


@pytest.fixture
async def server(bot_app: BotApp) -> AsyncIterator[HttpServer]:
    """The HTTP server with the API on, listening on a free local port."""
    async with serve_http(bot_app, bot_app.settings) as running:
        yield running


async def get_ok(client: aiohttp.ClientSession, server: HttpServer, path: str) -> Any:
    """GET `path` with the API token; the JSON body of its 200."""
    async with client.get(f"{server.url}{path}", headers=AUTH) as response:
        body = await response.json()
        assert response.status == 200, body
        return body


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    """A real HTTP client."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def link_app(db_url: str) -> AsyncIterator[BotApp]:
    """The application with survey links on (and the API, no Telegram)."""
    app = await start_application(web_settings(db_url, **LINK_SETTINGS), ME)
    yield app
    await app.close()


@pytest.fixture
async def link_server(link_app: BotApp) -> AsyncIterator[HttpServer]:
    """The HTTP server of `link_app`, serving survey pages and the API."""
    async with serve_http(link_app, link_app.settings) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies, as a browser on a survey page does."""
    async with cookie_session() as session:
        yield session
