"""The WhatsApp channel inside `npsbot run`: beside either Telegram runtime, or alone
without BOT_TOKEN (`run_whatsapp`)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable

from aiohttp import web

from bot.app import BotApp, BotIdentity, StartupError, start_application
from bot.channels import with_channels
from bot.logs import redact_secrets
from bot.settings import Settings
from bot.web.server import serve_http
from bot.web.telegram_webhook import WebhookUpdates, stop_requested
from bot.whatsapp.client import CloudApi, TokenRejected
from bot.whatsapp.port import WhatsAppPort
from bot.whatsapp.webhook import WhatsAppWebhook
from handlers.port import ChatError, ChatPort, RetryLater, Transient

log = logging.getLogger(__name__)

# A quick reply's question or an old range tap's list: tries on 429s and 5xx (the person
# may also type); only the first message is retried (port.send_range).
RANGE_ATTEMPTS = 3


class WhatsAppChannel:
    """The Cloud API client, WhatsApp's port and its webhook, for one running bot."""

    def __init__(self, app: BotApp, api: CloudApi, number: str | None) -> None:
        self.app = app
        self.api = api
        self.number = number
        self.port = WhatsAppPort(
            api,
            app.db,
            app.catalogs,
            template=app.settings.whatsapp_template,
            brand=app.pipeline.config.brand,
        )
        self.telegram: ChatPort | None = None  # the runtime's port, when Telegram runs too
        self.updates = WebhookUpdates(self._process)
        settings = app.settings
        self.webhook = WhatsAppWebhook(
            app.db,
            self.updates,
            settings.whatsapp_verify_token,
            settings.whatsapp_app_secret,
            self._send_range,
            on_refused=self._refused,
        )
        pipeline = app.pipeline
        telegram_settled = pipeline.on_settled

        def settled(update_id: int) -> None:
            self.updates.settled(update_id)
            if telegram_settled is not None:
                telegram_settled(update_id)

        pipeline.on_settled = settled
        if number:  # /link prints the wa.me link beside the Telegram one
            pipeline.config = dataclasses.replace(pipeline.config, whatsapp_number=number)

    @property
    def ports(self) -> ChatPort:
        """What the pipeline and the jobs send through: each chat's channel."""
        return with_channels(self.telegram, self.port)

    def routes(self) -> list[web.RouteDef]:
        """GET and POST /whatsapp/webhook."""
        return self.webhook.routes()

    async def _process(self, update: dict[str, object]) -> None:
        event = update["event"]
        await self.app.pipeline.handle(event, self.ports)  # type: ignore[arg-type]

    async def _send_range(self, chat_id: int, data: str) -> None:
        async with self.app.pipeline.locks.hold(chat_id):
            for attempt in range(1, RANGE_ATTEMPTS + 1):
                try:
                    await self.port.send_range(chat_id, data)
                    return
                except (RetryLater, Transient) as exc:
                    if attempt == RANGE_ATTEMPTS:
                        log.warning("the score list for chat %s was not sent: %s", chat_id, exc)
                        return
                    await asyncio.sleep(exc.seconds if isinstance(exc, RetryLater) else 0.5)
                except ChatError as exc:  # refused or unreachable: the person may type
                    log.warning("the score list for chat %s was not sent: %s", chat_id, exc)
                    return

    async def _refused(self, chat_id: int, message_id: int) -> None:
        """A question refused later for the window: the template asks it (questions.py)."""
        questions = self.port.questions
        response_id = await questions.refused_question(chat_id, message_id)
        if response_id is None:
            return
        async with self.app.pipeline.locks.hold(chat_id):  # not while waiting for the record
            try:
                await questions.ask_again(chat_id, message_id, response_id)
            except ChatError as exc:
                log.warning("the template for chat %s was not sent: %s", chat_id, exc)

    async def stop(self) -> None:
        """New events get 503; those in flight finish."""
        self.updates.closed = True
        await self.updates.drain()
        await self.webhook.drain()

    async def close(self) -> None:
        """Closes the Cloud API's connections."""
        await self.api.close()


async def open_whatsapp(settings: Settings, app: BotApp) -> WhatsAppChannel | None:
    """The channel when WHATSAPP_* are set; its token is checked once (one line if wrong)."""
    if not settings.whatsapp_enabled:
        return None
    api = CloudApi(
        settings.whatsapp_api_url, settings.whatsapp_phone_number_id, settings.whatsapp_token
    )
    number = settings.whatsapp_display_number or None
    try:
        number = await api.display_number() or number
    except TokenRejected as exc:
        await api.close()
        raise StartupError(
            f"WHATSAPP_TOKEN was rejected by the Cloud API ({exc.description}): "
            "check the token in the Meta app."
        ) from None
    except Transient as exc:
        await api.close()
        raise StartupError(
            f"WHATSAPP_API_URL {settings.whatsapp_api_url} cannot be reached ({exc}): "
            "check the URL and the network."
        ) from None
    except ChatError as exc:  # the number's profile is not readable: WHATSAPP_DISPLAY_NUMBER
        log.info("the WhatsApp number was not read from the Cloud API: %s", exc)
    log.info("WhatsApp: Meta posts events to /whatsapp/webhook (number %s)", number or "unknown")
    return WhatsAppChannel(app, api, number)


async def run_whatsapp(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_start: Callable[[BotApp], None] | None = None,
) -> None:
    """`npsbot run` without BOT_TOKEN: the WhatsApp channel alone, on the HTTP server."""
    redact_secrets(settings)
    me = BotIdentity(0, None, settings.brand_name or "npsbot")
    app = await start_application(settings, me)
    channel: WhatsAppChannel | None = None
    try:
        if on_start is not None:
            on_start(app)
        channel = await open_whatsapp(settings, app)
        assert channel is not None  # run only with WHATSAPP_* set
        async with serve_http(app, settings, extra_routes=channel.routes()):
            app.start_jobs(channel.ports)
            log.info("npsbot is running on WhatsApp alone, database %s", app.db.dialect)
            with stop_requested(stop) as stopped:
                await stopped.wait()
            app.draining = True
            app.pipeline.stop()
            await channel.stop()
    finally:
        if channel is not None:
            await channel.close()
        await app.close()
