"""Webhook delivery: once setWebhook is set, updates are POSTed to the bot, as Telegram does.

Like Telegram's Bot API server, updates wait in one queue per chat: a chat's updates go one
at a time in ``update_id`` order (the next only after the bot accepted the one before), and
up to ``max_connections`` chats' updates are posted at once (setWebhook's parameter,
40 when not given). An update leaves its queue only when the bot answers 2xx. Any other
answer, a connection error or no answer within ``answer_timeout`` is remembered for
getWebhookInfo (``last_error_date``, ``last_error_message``) and the same update is posted
again after a growing pause (its chat's later updates wait behind it; other chats go on): a
redelivery with the same ``update_id``, which a bot must recognise.
``X-Telegram-Bot-Api-Secret-Token`` carries setWebhook's ``secret_token`` when one was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.emulator.updates import UpdateQueue

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True)
class WebhookAttempt:
    """One POST of an update to the bot's webhook."""

    update_id: int
    status: int  # the HTTP status; 0 when there was no answer (refused, timed out)
    secret: str  # the secret header sent ("" when none)
    at: float  # time.monotonic()


DEFAULT_MAX_CONNECTIONS = 40  # Telegram's default for setWebhook's max_connections


def queue_of(update: dict[str, Any]) -> object:
    """The queue an update waits in: its chat (or its sender when it has no chat)."""
    for kind, body in update.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return ("chat", chat["id"])
        sender = body.get("from")
        if isinstance(sender, dict) and "id" in sender:
            return ("user", sender["id"])
    return ("update", update.get("update_id"))


class WebhookSender:
    """Posts queued updates to the webhook URL while one is set."""

    def __init__(
        self,
        updates: UpdateQueue,
        *,
        first_retry: float = 0.05,
        max_retry: float = 1.0,
        answer_timeout: float = 60.0,
    ) -> None:
        # Telegram waits longer between retries; the emulator keeps tests fast.
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.answer_timeout = answer_timeout
        self.url = ""
        self.secret = ""
        self.max_connections = DEFAULT_MAX_CONNECTIONS
        self.attempts: list[WebhookAttempt] = []
        self.last_error_date: int | None = None
        self.last_error_message = ""
        self._updates = updates
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._posting: dict[object, asyncio.Task[None]] = {}  # queue → its POST in flight
        self._retry_at: dict[object, float] = {}  # queue → when its failed head goes again
        self._delay: dict[int, float] = {}  # update_id → its next pause after a failure
        self._wake = asyncio.Event()

    def set(self, url: str, secret: str, max_connections: int | None = None) -> None:
        """Start (or redirect) delivery to ``url``."""
        self.url, self.secret = url, secret
        self.max_connections = max_connections or DEFAULT_MAX_CONNECTIONS
        self.last_error_date, self.last_error_message = None, ""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver_while_set())
        self._wake.set()
        self._updates.wake_pollers()

    def delete(self) -> None:
        """Stop delivering; an update in flight still counts if the bot accepts it."""
        self.url, self.secret = "", ""
        self._wake.set()
        self._updates.wake_pollers()

    @property
    def in_flight(self) -> int:
        """How many POSTs are waiting for the bot's answer."""
        return len(self._posting)

    async def close(self) -> None:
        """Stop the delivery tasks and close the HTTP client (the emulator stops)."""
        tasks = [t for t in (self._task, *self._posting.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._task = None
        self._posting.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver_while_set(self) -> None:
        loop = asyncio.get_running_loop()
        while self.url and not self._updates.closing:
            now = loop.time()
            self._retry_at = {q: at for q, at in self._retry_at.items() if at > now}
            room = self.max_connections - len(self._posting)
            busy = self._posting.keys() | self._retry_at.keys()
            for update in self._updates.heads(room, queue_of, busy) if room > 0 else []:
                queue = queue_of(update)
                self._posting[queue] = asyncio.create_task(self._deliver(queue, update))
            await self._idle(min(self._retry_at.values(), default=None))

    async def _idle(self, until: float | None) -> None:
        """Waits for a new update, a POST's end or the next retry time."""
        self._wake.clear()
        waits = [
            asyncio.ensure_future(self._updates.next_change()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        timeout = None if until is None else max(0.0, until - asyncio.get_running_loop().time())
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _deliver(self, queue: object, update: dict[str, Any]) -> None:
        update_id = update["update_id"]
        try:
            if await self._post(update):
                self._delay.pop(update_id, None)
                self._updates.confirm_one(update_id)
            else:
                delay = self._delay.get(update_id, self.first_retry)
                self._delay[update_id] = min(delay * 2, self.max_retry)
                self._retry_at[queue] = asyncio.get_running_loop().time() + delay
        finally:
            self._posting.pop(queue, None)
            self._wake.set()

    async def _post(self, update: dict[str, Any]) -> bool:
        """One attempt; True when the bot answered 2xx."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.answer_timeout)
            )
        headers = {"Content-Type": "application/json"}
        secret = self.secret
        if secret:
            headers[SECRET_HEADER] = secret
        status, error = 0, ""
        try:
            async with self._session.post(
                self.url, data=json.dumps(update), headers=headers
            ) as response:
                status = response.status
                await response.read()
                if not 200 <= status < 300:
                    error = f"Wrong response from the webhook: {status} {response.reason}"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {exc}"
        self.attempts.append(WebhookAttempt(update["update_id"], status, secret, time.monotonic()))
        if error:
            self.last_error_date, self.last_error_message = int(time.time()), error
        self._updates.notify()
        return not error
