"""Health probes and metrics: GET /healthz, GET /readyz and GET /metrics.

The probes need no token and reveal nothing but whether to send traffic: /healthz says the
process lives (its event loop answers), /readyz that it may take traffic — the database
answers, its schema is at this code's Alembic heads, and the bot is not stopping. /metrics
(Prometheus' text format, bot/metrics.py) exists only with METRICS_TOKEN and needs it as a
bearer token: the figures tell a stranger how busy the bot is.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from pydantic import BaseModel

from bot.metrics import CONTENT_TYPE
from bot.web.api import ApiCall, ApiError, Endpoint, Reply, authorized

if TYPE_CHECKING:
    from bot.app import BotApp

log = logging.getLogger(__name__)

# /readyz says 503 rather than hang when the database does not answer within this.
READY_TIMEOUT = 5.0


class Health(BaseModel):
    """The process lives."""

    status: Literal["ok"]


class Ready(BaseModel):
    """The bot may take traffic."""

    status: Literal["ready"]


async def healthz(call: ApiCall) -> Reply:
    """Liveness: answered by the event loop, whatever the database says."""
    return Reply(200, Health(status="ok"))


async def not_ready(app: BotApp) -> ApiError | None:
    """Why the bot may not take traffic now (None: it may); logged when it changes."""
    problem = await _problem(app)
    said = problem.body.message if problem is not None else None
    if said != app.readiness_problem:
        if said is None:
            log.info("ready: the database answers and its schema is current")
        else:
            log.warning("not ready: %s", said)
        app.readiness_problem = said
    return problem


async def _problem(app: BotApp) -> ApiError | None:
    if app.draining:
        return ApiError(503, "draining", "The bot is stopping.")
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            state = await app.db.schema()
    except Exception:  # a timeout or whichever error the driver raises
        return ApiError(503, "database_unavailable", "The database does not answer.")
    problem = state.problem()
    if problem is not None:
        return ApiError(503, "schema_mismatch", problem[0].upper() + problem[1:] + ".")
    return None


async def readyz(call: ApiCall) -> Reply:
    """Readiness: 200 when the bot may take traffic, else 503 saying why."""
    problem = await not_ready(call.app)
    if problem is not None:
        raise problem
    return Reply(200, Ready(status="ready"))


HEALTH = Endpoint(
    method="GET",
    path="/healthz",
    summary="Liveness: 200 while the process runs (the database is /readyz's concern).",
    handler=healthz,
    responses={200: Health},
    public=True,
)

READY = Endpoint(
    method="GET",
    path="/readyz",
    summary="Readiness: 200 when the database answers, its schema is this version's and "
    "the bot is not stopping; else 503 with the reason.",
    handler=readyz,
    responses={200: Ready},
    errors={
        503: "Not ready: `draining` (stopping), `database_unavailable`, or "
        "`schema_mismatch` (the database's revision is not this version's)."
    },
    public=True,
)

PROBES = (HEALTH, READY)


def metrics_routes(app: BotApp, token: str) -> list[web.RouteDef]:
    """GET /metrics with `Authorization: Bearer <token>`; no route without a token."""
    if not token:
        return []

    async def metrics(request: web.Request) -> web.Response:
        """The bot's metrics in Prometheus' text format."""
        if not authorized(request.headers.get("Authorization"), token):
            raise ApiError(401, "unauthorized", "Send Authorization: Bearer <METRICS_TOKEN>.")
        ready = await not_ready(app) is None
        body = await app.metrics.exposition(ready=ready)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    return [web.get("/metrics", metrics)]
