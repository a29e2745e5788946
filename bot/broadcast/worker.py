"""The broadcast worker: a background job that sends confirmed broadcasts.

Work is persisted. Confirm stores one `broadcast_recipients` row per person (pending),
and workers take them through these steps:

1. **claim** (one transaction per small batch): rows become `queued` for this worker, each
   with its survey response (its id goes into the score buttons) kept at step "closed" so
   nothing in the conversation sees it yet. People who stopped, blocked the bot or were
   surveyed meanwhile become `skipped` (an A/B broadcast's held-back control group is
   `skipped` already at Confirm, in the draw's transaction: never claimed, never sent). On
   PostgreSQL the rows are picked with `SELECT … FOR UPDATE SKIP LOCKED` (and the people's
   rows locked), so replicas share a broadcast without ever claiming the same row; SQLite
   has a single writer (BEGIN IMMEDIATE), so there one process claims at a time and more
   replicas only wait.
2. **mark**: holding its rate-limiter token, a message's row is committed as `sending`
   (with the attempt time) immediately before the call — several senders share one
   commit. Only the worker that queued a row can mark it.
3. **send**: one Telegram call with Telegram's rules (bot/broadcast/delivery.py).
4. **record** (one transaction per few dozen answers): `sent` rows open their response at
   the score step — the answer then flows through the normal conversation — and count as
   invitations; `unreachable` marks the respondent; the other outcomes drop the response.

**Never twice, nobody skipped.** A row is `sending` before any byte of its message can
reach Telegram, and a `sending` row is never handed out again. A stopping worker — SIGTERM,
or its task cancelled as `RunningBot.crash()` does — takes no new rows, waits for the calls
in flight (their answer decides), gives back what it had queued (`pending` again, the
responses deleted) and records everything before it exits: nobody twice, nobody lost. A
hard kill (kill -9, power loss) leaves rows `queued` or `sending` under a worker whose
heartbeat stops; after LIVE_WINDOW a live worker (or the restarted one) takes them over:
`queued` rows were never sent, so they go back to `pending` and are sent; `sending` rows
may or may not have been delivered and become `uncertain` — **at most once**: Telegram
offers no way to ask whether a message arrived, and a second survey is the "surveying too
often" mistake, so they are not re-sent. Their responses are opened (the question may be
on screen, so an answer works) and the reminder repeats the question to whoever does not
answer. Only the calls in flight at the kill can be in doubt — a handful at 30 messages/s.

**Rate.** BROADCAST_RATE is the limit for all replicas together: each live worker with
work leases an equal share of it through its heartbeat row (renewed every HEARTBEAT_EVERY
seconds; the shares never add up to more, see bot/broadcast/sending_process.py) for the
process-wide limiter (bot/broadcast/limiter.py), which reminders and invitations use too;
a worker with no broadcast left gives its share back. With BROADCAST_PAID the messages
carry allow_paid_broadcast. The progress message: bot/broadcast/progress.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.broadcast.delivery import Delivery, RetryPolicy, deliver
from bot.broadcast.group_commit import GroupCommit
from bot.broadcast.progress import ProgressReporter
from bot.broadcast.sending_process import HEARTBEAT_EVERY, SendingProcess, StoppableJob
from handlers.broadcast_messages import question_html
from handlers.kinds import for_kind
from handlers.port import ChatPort, SendText
from handlers.respondent_messages import score_keyboard
from storage.broadcast_models import Broadcast, BroadcastStatus, RecipientStatus
from storage.db import Database
from storage.models import utcnow
from storage.repos.audience import Fatigue
from storage.repos.broadcast_recipients import Claimed, Outcome
from storage.repos.surveys import SurveyView
from storage.repos.whatsapp import is_whatsapp_chat, window_open
from storage.store import Store

if TYPE_CHECKING:
    from bot.jobs import JobHost

log = logging.getLogger(__name__)

IDLE_POLL = 0.5  # how often an idle worker looks for new broadcasts
STATUS_POLL = 0.5  # how often a sending worker checks for Cancel
FLUSH_EVERY = 0.05  # answers are recorded at least this often
DB_RETRY = 1.0  # pause before retrying a failed database write


class _NoLock(contextlib.AbstractAsyncContextManager[object]):
    """An async context manager that locks nothing."""

    async def __aexit__(self, *exc_info: object) -> None:
        return None


@dataclass
class _Run:
    """One worker's in-memory state while it works on one broadcast."""

    broadcast: Broadcast
    survey: SurveyView
    queue: deque[Claimed] = field(default_factory=deque)
    tasks: dict[asyncio.Task[Outcome], Claimed] = field(default_factory=dict)
    results: list[Outcome] = field(default_factory=list)
    abort: asyncio.Event = field(default_factory=asyncio.Event)
    claimer: asyncio.Task[None] | None = None
    flusher: asyncio.Task[None] | None = None
    # A/B broadcasts: the variant message of each claimed person who has one; whether
    # the broadcast is split at all (looked up once).
    variant_messages: dict[int, str] = field(default_factory=dict)
    split: bool | None = None
    cancelled: bool = False
    exhausted: bool = False
    progressed: bool = False
    flushed_at: float = 0.0

    def halted(self, stopping: asyncio.Event) -> bool:
        """No new sends: cancelled by an admin, or the worker is stopping."""
        return self.cancelled or stopping.is_set()


