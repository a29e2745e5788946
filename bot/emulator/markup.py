"""What a bot message may look like: its text or caption after ``parse_mode`` (or explicit
entities), and its ``reply_markup`` (inline keyboard, reply keyboard, removal), checked as
Telegram checks them and with Telegram's error wording."""

from __future__ import annotations

import re
from typing import Any

from bot.emulator.formatting import EntityParseError, parse_text, strip_formatted
from bot.emulator.models import Button, ReplyButton, bad_request

CALLBACK_DATA_LIMIT = 64
BUTTONS_PER_ROW = 8
BUTTONS_TOTAL = 100
INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "callback_game",
    "pay",
    "web_app",
    "copy_text",
)


def formatted(
    params: dict[str, Any], key: str, entities_key: str, limit: int
) -> tuple[str, list[dict[str, Any]]]:
    """The plain text and entities of ``params[key]`` (a text or a caption), as sent."""
    raw = params[key]
    try:
        text, entities = parse_text(raw, params.get("parse_mode"))
    except EntityParseError as error:
        raise bad_request(f"can't parse entities: {error}") from None
    except ValueError:
        raise bad_request("unsupported parse_mode") from None
    if entities_key in params and not params.get("parse_mode"):
        entities = _check_entities(params[entities_key])
    # Telegram trims surrounding whitespace; the length limit applies to what is left.
    text, entities = strip_formatted(text, entities)
    if key == "text" and not text:
        raise bad_request("message text is empty")
    if len(text) > limit:
        raise bad_request(
            "message is too long" if key == "text" else "message caption is too long"
        )
    return text, entities


def _check_entities(entities: list[Any]) -> list[dict[str, Any]]:
    for entity in entities:
        if not (
            isinstance(entity, dict)
            and isinstance(entity.get("type"), str)
            and isinstance(entity.get("offset"), int)
            and isinstance(entity.get("length"), int)
        ):
            raise bad_request("can't parse entities JSON object")
    return [dict(e) for e in entities]


def parse_markup(
    markup: dict[str, Any] | None, *, inline_only: bool = False
) -> tuple[dict[str, Any] | None, list[list[Button]], list[list[ReplyButton]] | None]:
    """Validate reply_markup; return (markup as echoed in Message, inline buttons, reply
    keyboard). Telegram echoes only inline keyboards in the sent Message."""
    if markup is None:
        return None, [], None
    if "inline_keyboard" in markup:
        return _inline_keyboard(markup["inline_keyboard"])
    if inline_only:
        raise bad_request("reply markup must be an inline keyboard when editing a message")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request('field "keyboard" of the ReplyKeyboardMarkup should be an Array')
        return None, [], [[_reply_button(b) for b in row] for row in rows if row]
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return None, [], None
    raise bad_request("can't parse reply keyboard markup JSON object")


def _reply_button(raw: Any) -> ReplyButton:
    """A reply keyboard button: a string, or a KeyboardButton object with a text."""
    if isinstance(raw, str):
        raw = {"text": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise bad_request("can't parse keyboard button: Text is not specified")
    if not raw["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    return ReplyButton(raw["text"], bool(raw.get("request_contact")))


def removes_keyboard(markup: dict[str, Any] | None) -> bool:
    """True for a ReplyKeyboardRemove: the chat's reply keyboard goes."""
    return bool(markup and markup.get("remove_keyboard"))


def _inline_keyboard(
    rows: Any,
) -> tuple[dict[str, Any] | None, list[list[Button]], list[list[ReplyButton]] | None]:
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    too_wide = any(len(r) > BUTTONS_PER_ROW for r in rows)
    if too_wide or sum(len(r) for r in rows) > BUTTONS_TOTAL:
        raise bad_request("REPLY_MARKUP_TOO_LONG")
    echoed: list[list[dict[str, Any]]] = []
    keyboard: list[list[Button]] = []
    for row in rows:
        echoed_row, buttons = [], []
        for raw in row:
            button = _inline_button(raw)
            echoed_row.append(button)
            buttons.append(Button(button["text"], button.get("callback_data"), button.get("url")))
        if echoed_row:
            echoed.append(echoed_row)
            keyboard.append(buttons)
    return ({"inline_keyboard": echoed} if echoed else None), keyboard, None


def _inline_button(raw: Any) -> dict[str, Any]:
    """One inline button as echoed back (None fields dropped), or Telegram's error."""
    if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text is not specified")
    button = {k: v for k, v in raw.items() if v is not None}
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    if not any(k in button for k in INLINE_ACTIONS):
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT
    ):
        raise bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and not re.match(r"^(https?|tg)://\S+$", str(url)):
        raise bad_request("BUTTON_URL_INVALID")
    return button


def set_or_pop(payload: dict[str, Any], key: str, value: Any) -> None:
    """Set a Message field, or drop it when the new value is empty (as edits do)."""
    if value:
        payload[key] = value
    else:
        payload.pop(key, None)
