"""`GET /api/v1/nps` for CSAT and CES surveys: their own figures under `kind`, worked out
here from the raw scores; NPS answers keep their fields (with kind "nps")."""

from __future__ import annotations

import math
import statistics
from datetime import timedelta

import aiohttp
import pytest

from bot.app import BotApp
from bot.web.server import HttpServer
from storage.models import utcnow
from tests.conftest import BACKENDS
from tests.scale_helpers import wilson_percent
from tests.web.conftest import get_ok
from tests.web.data import add_survey, answered, default_survey

pytestmark = pytest.mark.parametrize("db_url", BACKENDS, indirect=True)


async def test_a_csat_survey_answers_with_csat(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    db = bot_app.db
    checkout = await add_survey(db, "checkout", "Checkout", kind="csat")
    now = utcnow()
    scores = [(5, "olga"), (5, "olga"), (4, "ivan"), (3, "ivan"), (1, None)]
    for user, (value, agent) in enumerate(scores, start=100):
        await answered(db, checkout, user, value, at=now - timedelta(days=1), agent=agent)
    await answered(db, checkout, 300, 2, at=now - timedelta(days=40))
    body = await get_ok(client, server, "/api/v1/nps?survey=checkout&by=agent")
    low, high = wilson_percent(3, 5)
    assert body["kind"] == "csat" and body["surveys"] == ["checkout"]
    assert body["csat"] == pytest.approx(60.0)
    assert body["interval"]["low"] == pytest.approx(low)
    assert body["interval"]["high"] == pytest.approx(high)
    assert body["margin"] == pytest.approx((high - low) / 2)
    assert (body["answers"], body["satisfied"], body["neutral"], body["dissatisfied"]) == (
        5,
        3,
        1,
        1,
    )
    assert body["distribution"] == [
        {"score": 5, "answers": 2},
        {"score": 4, "answers": 1},
        {"score": 3, "answers": 1},
        {"score": 2, "answers": 0},
        {"score": 1, "answers": 1},
    ]
    assert "nps" not in body and "promoters" not in body
    assert body["previous"]["csat"] == 0.0 and body["previous"]["answers"] == 1
    assert body["previous"]["change"] == pytest.approx(60.0)
    rows = {row["value"]: (row["answers"], row["csat"]) for row in body["segments"]}
    assert rows == {"olga": (2, 100.0), "ivan": (2, 50.0), None: (1, 0.0)}


async def test_a_ces_survey_answers_with_ces_and_nps_keeps_its_fields(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    db = bot_app.db
    returns = await add_survey(db, "returns", "Returns", kind="ces")
    scores = [7, 6, 6, 3, 5]
    for user, value in enumerate(scores, start=200):
        await answered(db, returns, user, value, at=utcnow() - timedelta(hours=2))
    await answered(db, await default_survey(db), 250, 9, at=utcnow() - timedelta(hours=2))
    body = await get_ok(client, server, "/api/v1/nps?survey=Returns&period=7d")
    mean, sd = statistics.mean(scores), statistics.stdev(scores)
    half = 2.776445 * sd / math.sqrt(len(scores))  # t(0.975, 4), from a printed table
    assert body["kind"] == "ces" and body["ces"] == pytest.approx(mean)
    assert body["sd"] == pytest.approx(sd)
    assert body["margin"] == pytest.approx(half, rel=1e-6)
    assert body["interval"] == {
        "low": pytest.approx(mean - half, rel=1e-6),
        "high": pytest.approx(min(7.0, mean + half), rel=1e-6),
    }
    assert (body["easy"], body["neutral"], body["difficult"]) == (4, 0, 1)
    assert body["segments"] is None and body["previous"]["change"] is None
    nps = await get_ok(client, server, "/api/v1/nps")
    assert nps["kind"] == "nps" and nps["surveys"] == ["nps"] and nps["nps"] == 100.0
    assert nps["answers"] == 1  # the CES answers are not NPS answers


async def test_every_kind_of_figures_is_what_the_openapi_document_says(
    bot_app: BotApp, server: HttpServer, client: aiohttp.ClientSession
) -> None:
    from jsonschema_rs import Draft202012Validator  # what schemathesis validates with

    db = bot_app.db
    for slug, kind, value in (("checkout", "csat", 4), ("returns", "ces", 2)):
        survey = await add_survey(db, slug, slug.title(), kind=kind)
        await answered(db, survey, 400 + value, value, at=utcnow() - timedelta(hours=1))
    async with client.get(f"{server.url}/api/v1/openapi.json") as response:
        document = await response.json()
    ok = document["paths"]["/api/v1/nps"]["get"]["responses"]["200"]
    schema = {**ok["content"]["application/json"]["schema"], "components": document["components"]}
    validator = Draft202012Validator(schema)
    kinds = {}
    for query in ("survey=checkout&by=agent", "survey=returns&by=survey", "by=language", ""):
        body = await get_ok(client, server, f"/api/v1/nps?{query}")
        errors = [error.message for error in validator.iter_errors(body)]
        assert not errors, (query, errors)
        kinds[query] = body["kind"]
    assert list(kinds.values()) == ["csat", "ces", "nps", "nps"]
    # A CSAT body is no NPS body: only one branch of the document's oneOf fits it.
    csat = await get_ok(client, server, "/api/v1/nps?survey=checkout")
    assert not Draft202012Validator(
        {"$ref": "#/components/schemas/NpsFigures", "components": document["components"]}
    ).is_valid(csat)
