"""The boundary every update crosses: lock, transaction, dedupe, handler, then replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from handlers.context import BotConfig, CatalogsLike, Context
from handlers.events import BlockChange, ButtonPress, Event, Message
from handlers.port import (
    Action,
    AfterSend,
    AnswerButton,
    ChatPort,
    Download,
    Outbox,
    Rejected,
    RetryLater,
    RunLater,
    SendText,
    Transient,
    Unreachable,
)
from handlers.routing import Router
from storage.db import Database
from storage.models import utcnow
from storage.repos.respondents import Profile

log = logging.getLogger(__name__)

# Whether an embedded npsbot takes an event (bot/embed.py); asked under the chat's lock.
Claim = Callable[[Event], Awaitable[bool]]

# 400 answers that mean "nothing to do": a double edit, or a button answered too late.
HARMLESS_REJECTIONS = ("message is not modified", "query is too old", "message to edit not found")


@dataclass
class DeliveryPolicy:
    """How hard to try when Telegram pushes back."""

    max_attempts: int = 5
    max_retry_after: float = 60.0  # never hold a chat longer than this on one 429
    backoff: float = 0.5  # first pause after a 5xx or timeout; doubles each time


class AfterSendWriter:
    """Records sent message ids (AfterSend jobs), many chats' in one transaction.

    Under load, replies to many chats finish sending at once; each used to open its own
    write transaction for one small UPDATE. Jobs that arrive while a batch commits wait
    for the next one, so at low load nothing changes and at high load the writes share
    a commit (bench/e2e_throughput.py). A failing job is retried alone, never losing others.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: list[tuple[AfterSend, int, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

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
                    for job, message_id, _ in batch:
                        await job(store, message_id)
            except Exception:
                await self._one_by_one(batch)
                continue
            for *_, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _one_by_one(self, batch: list[tuple[AfterSend, int, asyncio.Future[None]]]) -> None:
        for job, message_id, done in batch:
            try:
                async with self.db.transaction() as store:
                    await job(store, message_id)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(None)


class ChatLocks:
    """One asyncio lock per chat, so a user's updates are handled in arrival order."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        """Holds the chat's lock; forgets idle locks so memory stays flat."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._users[chat_id] = self._users.get(chat_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[chat_id] -= 1
            if not self._users[chat_id]:
                del self._users[chat_id]
                del self._locks[chat_id]


@dataclass
class Pipeline:
    """Handles one event at a time per chat, exactly once per update_id."""

    db: Database
    router: Router
    catalogs: CatalogsLike
    config: BotConfig
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    clock: Callable[[], datetime] = utcnow
    locks: ChatLocks = field(default_factory=ChatLocks)
    _inflight: int = 0
    _after_send: AfterSendWriter | None = None
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def inflight(self) -> int:
        """How many events are being handled right now."""
        return self._inflight

    async def drain(self) -> None:
        """Waits until no event is being handled (for a graceful stop)."""
        while self._inflight:
            self._idle.clear()
            await self._idle.wait()

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

    async def _handle(self, event: Event, port: ChatPort, claim: Claim | None) -> bool:
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
                            ),
                        )
                    else:
                        claimed = await store.updates.claim(event.update_id)
                    if not claimed:
                        log.info("update %s was handled before; skipped", event.update_id)
                        return True
                    if respondent is not None:
                        language = self.catalogs.resolve(
                            respondent.language_override, event.sender.language_code
                        )
                    ctx = Context(
                        store=store,
                        out=outbox,
                        catalogs=self.catalogs,
                        config=self.config,
                        language=language,
                        now=self.clock(),
                        respondent=respondent,
                        hooks=self.router.hooks,
                    )
                    await self.router.route(event, ctx)
            except Exception:
                log.exception("handler failed for update %s", event.update_id)
                outbox = self._apology(event, language)
            await self.deliver(outbox, port)
        return True

    def _apology(self, event: Event, language: str) -> Outbox:
        """What the user sees when a handler crashed: nothing stored, a polite retry hint."""
        outbox = Outbox()
        texts = self.catalogs.texts(language)
        if isinstance(event, ButtonPress):
            outbox.answer(event.callback_id, texts.plain("something_wrong"), alert=True)
        elif isinstance(event, Message) and event.private:
            outbox.send(event.chat_id, texts("something_wrong"))
        elif isinstance(event, BlockChange):
            pass
        return outbox

    async def deliver(self, outbox: Outbox, port: ChatPort) -> None:
        """Performs queued actions in order; records message ids the handlers asked for."""
        try:
            await self._deliver(outbox, port)
        finally:
            for path in outbox.temporary:
                path.unlink(missing_ok=True)

    async def _deliver(self, outbox: Outbox, port: ChatPort) -> None:
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
                await self.deliver(later, port)
                continue
            if isinstance(action, Download):
                await self._download(action, port)
                continue
            chat_id = getattr(action, "chat_id", None)
            if chat_id is not None and chat_id in dead_chats:
                continue
            try:
                message_id = await self.perform(action, port)
            except Unreachable:
                if chat_id is not None:
                    dead_chats.add(chat_id)
                if isinstance(action, SendText) and action.if_unreachable is not None:
                    await self.deliver(Outbox([action.if_unreachable]), port)
                continue
            if isinstance(action, SendText) and message_id is not None:
                if action.after is not None:
                    # At once, not after the whole outbox: another chat may act on this
                    # message (a staff member pressing an alert's button) in the meantime.
                    await self._after_sends.run(action.after, message_id)
                if action.if_sent is not None:
                    await self.deliver(Outbox([action.if_sent]), port)
        if dead_chats:
            async with self.db.transaction() as store:
                for chat_id in dead_chats:
                    # Private chat ids equal user ids; groups simply match no respondent.
                    await store.respondents.set_reachable(chat_id, False)

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
                    await asyncio.sleep(min(exc.seconds, self.policy.max_retry_after))
                else:
                    await asyncio.sleep(delay)
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
        await self.deliver(later, port)

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
                await asyncio.sleep(min(exc.seconds, self.policy.max_retry_after))
            except Transient as exc:
                if attempt == self.policy.max_attempts:
                    log.warning("gave up on %s: %s", type(action).__name__, exc)
                    return None
                await asyncio.sleep(delay)
                delay *= 2
            except Unreachable:
                log.info("chat %s is unreachable", getattr(action, "chat_id", "?"))
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
