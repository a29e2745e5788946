"""The admin's view of a running broadcast: its progress message, edited every
BROADCAST_PROGRESS_SECONDS by one replica, then the final figures and a summary message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.broadcast.delivery import RetryPolicy, deliver
from bot.broadcast.limiter import RateLimiter
from handlers.broadcast_messages import progress_html, stop_keyboard, summary_html
from handlers.port import ChatPort, EditText, SendText
from storage.broadcast_models import Broadcast, BroadcastStatus
from storage.models import utcnow
from storage.repos.broadcasts import Tally
from storage.repos.surveys import SurveyView

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)


class ProgressReporter:
    """Edits the progress messages of one worker's broadcasts and reports when done."""

    def __init__(
        self,
        app: JobHost,
        port: ChatPort,
        limiter: RateLimiter,
        policy: RetryPolicy,
        writes: AbstractAsyncContextManager[object],
    ) -> None:
        self.app = app
        self.port = port
        self.limiter = limiter
        self.policy = policy
        self._writes = writes  # the worker's write serialisation (SQLite: one at a time)
        self._task: asyncio.Task[None] | None = None
        self._due: dict[int, float] = {}  # when the next edit is due, per broadcast
        self._shown: dict[int, str] = {}  # the progress text last shown, per broadcast

    def schedule(self, broadcast_id: int) -> None:
        """The confirm handler showed "0 of N"; the first edit comes one interval later."""
        self._due[broadcast_id] = time.monotonic() + self.app.settings.broadcast_progress_seconds

    def maybe_update(self, broadcast: Broadcast, survey: SurveyView) -> None:
        """Edits the progress message every BROADCAST_PROGRESS_SECONDS (one replica does)."""
        if self._task is not None and not self._task.done():
            return
        if time.monotonic() < self._due.get(broadcast.id, 0.0):
            return
        self.schedule(broadcast.id)
        self._task = asyncio.create_task(self._update(broadcast.id, survey))

    async def _update(self, broadcast_id: int, survey: SurveyView) -> None:
        interval = self.app.settings.broadcast_progress_seconds
        now = utcnow()
        try:
            async with self._writes, self.app.db.transaction() as store:
                # 10% slack: a replica whose clock ticks slightly early still edits.
                if not await store.broadcasts.claim_progress(
                    broadcast_id, now, now - timedelta(seconds=interval * 0.9)
                ):
                    return
            async with self.app.db.snapshot() as store:
                tally = await store.broadcasts.tally(broadcast_id)
                broadcast = await store.broadcasts.get(broadcast_id)
            if broadcast is None or broadcast.status != BroadcastStatus.RUNNING:
                return
            await self._show(broadcast, survey, tally, finished=False)
        except Exception:
            log.exception("progress update of broadcast %s failed", broadcast_id)

    async def wait(self) -> None:
        """Lets an edit in flight end (its failure is logged, not raised)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _show(
        self, broadcast: Broadcast, survey: SurveyView, tally: Tally, *, finished: bool
    ) -> None:
        """Edits the progress message (no Cancel button once finished)."""
        if broadcast.progress_message_id is None:
            return
        texts = self.app.catalogs.texts(broadcast.language)
        started = broadcast.started_at or broadcast.created_at
        end = broadcast.finished_at if finished and broadcast.finished_at else utcnow()
        html = progress_html(
            texts,
            survey,
            broadcast,
            tally,
            elapsed=(end - started).total_seconds(),
            rate=self.app.settings.broadcast_rate,
            finished=finished,
        )
        if not finished and self._shown.get(broadcast.id) == html:
            return  # unchanged (e.g. during a 429 pause): an edit would only be refused
        self._shown[broadcast.id] = html
        keyboard = None if finished else stop_keyboard(texts, broadcast.id)
        action = EditText(broadcast.admin_chat_id, broadcast.progress_message_id, html, keyboard)
        await deliver(self.port, self.limiter, action, broadcast.admin_chat_id, policy=self.policy)

    async def finish(self, broadcast_id: int, survey: SurveyView) -> bool:
        """When nobody is left: final figures in the progress message, and a summary.
        False when recipients are still open or another worker finished it."""
        await self.wait()
        async with self._writes, self.app.db.transaction() as store:
            if not await store.broadcasts.finish(broadcast_id, utcnow()):
                return False
            broadcast = await store.broadcasts.get(broadcast_id)
            tally = await store.broadcasts.tally(broadcast_id)
            # An autopilot run's figures are in /autopilot; a summary every morning is noise.
            quiet = await store.autopilot.is_run(broadcast_id)
        assert broadcast is not None
        log.info("broadcast %s finished: %s", broadcast.id, tally.counts)
        if quiet:
            self._due.pop(broadcast_id, None)
            return True
        await self._show(broadcast, survey, tally, finished=True)
        texts = self.app.catalogs.texts(broadcast.language)
        summary = SendText(broadcast.admin_chat_id, summary_html(texts, survey, broadcast, tally))
        await deliver(
            self.port, self.limiter, summary, broadcast.admin_chat_id, policy=self.policy
        )
        self._due.pop(broadcast_id, None)
        self._shown.pop(broadcast_id, None)
        return True
