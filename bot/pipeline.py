"""The boundary every update crosses: lock, transaction, dedupe, handler, then replies."""

# size: one class whose steps (handle, keep, deliver with Telegram's retry rules, stop)
# share the stopping state; what a delivery records is in bot/after_send.py.

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

from bot.after_send import AfterSendWriter, Kept, KeptProgress
from bot.chat_locks import ChatLocks
from bot.outbox import dumps, keepable, loads
from handlers.context import BotConfig, UpdateContext
from handlers.events import BlockChange, ButtonPress, Event, IncomingMessage
from handlers.port import (
    Action,
    AnswerButton,
    ChatPort,
    Download,
    Outbox,
    OutsideWindow,
    Rejected,
    RetryLater,
    RunLater,
    SendText,
    Transient,
    Unreachable,
)
from handlers.routing import Routes
from handlers.texts import CatalogsLike
from storage.db import Database
from storage.models import utcnow
from storage.repos.outbox import KeptRow
from storage.repos.respondents import Profile

if TYPE_CHECKING:
    from storage.store import Store

log = logging.getLogger(__name__)

# Whether an embedded npsbot takes an event (bot/embed.py); asked under the chat's lock.
Claim = Callable[[Event], Awaitable[bool]]

# Seconds a Bot API call already in flight may take to finish once the bot is stopping;
# then it is cancelled (its reply stays in the outbox). Waits on 429s end at once.
STOP_GRACE = 3.0

# 400 answers that mean "nothing to do": a double edit, or a button answered too late.
HARMLESS_REJECTIONS = ("message is not modified", "query is too old", "message to edit not found")


@dataclass
class DeliveryPolicy:
    """How hard to try when Telegram pushes back."""

    max_attempts: int = 5
    max_retry_after: float = 60.0  # never hold a chat longer than this on one 429
    backoff: float = 0.5  # first pause after a 5xx or timeout; doubles each time


class UpdateObserver(Protocol):
    """Told how each update ended and handed each port to wrap (bot/metrics.py counts)."""

    def update_done(self, event: Event, outcome: str, seconds: float) -> None:
        """`outcome`: handled, duplicate or failed; `seconds` until the transaction ended."""
        ...

    def port(self, port: ChatPort) -> ChatPort:
        """The port to send through instead (it may count the calls)."""
        ...


class Stopped(Exception):
    """The bot is stopping: replies not sent yet stay in the persisted outbox."""


