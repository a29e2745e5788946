"""The conversations: business sends (the 24-hour rule, numbers not on WhatsApp, the
status lifecycle) and customers' messages, each turned into webhook events.

Failures Meta reports late: a send to a number that is not on WhatsApp (131026) or a
free-form send outside the customer-service window (131047) is, by default, accepted
(200 with a wamid) and then reported by a ``failed`` status webhook — what the Cloud API
does today. ``failures = "response"`` answers them at once with HTTP 400 instead (the
other path Meta documents); the bot must handle both.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

from bot.emulator_kit.changes import Changes, WaitUntil
from bot.wa_emulator.customers import Customer
from bot.wa_emulator.media import TINY_PNG, TINY_WEBP, MediaStore
from bot.wa_emulator.models import BusinessMessage, CustomerMessage, MediaFile
from bot.wa_emulator.shapes import (
    cloud_error,
    contact,
    encode_webhook,
    envelope,
    param_error,
    user_id_for,
    wamid,
    webhook_error,
)
from bot.wa_emulator.templates import TemplateStore
from bot.wa_emulator.validate import check_envelope, parse_message, recipient
from bot.wa_emulator.webhooks import WebhookSender

# Meta's own wording for an incoming message it cannot pass on (pywa's fixture).
UNSUPPORTED_ERROR = {
    "code": 131051,
    "title": "Message type unknown",
    "message": "Message type unknown",
    "error_data": {"details": "Message type is currently not supported."},
}


class Messaging:
    """Customers, the business's messages, and the events both produce."""

    def __init__(
        self,
        *,
        phone_number_id: str,
        display_phone_number: str,
        waba_id: str,
        templates: TemplateStore,
        media: MediaStore,
        webhooks: WebhookSender,
        changes: Changes,
        clock: Callable[[], float],
    ) -> None:
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.failures = "status"  # or "response": how 131026/131047 come back
        self.status_delay = 0.0  # seconds between a send's answer and its statuses
        self.reorder_statuses = False  # "delivered" before "sent", as Meta sometimes does
        self.customers: dict[str, Customer] = {}
        self.messages: list[BusinessMessage] = []
        self.inbound: dict[str, CustomerMessage] = {}
        self.read_by_business: list[str] = []  # wamids the bot marked as read
        self._by_id: dict[str, BusinessMessage] = {}
        self._templates = templates
        self._media = media
        self._webhooks = webhooks
        self._changes = changes
        # Wait for a condition (re-checked on each change), else AssertionError.
        self.wait_until: WaitUntil = changes.wait_until
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    # --- customers ---------------------------------------------------------------------------

    def customer(self, wa_id: str, name: str, user_id: str | None) -> Customer:
        """The customer with that number (created on first use)."""
        existing = self.customers.get(wa_id)
        if existing is not None:
            return existing
        if not wa_id.isdigit() or not 5 <= len(wa_id) <= 15:
            raise ValueError("wa_id is the number's digits with the country code, no '+'")
        found = Customer(self, wa_id, name, user_id or user_id_for(wa_id, self.phone_number_id))
        self.customers[wa_id] = found
        return found

    # --- the business's calls ------------------------------------------------------------------

    def handle(self, body: dict[str, Any]) -> dict[str, Any]:
        """Answer a ``/messages`` body: a send, or marking a customer's message as read."""
        check_envelope(body)
        if "status" in body:
            return self._mark_read(body)
        given, wa_id = recipient(body)
        fields = parse_message(body, self._templates)
        customer = self.customers.get(wa_id)
        failure = None
        if customer is None or not customer.on_whatsapp:
            failure = 131026
        elif fields["type"] != "template" and not customer.window_open:
            failure = 131047
        if failure is not None and self.failures == "response":
            raise cloud_error(failure)
        message = BusinessMessage(
            id=wamid(wa_id, inbound=False),
            to=wa_id,
            input=given,
            payload=copy.deepcopy(body),
            at=self.now(),
            **fields,
        )
        self.messages.append(message)
        self._by_id[message.id] = message
        if failure is not None:
            self._later(message, ["failed"], webhook_error(failure))
        else:
            delivered = customer is not None and customer.online
            self._later(message, ["sent", "delivered"] if delivered else ["sent"], None)
        answer: dict[str, Any] = {"id": message.id}
        if message.type == "template":
            answer["message_status"] = "accepted"
        self._changes.notify()
        return {
            "messaging_product": "whatsapp",
            "contacts": [{"input": given, "wa_id": wa_id}],
            "messages": [answer],
        }

    def _mark_read(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("status") != "read":
            raise param_error(
                f'Param status must be one of {{READ}} - got "{body.get("status")}".'
            )
        message_id = body.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise param_error("The parameter message_id is required.")
        if message_id not in self.inbound:
            raise param_error(f"Param message_id ({message_id}) is not a valid message id.")
        self.read_by_business.append(message_id)
        self._changes.notify()
        return {"success": True}

    # --- statuses ------------------------------------------------------------------------------

    def _later(
        self, message: BusinessMessage, statuses: list[str], error: dict[str, Any] | None
    ) -> None:
        """Statuses go out after the send's answer (``status_delay`` later)."""

        async def emit() -> None:
            await self._changes.sleep(self.status_delay)
            order = list(reversed(statuses)) if self.reorder_statuses else statuses
            for status in order:
                self._status(message, status, error)

        task = asyncio.get_running_loop().create_task(emit())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _status(
        self, message: BusinessMessage, status: str, error: dict[str, Any] | None = None
    ) -> None:
        rank = ["accepted", "sent", "delivered", "read"]
        if status == "failed":
            message.status, message.errors = "failed", [error] if error else []
        elif message.status != "failed" and rank.index(status) > rank.index(message.status):
            message.status = status
        entry: dict[str, Any] = {
            "id": message.id,
            "status": status,
            "timestamp": str(int(self.now())),
            "recipient_id": message.to,
        }
        if status == "failed":
            entry["errors"] = message.errors
        else:
            entry["pricing"] = self._pricing(message)
        customer = self.customers.get(message.to)
        contacts = [contact(customer.wa_id, customer.name, customer.user_id)] if customer else []
        body = self._envelope(contacts, statuses=[entry])
        self._webhooks.enqueue(f"status:{message.id}:{status}", encode_webhook(body))
        self._changes.notify()

    def _pricing(self, message: BusinessMessage) -> dict[str, Any]:
        """Per-message pricing (PMP, since July 2025): free inside the window for service
        messages; templates are billed by their category."""
        if message.type == "template":
            template = self._templates.find(message.template, message.language)
            category = template.category if template else "utility"
            return {
                "billable": True,
                "pricing_model": "PMP",
                "category": category,
                "type": "regular",
            }
        return {
            "billable": False,
            "pricing_model": "PMP",
            "category": "service",
            "type": "free_customer_service",
        }

    # --- World: what customers do ------------------------------------------------------------

    def now(self) -> float:
        """The emulated clock."""
        return self._clock()

    def customer_sends(
        self,
        customer: Customer,
        kind: str,
        content: dict[str, Any] | None,
        *,
        context: BusinessMessage | None = None,
    ) -> CustomerMessage:
        """A customer's message: opens the window, reads what came before, posts a webhook."""
        now = self.now()
        if customer.read_receipts:
            unread = [
                m for m in self.messages_to(customer.wa_id) if m.status in ("sent", "delivered")
            ]
            if unread:
                self.customer_reads(customer, unread[-1])
        body: dict[str, Any] = {}
        if context is not None:
            body["context"] = {"from": self.display_phone_number, "id": context.id}
        message_id = wamid(customer.wa_id, inbound=True)
        body.update({"from": customer.wa_id, "id": message_id, "timestamp": str(int(now))})
        if kind == "unsupported":
            body["errors"] = [dict(UNSUPPORTED_ERROR)]
        body["type"] = kind
        if content is not None:
            body[kind] = content
        customer.last_message_at = now
        sent = CustomerMessage(message_id, customer.wa_id, kind, body, now)
        customer.sent.append(sent)
        self.inbound[message_id] = sent
        contacts = [contact(customer.wa_id, customer.name, customer.user_id)]
        self._webhooks.enqueue(
            f"message:{message_id}", encode_webhook(self._envelope(contacts, messages=[body]))
        )
        self._changes.notify()
        return sent

    def customer_reads(self, customer: Customer, message: BusinessMessage) -> None:
        """``read`` for every sent or delivered message up to ``message``."""
        for sent in self.messages_to(customer.wa_id):
            if sent.status in ("sent", "delivered") and customer.read_receipts:
                self._status(sent, "read")
            if sent is message:
                break

    def messages_to(self, wa_id: str) -> list[BusinessMessage]:
        """The business's accepted messages to that number, oldest first."""
        return [m for m in self.messages if m.to == wa_id]

    def message(self, wamid_: str) -> BusinessMessage | None:
        """A business message by wamid."""
        return self._by_id.get(wamid_)

    def store_media(self, data: bytes | None, mime_type: str) -> MediaFile:
        """Keep a customer's file (a tiny picture when ``data`` is None)."""
        if data is None:
            data = TINY_WEBP if mime_type == "image/webp" else TINY_PNG
        return self._media.add(data, mime_type)

    async def close(self) -> None:
        """Cancel statuses not yet emitted."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            try:
                await task
            except asyncio.CancelledError:
                pass

    def _envelope(self, contacts: list[dict[str, Any]], **events: Any) -> dict[str, Any]:
        return envelope(
            self.waba_id, self.display_phone_number, self.phone_number_id, contacts, **events
        )
