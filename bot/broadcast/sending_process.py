"""What the sending jobs of one process share — its worker name, the rate limiter and the
heartbeat that splits BROADCAST_RATE between replicas — and `StoppableJob`, the base of the
broadcast and reminder workers, which winds down cleanly when cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.broadcast.limiter import RateLimiter
from bot.settings import Settings
from handlers.port import ChatPort
from storage.db import Database
from storage.models import utcnow

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 2.0  # seconds between heartbeats while there is work
LIVE_WINDOW = 6.0  # a worker not seen for this long is dead; its "sending" rows are in doubt
SHUTDOWN_GRACE = 15.0  # a stop waits this long for calls in flight and the last record


def worker_name() -> str:
    """A name unique to this process run: host, pid and a random part (≤ 40 chars)."""
    return f"{socket.gethostname()[:16]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SendingProcess:
    """What the sending jobs of one process share: its name, the limiter, the heartbeat."""

    def __init__(self, settings: Settings, *, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or worker_name()
        self.limiter = RateLimiter(settings.broadcast_rate, settings.broadcast_per_chat_interval)
        self.live: list[str] = [self.name]
        self._beat_at = -math.inf

    async def beat(self, db: Database, *, force: bool = False) -> bool:
        """Refreshes the heartbeat and the rate share when due; True when it did."""
        if not force and time.monotonic() - self._beat_at < HEARTBEAT_EVERY:
            return False
        self._beat_at = time.monotonic()
        now = utcnow()
        async with db.transaction() as store:
            await store.workers.heartbeat(self.name, now)
            live = await store.workers.live(now - timedelta(seconds=LIVE_WINDOW))
        self.live = sorted(set(live) | {self.name})
        share = self.settings.broadcast_rate / len(self.live)
        if abs(share - self.limiter.configured_rate) > 1e-9:
            log.info("%d sending workers: %.2f messages/s each", len(self.live), share)
            self.limiter.configured_rate = share
            self.limiter.set_rate(share)
        return True

    async def leave(self, db: Database) -> None:
        """Removes the heartbeat after a clean stop (nothing of ours is "sending" any more)."""
        with contextlib.suppress(Exception):
            async with db.transaction() as store:
                await store.workers.forget(self.name)


class StoppableJob:
    """Runs `_main` so that cancelling the job stops it cleanly instead of mid-write.

    The job's task is what `BotApp.close()` cancels (and what `RunningBot.crash()`
    cancels through it). The real work runs in an inner task that is never cancelled
    directly: cancellation sets `stopping`, and `_main` winds down — no new sends, calls
    in flight answered, everything recorded — within SHUTDOWN_GRACE.
    """

    def __init__(self) -> None:
        self.stopping = asyncio.Event()

    async def run(self) -> None:
        """Runs until cancelled."""
        inner = asyncio.create_task(self._main())
        try:
            await asyncio.shield(inner)
        except asyncio.CancelledError:
            self.stop()
            try:
                await asyncio.wait_for(inner, SHUTDOWN_GRACE)
            except Exception:
                log.exception("%s did not stop cleanly", type(self).__name__)
            raise

    def stop(self) -> None:
        """Asks `_main` to wind down."""
        self.stopping.set()

    async def _main(self) -> None:
        raise NotImplementedError

    async def pause(self, seconds: float) -> None:
        """Sleeps, waking early when the job is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)


class SendingPasses(StoppableJob):
    """A job that sends in passes (reminders, invitations): each pass claims and sends up
    to a batch; a pass that found less than a batch pauses before the next one.

    Subclasses give `run_once` (one pass, returning how many it handled) and `pass_size`
    and `idle_seconds` (read when needed, so tests can shorten the module's constants).
    """

    def __init__(self, app: JobHost, port: ChatPort, process: SendingProcess) -> None:
        super().__init__()
        self.app = app
        self.port = port
        self.process = process
        self.abort = asyncio.Event()  # interrupts waits for retries and the limiter

    def stop(self) -> None:
        """Stops between calls (a call in flight is answered and recorded first)."""
        super().stop()
        self.abort.set()
        self.process.limiter.interrupt()

    async def _main(self) -> None:
        while not self.stopping.is_set():
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("%s pass failed; retrying", type(self).__name__)
                handled = 0
            if handled < self.pass_size():
                await self.pause(self.idle_seconds())

    async def run_once(self) -> int:
        raise NotImplementedError

    def pass_size(self) -> int:
        raise NotImplementedError

    def idle_seconds(self) -> float:
        raise NotImplementedError
