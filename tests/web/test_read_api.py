"""The read API on both databases: surveys, the /nps figures (the chat's own numbers) and
the answer feed (stable pages while answers arrive, eNPS answers without identity)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import BotApp
from bot.i18n import Catalogs
from bot.web.api_responses import ANONYMOUS_DELAY, SETTLE
from bot.web.server import HttpServer
from nps.nps_math import format_nps
from nps.nps_report import build_report, build_segments, render_report
from nps.scope import parse_report_args
from storage.models import utcnow
from storage.repos.anonymity import coarse
from tests.conftest import BACKENDS
from tests.web.conftest import AUTH, get_ok
from tests.web.data import add_survey, answered, asked, default_survey, score

pytestmark = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


async def test_surveys_are_listed(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    await add_survey(bot_app.db, "pulse", "Team pulse", kind="enps")
    async with bot_app.db.transaction() as store:
        delivery = await store.surveys.add(slug="delivery", name="Delivery")
        await store.surveys.update(delivery.id, active=False)
    body = await get_ok(client, server, "/api/v1/surveys")
    assert body == {
        "surveys": [
            {"slug": "nps", "name": "Main survey", "kind": "nps", "active": True, "default": True},
            {
                "slug": "pulse",
                "name": "Team pulse",
                "kind": "enps",
                "active": True,
                "default": False,
            },
            {
                "slug": "delivery",
                "name": "Delivery",
                "kind": "nps",
                "active": False,
                "default": False,
            },
        ]
    }


async def _chat_report(bot_app: BotApp, args: str) -> tuple[Any, str]:
    """What the chat's /nps computes and shows for these arguments (its own parsing)."""
    async with bot_app.db.snapshot() as store:
        surveys = await store.surveys.all()
        today = bot_app.clock().astimezone(store.stats.tz).date()
        parsed = parse_report_args(args, surveys, today=today, command="nps", allow_segment=True)
        report = await build_report(store, parsed.scope)
        rows = (
            await build_segments(store, parsed.scope, parsed.segment) if parsed.segment else None
        )
    texts = Catalogs().texts("en")
    minimum = bot_app.settings.enps_min_group
    return (report, rows), render_report(report, texts, min_group=minimum)


