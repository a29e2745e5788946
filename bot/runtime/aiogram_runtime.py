"""The aiogram 3 runtime: updates in as plain events, queued actions out as API calls.

Actions and errors: bot/runtime/aiogram_port.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ContentType, ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, GetMe, GetUpdates, SendMessage
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    ChatMemberUpdated,
    LinkPreviewOptions,
    Message,
    Update,
)
from aiohttp import web

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
from bot.pipeline import Pipeline
from bot.runtime import conversion
from bot.runtime.aiogram_port import AiogramPort, undecodable
from bot.runtime.conversion import block_event, button_event
from bot.settings import Settings
from bot.web.server import serve_http_if_enabled
from bot.web.telegram_webhook import (
    WebhookUpdates,
    stop_requested,
    stop_webhook,
    webhook_refused,
    webhook_routes,
    webhook_updates,
)
from bot.whatsapp.channel import WhatsAppChannel, open_whatsapp
from handlers.callbacks import is_ours
from handlers.events import IncomingMessage
from handlers.port import ChatPort

log = logging.getLogger(__name__)


def _response_class(returning: Any) -> object:
    """`Response[returning]`, the class aiogram parses such an answer with (`returning` is
    a type or a union of types, e.g. Message | bool, which mypy takes for no type)."""
    return Response.__class_getitem__(returning)


# aiogram parses every API answer with a pydantic generic, Response[<result type>], and
# pydantic caches those classes only weakly: under load the garbage collector dropped them
# and almost every call rebuilt one, a third of npsbot's CPU in bench/e2e_throughput.py.
# Holding them here keeps the cache warm for every method returning these types.
_RESPONSE_TYPES = [
    _response_class(method.__returning__)
    for method in (SendMessage, EditMessageText, AnswerCallbackQuery, GetUpdates, GetMe)
]


def message_event(update_id: int, message: Message) -> IncomingMessage | None:
    """A user's message as a plain event (None for messages without a sender)."""
    # .value: str() of aiogram's ContentType gives "ContentType.STICKER", not "sticker".
    kind = "text" if message.text is not None else ContentType(message.content_type).value
    return conversion.message_event(update_id, message, kind)


def create_router(
    pipeline: Pipeline,
    *,
    name: str = "npsbot",
    all_buttons: bool = True,
    ports: Callable[[ChatPort], ChatPort] | None = None,
) -> Router:
    """An aiogram Router feeding npsbot's pipeline (include it in any Dispatcher).

    With `all_buttons` the router also answers callback data it did not produce (an alert
    for forged or outdated buttons); an embedding host bot turns that off to keep its own.
    `ports` wraps the Telegram port in one for every channel (bot/channels.py).
    """
    router = Router(name=name)

    def port_for(bot: Bot) -> ChatPort:
        port = AiogramPort(bot)
        return ports(port) if ports is not None else port

    button_filter = () if all_buttons else (F.data.func(is_ours),)

    # Group messages too: staff commands and replies work in the staff chat; the pipeline's
    # router ignores other group chatter.
    @router.message()
    async def on_message(message: Message, bot: Bot, event_update: Update) -> None:
        """Passes a message to the pipeline (survey answers, commands, staff replies)."""
        event = message_event(event_update.update_id, message)
        if event is not None:
            await pipeline.handle(event, port_for(bot))

    @router.callback_query(*button_filter)
    async def on_button(query: CallbackQuery, bot: Bot, event_update: Update) -> None:
        """Passes a button press to the pipeline (which rejects forged data)."""
        await pipeline.handle(button_event(event_update.update_id, query), port_for(bot))

    @router.my_chat_member(F.chat.type == "private")
    async def on_member(change: ChatMemberUpdated, bot: Bot, event_update: Update) -> None:
        """Records the user blocking or unblocking the bot."""
        await pipeline.handle(block_event(event_update.update_id, change), port_for(bot))

    return router


def create_dispatcher(
    pipeline: Pipeline, ports: Callable[[ChatPort], ChatPort] | None = None
) -> Dispatcher:
    """A fresh Dispatcher with npsbot's router (no globals, so tests build their own)."""
    dispatcher = Dispatcher()
    dispatcher.include_router(create_router(pipeline, ports=ports))
    return dispatcher


def create_bot(settings: Settings) -> Bot:
    """An aiogram Bot pointed at TELEGRAM_API_URL, sending HTML."""
    session = AiohttpSession(
        api=TelegramAPIServer.from_base(settings.telegram_api_url.rstrip("/"))
    )
    return Bot(
        settings.bot_token,
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
        ),
    )


