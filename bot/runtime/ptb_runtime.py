"""The python-telegram-bot runtime (BOT_FRAMEWORK=ptb)."""

from __future__ import annotations

from bot.app import StartupError
from bot.settings import Settings


async def run_polling(settings: Settings) -> None:
    """Not available yet: the PTB adapter is tracked in its own issue."""
    raise StartupError(
        "BOT_FRAMEWORK=ptb is not available in this version yet: use BOT_FRAMEWORK=aiogram."
    )
