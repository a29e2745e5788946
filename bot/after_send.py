"""What a delivery records once a message is sent: after-send jobs (message ids the
handlers asked for), batched into shared transactions, and the progress of replies kept
in the persisted outbox (bot/outbox.py), so a restart re-sends only what was not sent."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from handlers.port import AfterSend
from storage.db import Database

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)


@dataclass
class Kept:
    """A unit of work's replies kept in the persisted outbox (bot/outbox.py)."""

    row_id: int
    actions: set[int]  # id() of the kept action objects, in the outbox being delivered
    total: int  # kept actions in the row
    done: int = 0  # performed so far (where re-sending resumes)
    finished: bool = False  # the row's removal is queued


@dataclass(frozen=True)
class KeptProgress:
    """A kept reply's after-send job, with the row's progress in the same transaction:
    recording that the reply was sent costs no write of its own."""

    after: AfterSend | None
    row_id: int
    done: int
    last: bool

    async def __call__(self, store: Store, message_id: int) -> None:
        if self.after is not None:
            await self.after(store, message_id)
        if self.last:
            await store.outbox.sent([self.row_id])
        else:
            await store.outbox.progress(self.row_id, self.done)


class AfterSendWriter:
    """Records sent message ids (AfterSend jobs), many chats' in one transaction.

    Under load, replies to many chats finish sending at once; each used to open its own
    write transaction for one small UPDATE. Jobs that arrive while a batch commits wait
    for the next one, so at low load nothing changes and at high load the writes share
    a commit (bench/e2e_throughput.py). A failing job is retried alone, never losing others.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[tuple[AfterSend, int, asyncio.Future[None] | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    def later(self, job: AfterSend) -> None:
        """Queues a job nobody waits for (marking kept replies sent), in the next batch."""
        self._queue.append((job, 0, None))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    @property
    def busy(self) -> bool:
        """Whether jobs are queued or being written."""
        return bool(self._queue) or (self._flusher is not None and not self._flusher.done())

    async def idle(self) -> None:
        """Returns once every queued job ran (before the database closes)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    async def run(self, job: AfterSend, message_id: int) -> None:
        """Runs the job in a transaction and returns once that transaction committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((job, message_id, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                async with self.db.transaction() as store:
                    sent: list[int] = []  # kept rows finished: removed in one statement
                    for job, message_id, _ in batch:
                        if isinstance(job, KeptProgress) and job.last:
                            if job.after is not None:
                                await job.after(store, message_id)
                            sent.append(job.row_id)
                        else:
                            await job(store, message_id)
                    if sent:
                        await store.outbox.sent(sent)
            except Exception:
                await self._one_by_one(batch)
                continue
            for *_, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _one_by_one(
        self, batch: list[tuple[AfterSend, int, asyncio.Future[None] | None]]
    ) -> None:
        for job, message_id, done in batch:
            try:
                async with self.db.transaction() as store:
                    await job(store, message_id)
            except Exception as exc:
                if done is None:
                    log.warning("after-send job failed: %r", exc)
                elif not done.done():
                    done.set_exception(exc)
            else:
                if done is not None and not done.done():
                    done.set_result(None)
