"""The python-telegram-bot runtime (BOT_FRAMEWORK=ptb): the same pipeline, PTB's Application.

A thin adapter, like the aiogram one: PTB updates become the plain events of
`handlers/events.py`, queued actions become PTB calls, PTB's errors become `ChatError`s.
Nothing of the conversation lives here; state is in the database, so no PTB persistence.
Actions and errors: bot/runtime/ptb_port.py.
"""

from __future__ import annotations

import os

# PTB 22 warns (PTBDeprecationWarning) whenever RetryAfter.retry_after or a media duration
# is read as seconds; opting in to timedeltas now silences it and matches PTB 23.
os.environ.setdefault("PTB_TIMEDELTA", "1")

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from aiohttp import web
from telegram import Bot as PtbBot
from telegram import (
    BotCommand,
    Message,
    Update,
)
from telegram.error import (
    InvalidToken,
    NetworkError,
    TelegramError,
)
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.app import (
    BotApp,
    BotIdentity,
    StartupError,
    bot_commands,
    freeze_startup_heap,
    staff_menus,
    start_application,
    thaw_startup_heap,
)
from bot.channels import with_channels
from bot.i18n import Catalogs
from bot.logs import redact_secrets
from bot.pipeline import Claim, Pipeline
from bot.runtime import conversion
from bot.runtime.conversion import block_event, button_event
from bot.runtime.ptb_port import ApiRequest, PtbPort
from bot.settings import Settings
from bot.web.server import serve_http_if_enabled
from bot.web.telegram_webhook import (
    Feed,
    WebhookUpdates,
    stop_webhook,
    webhook_refused,
    webhook_routes,
    webhook_updates,
)
from bot.whatsapp.channel import WhatsAppChannel, open_whatsapp
from handlers.callbacks import is_ours
from handlers.events import Event, IncomingMessage
from handlers.port import ChatPort

log = logging.getLogger(__name__)

# The update types the handlers below consume (aiogram resolves the same list from its router).
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 10  # seconds a getUpdates long poll waits, as aiogram's default

# A message's kind is its first present content field, in the order aiogram's
# `Message.content_type` checks them, so both runtimes name media alike.
CONTENT_KINDS = (
    "audio",
    "animation",
    "document",
    "game",
    "live_photo",
    "photo",
    "sticker",
    "video",
    "video_note",
    "voice",
    "checklist",
    "contact",
    "venue",
    "location",
    "new_chat_members",
    "left_chat_member",
    "invoice",
    "successful_payment",
    "users_shared",
    "connected_website",
    "migrate_from_chat_id",
    "migrate_to_chat_id",
    "pinned_message",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "paid_media",
    "passport_data",
    "proximity_alert_triggered",
    "poll",
    "dice",
    "story",
    "web_app_data",
    "chat_shared",
    "write_access_allowed",
    "gift",
    "unique_gift",
)


def content_kind(message: Message) -> str:
    """ "text", or the media type name ("sticker", "photo", "voice"…) aiogram would give."""
    if message.text is not None:
        return "text"
    for kind in CONTENT_KINDS:
        if getattr(message, kind, None):
            return kind
    return "unknown"


def message_event(update_id: int, message: Message) -> IncomingMessage | None:
    """A user's message as a plain event (None for messages without a sender)."""
    return conversion.message_event(update_id, message, content_kind(message))


