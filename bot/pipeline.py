"""The boundary every update crosses: lock, transaction, dedupe, handler, then replies."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
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
    Outbox,
    Rejected,
    RetryLater,
    SendText,
    Transient,
    Unreachable,
)
from handlers.routing import Router
from storage.db import Database
from storage.models import utcnow
from storage.repos.respondents import Profile

log = logging.getLogger(__name__)

# 400 answers that mean "nothing to do": a double edit, or a button answered too late.
HARMLESS_REJECTIONS = ("message is not modified", "query is too old", "message to edit not found")


@dataclass
class DeliveryPolicy:
    """How hard to try when Telegram pushes back."""

    max_attempts: int = 5
    max_retry_after: float = 60.0  # never hold a chat longer than this on one 429
    backoff: float = 0.5  # first pause after a 5xx or timeout; doubles each time


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
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    async def drain(self) -> None:
        """Waits until no event is being handled (for a graceful stop)."""
        while self._inflight:
            self._idle.clear()
            await self._idle.wait()

    async def handle(self, event: Event, port: ChatPort) -> None:
        """Runs the event's handler in one transaction, then sends its replies."""
        self._inflight += 1
        try:
            await self._handle(event, port)
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def _handle(self, event: Event, port: ChatPort) -> None:
        async with self.locks.hold(event.chat_id):
            outbox = Outbox()
            language = self.catalogs.resolve(None, event.sender.language_code)
            try:
                async with self.db.transaction() as store:
                    if not await store.updates.claim(event.update_id):
                        log.info("update %s was handled before; skipped", event.update_id)
                        return
                    respondent = None
                    if event.private:
                        respondent = await store.respondents.touch(
                            Profile(
                                user_id=event.sender.id,
                                chat_id=event.chat_id,
                                first_name=event.sender.first_name,
                                username=event.sender.username,
                                language_code=event.sender.language_code,
                            )
                        )
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
                    )
                    await self.router.route(event, ctx)
            except Exception:
                log.exception("handler failed for update %s", event.update_id)
                outbox = self._apology(event, language)
            await self.deliver(outbox, port)

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
        followups: list[tuple[AfterSend, int]] = []
        dead_chats: set[int] = set()
        for action in outbox.actions:
            chat_id = getattr(action, "chat_id", None)
            if chat_id is not None and chat_id in dead_chats:
                continue
            try:
                message_id = await self.perform(action, port)
            except Unreachable:
                if chat_id is not None:
                    dead_chats.add(chat_id)
                continue
            if (
                isinstance(action, SendText)
                and action.after is not None
                and message_id is not None
            ):
                followups.append((action.after, message_id))
        if dead_chats:
            async with self.db.transaction() as store:
                for chat_id in dead_chats:
                    # Private chat ids equal user ids; groups simply match no respondent.
                    await store.respondents.set_reachable(chat_id, False)
        if followups:
            async with self.db.transaction() as store:
                for after, message_id in followups:
                    await after(store, message_id)

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
                if isinstance(action, AnswerButton) or any(
                    h in exc.description for h in HARMLESS_REJECTIONS
                ):
                    log.debug("ignored: %s", exc.description)
                else:
                    log.warning("Telegram rejected %s: %s", type(action).__name__, exc.description)
                return None
        return None
