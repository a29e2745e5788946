"""A Telegram Bot API emulator for end-to-end tests and demos.

Real aiogram / python-telegram-bot ``Bot`` objects talk to it over HTTP; tests drive
emulated users (``api.user(...)``) and inspect every call (``api.calls``).
"""

from bot.emulator.actors import ChatView, EmulatedGroup, EmulatedUser
from bot.emulator.models import (
    ApiCall,
    ApiError,
    Button,
    CallbackAnswer,
    ChatMessage,
    FileInfo,
)
from bot.emulator.server import BotApiEmulator

__all__ = [
    "ApiCall",
    "ApiError",
    "BotApiEmulator",
    "Button",
    "CallbackAnswer",
    "ChatMessage",
    "ChatView",
    "EmulatedGroup",
    "EmulatedUser",
    "FileInfo",
]
