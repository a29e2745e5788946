"""npsbot inside host bots: an aiogram Dispatcher and a PTB Application with own commands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
import telegram
import telegram.ext
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.embed import add_npsbot_handlers, npsbot_router
from bot.emulator import BotApiEmulator, EmulatedUser
from storage.db import Database
from storage.models import Step
from tests.e2e.conftest import QUESTION, TOKEN, respondent_of, responses_of

WELCOME = "Welcome to the host bot"
HELLO = "Hello from the host"
HOSTS = ["aiogram-host", "ptb-host"]

HostFactory = Callable[..., AbstractAsyncContextManager[None]]


@asynccontextmanager
async def aiogram_host(api: BotApiEmulator, db_url: str, **options: Any) -> AsyncIterator[None]:
    """A tiny aiogram bot with /start, /hello, a button and an echo, plus npsbot's router."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(TOKEN, session=session)  # no default parse mode: npsbot must not rely on it
    host = Router(name="host")

    @host.message(CommandStart())
    async def start(message: Message) -> None:
        """The host's own greeting."""
        await message.answer(WELCOME)

    @host.message(Command("hello"))
    async def hello(message: Message) -> None:
        """The host's own command, with the host's own button."""
        ping = InlineKeyboardButton(text="Ping", callback_data="host:ping")
        await message.answer(HELLO, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[ping]]))

    @host.callback_query(F.data == "host:ping")
    async def ping(query: CallbackQuery) -> None:
        """The host's own button."""
        await query.answer("pong")

    echo = Router(name="host-echo")

    @echo.message(F.text)
    async def repeat(message: Message) -> None:
        """The host's catch-all, registered last as aiogram's style has it."""
        await message.answer(f"Host heard: {message.text}")

    dispatcher = Dispatcher()
    # npsbot first on purpose: it still leaves the host's commands, buttons and text alone.
    dispatcher.include_router(await npsbot_router(bot, db_url, **options))
    dispatcher.include_router(host)
    dispatcher.include_router(echo)
    polls = len(api.calls_for("getUpdates"))
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        await api.wait_until(lambda: len(api.calls_for("getUpdates")) > polls, timeout=15)
        yield
    finally:
        await dispatcher.stop_polling()
        await polling  # the dispatcher's shutdown closes npsbot's database
        await session.close()


@asynccontextmanager
async def ptb_host(api: BotApiEmulator, db_url: str, **options: Any) -> AsyncIterator[None]:
    """A tiny python-telegram-bot bot with /start, /hello, a button and an echo, plus npsbot."""

    async def start(update: telegram.Update, context: Any) -> None:
        """The host's own greeting."""
        assert update.effective_message is not None
        await update.effective_message.reply_text(WELCOME)

    async def hello(update: telegram.Update, context: Any) -> None:
        """The host's own command, with the host's own button."""
        assert update.effective_message is not None
        ping = telegram.InlineKeyboardButton("Ping", callback_data="host:ping")
        await update.effective_message.reply_text(
            HELLO, reply_markup=telegram.InlineKeyboardMarkup([[ping]])
        )

    async def ping(update: telegram.Update, context: Any) -> None:
        """The host's own button."""
        assert update.callback_query is not None
        await update.callback_query.answer("pong")

    async def repeat(update: telegram.Update, context: Any) -> None:
        """The host's catch-all for text."""
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Host heard: {update.effective_message.text}")

    application = (
        telegram.ext.Application.builder()
        .token(TOKEN)
        .base_url(f"{api.base_url}/bot")
        .base_file_url(f"{api.base_url}/file/bot")
        .build()
    )
    application.add_handler(telegram.ext.CommandHandler("start", start))
    application.add_handler(telegram.ext.CommandHandler("hello", hello))
    application.add_handler(telegram.ext.CallbackQueryHandler(ping, pattern="^host:"))
    text = telegram.ext.filters.TEXT & ~telegram.ext.filters.COMMAND
    application.add_handler(telegram.ext.MessageHandler(text, repeat))
    embedding = await add_npsbot_handlers(application, db_url, **options)
    polls = len(api.calls_for("getUpdates"))
    try:
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(timeout=10)
            await api.wait_until(lambda: len(api.calls_for("getUpdates")) > polls, timeout=15)
            try:
                yield
            finally:
                await application.updater.stop()
                await application.stop()
    finally:
        # post_shutdown runs under run_polling(); a hand-run application closes npsbot itself.
        await embedding.close()