async def test_nps_figures_are_the_chats(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    db = bot_app.db
    nps_id = await default_survey(db)
    delivery = await add_survey(db, "delivery", "Delivery")
    await add_survey(db, "pulse", "Team pulse", kind="enps")
    now = utcnow()
    scores = [(10, "olga"), (10, "olga"), (9, "ivan"), (8, "ivan"), (7, None), (3, "olga")]
    for user, (value, agent) in enumerate(scores, start=100):
        await answered(db, nps_id, user, value, at=now - timedelta(days=2), agent=agent)
    await answered(db, delivery, 200, 0, at=now - timedelta(days=3), agent="ivan")
    # The previous 30 days: two answers, NPS 0.
    await answered(db, nps_id, 300, 10, at=now - timedelta(days=40))
    await answered(db, nps_id, 301, 2, at=now - timedelta(days=41))
    # Asked, never answered: an invitation without an answer lowers the response rate.
    await asked(db, nps_id, 400, at=now - timedelta(days=1))

    body = await get_ok(client, server, "/api/v1/nps")
    (report, _), chat = await _chat_report(bot_app, "")
    s = report.current.summary
    # By hand: 3 promoters (10, 10, 9), 2 passives (8, 7), 2 detractors (3, 0) of 7 answers.
    assert (body["promoters"], body["passives"], body["detractors"]) == (3, 2, 2)
    assert math.isclose(body["nps"], 100 * (3 - 2) / 7)
    assert math.isclose(body["average"], (10 + 10 + 9 + 8 + 7 + 3 + 0) / 7)
    assert math.isclose(body["response_rate"], 100 * 7 / 8)
    assert body["surveys"] == ["nps", "delivery"]  # every NPS survey, not the eNPS one
    assert body["period"]["end"] == now.date().isoformat()
    assert body["period"]["start"] == (now.date() - timedelta(days=29)).isoformat()
    # The domain's figures, exactly.
    assert body["answers"] == s.n == 7 and body["invited"] == report.current.invited == 8
    assert (body["nps"], body["margin"], body["average"]) == (s.nps, s.margin, s.average)
    assert body["interval"] == {"low": s.low, "high": s.high}
    assert body["too_small"] is True and body["withheld"] is False and body["segments"] is None
    previous = body["previous"]
    assert (previous["answers"], previous["nps"]) == (2, 0.0)
    assert previous["change"] == report.change.delta and previous["significant"] is False
    # And what the chat shows: the same rounded NPS and margin.
    assert f"NPS <b>{format_nps(body['nps'])}</b>" in chat
    assert f"→ now {format_nps(body['nps'])}" in chat

    body = await get_ok(client, server, "/api/v1/nps?survey=Delivery&period=7d&by=agent")
    (report, rows), _ = await _chat_report(bot_app, "by agent delivery 7d")
    assert body["surveys"] == ["delivery"] and body["answers"] == 1 and body["nps"] == -100.0
    assert body["period"]["start"] == (now.date() - timedelta(days=6)).isoformat()
    assert [(r["value"], r["answers"], r["nps"]) for r in body["segments"]] == [
        (value or None, figures.summary.n, figures.summary.nps) for value, figures in rows
    ]
    body = await get_ok(client, server, "/api/v1/nps?by=agent&period=all")
    # olga 10, 10, 3; ivan 9, 8 and 0 (delivery); none: 7 and the two older answers.
    assert [(r["value"], r["answers"]) for r in body["segments"]] == [
        (None, 3),
        ("ivan", 3),
        ("olga", 3),
    ]
    assert body["answers"] == 9

    async with client.get(f"{server.url}/api/v1/nps?survey=nope", headers=AUTH) as response:
        error = await response.json()
        assert (response.status, error["error"], error["field"]) == (404, "not_found", "survey")


async def test_enps_figures_obey_enps_min_group(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    db = bot_app.db
    pulse = await add_survey(db, "pulse", "Team pulse", kind="enps")
    yesterday = utcnow() - timedelta(days=1)
    for user, value in enumerate((9, 10, 3, 8), start=500):
        await answered(db, pulse, user, value, at=yesterday)
    body = await get_ok(client, server, "/api/v1/nps?survey=pulse&by=language")
    _, chat = await _chat_report(bot_app, "pulse")
    assert "hidden to keep them anonymous" in chat  # the chat withholds it too
    assert body["withheld"] is True
    assert all(body[k] is None for k in ("answers", "nps", "promoters", "average", "invited"))
    assert body["previous"]["change"] is None
    assert [row["withheld"] for row in body["segments"]] == [True]
    assert body["segments"][0]["answers"] is None

    await answered(db, pulse, 510, 10, at=yesterday)  # the fifth answer
    body = await get_ok(client, server, "/api/v1/nps?survey=pulse")
    assert body["withheld"] is False and body["answers"] == 5
    assert body["nps"] == 100 * (3 - 1) / 5


async def _feed(
    client: aiohttp.ClientSession, server: HttpServer, cursor: str | None, limit: int
) -> Any:
    query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    return await get_ok(client, server, f"/api/v1/responses{query}")


async def test_pages_stay_stable_while_answers_arrive(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = bot_app.db
    nps_id = await default_survey(db)
    # The feed lists what is SETTLE old: move the bot's clock past it, as time would.
    monkeypatch.setattr(bot_app, "clock", lambda: utcnow() + SETTLE + timedelta(seconds=1))
    start = utcnow() - timedelta(hours=1)
    # Asked first (the lowest id), scored last: the feed must still list it, after the rest.
    late = await asked(db, nps_id, 700, at=start)
    # Replaced by the same person's newer answer: never listed.
    replaced = await answered(db, nps_id, 701, 4, at=start)
    newer = await asked(db, nps_id, 701, at=start, replaces=replaced)
    await score(db, newer, 9, at=start + timedelta(seconds=1))
    expected = [newer]
    for minute in range(5):
        at = start + timedelta(minutes=minute + 1)
        expected.append(await answered(db, nps_id, 710 + minute, minute, at=at, source="shop"))
        # Two answers at the very same moment: ordered by id, both listed once.
        expected.append(await answered(db, nps_id, 720 + minute, 10, at=at))

    seen: list[dict[str, Any]] = []
    page = await _feed(client, server, None, 3)
    seen += page["items"]
    # Answers arriving between pages: one asked long ago, two new people.
    await score(db, late, 6)
    arrived = [late]
    arrived.append(await answered(db, nps_id, 730, 8))
    while page["has_more"]:
        page = await _feed(client, server, page["next_cursor"], 3)
        seen += page["items"]
        if len(arrived) == 2:
            arrived.append(await answered(db, nps_id, 731, 1))
    # Polling later with the last cursor brings only what is new.
    page = await _feed(client, server, page["next_cursor"], 3)
    seen += page["items"]
    assert not page["has_more"]
    again = await _feed(client, server, page["next_cursor"], 3)
    assert again["items"] == [] and again["next_cursor"] == page["next_cursor"]

    ids = [item["id"] for item in seen]
    assert len(ids) == len(set(ids)), "an answer was listed twice"
    assert ids == [str(i) for i in expected + arrived], "an answer is missing or out of order"
    assert str(replaced) not in ids
    first = seen[1]
    assert first["source"] == "shop" and first["score"] == 0 and first["group"] == "detractor"
    assert first["telegram_user_id"] == 710 and first["respondent_id"] is not None
    assert first["anonymous"] is False and first["survey"] == "nps"

    # `since` starts the feed at a moment instead.
    since = (start + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    page = await get_ok(client, server, f"/api/v1/responses?since={since}&limit=1000")
    assert [item["id"] for item in page["items"]] == ids[-(2 + len(arrived)) :]


async def test_fresh_answers_wait_until_they_settle(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    nps_id = await default_survey(bot_app.db)
    old = await answered(bot_app.db, nps_id, 800, 9, at=utcnow() - timedelta(minutes=1))
    await answered(bot_app.db, nps_id, 801, 9)  # just now: still settling
    page = await _feed(client, server, None, 10)
    assert [item["id"] for item in page["items"]] == [str(old)]


async def test_enps_answers_come_after_their_day_without_identity(
    bot_app: BotApp,
    server: HttpServer,
    client: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = bot_app.db
    nps_id = await default_survey(db)
    pulse = await add_survey(db, "pulse", "Team pulse", kind="enps")
    now = utcnow()
    monkeypatch.setattr(bot_app, "clock", lambda: now + SETTLE)
    three_days_ago, two_days_ago, today = (now - timedelta(days=d) for d in (3, 2, 0))
    for user in range(5):  # a full group: listed
        await answered(db, pulse, 900 + user, 10 - user, at=three_days_ago, agent="boss")
    for user in range(4):  # fewer than ENPS_MIN_GROUP: never listed
        await answered(db, pulse, 910 + user, 7, at=two_days_ago)
    for user in range(5):  # today's: listed only after the day
        await answered(db, pulse, 920 + user, 9, at=today)
    day = coarse(three_days_ago)
    assert day is not None
    before = await answered(db, nps_id, 930, 8, at=day + ANONYMOUS_DELAY - timedelta(seconds=1))
    after = await answered(db, nps_id, 931, 8, at=day + ANONYMOUS_DELAY + timedelta(seconds=1))

    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await _feed(client, server, cursor, 2)
        items += page["items"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    anonymous = [item for item in items if item["anonymous"]]
    assert [item["id"] for item in items if not item["anonymous"]] == [str(before), str(after)]
    # Listed together between the named answers around the day's end, by public id.
    assert items[1:6] == anonymous and len(anonymous) == 5
    assert [item["id"] for item in anonymous] == sorted(item["id"] for item in anonymous)
    assert sorted(item["score"] for item in anonymous) == [6, 7, 8, 9, 10]
    for item in anonymous:
        assert item["id"].startswith("anon-") and item["survey"] == "pulse"
        assert item["scored_at"] == day.isoformat().replace("+00:00", "Z")
        for key in ("respondent_id", "telegram_user_id", "phone", "agent", "source", "campaign"):
            assert item[key] is None, key

    # The next day, today's answers appear after everything already read.
    monkeypatch.setattr(
        bot_app,
        "clock",
        lambda: coarse(today) + ANONYMOUS_DELAY + SETTLE,  # type: ignore[operator]
    )
    page = await _feed(client, server, cursor, 10)
    assert len(page["items"]) == 5 and all(item["anonymous"] for item in page["items"])
    assert not {item["id"] for item in page["items"]} & {item["id"] for item in items}
