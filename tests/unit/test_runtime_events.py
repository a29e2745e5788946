"""Both runtime adapters turn the same Telegram update into the same plain event."""

from __future__ import annotations

from typing import Any

import pytest
import telegram
from aiogram.types import Update as AiogramUpdate

from bot.runtime import aiogram_runtime, ptb_runtime
from handlers.events import IncomingMessage

USER = {"id": 7, "is_bot": False, "first_name": "Anna", "username": "anna", "language_code": "ru"}
PRIVATE = {"id": 7, "type": "private", "first_name": "Anna"}
GROUP = {"id": -100123, "type": "supergroup", "title": "Staff"}
FILE = {"file_id": "f1", "file_unique_id": "u1"}
LOCATION = {"latitude": 47.0, "longitude": 28.8}

# The content of a message and the kind both adapters must report for it.
CONTENT: dict[str, dict[str, Any]] = {
    "text": {"text": "hello"},
    "sticker": {
        "sticker": {
            **FILE,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    },
    "photo": {"photo": [{**FILE, "width": 90, "height": 90}], "caption": "look"},
    "voice": {"voice": {**FILE, "duration": 3}},
    "document": {"document": {**FILE, "file_name": "notes.txt"}},
    # A GIF carries both fields; aiogram calls it an animation, and so must PTB.
    "animation": {
        "animation": {**FILE, "width": 1, "height": 1, "duration": 1},
        "document": FILE,
    },
    "video": {"video": {**FILE, "width": 1, "height": 1, "duration": 1}},
    "audio": {"audio": {**FILE, "duration": 1}},
    "video_note": {"video_note": {**FILE, "length": 1, "duration": 1}},
    "contact": {"contact": {"phone_number": "+37360000000", "first_name": "Anna"}},
    "location": {"location": LOCATION},
    "venue": {
        "venue": {"location": LOCATION, "title": "Office", "address": "Main st"},
        "location": LOCATION,
    },
    "dice": {"dice": {"emoji": "🎲", "value": 3}},
}


def _both(update: dict[str, Any]) -> tuple[AiogramUpdate, telegram.Update]:
    parsed = telegram.Update.de_json(update, None)
    assert parsed is not None
    return AiogramUpdate.model_validate(update), parsed


@pytest.mark.parametrize("kind", list(CONTENT))
@pytest.mark.parametrize("chat", [PRIVATE, GROUP], ids=["private", "group"])
def test_messages_convert_alike(kind: str, chat: dict[str, Any]) -> None:
    raw = {"message_id": 5, "date": 1_700_000_000, "chat": chat, "from": USER, **CONTENT[kind]}
    a, p = _both({"update_id": 11, "message": raw})
    assert a.message is not None and p.message is not None
    expected = aiogram_runtime.message_event(11, a.message)
    assert isinstance(expected, IncomingMessage) and expected.kind == kind
    assert ptb_runtime.message_event(11, p.message) == expected
    assert expected.chat_type == chat["type"]


def test_a_message_without_a_sender_is_no_event() -> None:
    raw = {"message_id": 5, "date": 1_700_000_000, "chat": GROUP, "text": "anonymous"}
    a, p = _both({"update_id": 12, "message": raw})
    assert a.message is not None and p.message is not None
    assert aiogram_runtime.message_event(12, a.message) is None
    assert ptb_runtime.message_event(12, p.message) is None


def test_button_presses_convert_alike() -> None:
    message = {"message_id": 9, "date": 1_700_000_000, "chat": PRIVATE, "text": "Rate us"}
    query = {"id": "q1", "from": USER, "chat_instance": "ci", "data": "nps:s:1:9"}
    a, p = _both({"update_id": 13, "callback_query": {**query, "message": message}})
    assert a.callback_query is not None and p.callback_query is not None
    expected = aiogram_runtime.button_event(13, a.callback_query)
    assert ptb_runtime.button_event(13, p.callback_query) == expected
    assert (expected.message_id, expected.data, expected.chat_id) == (9, "nps:s:1:9", 7)
    # An inline-mode press has no message: the chat is the presser's.
    a, p = _both({"update_id": 14, "callback_query": {**query, "inline_message_id": "im"}})
    assert a.callback_query is not None and p.callback_query is not None
    assert ptb_runtime.button_event(14, p.callback_query) == aiogram_runtime.button_event(
        14, a.callback_query
    )


@pytest.mark.parametrize(
    ("old", "new", "blocked"), [("member", "kicked", True), ("kicked", "member", False)]
)
def test_block_changes_convert_alike(old: str, new: str, blocked: bool) -> None:
    bot_user = {"id": 123456, "is_bot": True, "first_name": "Acme"}
    change = {
        "chat": PRIVATE,
        "from": USER,
        "date": 1_700_000_000,
        "old_chat_member": {"status": old, "user": bot_user, **_until(old)},
        "new_chat_member": {"status": new, "user": bot_user, **_until(new)},
    }
    a, p = _both({"update_id": 15, "my_chat_member": change})
    assert a.my_chat_member is not None and p.my_chat_member is not None
    expected = aiogram_runtime.block_event(15, a.my_chat_member)
    assert ptb_runtime.block_event(15, p.my_chat_member) == expected
    assert expected.blocked is blocked


def _until(status: str) -> dict[str, Any]:
    return {"until_date": 0} if status == "kicked" else {}
