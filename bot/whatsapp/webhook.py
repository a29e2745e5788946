"""WhatsApp's webhook on the bot's HTTP server: GET answers Meta's handshake, POST takes
signed `messages` events.

A POST is answered as Telegram's webhook is (bot/web/telegram_webhook.py): once each of
its messages is settled — its claim (the wamid's update id in processed_updates) and its
replies committed — so Meta retries what a crash lost and a redelivery is skipped; the
replies are sent after the answer. A template's quick reply (it brings the score
question) or an old range button (from a question sent before the 0–10 question became two
lists, render.py) is claimed in the same transaction that finds the customers, and its
messages sent afterwards.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from hashlib import sha256
from typing import Any

from aiohttp import web

from bot.web.telegram_webhook import NotAccepting, WebhookUpdates
from bot.whatsapp.delivery import Refused, moment_of, record_delivery
from bot.whatsapp.events import message_event
from bot.whatsapp.questions import QUICK_PREFIX
from bot.whatsapp.render import RANGE_PREFIX
from handlers.events import Event
from nps.phones import phone_language
from storage.db import Database
from storage.repos.whatsapp import wamid_update_id

log = logging.getLogger(__name__)

PATH = "/whatsapp/webhook"
SIGNATURE_HEADER = "X-Hub-Signature-256"

# A quick reply or old range tap to answer after the commit: (chat id, the button's id).
RangeTap = tuple[int, str]


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


def signed(raw: bytes, header: str, secret: bytes) -> bool:
    """True when `header` is `sha256=<hex HMAC-SHA256(app secret, raw body)>`."""
    expected = "sha256=" + hmac.new(secret, raw, sha256).hexdigest()
    return hmac.compare_digest(header.encode("utf-8", "replace"), expected.encode())


def _values(body: Any) -> list[dict[str, Any]]:
    """Each change's `value` of a whatsapp_business_account body."""
    if not isinstance(body, dict):
        return []
    values = []
    for entry in body.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value")
            if isinstance(value, dict):
                values.append(value)
    return values


class WhatsAppWebhook:
    """The two routes, feeding the pipeline through `updates`."""

    def __init__(
        self,
        db: Database,
        updates: WebhookUpdates,
        verify_token: str,
        app_secret: str,
        send_range: Any,
        on_refused: Any = None,
    ) -> None:
        self.db = db
        self.updates = updates
        self._verify_token = verify_token.encode()
        self._secret = app_secret.encode()
        self._send_range = send_range  # async (chat_id, data) → None
        # async (chat_id, message id) → None: a question refused later for the window.
        self._on_refused = on_refused
        self._tasks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        """GET and POST /whatsapp/webhook."""
        return [web.get(PATH, self.verify), web.post(PATH, self.receive)]

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's set-up handshake: the challenge back when the verify token matches."""
        query = request.query
        token = query.get("hub.verify_token", "").encode("utf-8", "replace")
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token, self._verify_token
        ):
            return _error(403, "forbidden", "wrong hub.verify_token")
        return web.Response(text=query.get("hub.challenge", ""))

    async def receive(self, request: web.Request) -> web.Response:
        """One signed POST: its messages handled once each, its statuses recorded."""
        raw = await request.read()
        if not signed(raw, request.headers.get(SIGNATURE_HEADER, ""), self._secret):
            return _error(401, "unauthorized", f"missing or wrong {SIGNATURE_HEADER} header")
        try:
            body = json.loads(raw)
        except ValueError:
            return _error(400, "invalid", "the body is not JSON")
        if self.updates.closed:
            return _error(503, "unavailable", "the bot is stopping: post the event again")
        events, ranges, refused = await self._take(_values(body))
        try:
            for event in events:  # in order: one chat's messages keep theirs
                await self.updates.feed({"update_id": event.update_id, "event": event})
        except NotAccepting:
            return _error(503, "unavailable", "the bot is stopping: post the event again")
        for chat_id, data in ranges:
            self._start(self._send_range(chat_id, data))
        if self._on_refused is not None:
            for chat_id, message_id in refused:
                self._start(self._on_refused(chat_id, message_id))
        return web.json_response({"ok": True})

    def _start(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _take(
        self, values: list[dict[str, Any]]
    ) -> tuple[list[Event], list[RangeTap], list[Refused]]:
        """In one transaction: the customers (created on first contact, their window
        opened), the range taps claimed, the statuses recorded; the events to hand the
        pipeline."""
        events: list[Event] = []
        ranges: list[RangeTap] = []
        refused: list[Refused] = []
        async with self.db.transaction() as store:
            for value in values:
                names = {
                    str(c.get("wa_id")): (c.get("profile") or {}).get("name")
                    for c in value.get("contacts") or []
                    if isinstance(c, dict)
                }
                for message in value.get("messages") or []:
                    wa_id = str(message.get("from", ""))
                    if not wa_id.isdigit():
                        continue
                    language = phone_language("+" + wa_id)
                    name = names.get(wa_id)
                    chat_id, new = await store.whatsapp.contact(wa_id, name, language)
                    await store.whatsapp_outbound.heard(chat_id, moment_of(message))
                    data = _range_data(message)
                    if data is not None:
                        if await store.updates.claim(wamid_update_id(str(message.get("id")))):
                            ranges.append((chat_id, data))
                        continue
                    event = message_event(message, chat_id, name, language, first_contact=new)
                    if event is not None:
                        events.append(event)
                for status in value.get("statuses") or []:
                    refusal = await record_delivery(store, status)
                    if refusal is not None:
                        refused.append(refusal)
        return events, ranges, refused

    async def drain(self) -> None:
        """Waits for the range lists being sent."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _range_data(message: dict[str, Any]) -> str | None:
    """The payload of a template's quick reply or the id of an old range button, else
    None."""
    if message.get("type") == "button":  # a template's quick reply (questions.py)
        payload = str((message.get("button") or {}).get("payload", ""))
        return payload if payload.startswith(QUICK_PREFIX + ":") else None
    if message.get("type") != "interactive":
        return None
    interactive = message.get("interactive") or {}
    reply = interactive.get("button_reply") or {}
    data = str(reply.get("id", ""))
    return data if data.startswith(RANGE_PREFIX + ":") else None
