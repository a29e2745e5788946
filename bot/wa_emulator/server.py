"""``CloudApiEmulator``: the emulator's one entry point, wiring its parts together.

The parts, each with its own state, pointing only down this list:

* ``transport.py`` — HTTP, the token, call records, error shapes;
* ``faults.py`` — injected faults and delays, the rate limits (130429, 131056);
* ``messaging.py`` — sends, the 24-hour rule, statuses, customers' messages;
* ``customers.py`` — the customers tests play;
* ``validate.py``, ``templates.py`` — the body checks and the approved templates;
* ``webhooks.py`` — the handshake and signed POSTs to the bot, retries, redelivery;
* ``media.py``, ``shapes.py``, ``models.py`` — media, Meta's JSON shapes, the plain data
  types;
* bot/emulator_kit — the lifecycle (start, close, ``wait_until``) and the change signal,
  shared with bot/emulator.
"""

from __future__ import annotations

import time
from typing import Any

from bot.emulator_kit.lifecycle import EmulatorLifecycle
from bot.wa_emulator.customers import Customer
from bot.wa_emulator.faults import Delay, Fault, Faults
from bot.wa_emulator.media import MediaStore
from bot.wa_emulator.messaging import Messaging
from bot.wa_emulator.models import ApiCall, BusinessMessage, WebhookAttempt
from bot.wa_emulator.templates import Template, TemplateStore
from bot.wa_emulator.transport import Routes, Transport, unsupported_request
from bot.wa_emulator.webhooks import WebhookSender

API_VERSION = "v23.0"


