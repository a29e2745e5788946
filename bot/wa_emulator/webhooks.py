"""Webhook delivery as Meta does it: a GET verification handshake first, then each event
POSTed with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``.

An event leaves the queue when the bot answers 200; any other answer, a refused
connection or no answer within ``answer_timeout`` puts it back with a pause doubling from
``first_retry`` to ``max_retry`` (Meta retries for days, with growing pauses), and later
events go on meanwhile — so retried events arrive out of order, as on Meta. Events wait
while no webhook is set. ``redeliver`` posts an already accepted event again, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bot.wa_emulator.models import WebhookAttempt
from bot.wa_emulator.shapes import signature

SIGNATURE_HEADER = "X-Hub-Signature-256"
USER_AGENT = "facebookexternalua"


class WebhookVerificationError(Exception):
    """The bot's endpoint did not pass the GET handshake."""


@dataclass
class _Event:
    key: str
    body: bytes
    due: float = 0.0  # loop time of the next attempt
    delay: float = 0.0  # the pause after the next failure


class WebhookSender:
    """The queue of webhook events and the task posting them."""

    def __init__(
        self,
        app_secret: str,
        notify: Callable[[], None],
        *,
        first_retry: float = 0.05,
        max_retry: float = 1.0,
        answer_timeout: float = 10.0,
    ) -> None:
        # Meta waits far longer between retries; the emulator keeps tests fast.
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.answer_timeout = answer_timeout
        self.url = ""
        self.attempts: list[WebhookAttempt] = []
        self.delivered: list[str] = []  # event keys the bot accepted, in order
        self._app_secret = app_secret
        self._notify = notify
        self._queue: list[_Event] = []
        self._history: dict[str, bytes] = {}  # every event ever, for redeliver()
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    # --- set-up ----------------------------------------------------------------------------

    async def set(self, url: str, verify_token: str) -> None:
        """Verify ``url`` with the handshake, then deliver there (WebhookVerificationError
        when the endpoint does not echo the challenge with 200)."""
        challenge = str(secrets.randbelow(10**9) + 10**8)
        query = {
            "hub.mode": "subscribe",
            "hub.challenge": challenge,
            "hub.verify_token": verify_token,
        }
        try:
            async with self._client().get(url, params=query) as response:
                status, text = response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise WebhookVerificationError(
                f"the callback URL could not be reached: {error}"
            ) from None
        if status != 200 or text != challenge:
            raise WebhookVerificationError(
                f"The URL couldn't be validated: answered {status} {text[:80]!r}, expected 200 "
                f"with the challenge {challenge}"
            )
        self.url = url
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver())
        self._wake.set()

    def unset(self) -> None:
        """Stop delivering; events wait until a webhook is set again."""
        self.url = ""
        self._wake.set()

    async def close(self) -> None:
        """Stop the delivery task and the HTTP client."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- events ----------------------------------------------------------------------------

    def enqueue(self, key: str, body: bytes) -> None:
        """Queue an event (its body already encoded: the bytes are what gets signed)."""
        self._history[key] = body
        self._queue.append(_Event(key, body, delay=self.first_retry))
        self._wake.set()

    def redeliver(self, key: str) -> None:
        """Post an event again, byte for byte, as Meta does after a lost acknowledgement."""
        body = self._history.get(key)
        if body is None:
            raise KeyError(f"no webhook event {key!r} was ever queued")
        self.enqueue(key, body)

    def keys(self) -> list[str]:
        """Every event key ever queued, oldest first."""
        return list(self._history)

    def body(self, key: str) -> bytes | None:
        """The bytes of an event ever queued."""
        return self._history.get(key)

    @property
    def pending(self) -> list[str]:
        """Keys of the events not yet accepted by the bot."""
        return [e.key for e in self._queue]

    # --- delivery --------------------------------------------------------------------------

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.answer_timeout)
            )
        return self._session

    async def _deliver(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._closed:
            now = loop.time()
            due = next((e for e in self._queue if e.due <= now), None) if self.url else None
            if due is None:
                waits = [e.due for e in self._queue] if self.url else []
                await self._idle(min(waits) - now if waits else None)
                continue
            if await self._post(due):
                self._queue.remove(due)
                self.delivered.append(due.key)
            else:
                due.due = loop.time() + due.delay
                due.delay = min(due.delay * 2, self.max_retry)
                # Later events go first while this one waits: Meta's order is not kept.
                self._queue.remove(due)
                self._queue.append(due)
            self._notify()

    async def _idle(self, timeout: float | None) -> None:  # noqa: ASYNC109 - the next retry
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), None if timeout is None else max(timeout, 0))

    async def _post(self, event: _Event) -> bool:
        """One attempt; True when the bot answered 200."""
        signed = signature(self._app_secret, event.body)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: signed,
        }
        status = 0
        try:
            async with self._client().post(self.url, data=event.body, headers=headers) as answer:
                status = answer.status
                await answer.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        self.attempts.append(
            WebhookAttempt(event.key, status, signed, event.body, time.monotonic())
        )
        return status == 200
