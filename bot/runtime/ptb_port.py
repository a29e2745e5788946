"""PTB's side of the chat port: queued actions become Bot API calls through a PTB Bot, and
PTB's errors (and its HTTP transport's answers) become the `ChatError`s of handlers/port.py."""

from __future__ import annotations

import os

# Before telegram is imported, as in bot/runtime/ptb_runtime.py (PTB 23's timedeltas).
os.environ.setdefault("PTB_TIMEDELTA", "1")

import datetime as dt
import json
import logging
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from telegram import Bot as PtbBot
from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

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

log = logging.getLogger(__name__)
# PTB's TelegramError message for an answer that is not JSON (a proxy's HTML page).
NOT_JSON = "Invalid server response"
T = TypeVar("T")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def render_keyboard(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """The framework-free keyboard as PTB's markup."""
    if keyboard is None:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.data, url=b.url) for b in row]
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
            [
                [KeyboardButton(b.text, request_contact=b.share_contact or None) for b in row]
                for row in markup.rows
            ],
            resize_keyboard=True,
            one_time_keyboard=markup.one_time,
        )
    return ReplyKeyboardRemove()


def _seconds(value: int | float | dt.timedelta) -> float:
    """RetryAfter.retry_after is a timedelta with PTB_TIMEDELTA=1, else seconds."""
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


class PtbPort:
    """Performs queued actions with a PTB Bot, mapping its errors to ChatError.

    Parse mode and link previews are passed on every call instead of relying on the
    Application's Defaults, so the port behaves the same inside a host bot (bot/embed.py).
    """

    def __init__(self, bot: PtbBot) -> None:
        self.bot = bot

    async def perform(self, action: Action) -> int | None:
        """Sends one action; returns the message id when a message was sent."""
        return await self._mapped(self._call(action))

    async def download(self, file_id: str, max_bytes: int) -> bytes:
        """A user's file (getFile, then the file URL); Rejected when above max_bytes."""
        return await self._mapped(self._download(file_id, max_bytes))

    async def _download(self, file_id: str, max_bytes: int) -> bytes:
        file = await self.bot.get_file(file_id)
        if (file.file_size or 0) > max_bytes:
            raise Rejected("file is too big")
        data = bytes(await file.download_as_bytearray())
        if len(data) > max_bytes:
            raise Rejected("file is too big")
        return data

    async def _mapped(self, call: Awaitable[T]) -> T:
        """Awaits a Bot API call, turning PTB's errors into ChatErrors."""
        try:
            return await call
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc.retry_after)) from exc
        except Forbidden as exc:
            raise Unreachable(exc.message) from exc
        except BadRequest as exc:  # before NetworkError: PTB derives BadRequest from it
            raise Rejected(exc.message) from exc
        except (TimedOut, NetworkError) as exc:  # 5xx, timeouts, dropped connections
            raise Transient(exc.message) from exc
        except TelegramError as exc:
            if exc.message == NOT_JSON:  # a 2xx whose body is not JSON: as aiogram, transient
                raise Transient(exc.message) from exc
            raise Rejected(exc.message) from exc  # 401/404, 409, a migrated chat: per case

    async def _call(self, action: Action) -> int | None:
        bot = self.bot
        if isinstance(action, SendText):
            sent = await bot.send_message(
                action.chat_id,
                action.html,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=render_markup(action.keyboard),
                allow_paid_broadcast=action.paid_broadcast or None,
            )
            return sent.message_id
        if isinstance(action, EditText):
            await bot.edit_message_text(
                action.html,
                chat_id=action.chat_id,
                message_id=action.message_id,
                parse_mode=ParseMode.HTML,
                link_preview_options=NO_PREVIEW,
                reply_markup=render_keyboard(action.keyboard),
            )
            return action.message_id
        if isinstance(action, DeleteMessage):
            await bot.delete_message(chat_id=action.chat_id, message_id=action.message_id)
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
            if isinstance(action.data, Path):
                # Streamed from disk: large exports never sit in memory whole.
                with action.data.open("rb") as handle:
                    document = InputFile(handle, filename=action.filename, read_file_handle=False)
                    sent = await bot.send_document(
                        action.chat_id,
                        document,
                        caption=action.caption_html,
                        parse_mode=ParseMode.HTML,
                    )
            else:
                sent = await bot.send_document(
                    action.chat_id,
                    InputFile(action.data, filename=action.filename),
                    caption=action.caption_html,
                    parse_mode=ParseMode.HTML,
                )
            return sent.message_id
        if isinstance(action, SendPhoto):
            sent = await bot.send_photo(
                action.chat_id,
                InputFile(action.data, filename="chart.png"),
                caption=action.caption_html,
                parse_mode=ParseMode.HTML,
            )
            return sent.message_id
        if isinstance(action, SetCommands):
            scope = BotCommandScopeChat(chat_id=action.chat_id)
            if action.commands:
                await bot.set_my_commands(
                    [BotCommand(c, d) for c, d in action.commands], scope=scope
                )
            else:
                await bot.delete_my_commands(scope=scope)
            return None
        raise TypeError(f"unknown action {action!r}")


class ApiRequest(HTTPXRequest):
    """PTB's HTTP transport, reporting every 4xx it has no class for as a 400.

    PTB raises a plain NetworkError (which we retry) for 413, 414… where aiogram raises a
    client error (which we do not): answering them as 400 gives both runtimes one rule.
    """

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Performs the request; maps unclassified client errors to 400."""
        code, payload = await super().do_request(*args, **kwargs)
        if 400 < code < 500 and code not in (401, 403, 404, 409, 429):
            code = 400
        return code, payload

    @staticmethod
    def parse_json_payload(payload: bytes) -> Any:
        """The answer's JSON; a body that is not JSON (a proxy's HTML "502 Bad Gateway")
        is one debug line, not PTB's logged traceback with the whole page."""
        text = payload.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            log.debug("the Bot API answered with no JSON: %r", " ".join(text.split())[:80])
            raise TelegramError(NOT_JSON) from None