@pytest.fixture(params=HOSTS)
def host(request: pytest.FixtureRequest) -> HostFactory:
    """Starts a host bot of each kind with npsbot embedded."""
    return aiogram_host if request.param == "aiogram-host" else ptb_host


def _texts(user: EmulatedUser) -> list[str]:
    return [m.text for m in user.bot_messages]


async def test_host_keeps_its_commands_buttons_and_text_while_the_survey_works(
    api: BotApiEmulator, db_url: str, host: HostFactory
) -> None:
    check = Database(db_url)
    try:
        async with host(api, db_url):
            anna = api.user(501, first_name="Anna", language_code="en")
            anna.send("/start")
            await anna.wait_for_message(lambda m: m.text == WELCOME)
            anna.send("/hello")
            hello = await anna.wait_for_message(lambda m: m.text == HELLO)
            answer = await anna.wait_callback_answer(anna.press(hello, "Ping"))
            assert answer.text == "pong"
            anna.send("just chatting")
            await anna.wait_for_message(lambda m: m.text == "Host heard: just chatting")
            # None of that made Anna a respondent: npsbot took nothing.
            assert await respondent_of(check, 501) is None

            anna.send("/survey")
            question = await anna.wait_for_message(lambda m: QUESTION in m.text)
            assert "<i>" not in question.text  # HTML was parsed, whatever the host's defaults
            anna.press(question, "9")
            why = await anna.wait_for_message(lambda m: "like most" in m.text)
            anna.send("/hello")  # the host's command mid-survey stays the host's
            await api.wait_until(lambda: sum(t == HELLO for t in _texts(anna)) == 2)
            anna.send("Great support")  # an answer, not chatter for the host's echo
            improve = await anna.wait_for_message(lambda m: "even better" in m.text)
            assert all(not t.startswith("Host heard: Great") for t in _texts(anna))
            assert why.message_id < improve.message_id
            anna.press(improve, "Skip")
            await anna.wait_for_message(lambda m: m.text.startswith("Thank you, Anna!"))
            anna.send("thanks again")  # nothing open any more: the host's text again
            await anna.wait_for_message(lambda m: m.text == "Host heard: thanks again")
            anna.send("/stop")  # not given to npsbot: it stays silent, nothing changes
            await _marker_of(api, anna)
            assert not any("will not receive" in t for t in _texts(anna))
            assert sum(t == WELCOME for t in _texts(anna)) == 1
        [response] = await responses_of(check, 501)
        assert (response.score, response.why, response.improve, response.step) == (
            9,
            "Great support",
            None,
            Step.DONE,
        )
        respondent = await respondent_of(check, 501)
        assert respondent is not None and respondent.subscribed
    finally:
        await check.dispose()


async def test_take_start_and_named_commands_are_npsbots_when_told(
    api: BotApiEmulator, db_url: str, host: HostFactory
) -> None:
    check = Database(db_url)
    try:
        async with host(api, db_url, take_start=True, commands=["stop"], entry_command="rate"):
            ben = api.user(502, first_name="Ben", language_code="en")
            ben.send("/start")
            question = await ben.wait_for_message(lambda m: QUESTION in m.text)
            ben.press(question, "3")
            await ben.wait_for_message(lambda m: "disappointed" in m.text)
            ben.send("/stop")
            await ben.wait_for_message(lambda m: "will not receive any more surveys" in m.text)
            ben.send("/rate")  # the renamed entry command
            await api.wait_until(lambda: sum(QUESTION in t for t in _texts(ben)) == 2)
            # A forged npsbot button is npsbot's (an alert); the host's button is the host's.
            answer = await ben.wait_callback_answer(ben.press_data(question, "nps:s:1"))
            assert answer.show_alert
            ben.send("/hello")
            hello = await ben.wait_for_message(lambda m: m.text == HELLO)
            assert (await ben.wait_callback_answer(ben.press(hello, "Ping"))).text == "pong"
            assert WELCOME not in _texts(ben)
        first, second = await responses_of(check, 502)
        assert (first.score, first.step, second.step) == (3, Step.CLOSED, Step.SCORE)
        respondent = await respondent_of(check, 502)
        assert respondent is not None and respondent.subscribed  # /rate subscribes again
    finally:
        await check.dispose()


async def _marker_of(api: BotApiEmulator, user: EmulatedUser) -> None:
    """Sends /hello and waits for its answer, so whatever was sent before was handled."""
    before = sum(t == HELLO for t in _texts(user))
    user.send("/hello")
    await api.wait_until(lambda: sum(t == HELLO for t in _texts(user)) > before)
