"""Webhook delivery: once setWebhook is set, updates are POSTed to the bot, as Telegram does.

One update at a time, in ``update_id`` order; an update leaves the queue only when the bot
answers 2xx. Any other answer, a connection error or no answer within ``answer_timeout``
is remembered for getWebhookInfo (``last_error_date``, ``last_error_message``) and the same
update is posted again after a growing pause: a redelivery with the same ``update_id``, which
a bot must recognise. ``X-Telegram-Bot-Api-Secret-Token`` carries setWebhook's
``secret_token`` when one was given.
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
        self.attempts: list[WebhookAttempt] = []
        self.last_error_date: int | None = None
        self.last_error_message = ""
        self._updates = updates
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def set(self, url: str, secret: str) -> None:
        """Start (or redirect) delivery to ``url``."""
        self.url, self.secret = url, secret
        self.last_error_date, self.last_error_message = None, ""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver_while_set())
        self._updates.wake_pollers()

    def delete(self) -> None:
        """Stop delivering; an update in flight still counts if the bot accepts it."""
        self.url, self.secret = "", ""
        self._updates.wake_pollers()

    async def close(self) -> None:
        """Stop the delivery task and close its HTTP client (the emulator stops)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _deliver_while_set(self) -> None:
        delay = self.first_retry
        while self.url and not self._updates.closing:
            update = self._updates.first_deliverable()
            if update is None:
                await self._updates.next_change()
                continue
            if await self._post(update):
                self._updates.confirm_one(update["update_id"])
                delay = self.first_retry
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry)

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
