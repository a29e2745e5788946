"""Phone-keyed people (issue 11): numbers normalised to E.164 without guessing a country, a
shared contact converted alike by both runtimes, and reply keyboards kept by the outbox."""

from __future__ import annotations

from typing import Any

import pytest
import telegram
from aiogram.types import Update as AiogramUpdate

from bot import outbox
from bot.runtime import aiogram_runtime, ptb_runtime
from handlers.events import SharedContact
from handlers.port import (
    RemoveReplyKeyboard,
    ReplyButton,
    ReplyKeyboard,
    SendText,
)
from nps.phones import (
    INVALID,
    NO_COUNTRY,
    PhoneError,
    display_phone,
    from_telegram,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+37369123456", "+37369123456"),
        (" +373 (69) 12-34-56 ", "+37369123456"),
        ("0037369123456", "+37369123456"),  # "00" dials out as "+" does
        ("+48 601 234 567", "+48601234567"),
        ("+7 916 123-45-67", "+79161234567"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_numbers_with_their_country_code_become_e164(text: str, e164: str) -> None:
    assert normalize_phone(text) == e164


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("069123456", NO_COUNTRY),  # a Moldovan national number: no country is guessed
        ("37369123456", NO_COUNTRY),  # digits only could be any country's national number
        ("+1 555 555 0123", INVALID),  # a fictional number
        ("+37300", INVALID),
        ("+", INVALID),
        ("+abc", INVALID),
        ("", INVALID),
        ("+3736912345" + "6" * 40, INVALID),
    ],
)
def test_other_texts_are_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(PhoneError) as refused:
        normalize_phone(text)
    assert refused.value.reason == reason


def test_telegram_numbers_come_without_plus_and_get_it() -> None:
    assert from_telegram("37369123456") == "+37369123456"
    assert from_telegram("+48601234567") == "+48601234567"
    with pytest.raises(PhoneError):
        from_telegram("12")
    assert display_phone("+37369123456") == "+373 691 23 456"
    assert display_phone("not a number") == "not a number"


USER = {"id": 7, "is_bot": False, "first_name": "Anna", "language_code": "ru"}
PRIVATE = {"id": 7, "type": "private", "first_name": "Anna"}


def _events(contact: dict[str, Any]) -> tuple[Any, Any]:
    update = {
        "update_id": 21,
        "message": {
            "message_id": 5,
            "date": 1_700_000_000,
            "chat": PRIVATE,
            "from": USER,
            "contact": contact,
        },
    }
    a = AiogramUpdate.model_validate(update)
    p = telegram.Update.de_json(update, None)
    assert a.message is not None and p is not None and p.message is not None
    return (
        aiogram_runtime.message_event(21, a.message),
        ptb_runtime.message_event(21, p.message),
    )


def test_both_runtimes_pass_on_whose_contact_a_message_shares() -> None:
    own, own_ptb = _events({"phone_number": "37369123456", "first_name": "Anna", "user_id": 7})
    assert own == own_ptb
    assert own.kind == "contact" and own.text is None
    assert own.contact == SharedContact("37369123456", 7, "Anna")
    assert own.own_contact
    other, other_ptb = _events({"phone_number": "+48601234567", "first_name": "Bob", "user_id": 8})
    assert other == other_ptb and not other.own_contact
    unknown, unknown_ptb = _events({"phone_number": "+48601234567", "first_name": "Eve"})
    assert unknown == unknown_ptb and unknown.contact.user_id is None and not unknown.own_contact


def test_reply_keyboards_and_their_removal_are_kept_in_the_outbox() -> None:
    keyboard = ReplyKeyboard.of(
        [ReplyButton("📱 Share my phone number", share_contact=True)], [ReplyButton("Not now")]
    )
    actions = [SendText(7, "Share?", keyboard), SendText(7, "Saved", RemoveReplyKeyboard())]
    encoded = [outbox.keepable(action) for action in actions]
    assert all(item is not None for item in encoded)
    assert outbox.loads(outbox.dumps(encoded)) == actions
