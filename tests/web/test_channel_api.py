"""Issue 12 in the read API, on both databases: each listed answer has `messenger` (the
messaging channel: telegram, whatsapp, web) beside `channel` (the door, kept under its name),
`/nps?by=channel` gives the chat's per-channel figures, and the OpenAPI document says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import BotApp
from bot.web.api_responses import SETTLE
from bot.web.openapi import OPENAPI_PATH
from bot.web.server import HttpServer
from storage.models import utcnow
from tests.channel_helpers import answer_through
from tests.conftest import BACKENDS
from tests.web.conftest import AUTH

pytestmark = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


async def _get(client: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, Any]:
    async with client.get(url, headers=headers) as response:
        return response.status, await response.json()


async def test_answers_carry_their_messenger_and_nps_splits_by_it(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = bot_app.db
    at = utcnow() - timedelta(hours=1)
    given = {
        await answer_through(db, "telegram", 800, 10, asked=at): "telegram",
        await answer_through(db, "whatsapp", 801, 3, asked=at): "whatsapp",
        await answer_through(db, "whatsapp", 802, 9, asked=at): "whatsapp",
        await answer_through(db, "web", 803, 8, asked=at): "web",
    }
    monkeypatch.setattr(bot_app, "clock", lambda: utcnow() + SETTLE + timedelta(seconds=1))

    status, page = await _get(client, f"{server.url}/api/v1/responses", **AUTH)
    assert status == 200, page
    assert {int(item["id"]): item["messenger"] for item in page["items"]} == given
    assert {item["channel"] for item in page["items"]} == {"start"}  # the door, as before

    status, body = await _get(client, f"{server.url}/api/v1/nps?by=channel", **AUTH)
    assert status == 200, body
    segments = {row["value"]: (row["answers"], row["nps"]) for row in body["segments"]}
    assert segments == {"whatsapp": (2, 0), "telegram": (1, 100), "web": (1, 0)}
    # Without the token, nothing.
    status, _ = await _get(client, f"{server.url}/api/v1/nps?by=channel")
    assert status == 401


async def test_the_openapi_document_describes_the_messenger(
    server: HttpServer, client: aiohttp.ClientSession
) -> None:
    status, document = await _get(client, f"{server.url}{OPENAPI_PATH}")
    assert status == 200
    answer = document["components"]["schemas"]["Answer"]
    assert "messenger" in answer["required"] and "channel" in answer["required"]
    assert answer["properties"]["messenger"]["type"] == "string"
    assert "whatsapp" in answer["properties"]["messenger"]["description"]
    by = next(
        p for p in document["paths"]["/api/v1/nps"]["get"]["parameters"] if p["name"] == "by"
    )
    assert "channel" in by["schema"]["enum"]