class BroadcastWorker(StoppableJob):
    """Sends running broadcasts, edits their progress message, reports when done."""

    def __init__(self, app: JobHost, port: ChatPort, process: SendingProcess) -> None:
        super().__init__()
        self.app = app
        self.port = port
        self.process = process
        self.limiter = process.limiter
        settings = app.settings
        self.fatigue = Fatigue(
            settings.survey_cooldown_days,
            settings.any_survey_cooldown_days,
            whatsapp=settings.whatsapp_enabled,
        )
        rate = settings.broadcast_rate
        # Enough calls in flight to keep the rate with ~250 ms answers, and small claims:
        # whatever is claimed but unanswered is what a hard kill could leave in doubt.
        self.concurrency = max(2, min(64, math.ceil(rate / 4)))
        self.batch = self.concurrency
        self.policy = RetryPolicy()
        # On SQLite this worker's writes go one at a time: a second BEGIN IMMEDIATE would only
        # sleep in SQLite's busy handler. PostgreSQL takes them side by side, so marking rows
        # "sending" (which holds up the calls) never waits behind a recording.
        self._writes: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Lock() if app.db.dialect == "sqlite" else _NoLock()
        )
        # Rows are marked "sending" right before their calls, in group commits.
        self._marker: GroupCommit[int, set[int]] = GroupCommit(self._mark_all)
        self.progress = ProgressReporter(app, port, self.limiter, self.policy, self._writes)

    async def _main(self) -> None:
        db = self.app.db
        while not self.stopping.is_set():
            try:
                worked = await self._pass(db)
            except Exception:
                log.exception("broadcast worker pass failed; retrying")
                worked = False
            if not worked:
                await self.progress.wait()
                await self.process.done(db, "broadcasts")  # its share goes to the others
                await self.pause(IDLE_POLL)
        await self.progress.wait()
        await self.process.leave(db)

    async def _pass(self, db: Database) -> bool:
        """Works on every unfinished broadcast once; False when there was nothing to do."""
        async with db.snapshot() as store:
            broadcasts = await store.broadcasts.unfinished()
        if not broadcasts:
            return False
        self.process.want("broadcasts")
        await self._beat()
        worked = False
        for broadcast in broadcasts:
            if self.stopping.is_set():
                break
            async with db.snapshot() as store:
                survey = await store.surveys.get(broadcast.survey_id)
            assert survey is not None  # foreign key
            worked = await self._work_on(_Run(broadcast, survey)) or worked
        return worked

    async def _beat(self) -> None:
        """Heartbeat, rate share and recovery of rows a dead worker left "sending"."""
        async with self._writes:
            if not await self.process.beat(self.app.db):
                return
            async with self.app.db.transaction() as store:
                recovered = await store.recipients.recover_stale(self.process.live, utcnow())
        if recovered:
            log.warning("%d recipients of a stopped worker marked uncertain", recovered)

    async def _work_on(self, run: _Run) -> bool:
        """Sends one broadcast until nothing is left to claim; True if anything happened.

        This loop only starts sends and collects answers; claiming (with the checks for
        Cancel and the heartbeat) and recording run beside it, so the calls never wait for
        the database.
        """
        run.cancelled = run.broadcast.status == BroadcastStatus.CANCELLED
        run.flushed_at = time.monotonic()
        # The confirm handler showed "0 of N"; the first edit comes one interval later.
        self.progress.schedule(run.broadcast.id)
        run.claimer = asyncio.create_task(self._claimer(run))
        # The heartbeat goes on as long as this worker holds rows, claims or not: a worker
        # that looks dead has its "sending" rows taken for uncertain.
        beating = asyncio.Event()
        heart = asyncio.create_task(self._heartbeat(beating))
        try:
            while True:
                halted = run.halted(self.stopping)
                if halted and not run.abort.is_set():
                    run.abort.set()
                    self.limiter.interrupt()
                    self.process.whatsapp_limiter.interrupt()
                while run.queue and (halted or len(run.tasks) < self.concurrency):
                    item = run.queue.popleft()
                    if halted:
                        run.results.append(self._not_sent(run, item))
                    else:
                        run.tasks[asyncio.create_task(self._send(run, item))] = item
                for task in [t for t in run.tasks if t.done()]:
                    run.results.append(self._outcome(run, task))
                claiming = run.claimer is not None and not run.claimer.done()
                idle = not run.tasks and not run.queue and not claiming
                self._maybe_flush(run, force=idle)
                flushing = run.flusher is not None and not run.flusher.done()
                if idle and not run.results and not flushing:
                    break
                if not halted:
                    self.progress.maybe_update(run.broadcast, run.survey)
                waiting: set[asyncio.Future[object]] = set(run.tasks)  # type: ignore[arg-type]
                for helper in (run.claimer, run.flusher):
                    if helper is not None and not helper.done():
                        waiting.add(helper)  # type: ignore[arg-type]
                if waiting:
                    await asyncio.wait(
                        waiting, timeout=FLUSH_EVERY, return_when=asyncio.FIRST_COMPLETED
                    )
        finally:
            # Only reached early by a bug: never leave helpers running unsupervised.
            for helper in (run.claimer, run.flusher):
                if helper is not None and not helper.done():
                    await asyncio.wait({helper})
            beating.set()
            await asyncio.wait({heart})
        if not self.stopping.is_set():
            if await self.progress.finish(run.broadcast.id, run.survey):
                run.progressed = True
        return run.progressed

    async def _heartbeat(self, done: asyncio.Event) -> None:
        """Beats every HEARTBEAT_EVERY seconds until `done` is set."""
        while not done.is_set():
            try:
                await self._beat()
            except Exception:
                log.exception("broadcast worker heartbeat failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), HEARTBEAT_EVERY / 2)

    async def _claimer(self, run: _Run) -> None:
        """Keeps a batch claimed ahead of the senders; watches for Cancel."""
        status_at = 0.0
        while not run.halted(self.stopping) and not run.exhausted:
            try:
                if time.monotonic() - status_at >= STATUS_POLL:
                    status_at = time.monotonic()
                    await self._check_status(run)
                    if run.halted(self.stopping):
                        break
                if len(run.queue) < self.batch:
                    await self._claim(run)
                else:
                    await self.pause(FLUSH_EVERY)
            except Exception:
                log.exception("claiming recipients of broadcast %s failed", run.broadcast.id)
                await self.pause(DB_RETRY)

    async def _check_status(self, run: _Run) -> None:
        async with self.app.db.snapshot() as store:
            status = await store.broadcasts.status_of(run.broadcast.id)
        if status != BroadcastStatus.RUNNING:
            run.cancelled = True

    async def _claim(self, run: _Run) -> None:
        catalogs = self.app.catalogs
        async with self._writes, self.app.db.transaction() as store:
            claimed, skipped = await store.recipients.claim(
                run.broadcast,
                worker=self.process.name,
                limit=self.batch,
                now=self.app.clock(),
                fatigue=self.fatigue,
                resolve=catalogs.resolve,
            )
            if run.split is None:
                run.split = bool(await store.variants.arms(run.broadcast.id))
            if run.split and claimed:
                run.variant_messages.update(await self._variant_messages(store, run, claimed))
        if not claimed and not skipped:
            run.exhausted = True
        if claimed or skipped:
            run.progressed = True
        run.queue.extend(claimed)

    async def _variant_messages(
        self, store: Store, run: _Run, claimed: list[Claimed]
    ) -> dict[int, str]:
        """The variant message of each claimed person of a split broadcast who has one.

        WhatsApp takes free text only inside its 24-hour customer-service window: a
        WhatsApp person outside it gets the question (the template) alone and stays in
        their arm — the comparison counts people as drawn, not as reached.
        """
        people = [item.respondent_id for item in claimed]
        messages = await store.variants.messages_for(run.broadcast.id, people)
        on_whatsapp = [
            item
            for item in claimed
            if item.respondent_id in messages and is_whatsapp_chat(item.chat_id)
        ]
        seen = await store.whatsapp.last_inbound([item.chat_id for item in on_whatsapp])
        now = self.app.clock()
        for item in on_whatsapp:
            if not window_open(seen.get(item.chat_id), now):
                del messages[item.respondent_id]
        return messages

    async def _send(self, run: _Run, item: Claimed) -> Outcome:
        """One person's question, through the limiter and Telegram's rules."""
        survey = run.survey
        # The kind's wording (a CSAT survey asks "How satisfied…?") unless the survey's own.
        texts = for_kind(
            self.app.catalogs.texts(item.language, survey.texts),
            survey.kind,
            survey.texts,
            item.language,
        )
        brand = survey.subject or self.app.pipeline.config.brand
        action = SendText(
            item.chat_id,
            question_html(texts, brand, item.first_name),
            score_keyboard(item.response_id, survey.kind),
            paid_broadcast=self.process.paid,
        )
        abort: asyncio.Event | None = run.abort
        first_call: Callable[[], Awaitable[bool]] | None = functools.partial(
            self._mark_sending, item.recipient_id
        )
        variant = run.variant_messages.pop(item.respondent_id, None)
        if variant is not None:
            # An A/B broadcast (handlers/broadcast_split.py): the person's variant message
            # goes first, through the same limiter, and the row is "sending" before it.
            shown = await self._deliver(
                item,
                SendText(item.chat_id, html.escape(variant), paid_broadcast=self.process.paid),
                abort,
                first_call,
            )
            if shown.status == RecipientStatus.PENDING:
                return self._not_sent(run, item)
            if shown.status == RecipientStatus.UNREACHABLE:
                return Outcome(
                    item.recipient_id, shown.status, self.app.clock(), detail=shown.detail
                )
            # Sent (or refused, e.g. WhatsApp outside its 24-hour window: the person stays
            # in their arm): the question follows whatever happens next — a Cancel must
            # not leave a variant message without its question, nor send it twice.
            abort, first_call = None, None
        delivery = await self._deliver(item, action, abort, first_call)
        if delivery.status == RecipientStatus.PENDING:
            return self._not_sent(run, item)
        return Outcome(
            item.recipient_id,
            delivery.status,
            self.app.clock(),
            message_id=delivery.message_id,
            detail=delivery.detail,
        )

    async def _deliver(
        self,
        item: Claimed,
        action: SendText,
        abort: asyncio.Event | None,
        first_call: Callable[[], Awaitable[bool]] | None,
    ) -> Delivery:
        """One message to the person, through the chat's limiter and the retry policy."""
        return await deliver(
            self.port,
            self.process.limiter_for(item.chat_id),
            action,
            item.chat_id,
            policy=self.policy,
            abort=abort,
            before_first_call=first_call,
        )

    async def _mark_sending(self, recipient_id: int) -> bool:
        """Waits until the row is committed as "sending" (group commit with other senders)."""
        return recipient_id in await self._marker.submit(recipient_id)

    async def _mark_all(self, recipient_ids: list[int]) -> set[int]:
        """Commits "sending" for every sender waiting; the rows it marked."""
        try:
            async with self._writes, self.app.db.transaction() as store:
                return await store.recipients.mark_sending(
                    recipient_ids, self.process.name, utcnow()
                )
        except Exception:
            # Not marked means not sent: the rows stay queued and are given back.
            log.exception("marking %d recipients as sending failed", len(recipient_ids))
            return set()

    def _not_sent(self, run: _Run, item: Claimed) -> Outcome:
        """A claimed row that was never handed to Telegram: cancelled, or given back."""
        status = RecipientStatus.CANCELLED if run.cancelled else RecipientStatus.PENDING
        return Outcome(item.recipient_id, status, self.app.clock())

    def _outcome(self, run: _Run, task: asyncio.Task[Outcome]) -> Outcome:
        item = run.tasks.pop(task)
        if task.cancelled():
            return self._not_sent(run, item)
        error = task.exception()
        if error is None:
            return task.result()
        # Not a Telegram answer (a bug, a closed session): it may or may not have gone out,
        # so it is recorded as failed, never re-sent.
        log.error("sending to %s failed: %r", item.chat_id, error)
        return Outcome(
            item.recipient_id, RecipientStatus.FAILED, self.app.clock(), detail=repr(error)
        )

    def _maybe_flush(self, run: _Run, *, force: bool) -> None:
        """Starts recording the collected answers (one recording at a time)."""
        if not run.results or (run.flusher is not None and not run.flusher.done()):
            return
        if (
            force
            or len(run.results) >= self.batch
            or time.monotonic() - run.flushed_at >= FLUSH_EVERY
        ):
            results, run.results = run.results, []
            run.flusher = asyncio.create_task(self._flush(run, results))

    async def _flush(self, run: _Run, results: list[Outcome]) -> None:
        """Records answers; retried until the database takes them (they are facts)."""
        while True:
            try:
                async with self._writes, self.app.db.transaction() as store:
                    await store.recipients.record(results, self.process.name)
                break
            except Exception:
                log.exception("recording %d broadcast results failed; retrying", len(results))
                await asyncio.sleep(DB_RETRY)
        run.flushed_at = time.monotonic()
        run.progressed = True