def create_application(settings: Settings) -> Application:
    """A PTB Application pointed at TELEGRAM_API_URL; updates are handled concurrently.

    Concurrency is safe because the pipeline holds a lock per chat; there is no
    persistence because the conversation state lives in the database.
    """
    base = settings.telegram_api_url.rstrip("/")
    # aiogram waits up to 60 s for an answer; PTB's 5 s would retry (and so duplicate)
    # sends a slow server did perform.
    request = ApiRequest(
        connection_pool_size=256, read_timeout=60, write_timeout=60, pool_timeout=30
    )
    return (
        Application.builder()
        .token(settings.bot_token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .request(request)
        .get_updates_request(ApiRequest(connection_pool_size=1, read_timeout=30))
        .concurrent_updates(True)
        .build()
    )


def npsbot_handlers(
    pipeline: Pipeline,
    *,
    claim: Claim | None = None,
    all_buttons: bool = True,
    ports: Callable[[ChatPort], ChatPort] | None = None,
) -> list[BaseHandler[Any, Any, Any]]:
    """PTB handlers feeding npsbot's pipeline (add them to any Application).

    With `claim` (an embedded npsbot) an event the claim declines passes on to the host's
    handlers, and one npsbot handled stops there (ApplicationHandlerStop). `all_buttons`
    also answers callback data npsbot did not produce (an alert for forged buttons).
    `ports` wraps the Telegram port in one for every channel (bot/channels.py).
    """

    def port_for(bot: PtbBot) -> ChatPort:
        port = PtbPort(bot)
        return ports(port) if ports is not None else port

    async def feed(event: Event, bot: PtbBot) -> None:
        handled = await pipeline.handle(event, port_for(bot), claim=claim)
        if handled and claim is not None:
            raise ApplicationHandlerStop

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Passes a message to the pipeline (survey answers, commands, staff replies)."""
        assert update.message is not None  # the filter admits only new messages
        event = message_event(update.update_id, update.message)
        if event is not None:
            await feed(event, context.bot)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Passes a button press to the pipeline (which rejects forged data)."""
        assert update.callback_query is not None
        await feed(button_event(update.update_id, update.callback_query), context.bot)

    async def on_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Records the user blocking or unblocking the bot."""
        change = update.my_chat_member
        if change is None or change.chat.type != "private":
            return
        event = block_event(update.update_id, change)
        # The host may track blocking too: record it, never stop its handlers.
        await pipeline.handle(event, port_for(context.bot), claim=claim)

    # Group messages too: staff commands and replies work in the staff chat; the pipeline's
    # router ignores other group chatter.
    return [
        MessageHandler(filters.UpdateType.MESSAGE, on_message),
        CallbackQueryHandler(on_button, pattern=None if all_buttons else is_ours),
        ChatMemberHandler(on_member, ChatMemberHandler.MY_CHAT_MEMBER),
    ]


async def _log_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Logs what escaped a handler (the pipeline already catches conversation errors)."""
    log.error("update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)


def webhook_feed(application: Application) -> Feed:
    """How an update Telegram posted to the webhook is handled: as polling would."""

    async def feed(data: dict[str, Any]) -> None:
        await application.process_update(Update.de_json(data, application.bot))

    return feed


async def identify(application: Application, settings: Settings) -> BotIdentity:
    """initialize() (getMe), with unreachable servers and rejected tokens turned into one line."""
    try:
        await application.initialize()
    except InvalidToken:
        raise StartupError(
            f"BOT_TOKEN was rejected by the Bot API at {settings.telegram_api_url} "
            "(401 Unauthorized): check the token with @BotFather."
        ) from None
    except (NetworkError, OSError) as exc:
        raise StartupError(
            f"TELEGRAM_API_URL {settings.telegram_api_url} cannot be reached ({exc}): "
            "check the URL and the network."
        ) from None
    except TelegramError as exc:  # "Invalid server response": an answer that is not JSON
        raise StartupError(
            f"TELEGRAM_API_URL {settings.telegram_api_url} does not answer like the Bot API "
            f"({exc.message}): check the URL."
        ) from None
    me = application.bot.bot
    return BotIdentity(me.id, me.username, me.first_name)


async def publish_commands(bot: PtbBot, catalogs: Catalogs, pipeline: Pipeline) -> None:
    """Sets the command menu in every supported language."""
    menus = bot_commands(catalogs, pipeline.router)
    for language, commands in menus.items():
        await bot.set_my_commands(
            [BotCommand(c, d) for c, d in commands],
            language_code=None if language == catalogs.default else language,
        )


@contextlib.contextmanager
def _signals_set(event: asyncio.Event, signals: Sequence[signal.Signals]) -> Iterator[None]:
    """SIGINT/SIGTERM set the event while the block runs (as aiogram's handle_signals)."""
    loop = asyncio.get_running_loop()
    for sig in signals:
        loop.add_signal_handler(sig, event.set)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def run_polling(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_start: Callable[[BotApp], None] | None = None,
) -> None:
    """Runs the bot in long-polling mode until `stop` is set (or SIGINT/SIGTERM).

    `on_start` receives the application once it is built (tests use it to wait for idle).
    """
    redact_secrets(settings)  # handlers added since logging was configured
    application = create_application(settings)
    app = None
    identified = False
    http = contextlib.AsyncExitStack()  # the HTTP server, when one is configured
    webhook: WebhookUpdates | None = None
    whatsapp: WhatsAppChannel | None = None
    try:
        me = await identify(application, settings)
        identified = True
        app = await start_application(settings, me)
        if on_start is not None:
            on_start(app)
        webhook = webhook_updates(settings, app.pipeline, webhook_feed(application))
        # HTTP server (bot/web): health and the API; webhook mode adds Telegram's route.
        extra_routes: list[web.RouteDef] = webhook_routes(settings, webhook)
        whatsapp = await open_whatsapp(settings, app)  # after the webhook: chains on_settled
        ports = None
        if whatsapp is not None:  # every port routes each chat to its channel
            whatsapp.telegram = PtbPort(application.bot)
            channels = whatsapp.port
            ports = lambda port: with_channels(port, channels)  # noqa: E731
            extra_routes += whatsapp.routes()
        application.add_handlers(npsbot_handlers(app.pipeline, ports=ports))
        application.add_error_handler(_log_error)
        await http.enter_async_context(
            serve_http_if_enabled(app, settings, extra_routes=extra_routes)
        )
        await publish_commands(application.bot, app.catalogs, app.pipeline)
        port = whatsapp.ports if whatsapp is not None else PtbPort(application.bot)
        await app.pipeline.deliver(await staff_menus(app), port)
        app.start_jobs(port)
        freeze_startup_heap()
        log.info("npsbot @%s is running on ptb, database %s", me.username, app.db.dialect)
        signals = () if stop is not None else (signal.SIGINT, signal.SIGTERM)
        stop = stop or asyncio.Event()
        with _signals_set(stop, signals):
            await application.start()
            if webhook is not None:  # Telegram posts the updates to the HTTP server
                try:
                    await application.bot.set_webhook(
                        settings.webhook_url,
                        secret_token=settings.webhook_secret,
                        allowed_updates=ALLOWED_UPDATES,
                        drop_pending_updates=False,
                    )
                except TelegramError as exc:
                    raise webhook_refused(settings, exc.message) from None
            else:  # start_polling deletes a webhook left by webhook mode (deleteWebhook)
                assert application.updater is not None  # the builder always makes one
                await application.updater.start_polling(
                    timeout=POLL_TIMEOUT,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                )
            await stop.wait()  # a webhook stays set on stop: Telegram keeps what comes
    finally:
        # Stop fetching, let handlers in flight finish, stop the background jobs (a
        # broadcast's call in flight still needs the HTTP client), release the database,
        # and only then close the HTTP client. Replies waiting on Telegram (429s) are not
        # waited for: they stay in the persisted outbox for the next start.
        if app is not None:  # /readyz 503; webhook updates in flight finish, new ones 503
            await stop_webhook(app, webhook)
            app.pipeline.stop()
        if whatsapp is not None:
            await whatsapp.stop()
        await http.aclose()  # no new webhook updates or API calls from here on
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        if app is not None:
            await app.close()
        if whatsapp is not None:
            await whatsapp.close()
        if identified:
            await application.shutdown()
        else:  # getMe failed: initialize() left the HTTP client open
            await application.bot.request.shutdown()
        thaw_startup_heap()