class CloudApiEmulator(EmulatorLifecycle):
    """A fake WhatsApp Cloud API on 127.0.0.1 with emulated customers, for tests and demos."""

    def __init__(
        self,
        token: str = "EAAtest-token",
        phone_number_id: str = "106540352242922",
        app_secret: str = "test-app-secret",
        *,
        display_phone_number: str = "15550783881",
        business_account_id: str = "102290129340398",
        host: str = "127.0.0.1",
        port: int = 0,
        log_requests: bool = False,
    ) -> None:
        if not phone_number_id.isdigit():
            raise ValueError("phone_number_id is a Graph object id: digits")
        super().__init__(host, port)
        self.token = token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.business_account_id = business_account_id
        self.calls: list[ApiCall] = []
        self.clock_offset = 0.0  # seconds added to the real clock (advance_clock)
        self._templates = TemplateStore()
        self._media = MediaStore()
        self._webhooks = WebhookSender(app_secret, self._changes.notify)
        self._faults: Faults = Faults(self._changes.sleep)
        self._messaging = Messaging(
            phone_number_id=phone_number_id,
            display_phone_number=display_phone_number,
            waba_id=business_account_id,
            templates=self._templates,
            media=self._media,
            webhooks=self._webhooks,
            changes=self._changes,
            clock=self.now,
        )
        routes = Routes(messages=self._messages, check_phone=self._check_phone, media=self._media)
        self._transport = Transport(
            token=token, routes=routes, calls=self.calls, notify=self._changes.notify
        )
        self._transport.log_requests = log_requests
        # The state tests read directly (the parts own it; these are the same objects).
        self.customers: dict[str, Customer] = self._messaging.customers
        self.messages: list[BusinessMessage] = self._messaging.messages
        self.templates: dict[tuple[str, str], Template] = self._templates.templates
        self.webhook_attempts: list[WebhookAttempt] = self._webhooks.attempts
        self.read_by_business: list[str] = self._messaging.read_by_business

    # --- lifecycle (start, ``async with``, add_routes: EmulatorLifecycle) -------------------

    @property
    def base_url(self) -> str:
        """``http://host:port/v23.0``: the Graph base URL to give the bot (WHATSAPP_API_URL)."""
        return f"{super().base_url}/{API_VERSION}"

    async def close(self) -> None:
        """Stop the server, the pending statuses and the webhook delivery."""
        self._changes.close()
        await self._messaging.close()
        await self._webhooks.close()
        await super().close()

    # --- customers, templates, the clock -------------------------------------------------------

    def customer(
        self,
        wa_id: str,
        name: str = "Customer",
        *,
        on_whatsapp: bool = True,
        user_id: str | None = None,
    ) -> Customer:
        """The customer with that number (digits with the country code; created on first
        use, later calls return it). ``on_whatsapp=False``: sends to it fail with 131026."""
        found = self._messaging.customer(wa_id, name, user_id)
        found.on_whatsapp = on_whatsapp
        return found

    def register_template(
        self,
        name: str,
        language: str,
        body: str,
        quick_replies: list[str] | tuple[str, ...] = (),
        category: str = "utility",
    ) -> Template:
        """Approve a template: ``body`` with ``{{1}}``… placeholders, quick reply texts."""
        return self._templates.register(name, language, body, quick_replies, category)

    def now(self) -> float:
        """The emulated clock (real time plus ``advance_clock`` offsets)."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulated clock on (the 24-hour window is measured on it)."""
        self.clock_offset += seconds
        self._changes.notify()

    def message(self, wamid: str) -> BusinessMessage | None:
        """A message the bot sent, by wamid."""
        return self._messaging.message(wamid)

    # --- how failures come back -------------------------------------------------------------

    @property
    def failures(self) -> str:
        """``"status"`` (default, Meta's way today): 131026/131047 sends are accepted and
        then fail by webhook; ``"response"``: they are refused at once with HTTP 400."""
        return self._messaging.failures

    @failures.setter
    def failures(self, value: str) -> None:
        if value not in ("status", "response"):
            raise ValueError('failures is "status" or "response"')
        self._messaging.failures = value

    def set_statuses(self, *, delay: float = 0.0, reorder: bool = False) -> None:
        """Statuses go out ``delay`` seconds after a send's answer; ``reorder`` sends
        ``delivered`` before ``sent`` (Meta does not keep their order)."""
        self._messaging.status_delay = delay
        self._messaging.reorder_statuses = reorder

    # --- webhooks ----------------------------------------------------------------------------

    async def set_webhook(self, url: str, verify_token: str) -> None:
        """Verify the bot's endpoint (GET handshake), then POST events there; raises
        ``WebhookVerificationError`` when the challenge is not echoed with 200."""
        await self._webhooks.set(url, verify_token)

    def delete_webhook(self) -> None:
        """Stop delivering; events wait until a webhook is set again."""
        self._webhooks.unset()

    @property
    def webhook_url(self) -> str:
        """Where events go ("" when none is set)."""
        return self._webhooks.url

    @property
    def pending_events(self) -> list[str]:
        """Keys of the webhook events not yet accepted by the bot."""
        return self._webhooks.pending

    @property
    def delivered_events(self) -> list[str]:
        """Keys of the webhook events the bot accepted (200), in order."""
        return self._webhooks.delivered

    def event_body(self, key: str) -> bytes | None:
        """The exact bytes of a webhook event (``message:<wamid>``, ``status:<wamid>:<s>``)."""
        return self._webhooks.body(key)

    def redeliver(self, message_id: str) -> str:
        """Post an event again, byte for byte, as Meta does: a customer's message by its
        wamid, or the latest status of a business message. Returns the event key."""
        keys = self._webhooks.keys()
        if f"message:{message_id}" in keys:
            key = f"message:{message_id}"
        else:
            statuses = [k for k in keys if k.startswith(f"status:{message_id}:")]
            if not statuses:
                raise KeyError(f"no webhook event carried {message_id!r}")
            key = statuses[-1]
        self._webhooks.redeliver(key)
        return key

    def set_webhook_retries(self, first: float = 0.05, maximum: float = 1.0) -> None:
        """The pause after a failed POST, doubling from ``first`` up to ``maximum``."""
        self._webhooks.first_retry, self._webhooks.max_retry = first, maximum

    # --- faults and limits ------------------------------------------------------------------

    def inject_fault(
        self,
        code: int | None = 131000,
        *,
        status: int | None = None,
        times: int | None = 1,
        to: str | None = None,
        details: str | None = None,
        body: str = "json",
    ) -> None:
        """Fail the next ``times`` ``/messages`` calls (to ``to`` only, when given) with a
        Meta error ``code`` (its HTTP status unless ``status`` is given); ``body="html"``
        answers a proxy's HTML page, ``body="text"`` a body that is not JSON."""
        if body not in ("json", "html", "text"):
            raise ValueError('body is "json", "html" or "text"')
        self._faults.inject_fault(Fault(status, code, times, to, details, body))

    def inject_delay(
        self, seconds: float = 0.5, times: int | None = 1, *, after_processing: bool = False
    ) -> None:
        """Slow down the next ``times`` calls (before, or after, they take effect)."""
        self._faults.inject_delay(Delay(seconds, times, after_processing))

    def set_rate_limits(
        self,
        per_second: int | None = 80,
        pair_limit: int | None = None,
        pair_window: float = 6.0,
    ) -> None:
        """Refuse sends above ``per_second`` for the number (130429; Meta's default
        throughput is 80) or above ``pair_limit`` to one customer in ``pair_window``
        seconds (131056; Meta's pair rate is about one message per 6 s, with bursts).
        None disables a limit; both are off until this is called."""
        self._faults.set_rate_limits(per_second, pair_limit, pair_window)

    @property
    def rate_limited(self) -> int:
        """How many calls the rate limits refused."""
        return self._faults.rate_limited

    # --- the routes' callbacks ---------------------------------------------------------------

    def _check_phone(self, phone_number_id: str) -> None:
        if phone_number_id != self.phone_number_id:
            raise unsupported_request("POST", phone_number_id)

    async def _messages(self, phone_number_id: str, body: Any) -> dict[str, Any]:
        async def handle() -> dict[str, Any]:
            return self._messaging.handle(body)

        return await self._faults.run(body, handle)
