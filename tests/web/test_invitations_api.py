"""POST/GET/DELETE /api/v1/invitations through a real client against the real server:
scheduling, who cannot be reached and why, the fatigue rules, quiet hours, the limits of
delay and send_at, idempotency keys, cancelling, and every malformed request."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from bot.app import BotApp
from bot.web.server import HttpServer
from storage.models import utcnow
from tests.conftest import BACKENDS
from tests.invitation_helpers import add_people, add_phone, rows
from tests.web.conftest import AUTH

URL = "/api/v1/invitations"


async def _post(
    client: aiohttp.ClientSession,
    server: HttpServer,
    body: Any,
    *,
    key: str | None = None,
    path: str = URL,
) -> tuple[int, dict[str, Any]]:
    headers = dict(AUTH)
    if key is not None:
        headers["Idempotency-Key"] = key
    async with client.post(f"{server.url}{path}", json=body, headers=headers) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def _get(
    client: aiohttp.ClientSession, server: HttpServer, public_id: str, method: str = "GET"
) -> tuple[int, dict[str, Any]]:
    async with client.request(method, f"{server.url}{URL}/{public_id}", headers=AUTH) as response:
        assert response.content_type == "application/json"
        return response.status, await response.json()


async def _survey(app: BotApp, slug: str = "delivery", **values: Any) -> int:
    async with app.db.transaction() as store:
        return (await store.surveys.add(slug=slug, name=slug.title(), **values)).id


async def test_an_invitation_is_scheduled_and_read_back(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [1001])
    before = utcnow()
    attributes = {"agent": "olga", "source": "call", "order_id": "A-17", "region": " north "}
    status, body = await _post(
        client,
        server,
        {
            "survey": "delivery",
            "telegram_user_id": 1001,
            "attributes": attributes,
            "delay_seconds": 60,
        },
    )
    assert status == 202, body
    assert set(body) == {"id", "status", "reason", "send_at"}
    assert (body["status"], body["reason"]) == ("scheduled", None)
    assert body["id"].startswith("inv_") and len(body["id"]) > 20
    send_at = datetime.fromisoformat(body["send_at"])
    assert before + timedelta(seconds=59) < send_at < utcnow() + timedelta(seconds=61)
    status, read = await _get(client, server, body["id"])
    assert status == 200, read
    assert read["status"] == "scheduled" and read["survey"] == "delivery"
    assert (read["telegram_user_id"], read["phone"], read["score"]) == (1001, None, None)
    assert read["attributes"] == {
        "agent": "olga",
        "source": "call",
        "order_id": "A-17",
        "region": "north",
    }
    assert datetime.fromisoformat(read["send_at"]) == send_at


async def test_by_phone_in_any_international_format(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    [anna] = await add_people(bot_app.db, [1101])
    await add_phone(bot_app.db, anna, "+37369123456")
    status, body = await _post(client, server, {"survey": "delivery", "phone": "+373 69 123-456"})
    assert (status, body["status"]) == (202, "scheduled"), body
    status, read = await _get(client, server, body["id"])
    assert (read["phone"], read["telegram_user_id"]) == ("+37369123456", None)
    [row] = await rows(bot_app.db)
    assert row.respondent_id == anna
    for bad, why in (("069123456", "country code"), ("+3736912", "not a valid")):
        status, error = await _post(client, server, {"survey": "delivery", "phone": bad})
        assert (status, error["field"]) == (422, "phone") and why in error["message"], error


async def test_each_reason_a_person_cannot_be_reached(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [1201], subscribed=False)
    await add_people(bot_app.db, [1202], unreachable=True)
    cases = [
        ({"telegram_user_id": 1299}, "not_started"),
        ({"phone": "+37369000000"}, "no_channel"),
        ({"telegram_user_id": 1201}, "stopped"),
        ({"telegram_user_id": 1202}, "blocked"),
    ]
    for who, reason in cases:
        status, body = await _post(client, server, {"survey": "delivery", **who})
        assert (status, body["status"], body["reason"]) == (202, "unreachable", reason), who
        _, read = await _get(client, server, body["id"])
        assert (read["status"], read["reason"]) == ("unreachable", reason)


async def test_the_fatigue_rules_suppress(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await _survey(bot_app, "support")
    await add_people(bot_app.db, [1301])
    first = {"survey": "delivery", "telegram_user_id": 1301}
    assert (await _post(client, server, first))[1]["status"] == "scheduled"
    status, same = await _post(client, server, {**first, "delay_seconds": 3600})
    assert (status, same["status"], same["reason"]) == (202, "suppressed", "survey_cooldown")
    _, other = await _post(client, server, {**first, "survey": "support"})
    assert (other["status"], other["reason"]) == ("suppressed", "any_survey_cooldown")
    # Eight days later ANY_SURVEY_COOLDOWN_DAYS (7) has passed, SURVEY_COOLDOWN_DAYS not.
    later = (utcnow() + timedelta(days=8)).isoformat()
    _, other = await _post(client, server, {**first, "survey": "support", "send_at": later})
    assert other["status"] == "scheduled"


async def test_surveys_that_cannot_be_invited_to(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app, "team", kind="enps")
    await _survey(bot_app, "old", active=False)
    await add_people(bot_app.db, [1401])
    for slug, status, field in (
        ("nope", 404, "survey"),
        ("old", 404, "survey"),
        ("team", 422, "survey"),
    ):
        got, body = await _post(client, server, {"survey": slug, "telegram_user_id": 1401})
        assert (got, body["field"]) == (status, field), body
        assert set(body) == {"error", "message", "field"}
    assert await rows(bot_app.db) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"phone": "+37369123456"}, "telegram_user_id"),  # both
        ({"telegram_user_id": None}, "telegram_user_id"),  # neither
        ({"delay_seconds": 5, "send_at": "2030-01-01T00:00:00Z"}, "send_at"),
        ({"send_at": "DAYS_31"}, "send_at"),
        ({"send_at": "2030-01-01T00:00:00"}, "send_at"),  # no time zone
        ({"delay_seconds": 30 * 86400 + 1}, "delay_seconds"),
        ({"delay_seconds": -1}, "delay_seconds"),
        ({"telegram_user_id": "abc"}, "telegram_user_id"),
        ({"survey": ""}, "survey"),
        ({"surveys": "delivery"}, "surveys"),  # unknown field
        ({"attributes": {"agent": "x" * 65}}, "attributes.agent"),
        ({"attributes": {"bad key": "x"}}, "attributes.bad key"),
        ({"attributes": {"agent": 7}}, "attributes.agent"),
        ({"attributes": {f"k{n}": "v" for n in range(21)}}, "attributes"),
    ],
)
async def test_malformed_requests_name_the_field(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    change: dict[str, Any],
    field: str,
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [1501])
    if change.get("send_at") == "DAYS_31":
        change = {"send_at": (utcnow() + timedelta(days=30, minutes=1)).isoformat()}
    body = {"survey": "delivery", "telegram_user_id": 1501, **change}
    body = {key: value for key, value in body.items() if value is not None}
    status, error = await _post(client, server, body)
    assert (status, error["error"], error["field"]) == (422, "invalid", field), error
    assert await rows(bot_app.db) == []


async def test_send_at_within_30_days_and_in_the_past_means_now(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await _survey(bot_app, "support")
    await add_people(bot_app.db, [1601, 1602])
    ahead = utcnow() + timedelta(days=29, hours=23)
    _, body = await _post(
        client,
        server,
        {"survey": "delivery", "telegram_user_id": 1601, "send_at": ahead.isoformat()},
    )
    assert datetime.fromisoformat(body["send_at"]) == ahead
    past = "2020-01-01T10:00:00+02:00"
    before = utcnow()
    _, body = await _post(
        client, server, {"survey": "delivery", "telegram_user_id": 1602, "send_at": past}
    )
    assert before <= datetime.fromisoformat(body["send_at"]) <= utcnow()


async def test_quiet_hours_move_send_at_to_the_windows_end(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [1701, 1702])
    # 22:30 in Chisinau (UTC+2 in December): quiet until 09:00 there, 07:00 UTC.
    night = datetime(2026, 12, 10, 20, 30, tzinfo=UTC)
    monkeypatch.setattr(BotApp, "clock", lambda self: night)
    settings = bot_app.settings
    monkeypatch.setattr(settings, "timezone", "Europe/Chisinau")
    monkeypatch.setattr(settings, "quiet_hours", "21:00-09:00")  # the default
    _, body = await _post(client, server, {"survey": "delivery", "telegram_user_id": 1701})
    assert datetime.fromisoformat(body["send_at"]) == datetime(2026, 12, 11, 7, 0, tzinfo=UTC)
    monkeypatch.setattr(settings, "quiet_hours", "off")
    _, body = await _post(client, server, {"survey": "delivery", "telegram_user_id": 1702})
    assert datetime.fromisoformat(body["send_at"]) == night


async def test_the_same_key_gives_the_first_result_and_a_changed_body_409(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [1801])
    body = {"survey": "delivery", "telegram_user_id": 1801, "attributes": {"agent": "olga"}}
    status, first = await _post(client, server, body, key="call-17")
    assert status == 202
    # Same body, other key order and an explicit default: the first answer, nothing new.
    same = {"attributes": {"agent": "olga"}, "telegram_user_id": 1801, "survey": "delivery"}
    assert await _post(client, server, same, key="call-17") == (202, first)
    status, error = await _post(client, server, {**body, "delay_seconds": 5}, key="call-17")
    assert (status, error["error"], error["field"]) == (409, "conflict", "Idempotency-Key")
    assert len(await rows(bot_app.db)) == 1
    # Without a key the same body is a new request (suppressed: invited a moment ago).
    assert (await _post(client, server, body))[1]["reason"] == "survey_cooldown"
    status, error = await _post(client, server, body, key="k" * 201)
    assert (status, error["field"]) == (422, "Idempotency-Key")


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_concurrent_requests_with_one_key_store_one_invitation(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [1901])
    body = {"survey": "delivery", "telegram_user_id": 1901}
    answers = await asyncio.gather(*(_post(client, server, body, key="same") for _ in range(8)))
    assert {status for status, _ in answers} == {202}
    assert len({answer["id"] for _, answer in answers}) == 1
    assert {answer["status"] for _, answer in answers} == {"scheduled"}
    assert len(await rows(bot_app.db)) == 1


async def test_cancel_one_not_yet_sent(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    await add_people(bot_app.db, [2001])
    _, body = await _post(
        client, server, {"survey": "delivery", "telegram_user_id": 2001, "delay_seconds": 600}
    )
    status, cancelled = await _get(client, server, body["id"], "DELETE")
    assert (status, cancelled["status"]) == (200, "cancelled"), cancelled
    assert (await _get(client, server, body["id"], "DELETE"))[0] == 200  # again: the same
    assert (await _get(client, server, body["id"]))[1]["status"] == "cancelled"
    # A cancelled invitation no longer counts for the fatigue rules.
    again = await _post(client, server, {"survey": "delivery", "telegram_user_id": 2001})
    assert again[1]["status"] == "scheduled"
    async with bot_app.db.transaction() as store:
        await store.invitations._session.execute(
            text("UPDATE invitations SET status = 'sent' WHERE public_id = :p"),
            {"p": again[1]["id"]},
        )
    status, error = await _get(client, server, again[1]["id"], "DELETE")
    assert (status, error["error"]) == (409, "conflict") and "sent" in error["message"]
    for method in ("GET", "DELETE"):
        status, error = await _get(client, server, "inv_unknown", method)
        assert (status, error["error"]) == (404, "not_found")


async def test_without_the_token_nothing_is_stored(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await _survey(bot_app)
    body = {"survey": "delivery", "telegram_user_id": 1}
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token-wrong-token"}):
        async with client.post(f"{server.url}{URL}", json=body, headers=headers) as response:
            assert response.status == 401
            assert (await response.json())["error"] == "unauthorized"
        async with client.get(f"{server.url}{URL}/inv_x", headers=headers) as response:
            assert response.status == 401
    async with client.post(
        f"{server.url}{URL}", data="survey=x", headers={**AUTH, "Content-Type": "text/plain"}
    ) as response:
        assert response.status == 415
    async with client.post(
        f"{server.url}{URL}",
        data=b"{" + b" " * 70_000 + b"}",
        headers={**AUTH, "Content-Type": "application/json"},
    ) as response:
        assert response.status == 413
    assert await rows(bot_app.db) == []