async def identify(bot: Bot, settings: Settings) -> BotIdentity:
    """getMe, with unreachable servers and rejected tokens turned into one line."""
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        raise StartupError(
            f"BOT_TOKEN was rejected by the Bot API at {settings.telegram_api_url} "
            "(401 Unauthorized): check the token with @BotFather."
        ) from None
    except (TimeoutError, TelegramNetworkError, aiohttp.ClientError, OSError) as exc:
        raise StartupError(
            f"TELEGRAM_API_URL {settings.telegram_api_url} cannot be reached ({exc}): "
            "check the URL and the network."
        ) from None
    except ClientDecodeError as exc:
        raise StartupError(
            f"TELEGRAM_API_URL {settings.telegram_api_url} does not answer like the Bot API "
            f"({undecodable(exc)}): check the URL."
        ) from None
    return BotIdentity(me.id, me.username, me.first_name)


async def publish_commands(bot: Bot, catalogs: Catalogs, pipeline: Pipeline) -> None:
    """Sets the command menu in every supported language."""
    menus = bot_commands(catalogs, pipeline.router)
    for language, commands in menus.items():
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands],
            language_code=None if language == catalogs.default else language,
        )


# Updates handled at once. Beyond it, polling waits for a free slot instead of asking
# Telegram again: under load the next getUpdates brings a full batch rather than one or
# two updates each (measured: 1.9 calls per completed survey unbounded, bench/README.md),
# and the database pool is not queued on by hundreds of handlers.
MAX_CONCURRENT_UPDATES = 100


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
    bot = create_bot(settings)
    app = None
    http = contextlib.AsyncExitStack()  # the HTTP server, when one is configured
    webhook: WebhookUpdates | None = None
    whatsapp: WhatsAppChannel | None = None
    try:
        me = await identify(bot, settings)
        app = await start_application(settings, me)
        if on_start is not None:
            on_start(app)
        dispatcher = create_dispatcher(app.pipeline)

        async def feed(update: dict[str, Any]) -> None:
            await dispatcher.feed_raw_update(bot, update)  # the dispatcher built last

        webhook = webhook_updates(settings, app.pipeline, feed)
        # HTTP server (bot/web): health and the API; webhook mode adds Telegram's route.
        extra_routes: list[web.RouteDef] = webhook_routes(settings, webhook)
        whatsapp = await open_whatsapp(settings, app)  # after the webhook: chains on_settled
        if whatsapp is not None:  # every port routes each chat to its channel
            whatsapp.telegram = AiogramPort(bot)
            channels = whatsapp.port
            dispatcher = create_dispatcher(app.pipeline, lambda p: with_channels(p, channels))
            extra_routes += whatsapp.routes()
        await http.enter_async_context(
            serve_http_if_enabled(app, settings, extra_routes=extra_routes)
        )
        if webhook is None:  # polling: a webhook left by webhook mode would refuse getUpdates
            await bot.delete_webhook(drop_pending_updates=False)
        await publish_commands(bot, app.catalogs, app.pipeline)
        port = whatsapp.ports if whatsapp is not None else AiogramPort(bot)
        await app.pipeline.deliver(await staff_menus(app), port)
        app.start_jobs(port)
        freeze_startup_heap()
        log.info("npsbot @%s is running on aiogram, database %s", me.username, app.db.dialect)
        if webhook is not None:  # Telegram posts the updates to the HTTP server: no polling
            with stop_requested(stop) as stopped:  # a SIGTERM from here on stops gracefully
                try:
                    await bot.set_webhook(
                        settings.webhook_url,
                        secret_token=settings.webhook_secret,
                        allowed_updates=dispatcher.resolve_used_update_types(),
                        drop_pending_updates=False,
                    )
                except TelegramAPIError as exc:
                    raise webhook_refused(settings, exc.message) from None
                await stopped.wait()  # the webhook stays set: Telegram keeps what comes
            return
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot,
                handle_signals=stop is None,
                close_bot_session=False,
                tasks_concurrency_limit=MAX_CONCURRENT_UPDATES,
            )
        )
        waiters: list[asyncio.Task[object]] = [polling]
        if stop is not None:
            waiters.append(asyncio.create_task(stop.wait()))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        app.pipeline.stop()  # replies waiting on 429s stay in the outbox (within seconds)
        if not polling.done():
            await dispatcher.stop_polling()
        for waiter in waiters:
            if not waiter.done():
                waiter.cancel()
        await polling
    finally:
        if app is not None:  # /readyz 503; webhook updates in flight finish, new ones 503
            await stop_webhook(app, webhook)
        if whatsapp is not None:
            app.pipeline.stop()  # type: ignore[union-attr]
            await whatsapp.stop()
        await http.aclose()  # stops serving before the application closes
        if app is not None:
            await app.close()
        if whatsapp is not None:
            await whatsapp.close()
        await bot.session.close()
        thaw_startup_heap()
