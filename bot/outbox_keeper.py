"""Replies no process is sending any more: sent by a live one.

Every reply a unit of work commits is kept in the outbox until it is sent (bot/outbox.py),
under the name of the process sending it. That process keeps a heartbeat row (the sending
workers' table, storage/repos/sending_workers.py) while it runs and removes it once it has
stopped cleanly. When a replica dies (kill -9, a lost machine), the heartbeat stops and the
live replicas take its rows over within LIVE_WINDOW + KEEPER_EVERY seconds, each row by
one of them (the take is one conditional UPDATE), and send what was not sent yet. At a
start, rows that nobody alive owns are taken at once: SQLite runs one process, so there
every row written before the start is.

Sent at most twice: a reply in flight at the kill may have reached Telegram without its
record (README: "Replies survive a crash").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from bot.broadcast.sending_process import LIVE_WINDOW
from bot.pipeline import Pipeline
from handlers.port import ChatPort
from storage.db import Database
from storage.models import utcnow
from storage.repos.outbox import KeptRow

log = logging.getLogger(__name__)

KEEPER_EVERY = 2.0  # seconds between heartbeats, and between looks for abandoned replies


class OutboxKeeper:
    """This process's heartbeat, and the takeover of replies dead processes left."""

    def __init__(self, db: Database, pipeline: Pipeline, started_at: datetime, name: str) -> None:
        self.db = db
        self.pipeline = pipeline
        self.started_at = started_at
        self.name = name  # the process's row, shared with its SendingProcess's lease

    async def start(self, port: ChatPort) -> None:
        """Beats once (the replies kept from now on carry this process's name), then sends
        what earlier runs left that no live process owns."""
        await self._beat()
        self.pipeline.owner = self.name
        async with self.db.transaction() as store:
            rows = await store.outbox.take_left(
                self.name, self.started_at, anyone=self.db.dialect == "sqlite"
            )
        if rows:
            log.info("sending %d replies left unsent by the last run", len(rows))
        await self.pipeline.resend_kept(port, rows)

    async def run(self, port: ChatPort) -> None:
        """Beats and takes over abandoned replies until cancelled."""
        # Two loops: a long resend (429 waits) must not hold up the heartbeat, or the
        # other replicas would take this process for dead.
        async with asyncio.TaskGroup() as group:
            group.create_task(self._beat_forever())
            group.create_task(self._take_over_forever(port))

    async def leave(self) -> None:
        """Removes the heartbeat once nothing is being sent (after Pipeline.drain), so the
        replies this stop left are taken over at once rather than after LIVE_WINDOW."""
        with contextlib.suppress(Exception):
            async with self.db.transaction() as store:
                await store.workers.forget(self.name)

    async def _beat(self) -> None:
        async with self.db.transaction() as store:
            await store.workers.heartbeat(self.name, utcnow())

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(KEEPER_EVERY)
            try:
                await self._beat()
            except Exception:
                log.exception("heartbeat failed; retrying")

    async def _take_over_forever(self, port: ChatPort) -> None:
        while True:
            await asyncio.sleep(KEEPER_EVERY)
            try:
                rows = await self._abandoned()
            except Exception:
                log.exception("looking for abandoned replies failed; retrying")
                continue
            if rows:
                log.warning("sending %d replies a stopped replica left unsent", len(rows))
                await self.pipeline.resend_kept(port, rows)

    async def _abandoned(self) -> list[KeptRow]:
        since = utcnow() - timedelta(seconds=LIVE_WINDOW)
        async with self.db.transaction() as store:
            return await store.outbox.take_abandoned(self.name, since)
