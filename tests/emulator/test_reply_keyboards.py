"""Reply keyboards and shared contacts (issue 11): a bot's ReplyKeyboardMarkup is kept on
its message and shown in the chat until removed, a tap on request_contact sends the user's
own contact as Telegram does, and the control API shares contacts and shows keyboards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import telegram
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.emulator import BotApiEmulator, EmulatedUser
from bot.emulator.__main__ import control_routes
from bot.emulator.models import ReplyButton
from tests.emulator.conftest import TOKEN

SHARE = ReplyButton("📱 Share", request_contact=True)


async def test_aiogram_keyboard_is_shown_until_removed_and_the_tap_shares_the_own_contact(
    api: BotApiEmulator, anna: EmulatedUser, aiogram_bot: Bot
) -> None:
    markup = ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text="📱 Share", request_contact=True)],
            [KeyboardButton(text="No")],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    sent = await aiogram_bot.send_message(anna.id, "Your number?", reply_markup=markup)
    assert sent.reply_markup is None  # Telegram echoes only inline keyboards
    message = anna.message(sent.message_id)
    assert message is not None
    assert message.reply_keyboard == [[SHARE], [ReplyButton("No")]]
    assert anna.reply_keyboard == [[SHARE], [ReplyButton("No")]]
    assert "<📱 Share (contact)>" in anna.transcript()
    pending = len(api.pending_updates)
    anna.share_contact("37369123456")
    assert anna.reply_keyboard is None  # one-time: hidden after the tap
    update = api.pending_updates[pending]
    contact = update["message"]["contact"]
    assert contact == {"phone_number": "37369123456", "first_name": "Anna", "user_id": anna.id}
    assert update["message"]["from"]["id"] == anna.id
    assert "[contact 37369123456, user 1001]" in anna.transcript()
    # A keyboard that is not one-time stays after a tap, until a message removes it.
    await aiogram_bot.send_message(
        anna.id, "Again?", reply_markup=ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="No")]])
    )
    anna.tap_reply("No")
    assert api.pending_updates[-1]["message"]["text"] == "No"
    assert anna.reply_keyboard == [[ReplyButton("No")]]
    removed = await aiogram_bot.send_message(
        anna.id, "Saved", reply_markup=ReplyKeyboardRemove(remove_keyboard=True)
    )
    assert anna.reply_keyboard is None
    message = anna.message(removed.message_id)
    assert message is not None and message.removes_keyboard and message.reply_keyboard is None
    assert "<keyboard removed>" in anna.transcript()


async def test_ptb_renders_the_same_keyboard_and_removal(
    api: BotApiEmulator, anna: EmulatedUser, ptb_bot: telegram.Bot
) -> None:
    markup = telegram.ReplyKeyboardMarkup(
        [[telegram.KeyboardButton("📱 Share", request_contact=True)]], one_time_keyboard=True
    )
    sent = await ptb_bot.send_message(anna.id, "Your number?", reply_markup=markup)
    assert anna.reply_keyboard == [[SHARE]] and anna.reply_keyboard_one_time
    message = anna.message(sent.message_id)
    assert message is not None and message.reply_keyboard == [[SHARE]]
    await ptb_bot.send_message(anna.id, "Saved", reply_markup=telegram.ReplyKeyboardRemove())
    assert anna.reply_keyboard is None


async def test_a_tap_needs_the_button_and_someone_elses_contact_needs_none(
    api: BotApiEmulator, anna: EmulatedUser, aiogram_bot: Bot
) -> None:
    with pytest.raises(AssertionError, match="no a request_contact button"):
        anna.share_contact("37369123456")
    with pytest.raises(AssertionError, match="no a button 'No'"):
        anna.tap_reply("No")
    await aiogram_bot.send_message(
        anna.id, "?", reply_markup=ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="No")]])
    )
    with pytest.raises(AssertionError, match="it shows \\[\\['No'\\]\\]"):
        anna.share_contact("37369123456")
    anna.send_contact("+48601234567", user_id=2002, first_name="Bob")
    anna.send_contact("+48601234567")
    bob, nobody = (u["message"]["contact"] for u in api.pending_updates[-2:])
    assert bob == {"phone_number": "+48601234567", "first_name": "Bob", "user_id": 2002}
    assert nobody == {"phone_number": "+48601234567", "first_name": "Contact"}


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ({"keyboard": [[{"text": " "}]]}, "BUTTON_TEXT_INVALID"),
        ({"keyboard": [[{"request_contact": True}]]}, "can't parse keyboard button"),
        ({"keyboard": [[7]]}, "can't parse keyboard button"),
        ({"keyboard": "no"}, "should be an Array"),
    ],
)
async def test_a_malformed_reply_keyboard_is_refused_as_telegram_does(
    api: BotApiEmulator, anna: EmulatedUser, aiogram_bot: Bot, markup: dict[str, Any], error: str
) -> None:
    with pytest.raises(TelegramBadRequest, match=error):
        await aiogram_bot(_raw_send(anna.id, markup))
    assert anna.reply_keyboard is None


def _raw_send(chat_id: int, markup: dict[str, Any]) -> Any:
    """sendMessage with reply_markup as given (aiogram's types would refuse it first)."""
    method = SendMessage(chat_id=chat_id, text="?")
    method.reply_markup = markup  # type: ignore[assignment]
    return method


# --- the standalone control API ------------------------------------------------------------


@pytest.fixture
async def standalone() -> AsyncIterator[BotApiEmulator]:
    """The emulator as `python -m bot.emulator` runs it (with the control routes)."""
    emulator = BotApiEmulator(token=TOKEN)
    emulator.add_routes(control_routes(emulator))
    async with emulator:
        yield emulator


async def _call(method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kwargs) as response:
        if response.content_type == "application/json":
            return response.status, await response.json()
        return response.status, await response.text()


async def test_the_control_api_shares_contacts_and_shows_the_keyboard(
    standalone: BotApiEmulator,
) -> None:
    base = f"{standalone.base_url}/_emulator"
    status, body = await _call(
        "POST", f"{base}/contact", json={"user_id": 5, "phone_number": "37369123456"}
    )
    assert status == 200 and isinstance(body["update_id"], int)
    own = standalone.pending_updates[-1]["message"]["contact"]
    assert own == {"phone_number": "37369123456", "first_name": "User", "user_id": 5}
    other = {
        "user_id": 5,
        "phone_number": "+4860",
        "contact_user_id": 9,
        "contact_first_name": "Bo",
    }
    await _call("POST", f"{base}/contact", json=other)
    assert standalone.pending_updates[-1]["message"]["contact"]["user_id"] == 9
    await _call("POST", f"{base}/contact", json={**other, "contact_user_id": None})
    assert "user_id" not in standalone.pending_updates[-1]["message"]["contact"]
    status, body = await _call("GET", f"{base}/keyboard", params={"chat_id": "5"})
    assert (status, body) == (200, {"chat_id": 5, "reply_keyboard": None})
    share = {"text": "📱 Share", "request_contact": True}
    sent = {"chat_id": 5, "text": "?", "reply_markup": {"keyboard": [[share]]}}
    status, _ = await _call("POST", f"{standalone.base_url}/bot{TOKEN}/sendMessage", json=sent)
    assert status == 200
    status, body = await _call("GET", f"{base}/keyboard", params={"chat_id": "5"})
    assert body["reply_keyboard"] == [[share]]
    status, text = await _call("GET", f"{base}/transcript", params={"chat_id": "5"})
    assert "<📱 Share (contact)>" in text and "[contact 37369123456, user 5]" in text


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "reason"),
    [
        ("POST", "/contact", {"json": {"user_id": 5}}, "phone_number is required"),
        ("POST", "/contact", {"json": {"phone_number": "1"}}, "user_id is required"),
        ("POST", "/contact", {"json": {"user_id": 5, "phone_number": ""}}, "non-empty string"),
        ("POST", "/contact", {"json": {"user_id": 5, "phone_number": 373}}, "non-empty string"),
        ("POST", "/contact", {"json": {"user_id": 5, "phone_number": "1" * 65}}, "longer than"),
        (
            "POST",
            "/contact",
            {"json": {"user_id": 5, "phone_number": "1", "contact_user_id": "x"}},
            "contact_user_id must be an integer",
        ),
        (
            "POST",
            "/contact",
            {"json": {"user_id": 5, "phone_number": "1", "contact_user_id": -2}},
            "contact_user_id must be positive",
        ),
        ("POST", "/contact", {"data": "not json"}, "the body must be a JSON object"),
        ("GET", "/keyboard", {}, "chat_id is required"),
        ("GET", "/keyboard", {"params": {"chat_id": "x"}}, "chat_id must be an integer"),
    ],
)
async def test_a_contact_or_keyboard_slip_is_a_400_and_reaches_no_bot(
    standalone: BotApiEmulator, method: str, path: str, kwargs: dict[str, Any], reason: str
) -> None:
    status, body = await _call(method, f"{standalone.base_url}/_emulator{path}", **kwargs)
    assert (status, reason in body) == (400, True), body
    assert standalone.pending_updates == []


async def test_the_keyboard_of_an_unknown_chat_is_a_404(standalone: BotApiEmulator) -> None:
    url = f"{standalone.base_url}/_emulator/keyboard"
    assert await _call("GET", url, params={"chat_id": "404"}) == (404, "no chat 404")
