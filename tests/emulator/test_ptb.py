"""The real python-telegram-bot Bot against the emulator, over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import telegram
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter

from bot.emulator import BotApiEmulator, EmulatedUser

# PTB 22 warns that time spans (retry_after, durations) will become timedeltas;
# with filterwarnings=error that warning would hide the behaviour under test.
PTB_TIMEDELTA_WARNING = pytest.mark.filterwarnings(
    "ignore::telegram.warnings.PTBDeprecationWarning"
)


def _seconds(value: int | float | dt.timedelta) -> float:
    """A time span as seconds: an int, or a timedelta once the PTB runtime (imported by
    other tests) opted the process in with PTB_TIMEDELTA=1."""
    return value.total_seconds() if isinstance(value, dt.timedelta) else value


def _score_keyboard() -> telegram.InlineKeyboardMarkup:
    """The NPS 0–10 scale in two rows."""
    buttons = [
        telegram.InlineKeyboardButton(str(i), callback_data=f"score:{i}") for i in range(11)
    ]
    return telegram.InlineKeyboardMarkup([buttons[:6], buttons[6:]])


async def test_get_me(ptb_bot: telegram.Bot) -> None:
    """PTB's initialize() already called getMe; the identity is ours."""
    assert (ptb_bot.bot.id, ptb_bot.bot.username) == (123456, "acme_nps_bot")
    assert (await ptb_bot.get_me()).first_name == "Acme"


async def test_keyboard_message_round_trip(ptb_bot: telegram.Bot, anna: EmulatedUser) -> None:
    """sendMessage with an inline keyboard parses back into PTB's Message."""
    sent = await ptb_bot.send_message(
        anna.id,
        "How likely are you to <b>recommend</b> us?",
        parse_mode="HTML",
        reply_markup=_score_keyboard(),
        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
    )
    assert sent.text == "How likely are you to recommend us?"
    assert sent.reply_markup is not None
    assert sent.reply_markup.inline_keyboard[1][4].callback_data == "score:10"
    seen = await anna.wait_for_message(lambda m: "recommend" in m.text)
    assert seen.message_id == sent.message_id and len(seen.buttons) == 11


async def test_updates_and_callback_query(ptb_bot: telegram.Bot, anna: EmulatedUser) -> None:
    """Updates and callback queries parse in PTB; answering twice is an error."""
    first = await ptb_bot.get_updates(timeout=1)
    assert first[0].message is not None and first[0].message.text == "/start"
    sent = await ptb_bot.send_message(anna.id, "Rate us", reply_markup=_score_keyboard())
    seen = await anna.wait_for_message(lambda m: m.message_id == sent.message_id)
    query_id = anna.press(seen, "0")
    updates = await ptb_bot.get_updates(offset=first[-1].update_id + 1, timeout=1)
    query = updates[0].callback_query
    assert query is not None and query.id == query_id and query.data == "score:0"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert await ptb_bot.answer_callback_query(query_id, text="Noted", show_alert=True)
    assert (await anna.wait_callback_answer(query_id)).show_alert
    with pytest.raises(BadRequest, match=r"[Qq]uery is too old"):
        await ptb_bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"[Qq]uery is too old"):
        await ptb_bot.answer_callback_query("12345")


async def test_edit_errors(ptb_bot: telegram.Bot, anna: EmulatedUser) -> None:
    """editMessageText / editMessageReplyMarkup and their 'not modified' errors."""
    sent = await ptb_bot.send_message(anna.id, "Rate us", reply_markup=_score_keyboard())
    edited = await ptb_bot.edit_message_reply_markup(anna.id, sent.message_id, reply_markup=None)
    assert isinstance(edited, telegram.Message) and edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"[Mm]essage is not modified"):
        await ptb_bot.edit_message_reply_markup(anna.id, sent.message_id, reply_markup=None)
    await ptb_bot.edit_message_text("Thanks", anna.id, sent.message_id)
    with pytest.raises(BadRequest, match=r"[Mm]essage is not modified"):
        await ptb_bot.edit_message_text("Thanks", anna.id, sent.message_id)
    with pytest.raises(BadRequest, match=r"[Mm]essage to edit not found"):
        await ptb_bot.edit_message_text("Thanks", anna.id, 999)


