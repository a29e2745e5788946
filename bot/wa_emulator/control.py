"""The standalone emulator's control API: act as WhatsApp customers over plain HTTP.

Every route answers JSON (or a transcript as text); a caller's slip — a body that is not
a JSON object, a missing or mistyped field, an empty text, an unknown customer, message,
button or row — is a 4xx with a one-line reason as the body, never a 500. The routes are
listed in bot/wa_emulator/README.md.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.emulator_kit.control import act, bad, control_table, json_body, not_found
from bot.wa_emulator.customers import Customer
from bot.wa_emulator.models import BusinessMessage
from bot.wa_emulator.webhooks import WebhookVerificationError

if TYPE_CHECKING:
    from bot.wa_emulator.server import CloudApiEmulator

MAX_TEXT = 4096  # what a WhatsApp client lets a person send
MAX_CAPTION = 1024

# A customer's tap on a message: (customer, the business's message, the title/id/text).
Tap = Callable[[Customer, BusinessMessage, str], str]


def _string(body: dict[str, Any], name: str, limit: int = 256, *, required: bool = True) -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise bad(f"{name} is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise bad(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise bad(f"{name} is longer than {limit} characters")
    return value


def shown(message: BusinessMessage) -> dict[str, Any]:
    """A business message as the control API lists it."""
    return {
        "id": message.id,
        "to": message.to,
        "type": message.type,
        "interactive_type": message.interactive_type or None,
        "text": message.text,
        "header": message.header or None,
        "footer": message.footer or None,
        "buttons": [asdict(b) for b in message.buttons],
        "list_button": message.list_button or None,
        "rows": [asdict(r) for r in message.rows],
        "template": message.template or None,
        "language": message.language or None,
        "status": message.status,
        "errors": message.errors,
    }


class Control:
    """The control routes of one emulator."""

    def __init__(self, emulator: CloudApiEmulator) -> None:
        self.emulator = emulator

    def _customer(self, body: dict[str, Any], *, create: bool = False) -> Customer:
        wa_id = body.get("wa_id")
        if isinstance(wa_id, int) and not isinstance(wa_id, bool):
            wa_id = str(wa_id)
        if not isinstance(wa_id, str) or not wa_id.isdigit() or not 5 <= len(wa_id) <= 15:
            raise bad("wa_id must be the number's digits with the country code (5-15 digits)")
        found = self.emulator.customers.get(wa_id)
        if found is None:
            if not create:
                raise not_found(f"no customer {wa_id}")
            name = _string(body, "name", 64, required=False) or "Customer"
            found = self.emulator.customer(wa_id, name)
        return found

    def _message(self, customer: Customer, body: dict[str, Any]) -> BusinessMessage:
        message_id = _string(body, "message_id", 512)
        found = customer.message(message_id)
        if found is None:
            raise not_found(f"no message {message_id} to {customer.wa_id}")
        return found

    async def customers(self, request: web.Request) -> web.Response:
        """POST {wa_id, [name], [on_whatsapp]}: add (or update) a customer."""
        body = await json_body(request)
        on_whatsapp = body.get("on_whatsapp", True)
        if not isinstance(on_whatsapp, bool):
            raise bad("on_whatsapp must be true or false")
        customer = self._customer(body, create=True)
        customer.on_whatsapp = on_whatsapp
        return web.json_response(
            {"wa_id": customer.wa_id, "name": customer.name, "user_id": customer.user_id}
        )

    async def send(self, request: web.Request) -> web.Response:
        """POST {wa_id, text, [name], [reply_to]}: the customer writes (created on first use)."""
        body = await json_body(request)
        text = _string(body, "text", MAX_TEXT)
        customer = self._customer(body, create=True)
        reply_to = None
        if body.get("reply_to") is not None:
            reply_to = self._message(customer, {"message_id": body["reply_to"]})
        return web.json_response({"id": customer.send_text(text, reply_to=reply_to)})

    async def _tap(self, request: web.Request, field: str, tap: Tap) -> web.Response:
        """POST {wa_id, message_id, <field>}: the customer taps on one of the bot's messages."""
        body = await json_body(request)
        customer = self._customer(body)
        message = self._message(customer, body)
        value = _string(body, field)
        return web.json_response({"id": act(lambda: tap(customer, message, value))})

    async def press(self, request: web.Request) -> web.Response:
        """POST {wa_id, message_id, button}: tap a reply button (by title or id)."""
        return await self._tap(request, "button", Customer.press_button)

    async def choose(self, request: web.Request) -> web.Response:
        """POST {wa_id, message_id, row}: pick a row of a list message (by title or id)."""
        return await self._tap(request, "row", Customer.choose_row)

    async def quick_reply(self, request: web.Request) -> web.Response:
        """POST {wa_id, message_id, text}: tap a template's quick reply."""
        return await self._tap(request, "text", Customer.tap_quick_reply)

    async def image(self, request: web.Request) -> web.Response:
        """POST {wa_id, [caption], [data_base64], [mime_type]}: send a picture."""
        body = await json_body(request)
        caption = _string(body, "caption", MAX_CAPTION, required=False) or None
        mime = _string(body, "mime_type", 64, required=False) or "image/png"
        data = None
        if body.get("data_base64") is not None:
            try:
                data = base64.b64decode(_string(body, "data_base64", 10**8), validate=True)
            except (binascii.Error, ValueError):
                raise bad("data_base64 is not valid base64") from None
        customer = self._customer(body, create=True)
        return web.json_response(
            {"id": customer.send_image(data, mime_type=mime, caption=caption)}
        )

    async def sticker(self, request: web.Request) -> web.Response:
        """POST {wa_id}: send a sticker."""
        customer = self._customer(await json_body(request), create=True)
        return web.json_response({"id": customer.send_sticker()})

    async def read(self, request: web.Request) -> web.Response:
        """POST {wa_id, [message_id]}: open the chat (read statuses)."""
        body = await json_body(request)
        customer = self._customer(body)
        message = self._message(customer, body) if "message_id" in body else None
        customer.read(message)
        return web.json_response({"wa_id": customer.wa_id})

    async def template(self, request: web.Request) -> web.Response:
        """POST {name, language, body, [quick_replies], [category]}: approve a template."""
        body = await json_body(request)
        replies = body.get("quick_replies", [])
        if not isinstance(replies, list) or not all(isinstance(r, str) for r in replies):
            raise bad("quick_replies must be a list of strings")
        template = self.emulator.register_template(
            _string(body, "name", 512),
            _string(body, "language", 16),
            _string(body, "body", 1024),
            replies,
            _string(body, "category", 32, required=False) or "utility",
        )
        return web.json_response({"name": template.name, "language": template.language})

    async def clock(self, request: web.Request) -> web.Response:
        """POST {seconds}: move the emulated clock on (e.g. 90000 closes the window)."""
        seconds = (await json_body(request)).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise bad("seconds must be a non-negative number")
        self.emulator.advance_clock(float(seconds))
        return web.json_response({"now": self.emulator.now()})

    async def webhook(self, request: web.Request) -> web.Response:
        """POST {url, verify_token}: verify the bot's endpoint and deliver there."""
        body = await json_body(request)
        url = _string(body, "url", 2048)
        if not url.startswith(("http://", "https://")):
            raise bad("url must be an http(s) URL")
        try:
            await self.emulator.set_webhook(url, _string(body, "verify_token", 512))
        except WebhookVerificationError as error:
            raise bad(str(error)) from None
        return web.json_response({"url": url})

    async def messages(self, request: web.Request) -> web.Response:
        """GET ?wa_id=: the business's messages to the customer, parsed."""
        customer = self._customer(dict(request.query))
        listed = [shown(m) for m in self.emulator.messages if m.to == customer.wa_id]
        return web.json_response({"messages": listed})

    async def transcript(self, request: web.Request) -> web.Response:
        """GET ?wa_id=: the chat as text."""
        return web.Response(text=self._customer(dict(request.query)).transcript() + "\n")

    async def state(self, request: web.Request) -> web.Response:
        """GET /: customers, templates, messages, pending webhook events, calls."""
        emulator = self.emulator
        return web.json_response(
            {
                "customers": sorted(emulator.customers),
                "templates": [f"{n}/{lang}" for n, lang in sorted(emulator.templates)],
                "messages": len(emulator.messages),
                "webhook": emulator.webhook_url or None,
                "pending_events": len(emulator.pending_events),
                "calls": len(emulator.calls),
            }
        )


def control_routes(emulator: CloudApiEmulator) -> list[web.RouteDef]:
    """HTTP endpoints that let a person (a demo, a test) act as WhatsApp customers."""
    control = Control(emulator)
    routes = [
        ("POST", "/customers", control.customers),
        ("POST", "/send", control.send),
        ("POST", "/press", control.press),
        ("POST", "/choose", control.choose),
        ("POST", "/quick_reply", control.quick_reply),
        ("POST", "/image", control.image),
        ("POST", "/sticker", control.sticker),
        ("POST", "/read", control.read),
        ("POST", "/templates", control.template),
        ("POST", "/clock", control.clock),
        ("POST", "/webhook", control.webhook),
        ("GET", "/messages", control.messages),
        ("GET", "/transcript", control.transcript),
        ("GET", "/", control.state),
    ]
    return control_table(routes)
