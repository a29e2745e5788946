"""GET /metrics through a real client: its own bearer token, and figures that move with
what the bot does — updates through the real pipeline, Bot API calls answered by the
emulator (a 429 among them), queues counted in the real database."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from bot.app import BotApp, start_application
from bot.emulator import BotApiEmulator
from bot.metrics import Metrics
from bot.web.server import HttpServer, serve_http
from handlers.events import IncomingMessage, Sender
from handlers.port import Action, AnswerButton, SendText, Unreachable
from storage.models import utcnow
from storage.repos.audience import Fatigue, Segment
from storage.repos.whatsapp import WHATSAPP_CHAT_BASE
from tests.conftest import BACKENDS, PG_URL, _asyncpg_dsn
from tests.e2e.conftest import RunningBot, make_settings
from tests.invitation_helpers import add_people, schedule
from tests.scenario import QUESTION, TOKEN, wait_for
from tests.web.conftest import API_TOKEN, AUTH, ME, web_settings

METRICS_TOKEN = "metrics-token-0123456789abcdef-0123456789"
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
EVENTS_URL = "http://127.0.0.1:9/events"  # never called: no job runs in these apps
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: aiohttp.ClientSession, base: str) -> Samples:
    """Every sample of one scrape, keyed by name and sorted labels."""
    async with client.get(f"{base}/metrics", headers=SCRAPER) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "text/plain"
        body = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def handled(samples: Samples, outcome: str = "handled", kind: str = "message") -> float:
    return value(samples, "npsbot_updates_total", kind=kind, outcome=outcome)


def sends(samples: Samples, outcome: str) -> float:
    return value(samples, "npsbot_sends_total", channel="telegram", outcome=outcome)


@pytest.fixture
async def metrics_app(db_url: str) -> AsyncIterator[BotApp]:
    """The application with METRICS_TOKEN and an events URL (no job runs: queues stay)."""
    settings = web_settings(
        db_url,
        metrics_token=METRICS_TOKEN,
        events_urls=[EVENTS_URL],
        events_secret="events-secret-0123456789",
        pool_size=7,
    )
    app = await start_application(settings, ME)
    yield app
    await app.close()


@pytest.fixture
async def metrics_server(metrics_app: BotApp) -> AsyncIterator[HttpServer]:
    async with serve_http(metrics_app, metrics_app.settings) as running:
        yield running


async def test_metrics_needs_its_own_token_and_exists_only_with_it(
    metrics_server: HttpServer, bot_app: BotApp, client: aiohttp.ClientSession
) -> None:
    url = f"{metrics_server.url}/metrics"
    wrong: list[dict[str, str]] = [
        {},
        {"Authorization": f"Bearer {METRICS_TOKEN[:-1]}x"},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"Authorization": METRICS_TOKEN},
        AUTH,  # the API's token is not the scraper's
    ]
    for headers in wrong:
        async with client.get(url, headers=headers) as response:
            body = await response.json()
            assert (response.status, body["error"]) == (401, "unauthorized"), headers
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert METRICS_TOKEN not in str(body) and API_TOKEN not in str(body)
    samples = await scrape(client, metrics_server.url)
    assert value(samples, "npsbot_ready") == 1
    if sys.platform == "linux":  # the process collector reads /proc
        assert value(samples, "process_resident_memory_bytes") > 0

    # Without METRICS_TOKEN there is no /metrics, whatever the token.
    async with serve_http(bot_app, bot_app.settings) as plain:
        for headers in (SCRAPER, AUTH):
            async with client.get(f"{plain.url}/metrics", headers=headers) as response:
                assert response.status == 404


class _Port:
    """A chat that has blocked the bot: every call is refused with 403."""

    def __init__(self) -> None:
        self.calls = 0

    async def perform(self, action: Action) -> int | None:
        self.calls += 1
        raise Unreachable("Forbidden: bot was blocked by the user")

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        raise AssertionError("not used")


async def test_updates_are_counted_by_kind_and_outcome_through_the_pipeline(
    metrics_app: BotApp, metrics_server: HttpServer, client: aiohttp.ClientSession
) -> None:
    before = await scrape(client, metrics_server.url)
    assert handled(before) == handled(before, "duplicate") == handled(before, "failed") == 0
    pipeline, port = metrics_app.pipeline, _Port()
    start = IncomingMessage(update_id=41, chat_id=901, sender=Sender(901, "Ann"), text="/start")
    await pipeline.handle(start, port)
    await pipeline.handle(start, port)  # Telegram delivering it again
    after = await scrape(client, metrics_server.url)
    assert handled(after) == 1 and handled(after, "duplicate") == 1
    assert value(after, "npsbot_update_seconds_count", kind="message") == 2
    assert value(after, "npsbot_update_seconds_sum", kind="message") > 0
    assert sends(after, "403") == port.calls == 1  # the greeting, refused once, not retried

    async def broken(*_: Any) -> None:
        raise RuntimeError("a bug in a handler")

    pipeline.router.route = broken  # type: ignore[method-assign]
    await pipeline.handle(
        IncomingMessage(update_id=42, chat_id=902, sender=Sender(902, "Bob"), text="hi"), port
    )
    assert handled(await scrape(client, metrics_server.url), "failed") == 1


@pytest.mark.parametrize("db_url", BACKENDS, indirect=True)
async def test_the_queues_are_counted_at_each_scrape(
    metrics_app: BotApp, metrics_server: HttpServer, client: aiohttp.ClientSession
) -> None:
    db = metrics_app.db
    empty = await scrape(client, metrics_server.url)
    assert value(empty, "npsbot_backlog_read_ok") == 1
    for name in ("broadcast_queue", "invitations_due", "events_backlog", "events_oldest_seconds"):
        assert ((f"npsbot_{name}", ()) in empty) and value(empty, f"npsbot_{name}") == 0

    now = utcnow()
    people = list(range(7_100_001, 7_100_004))
    await add_people(db, people)
    async with db.transaction() as store:
        survey = await store.surveys.ensure_default()
        draft = await store.broadcasts.create_draft(
            survey_id=survey.id, segment="", created_by=1, chat_id=1, language="en", now=now
        )
        assert await store.broadcasts.start(draft.id, Segment(), Fatigue(90, 7), now, 1) == 3
        for kind in ("response.scored", "response.completed"):
            await store.events.emit(kind, {"score": 9})
    await schedule(db, survey.id, people[0], now - timedelta(minutes=1))
    await schedule(db, survey.id, people[1], now - timedelta(seconds=1))
    await schedule(db, survey.id, people[2], now + timedelta(hours=1))  # not due yet
    async with db.engine.begin() as conn:  # the first event has waited ten minutes
        first = (await conn.execute(text("SELECT min(id) FROM events"))).scalar()
        await conn.execute(
            text("UPDATE events SET created_at = :at WHERE id = :id"),
            {"at": (now - timedelta(minutes=10)).replace(tzinfo=None), "id": first},
        )

    samples = await scrape(client, metrics_server.url)
    assert value(samples, "npsbot_broadcast_queue") == 3
    assert value(samples, "npsbot_invitations_due") == 2
    assert value(samples, "npsbot_events_backlog") == 2
    assert 600 <= value(samples, "npsbot_events_oldest_seconds") < 900
    if db.dialect == "postgresql":
        assert value(samples, "npsbot_db_pool_size") == 7  # POOL_SIZE
    assert value(samples, "npsbot_db_pool_in_use") == 0  # nothing else holds one


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_scrape_never_hangs_on_a_locked_database(
    metrics_app: BotApp,
    metrics_server: HttpServer,
    client: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.metrics.SCRAPE_TIMEOUT", 0.5)
    name = str(metrics_app.db.engine.url.database)
    holder = await asyncpg.connect(_asyncpg_dsn(PG_URL, name))
    try:
        async with holder.transaction():  # another session holds the table
            await holder.execute("LOCK TABLE broadcasts IN ACCESS EXCLUSIVE MODE")
            loop = asyncio.get_running_loop()
            began = loop.time()
            samples = await scrape(client, metrics_server.url)
            assert loop.time() - began < 5
        assert value(samples, "npsbot_backlog_read_ok") == 0
        assert ("npsbot_broadcast_queue", ()) not in samples  # left out, not stale
        assert value(samples, "npsbot_ready") == 1  # the schema was readable
    finally:
        await holder.close()
    assert value(await scrape(client, metrics_server.url), "npsbot_backlog_read_ok") == 1


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_running_bot_counts_its_updates_and_telegrams_answers(
    db_url: str, client: aiohttp.ClientSession
) -> None:
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as api:
        port = _free_port()
        settings = make_settings(api, db_url, metrics_token=METRICS_TOKEN, http_port=port)
        bot = RunningBot(settings, api)
        await bot.start()
        base = f"http://127.0.0.1:{port}"
        try:
            await bot.idle()
            before = await scrape(client, base)
            ann = api.user(5301, first_name="Ann", language_code="en")
            api.inject_fault(method="sendMessage", status=429, retry_after=1, times=1)
            ann.send("/start")
            await ann.wait_for_message(lambda m: QUESTION in m.text, timeout=15)
            await bot.idle()

            async def counted() -> Samples | None:
                samples = await scrape(client, base)
                return samples if handled(samples) > handled(before) else None

            after = await wait_for(counted, "the /start update counted")
            assert handled(after) - handled(before) == 1
            assert sends(after, "429") - sends(before, "429") == 1  # the emulator's 429
            assert sends(after, "ok") - sends(before, "ok") >= 2  # greeting and question
            assert value(after, "npsbot_ready") == 1
        finally:
            await bot.stop()


class _Answering:
    """A port whose calls succeed, or fail as unreachable for the chats in `gone`."""

    def __init__(self, gone: set[int]) -> None:
        self.gone = gone

    async def perform(self, action: Action) -> int | None:
        if getattr(action, "chat_id", None) in self.gone:
            raise Unreachable("blocked")
        return 1

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        return b""


async def test_sends_are_counted_by_the_channel_of_their_chat() -> None:
    metrics = Metrics()
    whatsapp_chat = WHATSAPP_CHAT_BASE + 7
    port = metrics.port(_Answering({whatsapp_chat}))
    await port.perform(SendText(42, "hi"))
    await port.perform(AnswerButton("wa:1", "noted"))
    with pytest.raises(Unreachable):
        await port.perform(SendText(whatsapp_chat, "hi"))
    registry = metrics.registry

    def count(channel: str, outcome: str) -> float | None:
        labels = {"channel": channel, "outcome": outcome}
        return registry.get_sample_value("npsbot_sends_total", labels)

    assert count("telegram", "ok") == 1
    assert count("whatsapp", "ok") == 1
    assert count("whatsapp", "403") == 1
    assert count("telegram", "403") == 0
