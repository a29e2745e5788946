"""A WhatsApp customer's message (one entry of a `messages` webhook) as the plain events
the handlers know, with WhatsApp's keywords turned into the commands they stand for."""

from __future__ import annotations

import re
from typing import Any

from bot.whatsapp.render import TEXT_PREFIX
from handlers.events import Attachment, ButtonPress, Event, IncomingMessage, Sender
from storage.repos.whatsapp import wamid_update_id

CHANNEL = "whatsapp"
# A WhatsApp media id as an attachment's file_id: the composite port knows it by this.
MEDIA_PREFIX = "wa-media:"
# Meta's message types as the kinds Telegram's runtimes report (handlers answer by kind).
_KINDS = {"image": "photo", "audio": "voice", "video": "video", "sticker": "sticker"}
# Words that stand for a command, compared case-insensitively without end punctuation.
# Greetings start the default survey; STOP is WhatsApp's customary opt-out word.
KEYWORDS: dict[str, str] = {
    **dict.fromkeys(
        ("stop", "unsubscribe", "стоп", "отписаться", "dezabonare", "wypisz"), "/stop"
    ),
    **dict.fromkeys(("mydata", "my data", "мои данные", "datele mele", "moje dane"), "/mydata"),
    **dict.fromkeys(
        (
            "delete my data",
            "forget me",
            "удалить мои данные",
            "șterge datele mele",
            "sterge datele mele",
            "usuń moje dane",
        ),
        "/forgetme",
    ),
    **dict.fromkeys(
        (
            "hi",
            "hello",
            "hey",
            "start",
            "привет",
            "здравствуйте",
            "salut",
            "bună",
            "buna",
            "cześć",
            "czesc",
            "dzień dobry",
        ),
        "/start",
    ),
    **dict.fromkeys(("help", "помощь", "ajutor", "pomoc"), "/help"),
}
_START = re.compile(r"^start\s+([A-Za-z0-9_-]{1,64})$", re.I)
_END_PUNCTUATION = ".!?,;:)( "


def command_text(text: str, *, first_contact: bool) -> str:
    """What a typed text means: a command as typed ("/stop"), a keyword's command, the
    wa.me link's "start <payload>" as /start <payload>; a new customer's first words start
    the default survey; anything else stays as it is (a score, an answer)."""
    stripped = text.strip()
    if stripped.startswith("/"):
        return stripped
    start = _START.match(stripped)
    if start is not None:
        return f"/start {start.group(1)}"
    keyword = KEYWORDS.get(" ".join(stripped.casefold().strip(_END_PUNCTUATION).split()))
    if keyword is not None:
        return keyword
    return "/start" if first_contact else text


def message_event(
    message: dict[str, Any],
    chat_id: int,
    name: str | None,
    language: str | None,
    *,
    first_contact: bool = False,
) -> Event | None:
    """The event for one customer message; None for what npsbot ignores (reactions)."""
    wamid = str(message.get("id", ""))
    kind = message.get("type")
    base: dict[str, Any] = {
        "update_id": wamid_update_id(wamid),
        "chat_id": chat_id,
        "sender": Sender(id=chat_id, first_name=name, language_code=language, channel=CHANNEL),
    }
    if kind == "text":
        body = str((message.get("text") or {}).get("body", ""))
        return IncomingMessage(text=command_text(body, first_contact=first_contact), **base)
    if kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get(interactive.get("type", "")) or {}
        return _pressed(str(reply.get("id", "")), str(reply.get("title", "")), wamid, base)
    if kind == "button":  # a template's quick reply
        button = message.get("button") or {}
        return _pressed(str(button.get("payload", "")), str(button.get("text", "")), wamid, base)
    if kind == "reaction":
        return None
    media = message.get(kind) if isinstance(kind, str) else None
    caption = media.get("caption") if isinstance(media, dict) else None
    if kind == "document" and isinstance(media, dict):
        document = Attachment(
            file_id=MEDIA_PREFIX + str(media.get("id", "")),
            file_name=media.get("filename"),
            mime_type=media.get("mime_type"),
        )
        return IncomingMessage(
            text=None, kind="document", caption=caption, document=document, **base
        )
    return IncomingMessage(
        text=None, kind=_KINDS.get(str(kind), str(kind)), caption=caption, **base
    )


def _pressed(data: str, title: str, wamid: str, base: dict[str, Any]) -> Event:
    """A tapped button: the handlers' callback data comes back as a ButtonPress (with no
    message id: WhatsApp cannot edit the pressed message, so handlers answer anew); a
    reply keyboard's or a template's plain button is the text it shows."""
    if data.startswith(TEXT_PREFIX):
        return IncomingMessage(text=data[len(TEXT_PREFIX) :], **base)
    if not data.startswith("nps:"):
        return IncomingMessage(text=command_text(title, first_contact=False), **base)
    callback_id = f"wa:{base['chat_id']}:{wamid}"
    return ButtonPress(callback_id=callback_id, data=data, message_id=None, **base)


def chat_of_callback(callback_id: str) -> int | None:
    """The WhatsApp chat a ButtonPress's callback id names (None: a Telegram press)."""
    if not callback_id.startswith("wa:"):
        return None
    chat = callback_id.split(":", 2)[1]
    return int(chat) if chat.isdigit() else None
