"""The real aiogram 3 Bot against the emulator, over HTTP."""

from __future__ import annotations

import asyncio
import io

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetMe
from aiogram.methods.base import TelegramMethod
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.emulator import BotApiEmulator, EmulatedUser


def _score_keyboard() -> InlineKeyboardMarkup:
    """The NPS 0–10 scale: two rows, as a row holds at most 8 buttons."""
    buttons = [InlineKeyboardButton(text=str(i), callback_data=f"score:{i}") for i in range(11)]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[:6], buttons[6:]])


class _NoSuchMethod(TelegramMethod[bool]):
    """A method the Bot API does not have."""

    __returning__ = bool
    __api_method__ = "sendTelepathy"


async def test_get_me(aiogram_bot: Bot) -> None:
    """getMe answers with the configured bot identity."""
    me = await aiogram_bot.get_me()
    assert (me.id, me.is_bot, me.first_name, me.username) == (123456, True, "Acme", "acme_nps_bot")


async def test_keyboard_message_round_trip(
    api: BotApiEmulator, aiogram_bot: Bot, anna: EmulatedUser
) -> None:
    """sendMessage with HTML and an inline keyboard parses back into aiogram's Message."""
    sent = await aiogram_bot.send_message(
        anna.id,
        "How likely are you to <b>recommend</b> us?",
        parse_mode="HTML",
        reply_markup=_score_keyboard(),
    )
    assert isinstance(sent, Message)
    assert sent.text == "How likely are you to recommend us?"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.reply_markup is not None
    assert [len(row) for row in sent.reply_markup.inline_keyboard] == [6, 5]
    seen = await anna.wait_for_message(lambda m: "recommend" in m.text)
    assert seen.message_id == sent.message_id
    assert seen.html == "How likely are you to <b>recommend</b> us?"
    assert seen.keyboard[1][4].text == "10" and seen.keyboard[1][4].callback_data == "score:10"
    assert api.deliveries(anna.id) == 1


async def test_updates_and_callback_query(aiogram_bot: Bot, anna: EmulatedUser) -> None:
    """User messages and button presses arrive via getUpdates; offset confirms them."""
    anna.send("/start delivery__a-olga")
    first = await aiogram_bot.get_updates(timeout=1)
    assert [u.message.text for u in first if u.message] == ["/start", "/start delivery__a-olga"]
    command = first[1].message
    assert command is not None and command.entities is not None
    assert (command.entities[0].type, command.entities[0].length) == ("bot_command", 6)
    assert command.from_user is not None and command.from_user.language_code == "en"

    sent = await aiogram_bot.send_message(anna.id, "Rate us", reply_markup=_score_keyboard())
    seen = await anna.wait_for_message(lambda m: m.message_id == sent.message_id)
    query_id = anna.press(seen, "9")
    updates = await aiogram_bot.get_updates(offset=first[-1].update_id + 1, timeout=1)
    assert len(updates) == 1
    query = updates[0].callback_query
    assert query is not None and query.id == query_id and query.data == "score:9"
    assert isinstance(query.message, Message) and query.message.message_id == sent.message_id

    assert await aiogram_bot.answer_callback_query(query_id, text="Thanks!")
    answer = await anna.wait_callback_answer(query_id)
    assert answer.text == "Thanks!" and not answer.show_alert
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await aiogram_bot.answer_callback_query(query_id)
    assert await aiogram_bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []


async def test_edit_errors(aiogram_bot: Bot, anna: EmulatedUser) -> None:
    """editMessageText edits, then 'not modified' and 'not found' fail like Telegram."""
    sent = await aiogram_bot.send_message(anna.id, "Rate us", reply_markup=_score_keyboard())
    edited = await aiogram_bot.edit_message_text(
        text="You chose <i>9</i>", chat_id=anna.id, message_id=sent.message_id, parse_mode="HTML"
    )
    assert isinstance(edited, Message) and edited.edit_date is not None
    assert edited.text == "You chose 9" and edited.reply_markup is None
    current = anna.message(sent.message_id)
    assert current is not None and current.edited and current.edit_count == 1
    assert current.keyboard == []
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await aiogram_bot.edit_message_text(
            text="You chose <i>9</i>",
            chat_id=anna.id,
            message_id=sent.message_id,
            parse_mode="HTML",
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await aiogram_bot.edit_message_text(text="x", chat_id=anna.id, message_id=999)
    assert await aiogram_bot.delete_message(anna.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await aiogram_bot.delete_message(anna.id, sent.message_id)


async def test_injected_429_and_5xx(
    api: BotApiEmulator, aiogram_bot: Bot, anna: EmulatedUser
) -> None:
    """An injected 429 raises TelegramRetryAfter with retry_after; 502 a server error."""
    api.inject_fault(method="sendMessage", status=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as caught:
        await aiogram_bot.send_message(anna.id, "hi")
    assert caught.value.retry_after == 3
    api.inject_fault(method="sendMessage", status=502)
    with pytest.raises(TelegramServerError, match="Bad Gateway"):
        await aiogram_bot.send_message(anna.id, "hi")
    await aiogram_bot.send_message(anna.id, "hi")
    assert [c.status for c in api.calls_for("sendMessage")] == [429, 502, 200]
    assert api.deliveries(anna.id) == 1


async def test_forbidden_and_chat_not_found(api: BotApiEmulator, aiogram_bot: Bot) -> None:
    """Blocked → 403, never started → 403, unknown chat → 400, as in production."""
    stranger = api.user(2002, first_name="Boris")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await aiogram_bot.send_message(stranger.id, "hi")
    stranger.send("/start")
    stranger.block_bot()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await aiogram_bot.send_message(stranger.id, "hi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await aiogram_bot.send_message(424242, "hi")
    updates = await aiogram_bot.get_updates(allowed_updates=["message", "my_chat_member"])
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    assert member.new_chat_member.user.id == 123456
    stranger.unblock_bot()
    await aiogram_bot.send_message(stranger.id, "welcome back")


async def test_validation_errors(aiogram_bot: Bot, anna: EmulatedUser) -> None:
    """Limits and malformed input are rejected with the real descriptions."""
    with pytest.raises(TelegramNotFound, match="method not found"):
        await aiogram_bot(_NoSuchMethod())
    with pytest.raises(TelegramBadRequest, match='unknown parameter "foo"'):
        await aiogram_bot(GetMe(foo="bar"))  # type: ignore[call-arg]
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await aiogram_bot.send_message(anna.id, "x" * 4097)
    await aiogram_bot.send_message(anna.id, "x" * 4096)
    # 4096 characters after entity parsing: markup does not count.
    await aiogram_bot.send_message(anna.id, f"<b>{'x' * 4096}</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await aiogram_bot.send_message(anna.id, "<b></b>", parse_mode="HTML")
    too_long = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="é" * 33)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await aiogram_bot.send_message(anna.id, "x", reply_markup=too_long)
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unmatched end tag"):
        await aiogram_bot.send_message(anna.id, "<b>x</i>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await aiogram_bot.send_document(
            anna.id, BufferedInputFile(b"x", filename="a.txt"), caption="c" * 1025
        )


async def test_document_and_photo_upload(
    api: BotApiEmulator, aiogram_bot: Bot, anna: EmulatedUser
) -> None:
    """Multipart uploads are stored and can be downloaded back via getFile."""
    payload = bytes(range(256)) * 10
    sent = await aiogram_bot.send_document(
        anna.id,
        BufferedInputFile(payload, filename="report.xlsx"),
        caption="Weekly <b>NPS</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None and sent.document.file_name == "report.xlsx"
    assert sent.document.file_size == len(payload) and sent.caption == "Weekly NPS"
    file = await aiogram_bot.get_file(sent.document.file_id)
    assert file.file_path is not None
    buffer = io.BytesIO()
    await aiogram_bot.download_file(file.file_path, buffer)
    assert buffer.getvalue() == payload
    seen = await anna.wait_for_message(lambda m: m.document is not None)
    assert seen.document is not None and seen.document.data == payload
    assert seen.text == "Weekly NPS"

    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000280000001e008020000")
    photo = await aiogram_bot.send_photo(anna.id, BufferedInputFile(png, filename="chart.png"))
    assert photo.photo is not None and (photo.photo[-1].width, photo.photo[-1].height) == (
        640,
        480,
    )
    again = await aiogram_bot.send_photo(anna.id, photo.photo[-1].file_id)
    assert again.photo is not None and again.photo[-1].file_id == photo.photo[-1].file_id
    assert api.deliveries(anna.id) == 3


async def test_commands_and_chat(aiogram_bot: Bot, anna: EmulatedUser) -> None:
    """Commands are recorded per scope; getChat describes a private chat."""
    assert await aiogram_bot.set_my_commands([BotCommand(command="start", description="Begin")])
    assert [c.command for c in await aiogram_bot.get_my_commands()] == ["start"]
    assert await aiogram_bot.delete_my_commands()
    assert await aiogram_bot.get_my_commands() == []
    chat = await aiogram_bot.get_chat(anna.id)
    assert (chat.id, chat.type, chat.first_name) == (anna.id, "private", "Anna")
    assert await aiogram_bot.send_chat_action(anna.id, "typing")
    assert await aiogram_bot.delete_webhook(drop_pending_updates=False)


async def test_long_poll_wakes_on_update(api: BotApiEmulator, aiogram_bot: Bot) -> None:
    """A long poll in flight returns as soon as an update is enqueued."""
    user = api.user(3003, first_name="Vera")
    loop = asyncio.get_running_loop()
    poll = asyncio.create_task(aiogram_bot.get_updates(timeout=10))
    await api.wait_until(lambda: any(c.status == 0 for c in api.calls_for("getUpdates")))
    started = loop.time()
    user.send("hello")
    updates = await asyncio.wait_for(poll, timeout=3)
    assert loop.time() - started < 1.0
    assert updates[0].message is not None and updates[0].message.text == "hello"
