"""The probes through a real client against the real server: /healthz says the process
lives, /readyz whether it may take traffic (database, schema at the code's heads, not
stopping). Neither needs a token, and neither reveals more than that."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import text

from bot.app import BotApp, build_pipeline
from bot.i18n import Catalogs
from bot.web.server import HttpServer, serve_http
from storage.db import Database
from storage.schema import code_heads
from tests.conftest import BACKENDS
from tests.web.conftest import ME, web_settings

NEWER = "0099_from_a_newer_release"


async def _get(client: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, object]]:
    async with client.get(url) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def _set_version(db: Database, old: str, new: str | None) -> None:
    """Rewrites one row of alembic_version (None: deletes it, "" old: adds `new`), as
    another release's migrations would."""
    async with db.engine.begin() as conn:
        if not old:
            await conn.execute(text("INSERT INTO alembic_version VALUES (:n)"), {"n": new})
        elif new is None:
            await conn.execute(
                text("DELETE FROM alembic_version WHERE version_num = :o"), {"o": old}
            )
        else:
            await conn.execute(
                text("UPDATE alembic_version SET version_num = :n WHERE version_num = :o"),
                {"n": new, "o": old},
            )


async def test_healthz_lives_without_the_database_and_readyz_says_it_is_gone(
    tmp_path: Path, db_url: str, client: aiohttp.ClientSession
) -> None:
    # A real application whose database cannot be opened: its "file" is a folder.
    settings = web_settings(db_url)
    (tmp_path / "folder.db").mkdir()
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'folder.db'}")
    catalogs = Catalogs(default="en")
    app = BotApp(settings, db, catalogs, build_pipeline(settings, db, ME, catalogs=catalogs), ME)
    try:
        async with serve_http(app, settings) as server:
            assert await _get(client, f"{server.url}/healthz") == (200, {"status": "ok"})
            status, body = await _get(client, f"{server.url}/readyz")
    finally:
        await db.dispose()
    assert status == 503
    assert body["error"] == "database_unavailable"
    assert "folder" not in str(body) and str(tmp_path) not in str(body)  # reveals nothing


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_readyz_is_ready_on_the_codes_schema_and_names_a_newer_one(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ready = f"{server.url}/readyz"
    assert await _get(client, ready) == (200, {"status": "ready"})

    # A newer release migrated the database under this replica (a rolling upgrade): it
    # must not take traffic, and says why, once in the log however often it is probed.
    head = max(code_heads())
    await _set_version(bot_app.db, head, NEWER)
    with caplog.at_level(logging.INFO, logger="bot.web.probes"):
        for _ in range(3):
            status, body = await _get(client, ready)
            assert status == 503 and body["error"] == "schema_mismatch", body
            assert NEWER in str(body["message"]) and "does not know" in str(body["message"])
    assert [r.message for r in caplog.records].count(f"not ready: {body['message']}") == 1
    assert await _get(client, f"{server.url}/healthz") == (200, {"status": "ok"})  # alive

    # A database behind the code (its migrations not applied) is not ready either.
    await _set_version(bot_app.db, NEWER, None)
    status, body = await _get(client, ready)
    assert status == 503 and body["error"] == "schema_mismatch"
    assert "migrations have not run" in str(body["message"]) and head in str(body["message"])

    await _set_version(bot_app.db, "", head)  # as this version's migration leaves it
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.web.probes"):
        assert await _get(client, ready) == (200, {"status": "ready"})
    assert any(r.message.startswith("ready:") for r in caplog.records)


async def test_readyz_is_503_while_the_bot_stops(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    assert (await _get(client, f"{server.url}/readyz"))[0] == 200
    bot_app.draining = True  # what SIGTERM sets first (bot/web/telegram_webhook.stop_webhook)
    status, body = await _get(client, f"{server.url}/readyz")
    assert (status, body["error"]) == (503, "draining")
    assert await _get(client, f"{server.url}/healthz") == (200, {"status": "ok"})
