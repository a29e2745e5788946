"""Fixtures: a running emulator and the two real client libraries pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import telegram
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.emulator import BotApiEmulator, EmulatedUser

TOKEN = "123456:TEST-token"


@pytest.fixture
async def api() -> AsyncIterator[BotApiEmulator]:
    """A started emulator on a free port."""
    async with BotApiEmulator(
        token=TOKEN, bot_first_name="Acme", bot_username="acme_nps_bot"
    ) as emulator:
        yield emulator


@pytest.fixture
def anna(api: BotApiEmulator) -> EmulatedUser:
    """A user who has started the bot (so the bot may write to her)."""
    user = api.user(1001, first_name="Anna", username="anna", language_code="en")
    user.send("/start")
    return user


@pytest.fixture
async def aiogram_bot(api: BotApiEmulator) -> AsyncIterator[Bot]:
    """The real aiogram Bot talking to the emulator over HTTP."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    bot = Bot(TOKEN, session=session)
    try:
        yield bot
    finally:
        await session.close()


@pytest.fixture
async def ptb_bot(api: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    """The real python-telegram-bot Bot talking to the emulator over HTTP."""
    bot = telegram.Bot(
        TOKEN, base_url=f"{api.base_url}/bot", base_file_url=f"{api.base_url}/file/bot"
    )
    async with bot:
        yield bot
