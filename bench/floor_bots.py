"""The floor for bench/e2e_throughput.py: each framework's do-nothing survey bot.

It makes exactly the API calls npsbot makes on the survey path (greeting + question,
answer + edit + "why", edit + "improve", edit + "thanks"), configured like npsbot's
runtimes (aiogram: updates as tasks; PTB: concurrent updates, the same HTTP transport),
but keeps its state in a dict: no database, no pipeline, no locks. Whatever npsbot costs
above this floor is npsbot's own.

    python bench/floor_bots.py aiogram --api http://127.0.0.1:8081 --token 123:ABC
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from dataclasses import dataclass, field

QUESTION = "How likely are you to recommend Acme to a friend or colleague?\n<i>0 = not at all likely, 10 = extremely likely</i>"  # noqa: E501
WHY = "Thank you! What is the main reason for your score?"
IMPROVE = "What should we do for you to give us a 10?"
THANKS = "Thank you, {name}! Your answers help us get better."


@dataclass
class Chat:
    """Where one respondent is: the step and the message with the last buttons.

    `ready` is clear while a prompt is being sent: the respondent can answer it before the
    bot has its message id (npsbot's per-chat lock covers the same window).
    """

    step: str = "score"
    prompt: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.ready.set()


def _rows(score_data: str) -> list[list[tuple[str, str]]]:
    buttons = [(str(s), f"{score_data}:{s}") for s in range(11)]
    return [buttons[:6], buttons[6:]]


async def run_aiogram(api: str, token: str, stop: asyncio.Event) -> None:
    """The do-nothing survey on aiogram 3, as npsbot's aiogram runtime sets it up."""
    from aiogram import Bot, Dispatcher, F
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode
    from aiogram.types import (
        CallbackQuery,
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        LinkPreviewOptions,
        Message,
    )

    def markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text=t, callback_data=d) for t, d in row] for row in rows
            ]
        )

    chats: dict[int, Chat] = {}
    bot = Bot(
        token,
        session=AiohttpSession(api=TelegramAPIServer.from_base(api)),
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
        ),
    )
    dp = Dispatcher()

    @dp.callback_query(F.data.startswith("s:"))
    async def on_score(query: CallbackQuery) -> None:
        """Acknowledges the score, shows it, asks why."""
        assert query.message is not None and query.data is not None
        chat = chats.setdefault(query.from_user.id, Chat())
        chat.ready.clear()
        score = query.data.rsplit(":", 1)[1]
        await query.answer()
        await bot.edit_message_text(
            text=f"{QUESTION}\n\n— <b>your answer: {score}</b>",
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
        )
        sent = await bot.send_message(
            query.message.chat.id, WHY, reply_markup=markup([[("Skip", "k:why")]])
        )
        chat.step, chat.prompt = "why", sent.message_id
        chat.ready.set()

    @dp.message(F.text)
    async def on_text(message: Message) -> None:
        """/start asks the question; texts answer why and improve."""
        assert message.from_user is not None and message.text is not None
        if message.text.startswith("/start"):
            chats[message.from_user.id] = Chat()
            await message.answer(f"Hi {message.from_user.first_name}! One quick question.")
            await message.answer(QUESTION, reply_markup=markup(_rows("s")))
            return
        chat = chats.setdefault(message.from_user.id, Chat())
        await chat.ready.wait()
        chat.ready.clear()
        previous = WHY if chat.step == "why" else IMPROVE
        await bot.edit_message_text(text=previous, chat_id=message.chat.id, message_id=chat.prompt)
        if chat.step == "why":
            sent = await message.answer(IMPROVE, reply_markup=markup([[("Skip", "k:improve")]]))
            chat.step, chat.prompt = "improve", sent.message_id
        else:
            await message.answer(THANKS.format(name=message.from_user.first_name))
            chat.step = "done"
        chat.ready.set()

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    await stop.wait()
    await dp.stop_polling()
    await polling


async def run_ptb(api: str, token: str, stop: asyncio.Event) -> None:
    """The do-nothing survey on python-telegram-bot, as npsbot's PTB runtime sets it up."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
    from telegram.constants import ParseMode
    from telegram.ext import (
        Application,
        CallbackQueryHandler,
        CommandHandler,
        ContextTypes,
        Defaults,
        MessageHandler,
        filters,
    )
    from telegram.request import HTTPXRequest

    def markup(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(t, callback_data=d) for t, d in row] for row in rows]
        )

    chats: dict[int, Chat] = {}

    async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greets and asks the question."""
        assert update.message is not None and update.effective_user is not None
        chats[update.effective_user.id] = Chat()
        name = update.effective_user.first_name
        await update.message.reply_text(f"Hi {name}! One quick question.")
        await update.message.reply_text(QUESTION, reply_markup=markup(_rows("s")))

    async def on_score(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Acknowledges the score, shows it, asks why."""
        query = update.callback_query
        assert query is not None and query.message is not None and query.data is not None
        chat = chats.setdefault(query.from_user.id, Chat())
        chat.ready.clear()
        await query.answer()
        await context.bot.edit_message_text(
            f"{QUESTION}\n\n— <b>your answer: {query.data.rsplit(':', 1)[1]}</b>",
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
        )
        sent = await context.bot.send_message(
            query.message.chat.id, WHY, reply_markup=markup([[("Skip", "k:why")]])
        )
        chat.step, chat.prompt = "why", sent.message_id
        chat.ready.set()

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Texts answer why and improve."""
        message = update.message
        assert message is not None and message.from_user is not None
        chat = chats.setdefault(message.from_user.id, Chat())
        await chat.ready.wait()
        chat.ready.clear()
        previous = WHY if chat.step == "why" else IMPROVE
        await context.bot.edit_message_text(
            previous, chat_id=message.chat.id, message_id=chat.prompt
        )
        if chat.step == "why":
            sent = await message.reply_text(
                IMPROVE, reply_markup=markup([[("Skip", "k:improve")]])
            )
            chat.step, chat.prompt = "improve", sent.message_id
        else:
            await message.reply_text(THANKS.format(name=message.from_user.first_name))
            chat.step = "done"
        chat.ready.set()

    application = (
        Application.builder()
        .token(token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .request(
            HTTPXRequest(
                connection_pool_size=256, read_timeout=60, write_timeout=60, pool_timeout=30
            )
        )
        .get_updates_request(HTTPXRequest(connection_pool_size=1, read_timeout=30))
        .defaults(
            Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(True))
        )
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(CommandHandler("start", on_start))
    application.add_handler(CallbackQueryHandler(on_score, pattern="^s:"))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(timeout=10)
        await stop.wait()
        await application.updater.stop()
        await application.stop()


async def main(framework: str, api: str, token: str) -> None:
    """Runs the floor bot until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = run_aiogram if framework == "aiogram" else run_ptb
    await runner(api.rstrip("/"), token, stop)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=["aiogram", "ptb"])
    parser.add_argument("--api", required=True, help="base URL of the Bot API server")
    parser.add_argument("--token", required=True)
    args = parser.parse_args()
    asyncio.run(main(args.framework, args.api, args.token))
