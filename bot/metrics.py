"""The bot's Prometheus metrics, served at GET /metrics (bot/web/probes.py).

One registry per application (not prometheus_client's global one), so several bots in one
process — tests, an embedding host — never share or clash. Counted as things happen: the
updates the pipeline took (its `observer`, bot/pipeline.py) and every Bot API or Cloud
API call through a ChatPort (`MeteredPort`, wrapped once where ports enter:
`Pipeline.deliver` and the background jobs), by channel (bot/channels.py). Read at each
scrape: the work queues from the database (within SCRAPE_TIMEOUT, so a scrape never
hangs) and the connection pool.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from bot.channels import for_whatsapp
from handlers.events import BlockChange, ButtonPress, Event, IncomingMessage
from handlers.port import Action, ChatError, ChatPort, RetryLater, Transient, Unreachable
from storage.models import utcnow
from storage.repos.backlogs import Backlogs

if TYPE_CHECKING:
    from storage.db import Database

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCRAPE_TIMEOUT = 2.0  # seconds the database may take to count the queues at a scrape
CHANNELS = ("telegram", "whatsapp")  # the `channel` label of npsbot_sends_total
KINDS = {IncomingMessage: "message", ButtonPress: "button", BlockChange: "block"}
OUTCOMES = ("handled", "duplicate", "failed")
SEND_OUTCOMES = ("ok", "429", "403", "5xx", "other")
# Handler latency buckets (seconds): a unit of work takes milliseconds, a queue behind a
# busy chat or database seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class MeteredPort:
    """A ChatPort counting each call's outcome in npsbot_sends_total."""

    __slots__ = ("_port", "_sends")

    def __init__(self, port: ChatPort, sends: dict[tuple[str, str], Counter]) -> None:
        self._port = port
        self._sends = sends

    async def perform(self, action: Action) -> int | None:
        """Performs the action through the wrapped port and counts what its channel said."""
        channel = CHANNELS[for_whatsapp(action)]
        try:
            message_id = await self._port.perform(action)
        except ChatError as exc:
            self._sends[channel, _send_outcome(exc)].inc()
            raise
        self._sends[channel, "ok"].inc()
        return message_id

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A user's file (not a send: not counted)."""
        return await self._port.download(file_id, max_bytes)


def _send_outcome(exc: ChatError) -> str:
    if isinstance(exc, RetryLater):
        return "429"
    if isinstance(exc, Unreachable):
        return "403"
    if isinstance(exc, Transient):  # 5xx, timeouts and dropped connections
        return "5xx"
    return "other"  # 400 and other refusals


