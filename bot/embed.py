"""The NPS survey inside an existing aiogram or python-telegram-bot bot.

aiogram::

    router = await npsbot_router(bot, "sqlite+aiosqlite:///nps.db")
    dispatcher.include_router(router)  # before any catch-all router of the host

python-telegram-bot (e.g. in the Application's `post_init`)::

    await add_npsbot_handlers(application, "sqlite+aiosqlite:///nps.db")

npsbot then answers only what is its own: `/survey` (configurable; `/start` only with
`take_start=True`), the commands named in `commands`, its buttons (callback data `nps:…`)
and a user's messages while their survey waits for an answer. Everything else — the
host's `/start`, its other commands, its buttons, free text — stays the host's. Whether
npsbot takes an update is decided under the same per-chat lock that orders its handling.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from bot.app import BotApp, BotIdentity, start_application
from bot.pipeline import Claim
from bot.settings import Settings
from handlers.callbacks import is_ours
from handlers.events import BlockChange, ButtonPress, Event, parse_command
from handlers.routing import create_embedded_router

if TYPE_CHECKING:
    import aiogram
    import telegram.ext

log = logging.getLogger(__name__)

DEFAULT_ENTRY_COMMAND = "survey"


def _settings(settings: Settings | str, token: str) -> Settings:
    """The host's Settings, or settings built around a database URL."""
    if isinstance(settings, Settings):
        return settings
    return Settings(_env_file=None, database_url=settings, bot_token=token)


def claim_for(app: BotApp) -> Claim:
    """What an embedded npsbot takes: its commands, its buttons, answers to an open survey."""
    router = app.pipeline.router
    db = app.db
    username = app.me.username

    async def claim(event: Event) -> bool:
        if isinstance(event, ButtonPress):
            return is_ours(event.data)
        if isinstance(event, BlockChange):
            # Only people who talked to npsbot become (un)reachable respondents.
            async with db.snapshot() as store:
                return await store.respondents.by_telegram(event.sender.id) is not None
        command = parse_command(event.text, username) if event.kind == "text" else None
        if command is not None:
            return router.accepts(command.name, private=event.private)
        if not event.private:
            return False
        async with db.snapshot() as store:
            person = await store.respondents.person_of(event.sender.id)
            return person is not None and await store.responses.open_for(person) is not None

    return claim


class Embedding:
    """npsbot running inside a host bot: its application and how to stop it."""

    def __init__(self, app: BotApp) -> None:
        self.app = app
        self.claim = claim_for(app)
        self._closed = False

    async def close(self) -> None:
        """Stops npsbot's jobs, waits for its updates in flight, closes its database."""
        if self._closed:
            return
        self._closed = True
        await self.app.close()


async def _embed(
    settings: Settings | str,
    token: str,
    me: BotIdentity,
    *,
    entry_command: str,
    take_start: bool,
    commands: Collection[str],
) -> Embedding:
    router = create_embedded_router(
        entry_command=entry_command, take_start=take_start, commands=commands
    )
    app = await start_application(_settings(settings, token), me, router=router)
    return Embedding(app)


async def npsbot_router(
    bot: aiogram.Bot,
    settings: Settings | str,
    *,
    entry_command: str = DEFAULT_ENTRY_COMMAND,
    take_start: bool = False,
    commands: Collection[str] = (),
    name: str = "npsbot",
) -> aiogram.Router:
    """An aiogram Router with the NPS survey, for the host's `dispatcher.include_router`.

    `settings` is npsbot's Settings or just its DATABASE_URL. The router closes npsbot's
    database when the dispatcher shuts down; `router.npsbot.close()` does it by hand.
    """
    # Imported here: a host of one framework never loads (or configures) the other.
    from aiogram import Bot, F, Router
    from aiogram.client.default import DefaultBotProperties
    from aiogram.dispatcher.event.bases import UNHANDLED
    from aiogram.enums import ParseMode
    from aiogram.types import CallbackQuery, ChatMemberUpdated, LinkPreviewOptions, Message, Update

    from bot.runtime.aiogram_port import AiogramPort
    from bot.runtime.aiogram_runtime import block_event, button_event, message_event

    me = await bot.me()
    embedding = await _embed(
        settings,
        bot.token,
        BotIdentity(me.id, me.username, me.first_name),
        entry_command=entry_command,
        take_start=take_start,
        commands=commands,
    )
    pipeline = embedding.app.pipeline
    claim = embedding.claim
    # npsbot writes HTML whatever the host's defaults are: its own Bot on the host's session.
    port = AiogramPort(
        Bot(
            bot.token,
            session=bot.session,
            default=DefaultBotProperties(
                parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
            ),
        )
    )
    router = Router(name=name)

    @router.message()
    async def on_message(message: Message, event_update: Update) -> Any:
        """Takes npsbot's commands and answers to an open survey; the rest goes on."""
        event = message_event(event_update.update_id, message)
        if event is None or not await pipeline.handle(event, port, claim=claim):
            return UNHANDLED
        return None

    @router.callback_query(F.data.func(is_ours))
    async def on_button(query: CallbackQuery, event_update: Update) -> None:
        """Passes a press of one of npsbot's buttons to the pipeline."""
        await pipeline.handle(button_event(event_update.update_id, query), port)

    @router.my_chat_member(F.chat.type == "private")
    async def on_member(change: ChatMemberUpdated, event_update: Update) -> Any:
        """Records a respondent blocking or unblocking the bot; the host sees it too."""
        await pipeline.handle(block_event(event_update.update_id, change), port, claim=claim)
        return UNHANDLED

    async def on_shutdown() -> None:
        await embedding.close()

    router.shutdown.register(on_shutdown)
    embedding.app.start_jobs(port)
    router.npsbot = embedding  # type: ignore[attr-defined]
    return router


async def add_npsbot_handlers(
    application: telegram.ext.Application,
    settings: Settings | str,
    *,
    entry_command: str = DEFAULT_ENTRY_COMMAND,
    take_start: bool = False,
    commands: Collection[str] = (),
    group: int = -1,
) -> Embedding:
    """Adds the NPS survey to a python-telegram-bot Application, in one call.

    npsbot's handlers go to their own `group`, before the host's (group 0): what npsbot
    takes stops there (ApplicationHandlerStop), anything else reaches the host's handlers.
    npsbot closes when the application shuts down (its `post_shutdown` is chained), or
    with `await embedding.close()`.
    """
    # Imported here: a host of one framework never loads (or configures) the other.
    from bot.runtime.ptb_port import PtbPort
    from bot.runtime.ptb_runtime import npsbot_handlers

    me = await application.bot.get_me()
    embedding = await _embed(
        settings,
        application.bot.token,
        BotIdentity(me.id, me.username, me.first_name),
        entry_command=entry_command,
        take_start=take_start,
        commands=commands,
    )
    handlers = npsbot_handlers(embedding.app.pipeline, claim=embedding.claim, all_buttons=False)
    application.add_handlers(handlers, group=group)
    previous = application.post_shutdown

    async def post_shutdown(app: telegram.ext.Application) -> None:
        if previous is not None:
            await previous(app)
        await embedding.close()

    application.post_shutdown = post_shutdown
    embedding.app.start_jobs(PtbPort(application.bot))
    return embedding