@dataclass
class Pipeline:
    """Handles one event at a time per chat, exactly once per update_id."""

    db: Database
    router: Routes
    catalogs: CatalogsLike
    config: BotConfig
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    clock: Callable[[], datetime] = utcnow
    locks: ChatLocks = field(default_factory=ChatLocks)
    # Told each update_id once its transaction is over (committed, or failed and rolled
    # back), before its replies are sent: a webhook answers Telegram then
    # (bot/web/telegram_webhook.py).
    on_settled: Callable[[int], None] | None = None
    # The process's heartbeat name, written on the replies it keeps so that another replica
    # sends them if this process dies (bot/outbox_keeper.py); None until it has beaten.
    owner: str | None = None
    observer: UpdateObserver | None = None
    _inflight: int = 0
    _after_send: AfterSendWriter | None = None
    _idle: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _hurry: bool = False  # the stop's grace is over: deliveries are cancelled
    _delivering: set[asyncio.Task[Any]] = field(default_factory=set)

    @property
    def inflight(self) -> int:
        """How many events are being handled right now (and 1 while recorded sends, e.g.
        kept replies marked sent, are still being written)."""
        writing = self._after_send is not None and self._after_send.busy
        return self._inflight + writing

    async def drain(self) -> None:
        """Waits until no event is being handled (for a graceful stop)."""
        while self._inflight:
            self._idle.clear()
            await self._idle.wait()
        if self._after_send is not None:
            await self._after_send.idle()

    def stop(self, grace: float = STOP_GRACE) -> None:
        """Stops delivering, whatever Telegram says: waits on 429s and retries end at once,
        a call in flight gets `grace` seconds, then its delivery is cancelled. Replies not
        sent stay in the persisted outbox and are sent at the next start."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        asyncio.get_running_loop().call_later(grace, self._cancel_deliveries)

    def _cancel_deliveries(self) -> None:
        self._hurry = True
        for task in list(self._delivering):
            task.cancel()

    async def _pause(self, seconds: float) -> None:
        """Sleeps before a retry, unless the bot stops meanwhile (then raises Stopped)."""
        if self._stopping.is_set():
            raise Stopped
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
            raise Stopped

    async def resend_kept(self, port: ChatPort, rows: Sequence[KeptRow]) -> None:
        """Sends replies committed but not sent by an earlier run or a dead replica (taken
        over by bot/outbox_keeper.py).

        Each row under its chat's lock, from where it stopped; the reply in flight when the
        other process died may arrive twice (README: "Replies survive a crash").
        """
        for row in rows:
            if self._stopping.is_set():
                return
            actions = loads(row.actions)
            pending = [a for a in actions[row.done :] if a is not None]
            kept = Kept(row.id, {id(a) for a in pending}, len(actions), done=row.done)
            self._inflight += 1
            try:
                async with self.locks.hold(row.chat_id):
                    await self._deliver_guarded(Outbox(pending), port, kept)
            finally:
                self._inflight -= 1
                if not self._inflight:
                    self._idle.set()

    async def handle(self, event: Event, port: ChatPort, *, claim: Claim | None = None) -> bool:
        """Runs the event's handler in one transaction, then sends its replies.

        An embedded npsbot passes `claim`: it is asked under the chat's lock (so a user's
        updates keep their order) and when it declines, nothing happens and False is
        returned, leaving the event to the host bot.
        """
        self._inflight += 1
        try:
            return await self._handle(event, port, claim)
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    def _observe(self, event: Event, outcome: str, began: float) -> None:
        if self.observer is not None:
            self.observer.update_done(event, outcome, perf_counter() - began)

    async def _handle(self, event: Event, port: ChatPort, claim: Claim | None) -> bool:
        began = perf_counter()
        async with self.locks.hold(event.chat_id):
            if claim is not None and not await claim(event):
                return False
            outbox = Outbox()
            language = self.catalogs.resolve(None, event.sender.language_code)
            try:
                async with self.db.transaction() as store:
                    respondent = None
                    if event.private:
                        claimed, respondent = await store.respondents.claim_and_touch(
                            event.update_id,
                            Profile(
                                user_id=event.sender.id,
                                chat_id=event.chat_id,
                                first_name=event.sender.first_name,
                                username=event.sender.username,
                                language_code=event.sender.language_code,
                                channel=event.sender.channel,
                            ),
                        )
                    else:
                        claimed = await store.updates.claim(event.update_id)
                    if not claimed:
                        log.info("update %s was handled before; skipped", event.update_id)
                        self._observe(event, "duplicate", began)
                        return True
                    if respondent is not None:
                        language = self.catalogs.resolve(
                            respondent.language_override, event.sender.language_code
                        )
                    ctx = UpdateContext(
                        store=store,
                        out=outbox,
                        catalogs=self.catalogs,
                        config=self.config,
                        language=language,
                        now=self.clock(),
                        respondent=respondent,
                        hooks=self.router.hooks,
                        channel=event.sender.channel,
                    )
                    await self.router.route(event, ctx)
                    kept = await self._keep(outbox, store, event.chat_id)
                outcome = "handled"
            except Exception:
                log.exception("handler failed for update %s", event.update_id)
                outbox, kept = self._apology(event, language), None
                outcome = "failed"
            self._observe(event, outcome, began)
            if self.on_settled is not None:
                self.on_settled(event.update_id)
            await self._deliver_guarded(outbox, port, kept)
        return True

    async def _keep(self, outbox: Outbox, store: Store, chat_id: int) -> Kept | None:
        """Writes the replies that go to chats into the outbox, in the unit of work's
        transaction (one insert), so a crash after the commit loses none (bot/outbox.py)."""
        encoded = []
        ids = set()
        for action in outbox.actions:
            data = keepable(action)
            if data is not None:
                encoded.append(data)
                ids.add(id(action))
        if not encoded:
            return None
        row_id = await store.outbox.keep(chat_id, dumps(encoded), self.owner)
        return Kept(row_id, ids, len(encoded))

    async def _deliver_guarded(self, outbox: Outbox, port: ChatPort, kept: Kept | None) -> None:
        """Delivers, unless the bot stops: then what is unsent stays in the outbox."""
        task = asyncio.current_task()
        if task is None or self._hurry:
            return
        self._delivering.add(task)
        try:
            await self.deliver(outbox, port, kept)
        except asyncio.CancelledError:
            if not self._hurry:
                raise
            task.uncancel()
            log.info("stopping: a reply in flight was abandoned; it stays in the outbox")
            self._save_progress(kept)
        finally:
            self._delivering.discard(task)

    def _apology(self, event: Event, language: str) -> Outbox:
        """What the user sees when a handler crashed: nothing stored, a polite retry hint."""
        outbox = Outbox()
        texts = self.catalogs.texts(language)
        if isinstance(event, ButtonPress):
            outbox.answer(event.callback_id, texts.plain("something_wrong"), alert=True)
        elif isinstance(event, IncomingMessage) and event.private:
            outbox.send(event.chat_id, texts("something_wrong"))
        elif isinstance(event, BlockChange):
            pass
        return outbox

    async def deliver(self, outbox: Outbox, port: ChatPort, kept: Kept | None = None) -> None:
        """Performs queued actions in order; records message ids the handlers asked for.

        `kept`: the outbox row holding these actions, advanced and removed as they are
        performed. A stop leaves the rest unsent (and kept).
        """
        if self.observer is not None:
            port = self.observer.port(port)
        try:
            await self._deliver_all(outbox, port, kept)
        except Stopped:
            log.info("stopping: replies not sent yet stay in the outbox for the next start")
            self._save_progress(kept)

    def _save_progress(self, kept: Kept | None) -> None:
        """A delivery broken off by a stop: records how far it got, so the next start
        sends only the rest (drain() waits for the write)."""
        if kept is not None and not kept.finished and kept.done:
            self._after_sends.later(KeptProgress(None, kept.row_id, kept.done, False))

    async def _deliver_all(self, outbox: Outbox, port: ChatPort, kept: Kept | None = None) -> None:
        try:
            await self._deliver(outbox, port, kept)
        finally:
            for path in outbox.temporary:
                path.unlink(missing_ok=True)

    def _performed(
        self, kept: Kept | None, action: Action, message_id: int | None = None
    ) -> KeptProgress | None:
        """Counts a kept action as performed; the job recording it (with the action's own
        after-send job when a message was sent), or None when nothing needs writing yet."""
        if kept is None or id(action) not in kept.actions:
            return None
        kept.done += 1
        last = kept.done >= kept.total
        sent = message_id is not None and isinstance(action, SendText)
        after = action.after if sent else None  # type: ignore[union-attr]
        if last:
            kept.finished = True
            return KeptProgress(after, kept.row_id, kept.done, True)
        if after is not None:
            return KeptProgress(after, kept.row_id, kept.done, False)
        return None

    async def _deliver(self, outbox: Outbox, port: ChatPort, kept: Kept | None) -> None:
        dead_chats: set[int] = set()
        for action in outbox.actions:
            if isinstance(action, RunLater):
                # Slow work (exports, charts) runs here, after the commit, under the
                # chat's lock but outside any write transaction.
                later = Outbox()
                try:
                    await action.job(self.db, later)
                except Exception:
                    log.exception("deferred job failed")
                await self._deliver_all(later, port)
                continue
            if isinstance(action, Download):
                await self._download(action, port)
                continue
            chat_id = getattr(action, "chat_id", None)
            if chat_id is not None and chat_id in dead_chats:
                self._record(self._performed(kept, action))
                continue
            try:
                message_id = await self.perform(action, port)
            except Unreachable:
                if chat_id is not None:
                    dead_chats.add(chat_id)
                self._record(self._performed(kept, action))
                if isinstance(action, SendText) and action.if_unreachable is not None:
                    await self._deliver_all(Outbox([action.if_unreachable]), port)
                continue
            except OutsideWindow:
                # Not delivered, and whoever wrote is told why when the action says how.
                self._record(self._performed(kept, action))
                if isinstance(action, SendText):
                    told = action.if_outside_window or action.if_unreachable
                    if told is not None:
                        await self._deliver_all(Outbox([told]), port)
                continue
            record = self._performed(kept, action, message_id)
            if isinstance(action, SendText) and message_id is not None:
                if action.after is not None:
                    # At once, not after the whole outbox: another chat may act on this
                    # message (a staff member pressing an alert's button) in the meantime.
                    await self._after_sends.run(record or action.after, message_id)
                    record = None
                if action.if_sent is not None:
                    await self._deliver_all(Outbox([action.if_sent]), port)
            elif isinstance(action, SendText) and action.if_unreachable is not None:
                # Refused (400) or given up on: not delivered either, so say so.
                await self._deliver_all(Outbox([action.if_unreachable]), port)
            self._record(record)
        if kept is not None and not kept.finished:
            kept.finished = True
            self._record(KeptProgress(None, kept.row_id, kept.total, True))
        if dead_chats:
            async with self.db.transaction() as store:
                for chat_id in dead_chats:
                    await store.respondents.set_chat_unreachable(chat_id)

    async def _download(self, action: Download, port: ChatPort) -> None:
        """Downloads a user's file (after the commit), then lets `then` store it in a
        transaction of its own; its replies are delivered like any others."""
        data = None
        delay = self.policy.backoff
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                data = await port.download(action.file_id, action.max_bytes)
                break
            except (RetryLater, Transient) as exc:
                if attempt == self.policy.max_attempts:
                    log.warning("gave up downloading %s: %s", action.file_id, exc)
                    break
                if isinstance(exc, RetryLater):
                    await self._pause(min(exc.seconds, self.policy.max_retry_after))
                else:
                    await self._pause(delay)
                    delay *= 2
            except (Rejected, Unreachable) as exc:
                log.info("could not download %s: %s", action.file_id, exc)
                break
        later = Outbox()
        if data is not None:
            try:
                async with self.db.transaction() as store:
                    await action.then(data, store, later)
            except Exception:
                log.exception("processing a downloaded file failed")
                data, later = None, Outbox()
        if data is None and action.if_failed is not None:
            later.actions.append(action.if_failed)
        await self._deliver_all(later, port)

    def _record(self, job: KeptProgress | None) -> None:
        """Queues a kept row's progress or removal, batched with other chats' writes."""
        if job is None:
            return
        if job.last or job.after is not None:
            self._after_sends.later(job)
        # Progress without a job of its own is not written: the row's removal follows,
        # and a crash before it re-sends at most the replies since the last record.

    @property
    def _after_sends(self) -> AfterSendWriter:
        if self._after_send is None:
            self._after_send = AfterSendWriter(self.db)
        return self._after_send

    async def perform(self, action: Action, port: ChatPort) -> int | None:
        """One action with Telegram's error rules: wait on 429, retry 5xx, stop on 403."""
        delay = self.policy.backoff
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                return await port.perform(action)
            except RetryLater as exc:
                if attempt == self.policy.max_attempts:
                    log.warning("gave up on %s after repeated 429s", type(action).__name__)
                    return None
                await self._pause(min(exc.seconds, self.policy.max_retry_after))
            except Transient as exc:
                if attempt == self.policy.max_attempts:
                    log.warning("gave up on %s: %s", type(action).__name__, exc)
                    return None
                await self._pause(delay)
                delay *= 2
            except Unreachable:
                log.info("chat %s is unreachable", getattr(action, "chat_id", "?"))
                raise
            except OutsideWindow:
                log.info("WhatsApp's window is closed for %s", getattr(action, "chat_id", "?"))
                raise
            except Rejected as exc:
                # Case-insensitive: PTB capitalises descriptions ("Message is not modified").
                description = exc.description.lower()
                if isinstance(action, AnswerButton) or any(
                    h in description for h in HARMLESS_REJECTIONS
                ):
                    log.debug("ignored: %s", exc.description)
                else:
                    log.warning("Telegram rejected %s: %s", type(action).__name__, exc.description)
                return None
        return None