class _Backlog(Collector):
    """The gauges read at scrape time: queues (from the last `refresh`) and the pool."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # names are known only at collect; no clash checks needed for them

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        ready = GaugeMetricFamily(
            "npsbot_ready", "1 when /readyz says ready (database, schema, not stopping)"
        )
        ready.add_metric([], 1.0 if metrics.ready else 0.0)
        yield ready
        backlogs = metrics.backlogs
        read = GaugeMetricFamily(
            "npsbot_backlog_read_ok",
            "1 when this scrape read the queues from the database, 0 when it failed or "
            "timed out (the queue gauges are then left out)",
        )
        read.add_metric([], 1.0 if backlogs is not None else 0.0)
        yield read
        if backlogs is not None:
            yield from _backlog_gauges(backlogs)
        db = metrics.db
        if db is not None:
            in_use = GaugeMetricFamily(
                "npsbot_db_pool_in_use", "Database connections of this process in use"
            )
            in_use.add_metric([], float(metrics.pool_in_use))
            yield in_use
            if db.dialect == "postgresql":  # SQLite's pool is no limit worth watching
                size = GaugeMetricFamily(
                    "npsbot_db_pool_size", "Connections this process keeps (POOL_SIZE)"
                )
                size.add_metric([], float(db.pool_size))
                yield size


def _backlog_gauges(backlogs: Backlogs) -> Iterator[Metric]:
    values = (
        (
            "npsbot_broadcast_queue",
            "Recipients of running broadcasts not yet handed to Telegram (all replicas)",
            backlogs.broadcast_queue,
        ),
        (
            "npsbot_invitations_due",
            "Invitations due and not sent yet (all replicas)",
            backlogs.invitations_due,
        ),
        (
            "npsbot_events_backlog",
            "Event deliveries to EVENTS_URLS not delivered yet (all replicas)",
            backlogs.events_backlog,
        ),
        (
            "npsbot_events_oldest_seconds",
            "Age of the oldest event not delivered yet; 0 when none",
            backlogs.events_oldest_seconds,
        ),
    )
    for name, documentation, value in values:
        gauge = GaugeMetricFamily(name, documentation)
        gauge.add_metric([], float(value))
        yield gauge


class Metrics:
    """One application's metrics: the pipeline's observer and the source of /metrics."""

    def __init__(self, db: Database | None = None) -> None:
        self.db = db
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "npsbot_updates",
            "Updates the pipeline took, by kind (message, button, block) and outcome "
            "(handled, duplicate: handled before, failed: the handler raised)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.update_seconds = Histogram(
            "npsbot_update_seconds",
            "Seconds from an update reaching the pipeline to its transaction's end (the "
            "chat's lock, the handler, the commit; replies are sent after)",
            ["kind"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        sends = Counter(
            "npsbot_sends",
            "Bot API and WhatsApp Cloud API calls (messages, edits, button answers…), by "
            "channel (telegram, whatsapp) and outcome: "
            "ok, 429, 403, 5xx (also timeouts and dropped connections), other (400…)",
            ["channel", "outcome"],
            registry=self.registry,
        )
        # Children made up front: every series exists (at 0) from the start, so rate()
        # and absent-traffic alerts work, and no label lookup is on the hot path.
        self._updates = {
            (k, o): self.updates.labels(k, o) for k in KINDS.values() for o in OUTCOMES
        }
        self._seconds = {k: self.update_seconds.labels(k) for k in KINDS.values()}
        self._sends = {(c, o): sends.labels(c, o) for c in CHANNELS for o in SEND_OUTCOMES}
        self.backlogs: Backlogs | None = None
        self.pool_in_use = 0
        self.ready = False
        self.registry.register(_Backlog(self))
        ProcessCollector(registry=self.registry)  # CPU, memory, open files (Linux)

    def update_done(self, event: Event, outcome: str, seconds: float) -> None:
        """The pipeline finished an update's transaction (Pipeline.observer)."""
        kind = KINDS[type(event)]
        self._updates[kind, outcome].inc()
        self._seconds[kind].observe(seconds)

    def port(self, port: ChatPort) -> ChatPort:
        """`port`, counting its calls (a port already counting is returned as it is)."""
        if isinstance(port, MeteredPort):
            return port
        return MeteredPort(port, self._sends)

    async def refresh(self) -> None:
        """Reads what the scrape reports from the database (the queues within
        SCRAPE_TIMEOUT; on failure they are left out and npsbot_backlog_read_ok is 0)."""
        if self.db is None:
            return
        self.pool_in_use = self.db.pool_in_use()  # before this scrape takes a connection
        try:
            async with asyncio.timeout(SCRAPE_TIMEOUT):
                async with self.db.snapshot() as store:
                    self.backlogs = await store.backlogs.read(utcnow())
        except Exception as exc:  # a timeout or any database error: the gauges are left out
            log.warning("metrics: the queues could not be read (%s)", type(exc).__name__)
            self.backlogs = None

    async def exposition(self, *, ready: bool) -> bytes:
        """The text /metrics answers with (Prometheus' format); `ready`: what /readyz says."""
        self.ready = ready
        await self.refresh()
        return generate_latest(self.registry)
