"""Telegram's webhook route (WEBHOOK_URL): updates POSTed by Telegram, checked, then fed.

Framework-free: each runtime supplies how an update is processed (aiogram's
`Dispatcher.feed_raw_update`, PTB's `Application.process_update`), wrapped in a
`WebhookUpdates` that decides when Telegram may be answered.

When to answer is the one real decision here. Telegram forgets an update once it gets a
2xx, so answering before the update is stored loses it if the process dies in between;
but answering only after the replies went out holds Telegram (and every later update behind
it) while a chat waits on a 429. So the request waits until the update is *settled*: its
database transaction committed (the dedupe row in processed_updates and the replies kept in
the persisted outbox, bot/outbox.py) — milliseconds — and the replies are sent after the
200 by the same task. From then on a crash loses nothing: the next start sends the kept
replies. If the process dies before the commit, Telegram had no 2xx and posts the update
again; a redelivery of an update already handled is skipped by processed_updates.

A graceful stop (`stop_webhook`, SIGTERM) runs before the HTTP server closes: /readyz says
503 so the load balancer sends no more, updates posted meanwhile get 503 so Telegram posts
them again (to another replica, or to this one when it is back), and the updates in
flight finish; replies still waiting on Telegram stay in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.app import BotApp, StartupError
from bot.pipeline import Pipeline
from bot.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# How an update (Telegram's JSON, already checked to carry an integer update_id) is fed.
Feed = Callable[[dict[str, Any]], Awaitable[None]]


def webhook_path(url: str) -> str:
    """The route served for WEBHOOK_URL: its path ("/" when it has none)."""
    return urlsplit(url).path or "/"


def _error(status: int, error: str, message: str) -> web.Response:
    # The same shape as the trigger API's errors (bot/web/api.py ErrorBody).
    return web.json_response({"error": error, "message": message}, status=status)


def webhook_route(path: str, secret: str, feed: Feed) -> web.RouteDef:
    """POST `path`: 401 without the right secret header, 400 unless a JSON update, else
    `feed` (which returns once the update may be acknowledged) and 200."""
    if not secret:
        raise ValueError("a webhook needs its secret (WEBHOOK_SECRET)")
    expected = secret.encode()

    async def telegram_webhook(request: web.Request) -> web.Response:
        """Takes one update from Telegram."""
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return _error(401, "unauthorized", f"missing or wrong {SECRET_HEADER} header")
        try:
            update = json.loads(await request.read())
        except ValueError:  # also undecodable bytes (UnicodeDecodeError is a ValueError)
            return _error(400, "invalid", "the body is not JSON")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if type(update_id) is not int:
            return _error(400, "invalid", "the body is not a Telegram update (no update_id)")
        try:
            await feed(update)
        except NotAccepting:
            return _error(503, "unavailable", "the bot is stopping: post the update again")
        return web.json_response({"ok": True})

    return web.post(path, telegram_webhook)


class NotAccepting(Exception):
    """The bot is stopping: the update was not taken (Telegram will post it again)."""


class WebhookUpdates:
    """Processes each webhook update in a task of its own; `feed` returns (so the request
    is answered) once the update is settled or its processing ended, whichever is first.

    `webhook_updates` points `Pipeline.on_settled` at `settled`. Updates the pipeline never sees
    (kinds npsbot ignores) are acknowledged when their processing ends.
    """

    def __init__(self, process: Feed) -> None:
        self._process = process
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False  # stopping: new updates are refused (NotAccepting)

    def settled(self, update_id: int) -> None:
        """The update's transaction is over: its requests may be answered."""
        for waiter in self._waiting.pop(update_id, []):
            if not waiter.done():
                waiter.set_result(None)

    async def feed(self, update: dict[str, Any]) -> None:
        """Starts processing `update`; returns once Telegram may be answered. Raises
        NotAccepting once the bot is stopping."""
        if self.closed:
            raise NotAccepting
        update_id: int = update["update_id"]
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(update_id, []).append(waiter)
        task = asyncio.create_task(self._run(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            # asyncio.wait never cancels what it waits for: if this request is cancelled
            # (the server stops, Telegram hung up), the processing goes on.
            await asyncio.wait((waiter, task), return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiters = self._waiting.get(update_id, [])
            with contextlib.suppress(ValueError):
                waiters.remove(waiter)
            if not waiters:
                self._waiting.pop(update_id, None)
            waiter.cancel()

    async def _run(self, update: dict[str, Any]) -> None:
        try:
            await self._process(update)
        except Exception:
            # Telegram gets its 200 anyway: posting an update that cannot be processed
            # again would only hold up every update behind it.
            log.exception("webhook update %s failed", update.get("update_id"))

    @property
    def in_flight(self) -> int:
        """How many updates are still being processed."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Waits for every update in flight (a graceful stop, after the server stopped
        taking requests and Pipeline.stop() cut the waits on Telegram short)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def webhook_updates(
    settings: Settings, pipeline: Pipeline, process: Feed
) -> WebhookUpdates | None:
    """Webhook mode's updates, told by the pipeline when each is settled; None when the
    bot polls (no WEBHOOK_URL)."""
    if not settings.webhook_url:
        return None
    updates = WebhookUpdates(process)
    pipeline.on_settled = updates.settled
    log.info("webhook mode: Telegram posts updates to %s", settings.webhook_url)
    return updates


async def stop_webhook(app: BotApp, updates: WebhookUpdates | None) -> None:
    """The first step of a graceful stop, while the HTTP server still answers: /readyz goes
    503; in webhook mode new updates get 503 and those in flight finish (replies waiting on
    Telegram's 429s end at once and stay in the outbox; a call in flight gets STOP_GRACE)."""
    app.draining = True
    if updates is None:
        return
    log.info("stopping: %d webhook updates in flight", updates.in_flight)
    updates.closed = True
    app.pipeline.stop()
    await updates.drain()


def webhook_refused(settings: Settings, reason: str) -> StartupError:
    """The one line npsbot stops with when the Bot API refuses setWebhook."""
    return StartupError(
        f"WEBHOOK_URL {settings.webhook_url} was refused by the Bot API ({reason}): "
        "Telegram calls only public https URLs on port 443, 80, 88 or 8443; "
        "fix it, or leave WEBHOOK_URL empty for long polling."
    )


def webhook_routes(settings: Settings, updates: WebhookUpdates | None) -> list[web.RouteDef]:
    """The HTTP server's route for Telegram in webhook mode (none when polling)."""
    if updates is None:
        return []
    return [
        webhook_route(webhook_path(settings.webhook_url), settings.webhook_secret, updates.feed)
    ]


@contextlib.contextmanager
def stop_requested(stop: asyncio.Event | None) -> Iterator[asyncio.Event]:
    """The event that ends webhook mode: `stop`, or without one an event that SIGINT and
    SIGTERM set from the moment this is entered (as aiogram's polling does). Entered before
    setWebhook, so a stop asked for while it is in flight (systemd restarting a replica that
    is just starting) is a graceful one too, not the signal's default exit."""
    if stop is not None:
        yield stop
        return
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, stopped.set)
    try:
        yield stopped
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def until_stopped(stop: asyncio.Event | None) -> None:
    """Webhook mode's main loop, as there is nothing to poll: waits for `stop`, or without
    one for SIGINT/SIGTERM."""
    with stop_requested(stop) as stopped:
        await stopped.wait()