@PTB_TIMEDELTA_WARNING
async def test_retry_after_and_forbidden(
    api: BotApiEmulator, ptb_bot: telegram.Bot, anna: EmulatedUser
) -> None:
    """429 → RetryAfter with retry_after; blocked → Forbidden."""
    api.inject_fault(method="sendMessage", status=429, retry_after=2, chat_id=anna.id)
    with pytest.raises(RetryAfter) as caught:
        await ptb_bot.send_message(anna.id, "hi")
    assert _seconds(caught.value.retry_after) == 2
    anna.block_bot()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await ptb_bot.send_message(anna.id, "hi")
    with pytest.raises(BadRequest, match=r"[Cc]hat not found"):
        await ptb_bot.send_message(777, "hi")


async def test_validation_errors(ptb_bot: telegram.Bot, anna: EmulatedUser) -> None:
    """Limits and malformed requests give BadRequest; an unknown method is a 404."""
    with pytest.raises(EndPointNotFound):
        await ptb_bot.do_api_request("sendTelepathy")
    with pytest.raises(BadRequest, match=r"[Mm]essage text is empty"):
        await ptb_bot.send_message(anna.id, "")
    with pytest.raises(BadRequest, match=r'[Uu]nknown parameter "colour"'):
        await ptb_bot.send_message(anna.id, "x", api_kwargs={"colour": "red"})
    with pytest.raises(BadRequest, match=r"[Mm]essage is too long"):
        await ptb_bot.send_message(anna.id, "ж" * 4097)
    keyboard = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("a", callback_data="d" * 65)]]
    )
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await ptb_bot.send_message(anna.id, "x", reply_markup=keyboard)
    with pytest.raises(BadRequest, match=r"[Cc]an't parse entities"):
        await ptb_bot.send_message(anna.id, "<b>unclosed", parse_mode="HTML")
    wide = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton(str(i), callback_data=str(i)) for i in range(11)]]
    )
    with pytest.raises(BadRequest, match=r"(?i)reply_markup_too_long"):
        await ptb_bot.send_message(anna.id, "x", reply_markup=wide)
    with pytest.raises(BadRequest, match=r"[Ii]nvalid file_id"):
        await ptb_bot.get_file("nope")


async def test_document_and_photo_upload(
    api: BotApiEmulator, ptb_bot: telegram.Bot, anna: EmulatedUser
) -> None:
    """PTB's multipart uploads are stored; the bytes come back through the file route."""
    sent = await ptb_bot.send_document(
        anna.id, b"score,comment\n9,great\n", filename="export.csv", caption="Export"
    )
    assert sent.document is not None and sent.document.mime_type == "text/csv"
    file = await ptb_bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"score,comment\n9,great\n"
    photo = await ptb_bot.send_photo(anna.id, bytes.fromhex("ffd8ffe000104a464946"))
    assert photo.photo and photo.photo[-1].file_size == 10
    seen = await anna.wait_for_message(lambda m: m.photo is not None)
    assert seen.photo is not None and seen.photo.data.startswith(b"\xff\xd8")
    assert api.deliveries(anna.id) == 2


@PTB_TIMEDELTA_WARNING
async def test_user_media_reaches_the_bot(ptb_bot: telegram.Bot, anna: EmulatedUser) -> None:
    """Stickers, photos, voice notes and documents from users parse in PTB; files download."""
    anna.send_sticker()
    anna.send_photo(caption="look")
    anna.send_voice()
    anna.send_document(b"my file", file_name="notes.txt")
    updates = await ptb_bot.get_updates(timeout=1)
    messages = [u.message for u in updates if u.message]
    assert messages[1].sticker is not None and messages[1].sticker.type == "regular"
    assert messages[2].photo and messages[2].caption == "look"
    assert messages[3].voice is not None and _seconds(messages[3].voice.duration) == 3
    document = messages[4].document
    assert document is not None and document.file_name == "notes.txt"
    file = await ptb_bot.get_file(document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"my file"


async def test_long_poll_wakes_on_update(api: BotApiEmulator, ptb_bot: telegram.Bot) -> None:
    """A PTB long poll returns promptly when an update arrives during the wait."""
    user = api.user(3003, first_name="Vera")
    poll = asyncio.create_task(ptb_bot.get_updates(timeout=10))
    await api.wait_until(lambda: any(c.status == 0 for c in api.calls_for("getUpdates")))
    user.send("hello")
    updates = await asyncio.wait_for(poll, timeout=2)
    assert updates[0].message is not None and updates[0].message.text == "hello"
