"""POST /api/v1/invitations/batch through a real client: up to 1,000 at once, each result
as the single call would answer, a refused item's error in its place."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from bot.app import BotApp
from bot.web.server import HttpServer
from tests.conftest import BACKENDS
from tests.invitation_helpers import add_people, rows
from tests.web.conftest import AUTH

URL = "/api/v1/invitations/batch"


async def _batch(
    client: aiohttp.ClientSession, server: HttpServer, body: Any, key: str | None = None
) -> tuple[int, dict[str, Any]]:
    headers = {**AUTH, **({"Idempotency-Key": key} if key else {})}
    async with client.post(f"{server.url}{URL}", json=body, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def _survey(app: BotApp, slug: str = "delivery") -> None:
    async with app.db.transaction() as store:
        await store.surveys.add(slug=slug, name=slug.title())


async def test_each_item_is_answered_in_place(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [3001, 3002])
    items: list[Any] = [
        {"survey": "delivery", "telegram_user_id": 3001, "attributes": {"agent": "olga"}},
        {"survey": "nope", "telegram_user_id": 3002},  # 404
        {"survey": "delivery", "phone": "12"},  # 422
        {"survey": "delivery", "telegram_user_id": 3001},  # suppressed: the first one
        "not an object",
        {"survey": "delivery", "telegram_user_id": 3999},  # unreachable
        {"survey": "delivery", "telegram_user_id": 3002, "idempotency_key": "k-1"},
        {"survey": "delivery", "telegram_user_id": 3002, "idempotency_key": "k-1"},  # replay
    ]
    status, body = await _batch(client, server, {"invitations": items})
    assert status == 202, body
    results = body["results"]
    assert len(results) == len(items)
    assert (results[0]["status"], results[0]["reason"]) == ("scheduled", None)
    assert (results[1]["status_code"], results[1]["error"], results[1]["field"]) == (
        404,
        "not_found",
        "survey",
    )
    assert (results[2]["status_code"], results[2]["field"]) == (422, "phone")
    assert (results[3]["status"], results[3]["reason"]) == ("suppressed", "survey_cooldown")
    assert (results[4]["status_code"], results[4]["error"]) == (422, "invalid")
    assert (results[5]["status"], results[5]["reason"]) == ("unreachable", "not_started")
    assert results[6] == results[7] and results[6]["status"] == "scheduled"
    assert len(await rows(bot_app.db)) == 4  # scheduled, suppressed, unreachable, scheduled


async def test_a_retried_batch_with_a_key_changes_nothing(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [3101, 3102])
    items = [{"survey": "delivery", "telegram_user_id": uid} for uid in (3101, 3102)]
    first = await _batch(client, server, {"invitations": items}, key="nightly-42")
    assert await _batch(client, server, {"invitations": items}, key="nightly-42") == first
    assert len(await rows(bot_app.db)) == 2
    # The same key with one item changed: that item conflicts, the other replays.
    changed = [items[0], {**items[1], "delay_seconds": 5}]
    _, body = await _batch(client, server, {"invitations": changed}, key="nightly-42")
    assert body["results"][0] == first[1]["results"][0]
    assert (body["results"][1]["status_code"], body["results"][1]["error"]) == (409, "conflict")


@pytest.mark.parametrize(
    "body",
    [{"invitations": []}, {"invitations": [{}] * 1001}, {"invitations": {}}, {}, []],
)
async def test_the_batch_itself_must_be_a_list_of_1_to_1000(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession, body: Any
) -> None:
    status, error = await _batch(client, server, body)
    assert (status, error["error"]) == (422, "invalid"), error
    assert await rows(bot_app.db) == []


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_a_thousand_at_once(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    ids = list(range(100_001, 101_001))
    await add_people(bot_app.db, ids)
    items = [
        {
            "survey": "delivery",
            "telegram_user_id": uid,
            "attributes": {"agent": f"agent{uid % 7}", "order_id": f"A-{uid}", "region": "north"},
            "delay_seconds": 60,
        }
        for uid in ids
    ]
    started = time.perf_counter()
    status, body = await _batch(client, server, {"invitations": items}, key="big")
    took = time.perf_counter() - started
    assert status == 202
    assert [r["status"] for r in body["results"]] == ["scheduled"] * 1000
    assert len({r["id"] for r in body["results"]}) == 1000
    print(f"\n1,000 invitations on {bot_app.db.dialect}: {took:.2f} s")
    assert took < 10  # ~0.5 s (SQLite) and ~1 s (PostgreSQL) on a loaded 2-core machine
    assert len(await rows(bot_app.db)) == 1000
