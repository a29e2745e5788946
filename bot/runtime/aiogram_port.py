"""aiogram's side of the chat port: queued actions become Bot API calls through an aiogram
Bot, and aiogram's errors (and aiohttp's) become the `ChatError`s of handlers/port.py."""

from __future__ import annotations

import io
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    FSInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from handlers.port import (
    Action,
    AnswerButton,
    DeleteMessage,
    DropKeyboard,
    EditText,
    Keyboard,
    Markup,
    Rejected,
    ReplyKeyboard,
    RetryLater,
    SendDocument,
    SendPhoto,
    SendText,
    SetCommands,
    Transient,
    Unreachable,
)

T = TypeVar("T")


def undecodable(exc: ClientDecodeError) -> str:
    """One line for an answer that is not the Bot API's JSON (its first characters)."""
    body = " ".join(str(exc.data).split())
    return f"the answer is not JSON: {body[:80]!r}"


def render_keyboard(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """The framework-free keyboard as aiogram's markup."""
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.text, callback_data=b.data, url=b.url) for b in row]
            for row in keyboard.rows
        ]
    )


def render_markup(
    markup: Markup | None,
) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """A new message's markup: inline buttons, a reply keyboard, or the removal of one."""
    if markup is None or isinstance(markup, Keyboard):
        return render_keyboard(markup)
    if isinstance(markup, ReplyKeyboard):
        return ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text=b.text, request_contact=b.share_contact or None) for b in row]
                for row in markup.rows
            ],
            resize_keyboard=True,
            one_time_keyboard=markup.one_time,
        )
    return ReplyKeyboardRemove(remove_keyboard=True)


class AiogramPort:
    """Performs queued actions with an aiogram Bot, mapping its errors to ChatError."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def perform(self, action: Action) -> int | None:
        """Sends one action; returns the message id when a message was sent."""
        return await self._mapped(self._call(action))

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A user's file (getFile, then the file URL); Rejected when above max_bytes."""
        return await self._mapped(self._download(file_id, max_bytes))

    async def _download(self, file_id: str, max_bytes: int) -> bytes:
        file = await self.bot.get_file(file_id)
        if (file.file_size or 0) > max_bytes or file.file_path is None:
            raise Rejected("file is too big")
        buffer = io.BytesIO()
        await self.bot.download_file(file.file_path, destination=buffer)
        data = buffer.getvalue()
        if len(data) > max_bytes:
            raise Rejected("file is too big")
        return data

    async def _mapped(self, call: Awaitable[T]) -> T:
        """Awaits a Bot API call, turning aiogram's errors into ChatErrors."""
        try:
            return await call
        except TelegramRetryAfter as exc:
            raise RetryLater(float(exc.retry_after)) from exc
        except TelegramForbiddenError as exc:
            raise Unreachable(exc.message) from exc
        except TelegramEntityTooLarge as exc:  # a 413, though aiogram files it as a network error
            raise Rejected(exc.message) from exc
        except (TimeoutError, TelegramServerError, TelegramNetworkError) as exc:
            raise Transient(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise Transient(str(exc)) from exc
        except ClientDecodeError as exc:  # not the API's JSON: a proxy's "502 Bad Gateway" page
            raise Transient(undecodable(exc)) from exc
        except TelegramAPIError as exc:  # 400, 404, 409…: a deliberate decision per case
            raise Rejected(exc.message) from exc

    async def _call(self, action: Action) -> int | None:
        bot = self.bot
        if isinstance(action, SendText):
            sent = await bot.send_message(
                action.chat_id,
                action.html,
                reply_markup=render_markup(action.keyboard),
                allow_paid_broadcast=action.paid_broadcast or None,
            )
            return sent.message_id
        if isinstance(action, EditText):
            await bot.edit_message_text(
                text=action.html,
                chat_id=action.chat_id,
                message_id=action.message_id,
                reply_markup=render_keyboard(action.keyboard),
            )
            return action.message_id
        if isinstance(action, DeleteMessage):
            await bot.delete_message(action.chat_id, action.message_id)
            return None
        if isinstance(action, DropKeyboard):
            await bot.edit_message_reply_markup(
                chat_id=action.chat_id, message_id=action.message_id, reply_markup=None
            )
            return None
        if isinstance(action, AnswerButton):
            await bot.answer_callback_query(
                action.callback_id, text=action.text, show_alert=action.alert
            )
            return None
        if isinstance(action, SendDocument):
            document = (
                FSInputFile(action.data, filename=action.filename)
                if isinstance(action.data, Path)
                else BufferedInputFile(action.data, filename=action.filename)
            )
            sent = await bot.send_document(action.chat_id, document, caption=action.caption_html)
            return sent.message_id
        if isinstance(action, SendPhoto):
            sent = await bot.send_photo(
                action.chat_id,
                BufferedInputFile(action.data, filename="chart.png"),
                caption=action.caption_html,
            )
            return sent.message_id
        if isinstance(action, SetCommands):
            scope = BotCommandScopeChat(chat_id=action.chat_id)
            if action.commands:
                await bot.set_my_commands(
                    [BotCommand(command=c, description=d) for c, d in action.commands], scope=scope
                )
            else:
                await bot.delete_my_commands(scope=scope)
            return None
        raise TypeError(f"unknown action {action!r}")
