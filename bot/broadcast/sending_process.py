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
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.broadcast.limiter import RateLimiter
from bot.settings import Settings
from handlers.port import ChatPort
from storage.db import Database
from storage.models import utcnow
from storage.repos.whatsapp import is_whatsapp_chat

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = 1.0  # seconds between heartbeats (and lease renewals) while there is work
LIVE_WINDOW = 6.0  # a worker not seen for this long is dead; its "sending" rows are in doubt
LEASE_MARGIN = 2.0  # a lease not renewed for LIVE_WINDOW - this stops sending (others take it)
SHUTDOWN_GRACE = 15.0  # a stop waits this long for calls in flight and the last record


def worker_name() -> str:
    """A name unique to this process run: host, pid and a random part (≤ 40 chars)."""
    return f"{socket.gethostname()[:16]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def fair_share(rate: float, worker: str, wanting: list[str]) -> float:
    """`worker`'s part of `rate` among the `wanting` workers: whole messages per second
    where the rate allows (the first ones in name order take the remainder), so the shares
    add up to the whole rate rather than each being rounded down."""
    count = len(wanting)
    if rate < count:
        return rate / count
    whole = math.floor(rate + 1e-9)
    base, extra = divmod(whole, count)
    return float(base + (1 if sorted(wanting).index(worker) < extra else 0))


class SendingProcess:
    """What the sending jobs of one process share: its name, the limiter, the heartbeat.

    **Leases.** The shares of BROADCAST_RATE live in the workers' heartbeat rows and are
    changed under one lock, so they never add up to more than the rate: a replica raises
    its limiter only after committing a larger share, which it takes only from what no
    live replica holds; it lowers its limiter at once, but its row keeps the tokens still
    out (the limiter's last second) until they are back. Each window of Telegram's
    therefore sees at most the rate from all replicas together. Only replicas with work
    ask for a share (`want`), and one with none left gives its share back (`done`); a
    dead one's share is free once its row is LIVE_WINDOW old, and a live one whose lease
    was not renewed for LIVE_WINDOW - LEASE_MARGIN stops sending first.
    """

    def __init__(self, settings: Settings, *, name: str | None = None) -> None:
        self.settings = settings
        self.name = name or worker_name()
        # No share before the first lease: sending starts once the heartbeat has one.
        self.limiter = RateLimiter(0, settings.broadcast_per_chat_interval)
        # Every message through this limiter is paid with BROADCAST_PAID: together they may
        # go above Telegram's free ~30/s, so an unpaid one among them could be refused.
        self.paid = settings.broadcast_paid
        # WhatsApp's own rate (WHATSAPP_RATE): each live replica takes an equal part, set at
        # every heartbeat; no lease (Meta counts per business number, not per replica, and
        # answers 130429 when a replica dies and the others take its part a beat late).
        self.whatsapp_limiter = RateLimiter(
            settings.whatsapp_rate, settings.broadcast_per_chat_interval
        )
        self.live: list[str] = [self.name]
        self.share = 0.0
        self._wants: set[str] = set()
        self._lock = asyncio.Lock()
        self._beat_at = -math.inf

    def limiter_for(self, chat_id: int) -> RateLimiter:
        """The limiter of the chat's channel: WhatsApp's or the Telegram lease's."""
        return self.whatsapp_limiter if is_whatsapp_chat(chat_id) else self.limiter

    def want(self, job: str) -> None:
        """`job` has messages to send: the next heartbeat asks for a share."""
        if job not in self._wants:
            self._wants.add(job)
            self._beat_at = -math.inf  # ask now, not at the next regular beat

    async def done(self, db: Database, job: str) -> None:
        """`job` has nothing left to send; the last job done gives the share back."""
        self._wants.discard(job)
        if self._wants or not self.share:
            return
        async with self._lock:
            self.limiter.set_rate(0)
            await self.limiter.drained()  # our last second's sends still count
            if self._wants:  # a job asked again meanwhile: keep what the limiter has
                self.limiter.set_rate(self.share, valid_until=self.limiter.valid_until)
                return
            with contextlib.suppress(Exception):
                async with db.transaction() as store:
                    await store.workers.give_back(self.name)
                self.share = 0.0
                self._beat_at = -math.inf

    async def beat(self, db: Database, *, force: bool = False) -> bool:
        """Refreshes the heartbeat and the lease when due; True when it did."""
        if not force and time.monotonic() - self._beat_at < HEARTBEAT_EVERY:
            return False
        async with self._lock:
            started = time.monotonic()
            self._beat_at = started
            now = utcnow()
            rate = self.settings.broadcast_rate
            wants = bool(self._wants)
            async with db.transaction() as store:
                await store.workers.lock_leases()
                leases = await store.workers.leases(now - timedelta(seconds=LIVE_WINDOW))
                wanting = {
                    lease.worker for lease in leases if lease.wants and lease.worker != self.name
                }
                if wants:
                    wanting.add(self.name)
                target = fair_share(rate, self.name, sorted(wanting)) if wants else 0.0
                free = rate - sum(lease.share for lease in leases if lease.worker != self.name)
                share = min(target, max(0.0, free))
                if share < self.limiter.rate:
                    self.limiter.set_rate(share, valid_until=self.limiter.valid_until)
                # The tokens still out count until they are back (a lower share waits).
                held = max(share, float(self.limiter.outstanding()))
                await store.workers.set_lease(self.name, now, share=held, wants=wants)
            self.live = sorted({lease.worker for lease in leases} | {self.name})
            self.whatsapp_limiter.set_rate(self.settings.whatsapp_rate / len(self.live))
            # Raised only now that the larger share is committed.
            self.limiter.set_rate(share, valid_until=started + LIVE_WINDOW - LEASE_MARGIN)
            if share != self.share:
                log.info("%d sending workers: %.2f messages/s here", len(wanting), share)
            self.share = share
        return True

    @contextlib.asynccontextmanager
    async def sending(self, db: Database, job: str) -> AsyncIterator[None]:
        """Holds a share for `job` (heartbeats renewing it) while the block sends."""
        self.want(job)
        stop = asyncio.Event()

        async def heartbeat() -> None:
            while not stop.is_set():
                try:
                    await self.beat(db)
                except Exception:
                    log.exception("%s heartbeat failed", job)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), HEARTBEAT_EVERY / 2)

        heart = asyncio.create_task(heartbeat())
        try:
            yield
        finally:
            stop.set()
            await asyncio.wait({heart})
            await self.done(db, job)

    async def leave(self, db: Database) -> None:
        """Gives the share back after a clean stop (nothing of ours is "sending" any more).

        The row itself is the process's heartbeat, which its replies kept in the outbox
        rely on too: the app removes it once those are sent (bot/outbox_keeper.py)."""
        self._wants.clear()
        self.limiter.set_rate(0)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.limiter.drained(), LIVE_WINDOW)
            async with db.transaction() as store:
                await store.workers.give_back(self.name)


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
